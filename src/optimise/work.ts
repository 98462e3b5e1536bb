// Work-bounded planning (repeatable runs). With a time limit, how far a solve gets depends on the
// machine and on what else it is doing, so the same problem can give a slightly different plan on
// each run. With `PlannerOptions.work`, every stage stops on counted work instead:
//  - each LP and the exact MILP: HiGHS simplex/IPM iterations, MIP nodes and leaves, a fixed random
//    seed, one thread (lp.ts LpWorkLimits);
//  - the local search and its rounds are bounded by sweeps (local-search.ts, planner.ts), and the
//    rest of the planner (classes, disaggregation, repair, placement) is plain deterministic code;
//  - whether the MILP runs depends on its size only, not on the time left.
// The clock is then read only for stage timings. Each solve still carries a wall-clock cap
// (`safetySeconds`) so that a solve that never ends cannot hang the caller; it is set far above
// what the work limits take, and a plan where it fired counts it in PlanStats.safetyCapHits (the
// HiGHS adapter logs it), because that plan is no longer guaranteed repeatable.
import type { LpOptions, LpOutcome, LpSolve } from './lp.ts';

export interface PlannerWork {
  /** Simplex (or interior-point) iterations per LP solve: a guard, far above what the LPs need. */
  readonly lpIterations: number;
  /**
   * LP iterations of the exact MILP, its root node, cuts and branch-and-bound together: the limit
   * that binds, and the work counterpart of `milpTimeLimitSeconds`.
   */
  readonly milpLpIterations: number;
  /** Branch-and-bound nodes the exact MILP may explore. */
  readonly milpNodes: number;
  /** HiGHS's random seed. */
  readonly seed: number;
  /** Wall-clock cap per solve (s): a guard that should never fire. */
  readonly safetySeconds: number;
}

/**
 * Default work limits, calibrated on the demo's BPP (`flexlon demo`: about 100–120 jobs, one site, 96 slots,
 * re-planned every slot) so that the work-bounded planner takes about the wall time of
 * `{ timeLimitSeconds: 5, milpTimeLimitSeconds: 0.25 }` and plans as cheaply (docs/benchmarks.md,
 * "Repeatable planning").
 */
export const DEFAULT_WORK: PlannerWork = {
  lpIterations: 100_000,
  milpLpIterations: 1000,
  milpNodes: 500,
  seed: 0,
  safetySeconds: 30,
};

export interface WorkStats {
  safetyCapHits?: number;
  work?: { iterations: number; nodes: number };
}

/** `solve` with the work limits on every call and the safety cap as its only time limit. */
export const workBounded =
  (solve: LpSolve, work: PlannerWork, stats: WorkStats): LpSolve =>
  async (model, options): Promise<LpOutcome> => {
    const bounded: LpOptions = {
      ...options,
      timeLimitSeconds: work.safetySeconds,
      work: {
        iterations: work.lpIterations,
        mipLpIterations: work.milpLpIterations,
        mipNodes: work.milpNodes,
        seed: work.seed,
      },
    };
    const out = await solve(model, bounded);
    if ('timedOut' in out && out.timedOut) stats.safetyCapHits = (stats.safetyCapHits ?? 0) + 1;
    if (out.status === 'optimal' || out.status === 'limit') {
      const w = stats.work ?? { iterations: 0, nodes: 0 };
      stats.work = { iterations: w.iterations + (out.iterations ?? 0), nodes: w.nodes + (out.nodes ?? 0) };
    }
    return out;
  };
