// Placing a job's energy in the room a draft leaves (repair.ts and make-room.ts build on these): the
// sites' loads, taking a job out, topping up a preemptible job in its cheapest free slots, and
// placing a whole job (a non-preemptible one as one contiguous run) or as much of a soft one as fits.
// None of them ever puts a site-slot over its limit.
import type { PlanningProblem } from '../domain/planning.ts';
import { runProfile, type Draft, type UnitCosts } from './disaggregate.ts';
import { moveGbpAtIndex } from './move-cost.ts';
import { slotsByKey } from './slot-sort.ts';
import { lateAt, lateGbpPerKwh, mayLeaveUnserved, ratePerKwh, runEnd, unservedGbpPerKwh } from './soft.ts';

export const EPS = 1e-9;
export const slack = (x: number): number => 1e-9 * Math.max(1, Math.abs(x));

export const loads = (p: PlanningProblem, d: Draft): Float64Array[] => {
  const out = p.sites.map(() => new Float64Array(p.slots));
  d.power.forEach((pw, j) => {
    const s = d.site[j] as number;
    if (!pw || s < 0) return;
    const l = out[s]!;
    for (let t = 0; t < p.slots; t++) l[t] = (l[t] as number) + (pw[t] as number);
  });
  return out;
};

export const unplace = (p: PlanningProblem, d: Draft, load: Float64Array[], j: number): void => {
  const pw = d.power[j];
  const s = d.site[j] as number;
  if (pw && s >= 0) for (let t = 0; t < p.slots; t++) load[s]![t] = (load[s]![t] as number) - (pw[t] as number);
  d.power[j] = undefined;
  d.site[j] = -1;
  d.deficitKwh[j] = p.jobs[j]!.energyKwh;
};

/** topUp's scratch: each slot's unit cost (only its window's slots are read). */
let units = new Float64Array(0);

/** Cheapest slots of the window with room; adds power to `pw` and `load`. Returns the energy still missing. */
export const topUp = (
  p: PlanningProblem,
  j: number,
  s: number,
  pw: Float64Array,
  need: number,
  load: Float64Array[],
  limit: readonly Float64Array[],
  costs: UnitCosts,
  commit: boolean,
): { left: number; cost: number } => {
  const h = p.slotMinutes / 60;
  const job = p.jobs[j]!;
  const end = runEnd(p, job);
  // A soft job's slots past its deadline cost its lateness as well (computed once per slot and
  // sorted without a comparator, slot-sort.ts: this sort is the hottest loop of placement).
  if (units.length < end) units = new Float64Array(end);
  for (let t = job.releaseSlot; t < end; t++) units[t] = (costs[s]![t] as number) + lateGbpPerKwh(p, job, t);
  const unit = (t: number): number => units[t] as number;
  const slots = slotsByKey(job.releaseSlot, end, units);
  // Energy that may wait beyond the horizon goes only where it is cheaper than waiting.
  const ceiling = mayLeaveUnserved(p, job) ? unservedGbpPerKwh(p, job) : Number.POSITIVE_INFINITY;
  let left = need;
  let cost = 0;
  for (const t of slots) {
    if (left <= EPS * Math.max(1, job.energyKwh) || unit(t) >= ceiling) break;
    const room = (limit[s]![t] as number) - (load[s]![t] as number) - slack(limit[s]![t] as number);
    const add = Math.min(room, job.maxPowerKw - (pw[t] as number), left / h);
    if (add <= EPS) continue;
    cost += add * h * unit(t);
    left -= add * h;
    if (commit) {
      pw[t] = (pw[t] as number) + add;
      load[s]![t] = (load[s]![t] as number) + add;
    }
  }
  return { left, cost };
};

