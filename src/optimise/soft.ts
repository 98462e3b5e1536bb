// Soft deadlines (planning problem version 2; docs/planning-problem.md, "Soft deadlines"). The cost
// model is linear in where a job's energy goes, so every LP keeps it:
//   energy in slot t ≥ deadline costs  L × (t − deadline + 1) × h × (e_t / E)
//   energy left beyond the horizon     L × (slots − deadline + 1) × h × (u / E) + u × surcharge
// with L = lateGbpPerHour, h = slot hours, E = the job's energy. The surcharge (£/kWh) is the dearest
// energy price the job could pay in the horizon at its sites: unserved energy must still be bought
// after the horizon, and valuing it no lower than any slot makes the planner place work in the
// horizon whenever there is room; a site may state the price instead (unservedPriceGbpPerMwh), as the
// backtest's bound does with the least price after the horizon. Hard jobs (the default) have none of
// this: they must run in their window, as in version 1.
import type { JobSpec, JobSchedule, LateJob, PlanningProblem } from '../domain/planning.ts';

export const isSoft = (j: JobSpec): boolean => j.slo?.kind === 'soft';

export const hasSoftJobs = (p: PlanningProblem): boolean => p.jobs.some(isSoft);

/** End (exclusive) of the slots a job may run in within the horizon: its deadline, or later for a soft job. */
export const runEnd = (p: Pick<PlanningProblem, 'slots'>, j: JobSpec): number => {
  const slo = j.slo;
  if (slo?.kind !== 'soft') return Math.min(j.deadlineSlot, p.slots);
  return slo.maxDelaySlots === undefined ? p.slots : Math.min(p.slots, j.deadlineSlot + slo.maxDelaySlots);
};

/**
 * A hard job whose window in the horizon is no longer than its run at full power: it has one
 * placement in time (a running job, base load, an inflexible job), so repair cannot move it later.
 */
export const hasOneRun = (p: Pick<PlanningProblem, 'slots' | 'slotMinutes'>, j: JobSpec): boolean =>
  j.slo?.kind !== 'soft' &&
  runEnd(p, j) - j.releaseSlot <= Math.ceil(j.energyKwh / (j.maxPowerKw * (p.slotMinutes / 60)) - 1e-9);

/** Whether part of the job may be left beyond the horizon (a soft job whose latest finish is not inside it). */
export const mayLeaveUnserved = (p: Pick<PlanningProblem, 'slots'>, j: JobSpec): boolean => {
  const slo = j.slo;
  if (slo?.kind !== 'soft') return false;
  return slo.maxDelaySlots === undefined || j.deadlineSlot + slo.maxDelaySlots > p.slots;
};

/** £ per hour of lateness per kWh of the job's energy: L / E (0 for hard or empty jobs). */
export const ratePerKwh = (j: JobSpec): number =>
  j.slo?.kind === 'soft' && j.energyKwh > 0 ? j.slo.lateGbpPerHour / j.energyKwh : 0;

/**
 * lateGbpPerKwh from the job's rate (ratePerKwh), deadline and slot length in hours, for the loops
 * that price every slot of every whole job (local-search.ts, placement.ts) and read the rate once.
 */
export const lateAt = (rate: number, deadlineSlot: number, t: number, h: number): number =>
  t < deadlineSlot ? 0 : rate * (t - deadlineSlot + 1) * h;

/** Lateness cost (£) of one kWh of the job's IT energy placed in slot t. */
export const lateGbpPerKwh = (p: PlanningProblem, j: JobSpec, t: number): number =>
  lateAt(ratePerKwh(j), j.deadlineSlot, t, p.slotMinutes / 60);

// Per problem: each site's dearest £ per kWh of IT energy (computed once; class building asks per job).
const dearestBySite = new WeakMap<PlanningProblem, ReadonlyMap<string, number>>();

/**
 * The dearest £ per kWh of IT energy at any of the job's sites in the horizon (≥ 0), or at the price
 * a site states for energy bought after it (SiteSpec.unservedPriceGbpPerMwh).
 */
