// A seeded one-day workload for one site: deferrable GPU batch/training jobs plus the inflexible
// power of a separate inference pool. It feeds the simulated cluster in demos, backtests and tests.
//
// HAND-PICKED: every distribution below (job count, GPU-count weights, 1–6 h durations, 4–16 h
// slack, the hour-of-day submission weights and the inference day shape) is an assumption, kept
// because the demo needs a training site's multi-node jobs with hours of slack, which the public
// traces do not contain (Alibaba openb has 23 eight-GPU pods in 149 days). For a workload drawn
// from the Alibaba GPU 2023 and Azure LLM 2023 trace fits, use generateTraceDay
// (src/sim/workload-trace.ts). Treat results that depend on these shapes as illustrative only.
// The busy site profile (src/sim/site-profile.ts) replaces the hour-of-day weights with the Alibaba
// 2023 best-effort arrivals and the job count with a load target (arrivalsByHour, fillGpuHours).
import type { ComputeJob } from '../domain/compute.ts';
import { intBetween, pick, seeded, uniform, type Random } from '../domain/random.ts';
import { epochMs, isoOf, MINUTE_MS, type EpochMs } from '../domain/time.ts';
import { londonOffsetMs, settlementDaysMs } from '../domain/settlement-day.ts';
import { kwh } from '../domain/units.ts';
import { A100_SXM_NODE, checkNodePower, jobPowerKw, poolItKw, type GpuNodePower } from './power.ts';

export interface WorkloadOptions {
  readonly seed: number;
  readonly site: string;
  /**
   * Start of the day: UK local midnight, the settlement day's start (settlement-day.ts). Submission
   * weights are by UK clock hour, so a 23- or 25-hour clock-change day has 23 or 25 hours of arrivals.
   */
  readonly dayStart: EpochMs;
  /** Number of deferrable jobs (default 36). */
  readonly jobs?: number;
  /** Slot length of the inference profile (default 30, the GB settlement period). */
  readonly slotMinutes?: number;
  /** Node power model; must match the cluster the jobs run on (default A100_SXM_NODE). */
  readonly power?: GpuNodePower;
  /** Nodes in the inference pool (default 4). */
  readonly inferenceNodes?: number;
  /** Job-size mix (default `mixed`). */
  readonly gpuMix?: GpuMix;
  /**
   * Relative submission rate per hour of the day, 24 values (default: the placeholder working-day
   * shape below). The busy site profile gives the Alibaba GPU 2023 best-effort arrivals.
   */
  readonly arrivalsByHour?: readonly number[];
  /**
   * With no `jobs`: draw jobs until the GPU-hours they demand reach this (the busy site profile sizes
   * the day by load, not by count). Ignored when `jobs` is given.
   */
  readonly fillGpuHours?: number;
  /**
   * Hours from dayStart at which the day's arrivals begin (default 0; ≤ 0): a day's worth of clock
   * hours from there. Below 0, jobs that arrived the evening before are already waiting at dayStart:
   * a busy site's queue carries yesterday's backlog into the day instead of starting it empty.
   */
  readonly arrivalStartHour?: number;
}

export interface GeneratedDay {
  /** Deferrable jobs, sorted by submission time. */
  readonly jobs: ComputeJob[];
  /** IT power of the inference pool per slot of the day (kW), inflexible. */
  readonly inferenceKw: number[];
}

const HOUR_MS = 60 * MINUTE_MS;
const DAY_MINUTES = 24 * 60;

/** Mostly powers of two, as schedulers see them; odd counts occur but rarely. Weights are placeholders. */
const GPU_WEIGHTS: readonly (readonly [number, number])[] = [
  [1, 30],
  [2, 22],
  [3, 3],
  [4, 20],
  [5, 2],
  [6, 4],
  [7, 2],
  [8, 17],
];

/**
 * Job-size mixes. `mixed` is the small-job mix of a shared dev/inference cluster (the Alibaba-style
 * default); `training` is an AI training site's mix of multi-node jobs (8–64 GPUs). Placeholders.
 */
export const GPU_MIXES = {
  mixed: GPU_WEIGHTS,
  training: [
    [8, 30],
    [16, 30],
    [32, 25],
    [64, 15],
  ],
} as const satisfies Record<string, readonly (readonly [number, number])[]>;
export type GpuMix = keyof typeof GPU_MIXES;

/** Relative submission rate per hour of the day: busier in working hours (placeholder). */
const submissionWeight = (hour: number): number => {
  if (hour >= 8 && hour < 18) return 4;
  if (hour >= 18 && hour < 22) return 2;
  return 1;
};
const HOUR_WEIGHTS: readonly number[] = Array.from({ length: 24 }, (_, h) => submissionWeight(h));

