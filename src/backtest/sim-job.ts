// A job as the backtest's site (site-sim.ts) tracks it, from its submission to its finish, and the
// record a finished one leaves for the SLO metrics (metrics.ts). Kept apart from the site because
// the strategies, the planner and the checkpoints read and write these records as much as the site
// does.
import type { ComputeJob } from '../domain/compute.ts';

/** A job as the backtest tracks it. `beginAt`: the strategy's earliest start (undefined: not yet decided). */
export interface SimJob {
  readonly id: string;
  readonly gpus: number;
  readonly powerKw: number;
  readonly energyKwh: number;
  readonly submittedAt: number;
  readonly releaseAt: number;
  readonly deadlineAt: number;
  /** GPU-hours of work at full speed. */
  readonly work: number;
  /** Energy still to run at full power (kWh): the work left, in full-power kWh. */
  remainingKwh: number;
  startedAt?: number;
  beginAt?: number;
  /** Σ over late periods of (periods late + 1) × energy run then (kWh), for lateGpuH. */
  lateKwhPeriods?: number;
  /** The site it was submitted at, where a strategy moved it to another (moves.ts). */
  movedFrom?: string;
}

/** A finished job, for SLO metrics. */
export interface Finished {
  readonly id: string;
  readonly gpus: number;
  readonly waitH: number;
  /** Hours after the deadline it finished (≤ 0: on time). */
  readonly lateH: number;
  /**
   * Lateness as the planner prices it (docs/planning-problem.md, "Soft deadlines"): GPUs × Σ over the
   * periods it ran at or after its deadline period of (periods late + 1) × 0.5 h × that period's share
   * of its energy. × £ per GPU-hour gives the planner's lateness cost.
   */
  readonly lateGpuH: number;
  readonly work: number;
  /** Hours between release and deadline beyond the job's run at full power: its SLO class (metrics.ts). */
  readonly slackH?: number;
}

export const simJobOf = (j: ComputeJob): SimJob => ({
  id: j.id,
  gpus: j.gpus,
  powerKw: j.powerKw,
  energyKwh: j.energyKwh,
  submittedAt: j.submittedAt,
  releaseAt: j.releaseAt,
  deadlineAt: j.deadlineAt,
  work: j.work,
  remainingKwh: j.remainingKwh,
});