export const unservedSurcharge = (p: PlanningProblem, j: JobSpec): number => {
  let dearest = dearestBySite.get(p);
  if (!dearest) {
    dearest = new Map(
      p.sites.map((site) => [
        site.id,
        ((site.unservedPriceGbpPerMwh ?? Math.max(0, ...site.priceGbpPerMwh)) * site.pue) / 1000,
      ]),
    );
    dearestBySite.set(p, dearest);
  }
  let most = Number.NEGATIVE_INFINITY;
  for (const id of j.sites) most = Math.max(most, dearest.get(id) ?? 0);
  return Number.isFinite(most) ? most : 0;
};

/** Cost (£) of one kWh of the job's energy left beyond the horizon. */
export const unservedGbpPerKwh = (p: PlanningProblem, j: JobSpec): number =>
  ratePerKwh(j) * (p.slots - j.deadlineSlot + 1) * (p.slotMinutes / 60) + unservedSurcharge(p, j);

/** Energy below this share of a job's energy counts as served (solver noise). */
export const UNSERVED_TOL = 1e-6;

/** The job's lateness figures for a power profile, or undefined when it is on time (or hard). */
export const lateJob = (p: PlanningProblem, j: JobSpec, powerKw: readonly number[]): LateJob | undefined => {
  if (!isSoft(j) || j.energyKwh <= 0) return undefined;
  const h = p.slotMinutes / 60;
  let placed = 0;
  let cost = 0;
  let last = -1;
  for (let t = 0; t < powerKw.length; t++) {
    const kw = powerKw[t] ?? 0;
    if (kw === 0) continue;
    placed += kw * h;
    cost += kw * h * lateGbpPerKwh(p, j, t);
    if (kw > 1e-9) last = t;
  }
  const short = j.energyKwh - placed;
  const unservedKwh = short > UNSERVED_TOL * Math.max(1, j.energyKwh) ? short : 0;
  cost += unservedKwh * unservedGbpPerKwh(p, j);
  const finishSlot = unservedKwh > 0 ? null : last + 1;
  const lateSlots = finishSlot === null ? p.slots - j.deadlineSlot : Math.max(0, finishSlot - j.deadlineSlot);
  if (finishSlot !== null && lateSlots === 0) return undefined;
  return { id: j.id, deadlineSlot: j.deadlineSlot, finishSlot, lateSlots, unservedKwh, costGbp: cost };
};

/** Every late or unfinished soft job, dearest first (then by id), and their total cost. */
export const lateness = (
  p: PlanningProblem,
  jobs: readonly Pick<JobSchedule, 'id' | 'powerKw'>[],
): { late: LateJob[]; costGbp: number } => {
  const byId = new Map(jobs.map((x) => [x.id, x]));
  const late: LateJob[] = [];
  for (const j of p.jobs) {
    const s = byId.get(j.id);
    const l = s ? lateJob(p, j, s.powerKw) : undefined;
    if (l) late.push(l);
  }
  late.sort((a, b) => b.costGbp - a.costGbp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { late, costGbp: late.reduce((a, l) => a + l.costGbp, 0) };
};

/** What a kWh of the job loses by waiting to the horizon's end: L / E × (slots − deadline + 1). */
const waitingCost = (p: PlanningProblem, j: JobSpec): number => ratePerKwh(j) * (p.slots - j.deadlineSlot + 1);

/**
 * Placement order among jobs: every job that must be placed before any that may wait beyond the
 * horizon, and among those the dearest to leave waiting first (high £/h per kWh, early deadline).
 */
export const deferOrder = (p: PlanningProblem, a: JobSpec, b: JobSpec): number => {
  const da = mayLeaveUnserved(p, a);
  const db = mayLeaveUnserved(p, b);
  if (da !== db) return da ? 1 : -1;
  return da ? waitingCost(p, b) - waitingCost(p, a) : 0;
};
