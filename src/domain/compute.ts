// Compute jobs as a Compute-Flex agent sees them in its scheduler's queue, with the flexibility
// metadata that turns them into planning-problem jobs.
import type { EpochMs } from './time.ts';
import type { Kilowatts, KilowattHours } from './units.ts';

/** SLO classes: inference serving cannot move; batch and training can be deferred within a deadline. */
export type SloClass = 'inflexible' | 'deferrable';

export type JobState = 'queued' | 'held' | 'running' | 'completed' | 'cancelled';

export interface ComputeJob {
  readonly id: string;
  readonly name: string;
  readonly site: string;
  readonly slo: SloClass;
  readonly gpus: number;
  /** IT power when running at full speed. */
  readonly powerKw: Kilowatts;
  /** IT energy the job needs in all (power × run time at full speed). */
  readonly energyKwh: KilowattHours;
  /** IT energy still to run (equals energyKwh until the job starts). */
  readonly remainingKwh: KilowattHours;
  readonly submittedAt: EpochMs;
  /** Earliest start the user allowed. */
  readonly releaseAt: EpochMs;
  /** The job must have finished by then (its SLO). */
  readonly deadlineAt: EpochMs;
  readonly preemptible: boolean;
  readonly allowedSites: readonly string[];
  /** Units of useful work the job produces, and what they are. */
  readonly work: number;
  readonly workUnit: 'gpu-hours' | 'inferences' | 'tokens';
  readonly state: JobState;
  /** Set when the agent deferred the job: it may not start before then. */
  readonly beginAt?: EpochMs;
  readonly startedAt?: EpochMs;
  readonly finishedAt?: EpochMs;
}

/** What a Compute-Flex agent reports to the Flexibility Orchestrator about its site. */
export interface FlexibilityReport {
  readonly site: string;
  readonly region: string;
  readonly at: EpochMs;
  readonly itPowerLimitKw: Kilowatts;
  readonly pue: number;
  readonly gridImportLimitKw: Kilowatts;
  /** Start of the first slot of baseLoadKw. */
  readonly baseLoadFrom: EpochMs;
  readonly slotMinutes: number;
  /** IT power drawn regardless of the deferrable jobs (idle nodes, inference serving) per slot from baseLoadFrom. */
  readonly baseLoadKw: readonly number[];
  readonly jobs: readonly ComputeJob[];
}

/** Result of asking a scheduler to act on a job. */
export type Actuation =
  | { readonly ok: true; readonly jobId: string }
  | { readonly ok: false; readonly jobId: string; readonly reason: string };
