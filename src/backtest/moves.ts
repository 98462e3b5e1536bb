// Site moves in the backtest (issue 15: flexlon "using every lever"; the lever is issue 13's site move,
// docs/cost-model.md "Site moves"; docs/backtest.md "Site moves").
// - The rule (movesFor): flexlon and the oracle plan each site on its own. Each period a waiting job
//   that its site's plan finishes after its deadline (or leaves beyond the horizon) moves to another
//   site where the last plan made there has room for it at full power from the next period and it
//   then finishes before the period that holds its deadline, when the lateness it avoids is worth
//   more than the move costs. It joins that site's queue and its next plan.
// - A job moves once (SimJob.movedFrom), so two sites' plans cannot pass it to and fro.
// - Only between sites of one node kind (the same kW per GPU): a job's energy and run are then the
//   same at either site.
// - The move costs what the live market charges for one (domain/compute.ts DEFAULT_MOVE_COST: £1 +
//   £0.10 per GPU: the data's transfer and the restart), counted in the strategy's £.
// - Room is read off the destination's plan: what it has not given to its own jobs (for flexlon those
//   submitted so far; for the oracle those to come too) in the slots the moved job would run in,
//   counting the jobs moved there in the same period. Nothing is moved on what lies beyond the plan.
import { DEFAULT_MOVE_COST, moveCostOf, type MoveCost } from '../domain/compute.ts';
import type { JobSchedule } from '../domain/planning.ts';
import { PERIOD_H, PERIOD_MS } from '../domain/settlement-day.ts';
import { DEFAULT_LATE_GBP_PER_GPU_HOUR } from '../optimise/problem.ts';

/** A waiting job as the move rule reads it. */
export interface WaitingJob {
  readonly id: string;
  readonly gpus: number;
  readonly powerKw: number;
  readonly energyKwh: number;
  readonly remainingKwh: number;
  readonly deadlineAt: number;
  /** Where it was submitted, once it has moved: a job moves once. */
  readonly movedFrom?: string;
}

/** A site as the move rule reads it: its limit, node kind, waiting jobs and last plan from now on. */
export interface MoveSite {
  readonly id: string;
  /** GPUs in the training pool: a job needing more cannot move here. */
  readonly gpus: number;
  /** The training pool's IT power above idle (kW), the plan's limit. */
  readonly limitKw: number;
  /** kW per GPU above idle: sites of one node kind have the same. */
  readonly kwPerGpu: number;
  readonly waiting: readonly WaitingJob[];
  /**
   * The site's last plan: its jobs, the slots it covers and the slot of it that is the current
   * period (absent: no plan).
   */
  readonly plan?: { readonly jobs: readonly JobSchedule[]; readonly slots: number; readonly slot: number };
  /** False where no job may move here this period (a job was capped there on the same plan's room). */
  readonly accepts?: boolean;
}

export interface MoveInput {
  readonly sites: readonly MoveSite[];
  /** The current period's start (ms). */
  readonly now: number;
  readonly cost?: MoveCost;
}

/** A move: the job leaves `from`'s queue for `to`'s, at a cost of `gbp`. */
export interface SiteMove {
  readonly jobId: string;
  readonly from: string;
  readonly to: string;
  readonly gbp: number;
}

/**
 * A site's plan read off its running jobs alone, each at full power until its work is done (the last
 * slot at the part of a period left): for a site no plan has been made for and no job waits at.
 */
export const runningPlan = (
  site: string,
  running: readonly { readonly id: string; readonly powerKw: number; readonly remainingKwh: number }[],
  slots: number,
): NonNullable<MoveSite['plan']> => ({
  jobs: running.map((j) => ({
    id: j.id,
    site,
    powerKw: Array.from({ length: slots }, (_, t) =>
      Math.max(0, Math.min(j.powerKw, j.remainingKwh / PERIOD_H - t * j.powerKw)),
    ),
  })),
  slots,
  slot: 0,
});

/**
 * A waiting job's lateness in GPU-hours as its plan has it, as the metrics count it (sim-job.ts
 * Finished.lateGpuH): energy run in the period holding the deadline or later × (periods late + 1),
 * and what the plan leaves beyond its horizon (`slots`) as run in the period after it, late only if
 * that period is. Its power in each slot is average power, so a slot's energy is power × half an hour.
 */
