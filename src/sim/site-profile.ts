// Named simulated sites: how busy a simulated GPU site's day is and what its nodes draw. The demo,
// `flexlon run agent` with a simulated scheduler and the BL01 history all take a day from here, so
// a site's queue, its FIFO twin and its history come from the same profile.
//
// - `busy` (the default, issue 13 item 6): an AI training site whose queue holds about as much work
//   as the cluster can run. Jobs arrive by hour of day as the best-effort pods of the Alibaba GPU
//   2023 trace do (openb, Weng et al., USENIX ATC 2023; fitted by scripts/fit-traces.ts into
//   src/sim/calibration.ts); the trace's rate (≈23 pods a day on a 6,212-GPU cluster, a sample) is
//   scaled up, and the day is drawn until its GPU-hours reach BUSY_OFFERED_LOAD of what the
//   training pool can run in 24 h. The 24 h of arrivals start at 18:00 the evening before
//   (BUSY_BACKLOG_HOURS), so the queue at midnight holds the evening's backlog, as a busy site's does,
//   instead of starting empty. Nodes are DGX A100 from its datasheet (DGX_A100_NODE).
// - `half-idle`: the demo's site before issue 13, kept exactly (same jobs for the same seed): 36
//   jobs, placeholder working-day arrivals, 3.9 kW nodes (A100_SXM_NODE); about half its GPU-hours
//   are asked for.
// Both keep generateDay's training job mix (8–64 GPUs), 1–6 h run times and 4–16 h of slack before
// the deadline (assumptions: the public traces hold almost no multi-node training jobs, see
// src/sim/workload.ts); so even a busy day leaves the planner hours in which to place most jobs,
// and what it cannot place in time runs late at its lateness cost (soft SLOs).
import type { ComputeJob } from '../domain/compute.ts';
import { settlementDaysMs } from '../domain/settlement-day.ts';
import type { EpochMs } from '../domain/time.ts';
import { CALIBRATION } from './calibration.ts';
import { A100_SXM_NODE, DGX_A100_NODE, type GpuNodePower } from './power.ts';
import { generateDay, type GeneratedDay } from './workload.ts';

export const SITE_PROFILES = ['busy', 'half-idle'] as const;
export type SiteProfile = (typeof SITE_PROFILES)[number];
export const DEFAULT_SITE_PROFILE: SiteProfile = 'busy';

/**
 * GPU-hours a busy day's jobs demand, as a share of the training pool's GPU-hours in 24 h. Above the
 * 85 % the issue asks for, below 100 %: arrivals bunch in the evening (the Alibaba shape), so the
 * queue is overloaded for hours while the day as a whole can still almost all be run.
 */
export const BUSY_OFFERED_LOAD = 0.95;

/**
 * Hours before midnight that a busy day's arrivals begin. Starting the day empty, the site's own
 * FIFO scheduler runs only 69 % of the lon pool's GPU-hours in the day (the evening's jobs run
 * after midnight, into the next day); with the evening's backlog waiting at 00:00 it runs 91 %
 * (man 92 %, edi 91 %; test/sim/site-profile.test.ts measures it).
 */
export const BUSY_BACKLOG_HOURS = 6;

/** The half-idle day's job count (the demo's default before issue 13). */
export const HALF_IDLE_JOBS = 36;

const HOURS_PER_DAY = 24;

export interface SiteDayOptions {
  readonly profile: SiteProfile;
  readonly seed: number;
  readonly site: string;
  readonly dayStart: EpochMs;
  /** Nodes of the training pool (8 GPUs each): the busy day is sized on them. */
  readonly trainingNodes: number;
  /** A fixed job count instead of the profile's: 36 for half-idle, sized by load for busy. */
  readonly jobs?: number | undefined;
  /** Busy only, with no `jobs`: the share of the pool's GPU-hours the day asks for (BUSY_OFFERED_LOAD). */
  readonly fill?: number;
  /** Busy only: the node the jobs' power is drawn for (profilePower('busy')). */
  readonly power?: GpuNodePower;
  /** Nodes of the inference pool (workload.ts's default when absent). */
  readonly inferenceNodes?: number;
}

/** The node each profile's cluster is built of: its jobs' powerKw and the site's meter use the same. */
export const profilePower = (profile: SiteProfile): GpuNodePower => {
  switch (profile) {
    case 'busy':
      return DGX_A100_NODE;
    case 'half-idle':
      return A100_SXM_NODE;
    default: {
      const never: never = profile;
      throw new Error(`unknown site profile ${String(never)}`);
    }
  }
};

/** One day of a profile's site; the same options always give the same day. */
export const siteDay = (o: SiteDayOptions): GeneratedDay => {
  const base = {
    seed: o.seed,
    site: o.site,
    dayStart: o.dayStart,
    gpuMix: 'training' as const,
    ...(o.inferenceNodes === undefined ? {} : { inferenceNodes: o.inferenceNodes }),
  };
  switch (o.profile) {
    case 'half-idle':
      return generateDay({ ...base, jobs: o.jobs ?? HALF_IDLE_JOBS });
    case 'busy': {
      const power = o.power ?? profilePower('busy');
      // The pool's GPU-hours in this settlement day: 23 or 25 hours on a clock-change day, whose
      // arrivals are as many clock hours (workload.ts arrivalHours).
      const hours = settlementDaysMs(o.dayStart, 1) / 3_600_000;
      const capacityGpuHours = o.trainingNodes * power.gpusPerNode * hours;
      return generateDay({
        ...base,
        power,
        arrivalsByHour: CALIBRATION.alibaba.bestEffort.arrivalsByHour,
        arrivalStartHour: -BUSY_BACKLOG_HOURS,
        ...(o.jobs === undefined
          ? { fillGpuHours: (o.fill ?? BUSY_OFFERED_LOAD) * capacityGpuHours }
          : { jobs: o.jobs }),
      });
    }
    default: {
      const never: never = o.profile;
      throw new Error(`unknown site profile ${String(never)}`);
    }
  }
};

/**
 * How busy a day's queue keeps a training pool: GPU-hours the jobs demand over the GPU-hours the pool
 * can run in the day (1 = exactly full; above 1, more work than the day can run). The day is 24 hours
 * unless `dayStart` names a settlement day, which lasts 23 or 25 on a clock change.
 */
export const offeredLoad = (jobs: readonly ComputeJob[], trainingGpus: number, dayStart?: number): number =>
  jobs.reduce((a, j) => a + (j.gpus * j.energyKwh) / j.powerKw, 0) /
  (trainingGpus * (dayStart === undefined ? HOURS_PER_DAY : settlementDaysMs(dayStart, 1) / 3_600_000));
