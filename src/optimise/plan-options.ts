// The planner's names, options and statistics (planner.ts is the entry point and re-exports them):
// what a caller sets and reads, apart from the stages that use them.
import type { PlannerWork } from './work.ts';

export const LP_PLANNER = 'class-lp/1';
export const EXACT_PLANNER = 'exact-milp/1';
export const PRICED_PLANNER = 'class-lp/1+priced-placement';

export interface PlannerOptions {
  /** Wall-clock budget for all solver calls of one plan (s). */
  readonly timeLimitSeconds: number;
  /** Largest class LP (job columns) before windows are widened to a coarser grid. */
  readonly maxColumns: number;
  /** Problems whose exact MILP has at most this many binaries are improved by it. */
  readonly milpMaxBinaries: number;
  /** Time given to that MILP at most (s); it also stops at a 0.01 % gap. */
  readonly milpTimeLimitSeconds: number;
  /**
   * Repeatable runs: every stage bounded by counted work, not wall time (work.ts). The time limits
   * above are then not used; each solve has `work.safetySeconds` as a safety cap instead.
   */
  readonly work?: PlannerWork;
  /** Called with what happened, for logs and benchmarks. */
  readonly onStats?: (s: PlanStats) => void;
}

export const DEFAULT_PLANNER_OPTIONS: PlannerOptions = {
  timeLimitSeconds: 30,
  maxColumns: 8000,
  milpMaxBinaries: 5000,
  milpTimeLimitSeconds: 10,
};

export interface PlanStats {
  classes: number;
  granularity: number;
  columns: number;
  rows: number;
  lpSeconds: number;
  lpSolves: number;
  moved: number;
  /** Energy disaggregation could not give its jobs (kWh), left for repair. */
  deficitKwh?: number;
  /** Seconds spent per stage (measured with the caller's clock). */
  seconds?: Record<string, number>;
  /** Per priced placement: how many jobs needed make-room (−1: it failed). */
  placements?: number[];
  /** Cost of each candidate plan, or why it failed. */
  candidates?: (number | string)[];
  /** Per local-search round: jobs moved and the plan's cost after the battery LP (or why it was dropped). */
  localSearch?: { moved: number; sweeps: number; swaps?: number; evaluated?: number; cost: number | string }[];
  milp?: string;
  fallback?: string;
  /** Work-bounded mode: solves stopped by the safety cap (a run that is then not repeatable). */
  safetyCapHits?: number;
  /** Work-bounded mode: simplex iterations and MIP nodes used, summed over the solves. */
  work?: { iterations: number; nodes: number };
}

/** Relative gap under which a plan counts as proven optimal. */
export const OPTIMAL_REL_GAP = 1e-6;
