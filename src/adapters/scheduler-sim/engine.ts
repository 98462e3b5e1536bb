// The simulated cluster's engine (cluster.ts): time moves in steps that break at every slot
// boundary, job completion and job eligibility, so power is constant within a step. Jobs start at
// the beginning of a step, strictly first come first served; each step's IT power is metered into
// the power log, and the work the jobs did into the work log (GPUs at work, in full-speed
// equivalents, so its integral is GPU-hours of work done). Functions over explicit state: the
// cluster's fixed spec (its slots, pools and inference profile), its job records (started,
// progressed and completed in place) and its logs.
import { londonOffsetMs, settlementDayStartOf, settlementDaysMs } from '../../domain/settlement-day.ts';
import { epochMs, MINUTE_MS, type EpochMs } from '../../domain/time.ts';
import { kwh } from '../../domain/units.ts';
import type { ResolvedSimConfig } from './config.ts';
import type { JobRecord } from './job-record.ts';
import type { PowerLog } from './power-log.ts';

const HOUR_MS = 60 * MINUTE_MS;

/** What the engine reads of the cluster: fixed once the cluster is made. */
export interface EngineSpec {
  /** The cluster's first instant: its slots count from here. */
  readonly start: EpochMs;
  readonly cfg: Pick<ResolvedSimConfig, 'slotMinutes' | 'totalTrainingGpus' | 'trainingIdleKw' | 'inferenceIdleKw'>;
  /**
   * IT power of the inference pool per slot from `start`, repeated cyclically; where it is one
   * settlement day's (clockProfile), by UK clock time after that day.
   */
  readonly inference: readonly number[] | undefined;
  /** The same profile by slot of the UK clock day (00:00 local first), where it is a settlement day's. */
  readonly inferenceByClock?: readonly number[];
}

/**
 * A profile that covers exactly the settlement day from `start` (46, 48 or 50 slots, as the
 * generator draws it: src/sim/workload.ts slotClockHours) as one value per slot of the UK clock
 * day, so that later days, whose clock days have another number of slots, read it by the clock:
 * repeated by its length, a 46-slot profile would move its peak an hour a day. On the spring day the
 * clock hour that does not happen takes the slot before it; on the autumn day the repeated hour
 * keeps its first value. Undefined for any other profile (it repeats by its length).
 */
export const clockProfile = (
  profile: readonly number[],
  start: EpochMs,
  slotMinutes: number,
): readonly number[] | undefined => {
  const slotMs = slotMinutes * MINUTE_MS;
  const perDay = (24 * 60) / slotMinutes;
  if (!Number.isInteger(perDay) || settlementDayStartOf(start) !== start) return undefined;
  if (profile.length !== Math.round(settlementDaysMs(start, 1) / slotMs)) return undefined;
  const byClock: (number | undefined)[] = Array.from({ length: perDay }, () => undefined);
  profile.forEach((v, i) => {
    const k = clockSlot(start + i * slotMs + slotMs / 2, slotMs, perDay);
    byClock[k] ??= v;
  });
  return byClock.map((v, k) => v ?? byClock[(k + perDay - 1) % perDay] ?? profile[0] ?? 0);
};

/** The slot of the UK clock day (0 from local midnight) that instant `t` falls in. */
const clockSlot = (t: number, slotMs: number, perDay: number): number => {
  const local = t + londonOffsetMs(t);
  return ((Math.floor(local / slotMs) % perDay) + perDay) % perDay;
};

/** The site's IT power (kW) and the GPUs at work (full-speed equivalents), each as steps in time. */
export interface Logs {
  readonly power: PowerLog;
  readonly work: PowerLog;
}

export const gpusInUse = (jobs: readonly JobRecord[]): number =>
  jobs.reduce((n, j) => (j.state === 'running' ? n + j.gpus : n), 0);

/**
 * Simulates [from, t) and returns `t`. Jobs that become eligible exactly at `t` start on the next
 * call, so an actuation made at `t` still applies to them.
 */
export const simulate = (
  spec: EngineSpec,
  jobs: readonly JobRecord[],
  logs: Logs,
  from: EpochMs,
  t: EpochMs,
): EpochMs => {
  let current = from;
  while (current < t) {
    const now = current;
    startEligible(spec, jobs, now);
    const next = nextEvent(spec, jobs, now, t);
    run(spec, jobs, logs, now, next);
    current = epochMs(next);
  }
  return current;
};