export const plannedLateGpuH = (
  j: WaitingJob,
  powerKw: readonly number[],
  slots: number,
  slot: number,
  now: number,
): number => {
  const due = Math.floor(j.deadlineAt / PERIOD_MS);
  const period0 = Math.floor(now / PERIOD_MS);
  let late = 0;
  let planned = 0;
  for (let t = slot; t < Math.min(slots, powerKw.length); t++) {
    const kwh = (powerKw[t] ?? 0) * PERIOD_H;
    if (!(kwh > 0)) continue;
    planned += kwh;
    const periodsLate = period0 + (t - slot) - due + 1;
    if (periodsLate > 0) late += periodsLate * kwh;
  }
  const beyond = Math.max(0, j.remainingKwh - planned);
  if (beyond > 1e-9) late += Math.max(0, period0 + (slots - slot) - due + 1) * beyond;
  return (j.gpus * late * PERIOD_H) / j.energyKwh;
};

/**
 * The moves worth making now (see the top): for each site, its waiting jobs in order of the lateness
 * their plan gives them (most first), each moved to the first other site of its node kind whose plan
 * has room for it from the next period to its end before the period holding its deadline, where
 * £0.25 per GPU-hour of that lateness is more than the move's cost.
 */
export const movesFor = (i: MoveInput): SiteMove[] => {
  const cost = i.cost ?? DEFAULT_MOVE_COST;
  // Per destination, its plan's load per slot (from the current period), with the jobs moved there.
  const loads = new Map<string, number[]>();
  const loadOf = (s: MoveSite): number[] | undefined => {
    if (!s.plan) return undefined;
    let l = loads.get(s.id);
    if (!l) {
      const { jobs, slots, slot } = s.plan;
      l = new Array<number>(Math.max(0, slots - slot)).fill(0);
      for (const j of jobs) for (let t = 0; t < l.length; t++) l[t] = (l[t] as number) + (j.powerKw[slot + t] ?? 0);
      loads.set(s.id, l);
    }
    return l;
  };
  const out: SiteMove[] = [];
  for (const from of i.sites) {
    const plan = from.plan;
    if (!plan) continue;
    const own = new Map(plan.jobs.map((j) => [j.id, j.powerKw]));
    const late = from.waiting
      // A job not in the plan (submitted since it was made) has no lateness read yet: it stays.
      .filter((j) => j.movedFrom === undefined && own.has(j.id))
      .map((j) => {
        const p = own.get(j.id) ?? [];
        // A job the plan starts now or next period stays: it is running (or about to) where it is.
        const soon = (p[plan.slot] ?? 0) > 1e-9 || (p[plan.slot + 1] ?? 0) > 1e-9;
        return { j, gpuH: soon ? 0 : plannedLateGpuH(j, p, plan.slots, plan.slot, i.now) };
      })
      .filter((x) => x.gpuH * DEFAULT_LATE_GBP_PER_GPU_HOUR > moveCostOf(x.j, cost))
      .sort((a, b) => b.gpuH - a.gpuH || (a.j.id < b.j.id ? -1 : 1));
    for (const { j } of late) {
      const periods = Math.ceil(j.remainingKwh / j.powerKw / PERIOD_H - 1e-9);
      // From the next period's start, done before the period holding its deadline (the metrics count
      // what runs in that period as late).
      if (i.now + (1 + periods) * PERIOD_MS > Math.floor(j.deadlineAt / PERIOD_MS) * PERIOD_MS) continue;
      for (const to of i.sites) {
        if (to === from || to.accepts === false || j.gpus > to.gpus || Math.abs(to.kwPerGpu - from.kwPerGpu) > 1e-9)
          continue;
        const load = loadOf(to);
        if (!load || load.length < 1 + periods) continue;
        let fits = true;
        for (let t = 1; t <= periods && fits; t++) fits = (load[t] as number) + j.powerKw <= to.limitKw + 1e-6;
        if (!fits) continue;
        for (let t = 1; t <= periods; t++) load[t] = (load[t] as number) + j.powerKw;
        out.push({ jobId: j.id, from: from.id, to: to.id, gbp: moveCostOf(j, cost) });
        break;
      }
    }
  }
  return out;
};
