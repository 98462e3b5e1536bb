// The planners a role can be given: the class-LP planner on HiGHS in a worker thread (what every
// command and agent uses), and the greedy planner (its fallback, and a fast one for tests).
import { createHighsSolver, type HighsSolver } from '../adapters/solver-highs/solver.ts';
import { greedyPlan, GREEDY_PLANNER } from '../optimise/greedy.ts';
import type { PlannerOptions } from '../optimise/planner.ts';
import type { Solver } from '../ports.ts';
import type { PlannerConfig } from './config.ts';

export const greedySolver: Solver = { name: GREEDY_PLANNER, plan: async (p) => greedyPlan(p) };

/** The planner every command and agent uses: the class-LP planner on HiGHS in a worker thread. */
export const createPlanningSolver = (options: Partial<PlannerOptions> = {}): HighsSolver => createHighsSolver(options);

/** The solver a BPP's config names, warmed (the worker started and HiGHS loaded) before the first plan. */
export const plannerOf = async (c: PlannerConfig): Promise<Solver & { close?: () => Promise<void> }> => {
  if (c.kind === 'greedy') return greedySolver;
  const solver = createPlanningSolver({
    timeLimitSeconds: c.timeLimitSeconds,
    milpTimeLimitSeconds: c.milpTimeLimitSeconds ?? Math.min(0.25, c.timeLimitSeconds),
    ...(c.work ? { work: c.work } : {}),
  });
  await solver.client.warm();
  return solver;
};