const eligibleAt = (job: JobRecord): number => Math.max(job.releaseAt, job.beginAt ?? -Infinity);

const startEligible = (spec: EngineSpec, jobs: readonly JobRecord[], now: EpochMs): void => {
  let free = spec.cfg.totalTrainingGpus - gpusInUse(jobs);
  for (const job of jobs) {
    if (job.state !== 'queued' || eligibleAt(job) > now) continue;
    // Strict FIFO without backfill: the oldest eligible job waits for GPUs and nothing overtakes it.
    if (job.gpus > free) return;
    job.state = 'running';
    job.startedAt = now;
    free -= job.gpus;
  }
};

/** When a running job finishes if nothing changes; whole milliseconds, and always after `now`. */
const finishTime = (job: JobRecord, now: number): number =>
  now + Math.max(1, Math.round((job.remainingKwh / (job.powerKw * job.speed)) * HOUR_MS));

const slotIndex = (spec: EngineSpec, t: number): number =>
  Math.floor((t - spec.start) / (spec.cfg.slotMinutes * MINUTE_MS));

const nextEvent = (spec: EngineSpec, jobs: readonly JobRecord[], now: number, t: number): number => {
  let next = Math.min(t, spec.start + (slotIndex(spec, now) + 1) * spec.cfg.slotMinutes * MINUTE_MS);
  for (const job of jobs) {
    if (job.state === 'running') next = Math.min(next, finishTime(job, now));
    else if (job.state === 'queued' && eligibleAt(job) > now) next = Math.min(next, eligibleAt(job));
  }
  return next;
};

/** Runs [from, to), within which nothing starts, stops or changes slot, and meters it. */
const run = (spec: EngineSpec, jobs: readonly JobRecord[], logs: Logs, from: number, to: number): void => {
  const dtH = (to - from) / HOUR_MS;
  let jobsKwh = 0;
  let gpuHours = 0;
  for (const job of jobs) {
    if (job.state !== 'running') continue;
    // remainingKwh counts work at full speed; under a cap the job progresses at `speed` and draws drawKw.
    const finish = finishTime(job, from);
    const done = finish <= to;
    const progress = done ? job.remainingKwh : Math.min(job.remainingKwh, job.powerKw * job.speed * dtH);
    jobsKwh += job.speed === 1 ? progress : job.drawKw * (done ? (finish - from) / HOUR_MS : dtH);
    // Work done: the full-speed hours this progress stands for, on each of the job's GPUs.
    gpuHours += (job.gpus * progress) / job.powerKw;
    job.remainingKwh = kwh(done ? 0 : job.remainingKwh - progress);
    if (done) {
      job.state = 'completed';
      job.finishedAt = epochMs(to);
    }
  }
  // Metered from the energy the jobs actually used, so metered energy conserves exactly.
  logs.power.append(to, spec.cfg.trainingIdleKw + inferenceInSlot(spec, slotIndex(spec, from)) + jobsKwh / dtH);
  logs.work.append(to, gpuHours / dtH);
};

const inferenceInSlot = (spec: EngineSpec, slot: number): number => {
  const profile = spec.inference;
  if (profile === undefined) return spec.cfg.inferenceIdleKw;
  const byClock = spec.inferenceByClock;
  if (byClock !== undefined && (slot < 0 || slot >= profile.length)) {
    const slotMs = spec.cfg.slotMinutes * MINUTE_MS;
    return (
      byClock[clockSlot(spec.start + slot * slotMs + slotMs / 2, slotMs, byClock.length)] ?? spec.cfg.inferenceIdleKw
    );
  }
  return profile[((slot % profile.length) + profile.length) % profile.length] ?? spec.cfg.inferenceIdleKw;
};

/** Time-weighted average of the inference pool over [a, b), which may cross the cluster's slots. */
export const inferenceAverageKw = (spec: EngineSpec, a: number, b: number): number => {
  const slotMs = spec.cfg.slotMinutes * MINUTE_MS;
  let energy = 0;
  for (let s = slotIndex(spec, a); spec.start + s * slotMs < b; s++) {
    const overlap = Math.min(b, spec.start + (s + 1) * slotMs) - Math.max(a, spec.start + s * slotMs);
    energy += inferenceInSlot(spec, s) * overlap;
  }
  return energy / (b - a);
};
