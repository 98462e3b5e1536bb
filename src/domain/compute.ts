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
  /** The scheduler's own id (Slurm job id, Kubernetes namespace/name) where it differs from `id`, for operators. */
  readonly nativeId?: string;
  /**
   * Who holds a held job. Only `flexlon` holds are the agent's to release: a hold an operator or
   * the user placed by hand is never lifted by FlexLon, and the planner must not count on the job.
   */
  readonly heldBy?: 'flexlon' | 'other';
  /** Scheduler queue the job was submitted to (Slurm partition, Kubernetes namespace or queue label). */
  readonly queue?: string;
  /** Lowest power the job can run at under a GPU power cap (kW), where the scheduler can cap power. */
  readonly minPowerKw?: Kilowatts;
  /** GPU power cap applied to the job (W per GPU), if any. */
  readonly powerCapW?: number;
  /**
   * The caps its GPUs accept (W per GPU): `minW` gives minPowerKw, `maxW` full power. Reported by
   * schedulers that can cap; the agent maps a planned power onto it linearly.
   */
  readonly powerCapRangeW?: { readonly minW: number; readonly maxW: number };
  /**
   * The job's speed at its lowest cap, as a fraction of full speed (0–1], where the scheduler knows
   * its throughput-vs-power curve. Absent, the planner assumes speed falls in proportion to power
   * (minPowerKw / powerKw), which overstates what a cap costs.
   */
  readonly minCapThroughput?: number;
  /**
   * What an hour of this job's lateness costs, per GPU (£/GPU-hour): its soft SLO. The planner may
   * finish it after deadlineAt at that cost (× GPUs × hours late, work-weighted) when the fleet is
   * full; absent, the orchestrator's default for deferrable work applies.
   */
  readonly lateGbpPerGpuHour?: number;
  /** Problems found in the job's FlexLon metadata; defaults were used for the fields named. */
  readonly metadataIssues?: readonly string[];
}

/** Deferrable energy that shares one window: jobs released from `from` that must finish by `to`. */
export interface DeferrableWindow {
  readonly from: EpochMs;
  readonly to: EpochMs;
  readonly energyKwh: KilowattHours;
  readonly jobs: number;
}

/** A job that may run at other sites: the planner's locational option. */
export interface LocationalOption {
  readonly jobId: string;
  readonly sites: readonly string[];
  readonly powerKw: Kilowatts;
  readonly energyKwh: KilowattHours;
}

/**
 * The site's flexibility summed up per slot from `baseLoadFrom` (same slots as baseLoadKw), for
 * pricing and for a planner that works on aggregates. Derived from `jobs` by src/domain/flexibility.ts.
 */
export interface FlexibilitySummary {
  /** Lowest IT power per slot that still meets every SLO (base load, running jobs at their lowest cap, compulsory parts of waiting jobs). */
  readonly minPowerKw: readonly number[];
  /** IT power per slot if every waiting job starts as soon as it may (no FlexLon), given GPU capacity is not binding. */
  readonly asapPowerKw: readonly number[];
  /** How far the running jobs' power could drop per slot under GPU power caps (0 where the scheduler cannot cap). */
  readonly powerCapHeadroomKw: readonly number[];
  readonly deferrable: readonly DeferrableWindow[];
  readonly locational: readonly LocationalOption[];
}

/**
 * A battery behind the site's meter, as its agent reports it (issue 13 item 4). Energies in kWh of
 * stored energy; power at the battery's grid-side terminals.
 */
export interface BatteryReport {
  readonly capacityKwh: number;
  readonly maxChargeKw: number;
  readonly maxDischargeKw: number;
  /** Round-trip efficiency (0, 1]: stored energy = charged energy × efficiency (losses on charging). */
  readonly roundTripEfficiency: number;
  readonly minSocKwh: number;
  readonly maxSocKwh: number;
  /** Wear cost per MWh discharged (£/MWh): what cycling the battery costs its owner. */
  readonly degradationGbpPerMwh: number;
}

/** BatteryReport's fields, for the parsers that check one (the agent link, a backtest fleet file). */
export const BATTERY_REPORT_FIELDS = [
  'capacityKwh',
  'maxChargeKw',
  'maxDischargeKw',
  'roundTripEfficiency',
  'minSocKwh',
  'maxSocKwh',
  'degradationGbpPerMwh',
] as const satisfies readonly (keyof BatteryReport)[];