const bestRun = (
  p: PlanningProblem,
  j: number,
  s: number,
  load: Float64Array[],
  limit: readonly Float64Array[],
  costs: UnitCosts,
): { start: number; cost: number } | undefined => {
  const job = p.jobs[j]!;
  const run = runProfile(job.energyKwh, job.maxPowerKw, p.slotMinutes / 60);
  let best: { start: number; cost: number } | undefined;
  // The job's rate read once (soft.ts lateAt): this runs for every start of every whole job.
  const rate = ratePerKwh(job);
  const h = p.slotMinutes / 60;
  for (let st = job.releaseSlot; st + run.length <= runEnd(p, job); st++) {
    let cost = 0;
    let fits = true;
    for (let i = 0; i < run.length && fits; i++) {
      const t = st + i;
      fits =
        (load[s]![t] as number) + (run[i] as number) <= (limit[s]![t] as number) - slack(limit[s]![t] as number) + EPS;
      cost += (run[i] as number) * ((costs[s]![t] as number) + lateAt(rate, job.deadlineSlot, t, h));
    }
    if (fits && (!best || cost < best.cost)) best = { start: st, cost };
  }
  // A soft job that may wait beyond the horizon runs only where that is cheaper than waiting.
  if (best && mayLeaveUnserved(p, job) && best.cost * (p.slotMinutes / 60) >= job.energyKwh * unservedGbpPerKwh(p, job))
    return undefined;
  return best;
};

export const placeWhole = (
  p: PlanningProblem,
  d: Draft,
  j: number,
  load: Float64Array[],
  limit: readonly Float64Array[],
  costs: UnitCosts,
  siteIndex: Map<string, number>,
): boolean => {
  const job = p.jobs[j]!;
  const h = p.slotMinutes / 60;
  let best: { s: number; cost: number; start?: number } | undefined;
  for (const id of job.sites) {
    const s = siteIndex.get(id) as number;
    // Away from home the job pays its move cost too (move-cost.ts); bestRun counts kW × £/kWh, topUp £.
    const move = moveGbpAtIndex(p, job, s);
    if (!job.preemptible) {
      const r = bestRun(p, j, s, load, limit, costs);
      if (r && (!best || r.cost + move / h < best.cost)) best = { s, cost: r.cost + move / h, start: r.start };
    } else {
      const r = topUp(p, j, s, new Float64Array(p.slots), job.energyKwh, load, limit, costs, false);
      if (r.left <= 1e-7 * Math.max(1, job.energyKwh) && (!best || r.cost + move < best.cost))
        best = { s, cost: r.cost + move };
    }
  }
  if (!best) return false;
  // Away from home, a soft job that may wait does so where its move makes running dearer than waiting
  // (bestRun and topUp weigh waiting per site, without the move).
  if (
    mayLeaveUnserved(p, job) &&
    moveGbpAtIndex(p, job, best.s) > 0 &&
    (best.start !== undefined ? best.cost * h : best.cost) >= job.energyKwh * unservedGbpPerKwh(p, job)
  )
    return false;
  const pw = new Float64Array(p.slots);
  if (best.start !== undefined) {
    runProfile(job.energyKwh, job.maxPowerKw, p.slotMinutes / 60).forEach((kw, i) => {
      pw[best.start! + i] = kw;
      load[best.s]![best.start! + i] = (load[best.s]![best.start! + i] as number) + kw;
    });
  } else {
    topUp(p, j, best.s, pw, job.energyKwh, load, limit, costs, true);
  }
  d.power[j] = pw;
  d.site[j] = best.s;
  d.deficitKwh[j] = 0;
  return true;
};

/**
 * Places as much of a soft job as fits (a preemptible job at the site where most fits, a
 * non-preemptible one not at all) and leaves the rest beyond the horizon as its deficit.
 */
export const placePartly = (
  p: PlanningProblem,
  d: Draft,
  j: number,
  load: Float64Array[],
  limit: readonly Float64Array[],
  costs: UnitCosts,
  siteIndex: Map<string, number>,
): void => {
  const job = p.jobs[j]!;
  const home = { s: siteIndex.get(job.sites[0]!) as number, left: job.energyKwh };
  let best = home;
  if (job.preemptible) {
    for (const id of job.sites) {
      const s = siteIndex.get(id) as number;
      const r = topUp(p, j, s, new Float64Array(p.slots), job.energyKwh, load, limit, costs, false);
      // Away from home, only where what it runs there saves more than its move costs (move-cost.ts).
      const move = moveGbpAtIndex(p, job, s);
      if (move > 0 && (job.energyKwh - r.left) * unservedGbpPerKwh(p, job) - r.cost <= move) continue;
      if (r.left < best.left - EPS) best = { s, left: r.left };
    }
  }
  const pw = new Float64Array(p.slots);
  const left =
    job.preemptible && best.left < job.energyKwh
      ? topUp(p, j, best.s, pw, job.energyKwh, load, limit, costs, true).left
      : job.energyKwh;
  d.power[j] = pw;
  d.site[j] = best.s;
  d.deficitKwh[j] = Math.max(0, left);
};