const KINDS = ['pretrain', 'fine-tune', 'batch-eval', 'embed-batch', 'hpo-sweep'] as const;

const weighted = (rnd: Random, entries: readonly (readonly [number, number])[]): number => {
  const total = entries.reduce((a, [, w]) => a + w, 0);
  let x = rnd() * total;
  for (const [value, w] of entries) {
    x -= w;
    if (x < 0) return value;
  }
  const last = entries[entries.length - 1];
  if (last === undefined) throw new Error('weighted pick from an empty list');
  return last[0];
};

interface DrawContext {
  readonly rnd: Random;
  readonly site: string;
  readonly dayStart: EpochMs;
  readonly power: GpuNodePower;
  readonly gpuWeights: readonly (readonly [number, number])[];
  /** [hours after dayStart, weight] for each hour of the day's arrivals (arrivalHours). */
  readonly hourWeights: readonly (readonly [number, number])[];
}

const drawJob = (ctx: DrawContext): Omit<ComputeJob, 'id'> => {
  const { rnd, site, dayStart, power } = ctx;
  const gpus = weighted(rnd, ctx.gpuWeights);
  const hour = weighted(rnd, ctx.hourWeights);
  const submittedAt = epochMs(dayStart + hour * HOUR_MS + intBetween(rnd, 0, 59) * MINUTE_MS);
  const durationMinutes = intBetween(rnd, 60, 360);
  const slackMinutes = intBetween(rnd, 4 * 60, 16 * 60);
  const kind = pick(rnd, KINDS);
  const releaseAt = submittedAt;
  // Capped to the end of the next settlement day; still ≥ release + duration because release < end
  // of day and duration ≤ 6 h.
  const deadlineAt = epochMs(
    Math.min(releaseAt + (durationMinutes + slackMinutes) * MINUTE_MS, dayStart + settlementDaysMs(dayStart, 2)),
  );
  const powerKw = jobPowerKw(power, gpus);
  const durationH = durationMinutes / 60;
  const energyKwh = kwh(powerKw * durationH);
  return {
    name: `${kind}-${gpus}g`,
    site,
    slo: 'deferrable',
    gpus,
    powerKw,
    energyKwh,
    remainingKwh: energyKwh,
    submittedAt,
    releaseAt,
    deadlineAt,
    preemptible: false,
    allowedSites: [site],
    work: gpus * durationH,
    workUnit: 'gpu-hours',
    state: 'queued',
  };
};

/**
 * The UK clock hour (fractional, 0–24) at the middle of each slot of the settlement day from
 * `dayStart`: 48 half hours on an ordinary day, 46 on the spring clock-change day (01:00–02:00 does
 * not happen) and 50 on the autumn one (01:00–02:00 happens twice). What a day shape that follows
 * people's clocks (inference demand) reads, so that its slots line up with the day's periods.
 */
export const slotClockHours = (dayStart: EpochMs, slotMinutes: number): number[] => {
  const slotMs = slotMinutes * MINUTE_MS;
  return Array.from({ length: Math.round(settlementDaysMs(dayStart, 1) / slotMs) }, (_, i) => {
    const at = dayStart + (i + 0.5) * slotMs;
    return ((((at + londonOffsetMs(at)) % (24 * HOUR_MS)) + 24 * HOUR_MS) % (24 * HOUR_MS)) / HOUR_MS;
  });
};

/**
 * Inference pool utilisation over the day: a raised cosine from 0.2 at 05:00 to 0.8 at 17:00 UK
 * clock time, so low at night and highest through the afternoon and evening, with ±5 % seeded noise
 * per slot; one value per slot of the settlement day (slotClockHours).
 */
const inferenceProfile = (rnd: Random, hours: readonly number[], power: GpuNodePower, nodes: number): number[] =>
  hours.map((hour) => {
    const shape = 0.5 - 0.5 * Math.cos((2 * Math.PI * (hour - 5)) / 24);
    const utilisation = Math.min(1, Math.max(0, (0.2 + 0.6 * shape) * (1 + uniform(rnd, -0.05, 0.05))));
    return poolItKw(power, nodes, utilisation * nodes * power.gpusPerNode);
  });

/** A filled day stops here whatever its target: a fault guard, far above any site's day. */
const MAX_FILL_JOBS = 100_000;

const hourWeightsOf = (arrivals: readonly number[] | undefined): readonly number[] => {
  if (arrivals === undefined) return HOUR_WEIGHTS;
  if (arrivals.length !== 24 || !arrivals.every((w) => w >= 0 && Number.isFinite(w)) || !arrivals.some((w) => w > 0))
    throw new RangeError('arrivalsByHour must be 24 non-negative weights, not all 0');
  return arrivals;
};