/** The id a site battery's Actuations carry (an Actuation names a job; a site has one battery). */
export const batteryActuationId = (site: string): string => `battery:${site}`;

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
  /** Optional summary for planners and pricing (older agents do not send it). */
  readonly flexibility?: FlexibilitySummary;
  /** Actuations the scheduler refused since the last report (job already running, not preemptible, …), so the orchestrator re-plans knowing them. */
  readonly refused?: readonly Actuation[];
  /** Set when the scheduler could not be read: `jobs` is the last known queue, as of `staleSince`. */
  readonly staleSince?: EpochMs;
  /** The site's battery behind the meter, with its stored energy at `at` (kWh). */
  readonly battery?: BatteryReport & { readonly socKwh: number };
  /**
   * What the site's scheduler can take part in (SchedulerCapabilities): its adapter family, and
   * whether it exports and imports waiting jobs. A site move needs both ends of one kind and able to
   * move; an agent that does not say (older agents) keeps its jobs where they are.
   */
  readonly scheduler?: Pick<SchedulerCapabilities, 'kind' | 'move'>;
}

/** Result of asking a scheduler to act on a job. `code` says why a refusal happened, for callers that react to it. */
export type Actuation =
  | { readonly ok: true; readonly jobId: string }
  | { readonly ok: false; readonly jobId: string; readonly reason: string; readonly code?: RefusalCode };

export type RefusalCode = 'not-found' | 'wrong-state' | 'held-by-other' | 'unsupported' | 'invalid' | 'scheduler-error';

/** A job's submission in a form another cluster of the same kind can run; `id` is the FlexLon identity kept across the move. */
export interface PortableJob {
  readonly id: string;
  /** Which adapter family can run it (a Slurm batch script cannot be run by Kubernetes). */
  readonly kind: 'slurm' | 'kubernetes' | 'sim';
  readonly job: ComputeJob;
  /** The scheduler-specific submission (batch script and options, a Job manifest, …). */
  readonly spec: unknown;
}

/** What a scheduler adapter can do beyond list, defer, hold and release. */
export interface SchedulerCapabilities {
  readonly kind: PortableJob['kind'];
  /** Native "do not start before" times (Slurm --begin). Without them the adapter holds the job and releases it when due (`reconcile`). */
  readonly beginTimes: boolean;
  readonly powerCap: boolean;
  readonly move: boolean;
}

/**
 * The site move lever (issue 13): what moving a waiting job to another site costs its owner, stated by
 * the operator (docs/cost-model.md, "Site moves"): the data to copy and the restart from a checkpoint.
 * A plan moves a job only where that saves more than it costs.
 */
export interface MoveCost {
  /** £ per job moved (data transfer, scheduling overhead). */
  readonly gbpPerMove: number;
  /** £ per GPU of the job moved (the restart: its GPUs idle while it reloads its checkpoint). */
  readonly gbpPerGpu: number;
}

/**
 * Small but not zero: £1 a move plus £0.10 a GPU (a 32-GPU job £4.20, about half an hour of its
 * lateness at the default £0.25 per GPU-hour), so the planner does not shuffle jobs for pennies.
 */
export const DEFAULT_MOVE_COST: MoveCost = { gbpPerMove: 1, gbpPerGpu: 0.1 };

export const moveCostOf = (job: Pick<ComputeJob, 'gpus'>, cost: MoveCost): number =>
  cost.gbpPerMove + cost.gbpPerGpu * Math.max(0, job.gpus);

/**
 * The other sites a job may be planned at: a waiting deferrable job (not held by an operator) whose
 * allowedSites name sites this provider plans, where both schedulers are of one adapter kind and can
 * move jobs, as their agents' reports state (FlexibilityReport.scheduler). Everything else stays pinned.
 */
export const moveTargets = (job: ComputeJob, reports: readonly FlexibilityReport[]): string[] => {
  if ((job.state !== 'queued' && job.state !== 'held') || job.slo !== 'deferrable' || job.heldBy === 'other') return [];
  const at = reports.find((r) => r.site === job.site);
  const home = at?.scheduler;
  // A site whose scheduler cannot be read now cannot export its job either.
  if (!home?.move || at?.staleSince !== undefined) return [];
  return reports
    .filter((r) => r.site !== job.site && job.allowedSites.includes(r.site))
    .filter((r) => r.scheduler?.move === true && r.scheduler.kind === home.kind && r.staleSince === undefined)
    .map((r) => r.site);
};
