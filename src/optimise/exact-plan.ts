// The exact MILP path of the planner (milp.ts): small problems get an exact plan, started from the
// heuristic plan when there is one, and HiGHS's dual bound can only raise the bound already proved.
import type { PlanningProblem, Schedule } from '../domain/planning.ts';
import { assembleChecked, siteLoads } from './assemble.ts';
import { planBatteries } from './battery-model.ts';
import type { LpSolve } from './lp.ts';
import { buildExactModel, decodeExact, encodeExact, exactBinaries } from './milp.ts';
import { EXACT_PLANNER, OPTIMAL_REL_GAP, type PlannerOptions, type PlanStats } from './plan-options.ts';
import { mayLeaveUnserved } from './soft.ts';

type Exact = { readonly schedule: Schedule } | { readonly infeasible: true } | { readonly failed: string };

/** Solves the exact MILP (from `start` when given) and turns its answer into a checked schedule. */
export const exactPlan = async (
  p: PlanningProblem,
  solve: LpSolve,
  seconds: number,
  bound: number,
  stats: PlanStats,
  start?: Schedule,
): Promise<Exact> => {
  const em = buildExactModel(p);
  const out = await solve(em.model, {
    timeLimitSeconds: seconds,
    mipRelGap: 1e-4,
    ...(start ? { start: encodeExact(p, em, start) } : {}),
  });
  stats.lpSolves++;
  stats.lpSeconds += out.seconds;
  stats.milp = `${out.status}${out.status === 'failed' ? `: ${out.reason}` : ''} (${em.binaries} binaries)`;
  if (out.status === 'infeasible') return { infeasible: true };
  if (out.status === 'failed') return { failed: out.reason };
  // HiGHS's dual bound is its proof; it can only raise the bound already proved.
  const proved = Math.max(bound, Number.isFinite(out.dualBound) ? (out.dualBound as number) : bound);
  const draft = decodeExact(p, em, out.colValue);
  if (draft.deficitKwh.some((x, j) => x > 1e-7 * Math.max(1, p.jobs[j]!.energyKwh) && !mayLeaveUnserved(p, p.jobs[j]!)))
    return { failed: 'the MILP solution misses energy' };
  const battery = await planBatteries(p, siteLoads(p, draft), solve, Math.max(0.5, seconds));
  if (!battery.ok) return { failed: battery.reason };
  const { schedule, verdict } = assembleChecked(p, draft, battery.batteries, proved, EXACT_PLANNER);
  return verdict.ok
    ? { schedule }
    : { failed: `the MILP plan fails the check: ${verdict.violations.slice(0, 2).join('; ')}` };
};

// With work limits the MILP's size, not the clock, decides whether it runs.
export const useMilp = (p: PlanningProblem, options: PlannerOptions, remaining: number): boolean =>
  exactBinaries(p) <= options.milpMaxBinaries && (options.work !== undefined || remaining >= 0.2);

/** Tries the exact MILP from `best`; keeps the better plan and the better proven bound. */
export const improve = async (
  p: PlanningProblem,
  best: Schedule,
  solve: LpSolve,
  options: PlannerOptions,
  remaining: number,
  stats: PlanStats,
): Promise<Schedule> => {
  if (best.status === 'optimal' || !useMilp(p, options, remaining)) return best;
  const out = await exactPlan(
    p,
    solve,
    Math.min(remaining, options.milpTimeLimitSeconds),
    best.lowerBoundGbp,
    stats,
    best,
  );
  if (!('schedule' in out)) return best;
  const better = out.schedule.costGbp < best.costGbp ? out.schedule : best;
  const lowerBoundGbp = Math.min(Math.max(best.lowerBoundGbp, out.schedule.lowerBoundGbp), better.costGbp);
  const optimal = better.costGbp - lowerBoundGbp <= OPTIMAL_REL_GAP * Math.max(1, Math.abs(better.costGbp));
  return { ...better, lowerBoundGbp, status: optimal ? 'optimal' : 'feasible' };
};