/**
 * The hours a day's jobs arrive in, as [hours after dayStart, the weight of its UK clock hour]: the
 * hours from `startHour` (≤ 0: the evening before) to the next day's same clock hour. That is 24
 * hours, or 23 on the spring clock-change day (01:00 does not happen) and 25 on the autumn one
 * (01:00 happens twice, each with its weight). Listed by clock hour, midnight first, then in time
 * order: on an ordinary day the entries and their order are those of the 24 clock hours, so the same
 * seed draws the same day as before the clock change was counted.
 */
export const arrivalHours = (
  dayStart: EpochMs,
  weights: readonly number[],
  startHour: number,
): (readonly [number, number])[] => {
  const hours = settlementDaysMs(dayStart, 1) / HOUR_MS;
  const out: (readonly [number, number, number])[] = [];
  for (let e = startHour; e < startHour + hours; e++) {
    const at = dayStart + e * HOUR_MS;
    const clock = new Date(at + londonOffsetMs(at)).getUTCHours();
    out.push([clock, e, weights[clock] ?? 0]);
  }
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, e, w]) => [e, w] as const);
};

/** Draws `jobs` jobs, or with none given, jobs until their GPU-hours reach `fillGpuHours`. */
const drawJobs = (ctx: DrawContext, jobs: number | undefined, fillGpuHours: number | undefined) => {
  if (jobs !== undefined) return Array.from({ length: jobs }, () => drawJob(ctx));
  const target = fillGpuHours ?? 0;
  if (!(target >= 0 && Number.isFinite(target))) throw new RangeError(`fillGpuHours must be ≥ 0, got ${target}`);
  const out: Omit<ComputeJob, 'id'>[] = [];
  let gpuHours = 0;
  while (gpuHours < target && out.length < MAX_FILL_JOBS) {
    const job = drawJob(ctx);
    out.push(job);
    gpuHours += job.work;
  }
  return out;
};

/** One day of workload for one site; the same options always give the same day. */
export const generateDay = (options: WorkloadOptions): GeneratedDay => {
  const { seed, site, dayStart, slotMinutes = 30, inferenceNodes = 4 } = options;
  // A count of 36 unless the day is sized by load (fillGpuHours).
  const jobs = options.jobs ?? (options.fillGpuHours === undefined ? 36 : undefined);
  const power = checkNodePower(options.power ?? A100_SXM_NODE);
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 0))
    throw new RangeError(`jobs must be a non-negative integer, got ${jobs}`);
  if (!Number.isInteger(slotMinutes) || slotMinutes <= 0 || DAY_MINUTES % slotMinutes !== 0) {
    throw new RangeError(`slotMinutes must divide a day, got ${slotMinutes}`);
  }
  if (!Number.isInteger(inferenceNodes) || inferenceNodes < 0)
    throw new RangeError(`inferenceNodes must be a non-negative integer, got ${inferenceNodes}`);
  // Separate streams, so that changing the job count leaves the inference profile unchanged.
  const jobRnd = seeded(seed);
  const inferenceRnd = seeded((seed ^ 0x9e3779b9) >>> 0);
  // The day's UK date (a settlement day starts at UK midnight, 23:00 UTC the day before in summer
  // time): the UTC date gave the day after the spring clock change the same ids as the day before.
  const day = isoOf(dayStart + londonOffsetMs(dayStart)).slice(0, 10);
  const startHour = options.arrivalStartHour ?? 0;
  if (!(Number.isInteger(startHour) && startHour <= 0 && startHour > -24))
    throw new RangeError(`arrivalStartHour must be a whole number of hours in (-24, 0], got ${startHour}`);
  const ctx: DrawContext = {
    rnd: jobRnd,
    site,
    dayStart,
    power,
    gpuWeights: GPU_MIXES[options.gpuMix ?? 'mixed'],
    hourWeights: arrivalHours(dayStart, hourWeightsOf(options.arrivalsByHour), startHour),
  };
  // Ids follow submission order (a stable sort keeps draw order on ties), as a scheduler numbers them.
  const sorted = drawJobs(ctx, jobs, options.fillGpuHours)
    .sort((a, b) => a.submittedAt - b.submittedAt)
    .map((job, k): ComputeJob => ({ id: `${site}-${day}-${String(k + 1).padStart(3, '0')}`, ...job }));
  return {
    jobs: sorted,
    inferenceKw: inferenceProfile(inferenceRnd, slotClockHours(dayStart, slotMinutes), power, inferenceNodes),
  };
};
