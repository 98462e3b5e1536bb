// Repair after disaggregation: make a draft plan respect every site's IT limit and import ceiling
// (given a tentative battery plan), then place whatever is still missing in the cheapest room left.
// 1. shed load where a site-slot is over its limit (a non-preemptible job leaves entirely, a
//    preemptible one gives up power in that slot);
// 2. top up each preemptible job's deficit in the cheapest free slots of its window at its site;
// 3. place every job still without a plan at the cheapest site and slots (a non-preemptible job
//    as a contiguous run), least flexible first.
// It never creates a violation, so a job that finds no room is a failure, reported by name.
// The placement steps are in placement.ts, make-room in make-room.ts.
import type { PlanningProblem } from '../domain/planning.ts';
import type { Draft, UnitCosts } from './disaggregate.ts';
import { makeRoom, Occupancy } from './make-room.ts';
import { EPS, loads, placePartly, placeWhole, slack, topUp, unplace } from './placement.ts';
import { deferOrder, hasOneRun, mayLeaveUnserved, runEnd } from './soft.ts';

export type RepairResult =
  | { readonly ok: true; readonly moved: number; readonly madeRoom: number }
  | { readonly ok: false; readonly reason: string };

const shed = (p: PlanningProblem, d: Draft, load: Float64Array[], limit: readonly Float64Array[]): void => {
  const h = p.slotMinutes / 60;
  const over = new Set<number>();
  load.forEach((l, s) => {
    for (let t = 0; t < p.slots; t++)
      if ((l[t] as number) > (limit[s]![t] as number) + slack(limit[s]![t] as number)) over.add(s * p.slots + t);
  });
  if (over.size === 0) return;
  const at = new Map<number, number[]>();
  d.power.forEach((pw, j) => {
    const s = d.site[j] as number;
    if (!pw || s < 0) return;
    for (let t = 0; t < p.slots; t++)
      if ((pw[t] as number) > EPS && over.has(s * p.slots + t)) {
        const k = s * p.slots + t;
        (at.get(k) ?? at.set(k, []).get(k)!).push(j);
      }
  });
  for (const k of over) {
    const s = Math.floor(k / p.slots);
    const t = k % p.slots;
    // Preemptible jobs give way first: they can make up the energy in other slots; a
    // non-preemptible job leaves only if that is not enough. Among them, the cheapest to delay per
    // kWh first (a hard job has slack in its window; a GPU cap's part delays less work per kWh than
    // a waiting job), so what is shed is what the reduction really costs least to move.
    // A hard job with no slack in its window (base load, a running job's floor) leaves last: it has
    // nowhere else to go.
    const delayRate = (j: number): number => {
      const slo = p.jobs[j]!.slo;
      return slo?.kind === 'soft' ? slo.lateGbpPerHour / Math.max(1e-9, p.jobs[j]!.energyKwh) : 0;
    };
    const pinned = (j: number): number => (hasOneRun(p, p.jobs[j]!) ? 1 : 0);
    const jobs = (at.get(k) ?? []).sort(
      (a, b) =>
        Number(p.jobs[b]!.preemptible) - Number(p.jobs[a]!.preemptible) ||
        pinned(a) - pinned(b) ||
        delayRate(a) - delayRate(b),
    );
    for (const j of jobs) {
      const excess = (load[s]![t] as number) - (limit[s]![t] as number);
      if (excess <= slack(limit[s]![t] as number)) break;
      const pw = d.power[j];
      if (!pw || d.site[j] !== s) continue;
      if (!p.jobs[j]!.preemptible) {
        unplace(p, d, load, j);
        continue;
      }
      const cut = Math.min(pw[t] as number, excess + slack(limit[s]![t] as number));
      pw[t] = (pw[t] as number) - cut;
      load[s]![t] = (load[s]![t] as number) - cut;
      d.deficitKwh[j] = (d.deficitKwh[j] as number) + cut * h;
    }
  }
};

/**
 * Repairs `d` in place against `limit` (IT kW allowed per site and slot). `costs` orders the slots
 * tried. Returns how many jobs were moved or topped up, or which job found no room.
 */
export const repair = (
  p: PlanningProblem,
  d: Draft,
  limit: readonly Float64Array[],
  costs: UnitCosts,
): RepairResult => {
  const load = loads(p, d);
  shed(p, d, load, limit);
  const h = p.slotMinutes / 60;
  // Slack slots, with each extra allowed site counted as a quarter of the horizon of slack (the
  // best of 0, ¼ and 1 on the benchmark instances): a job that can go
  // elsewhere should not take the last room a single-site job has.
  const laxity = (j: number) => {
    const x = p.jobs[j]!;
    return runEnd(p, x) - x.releaseSlot - x.energyKwh / (x.maxPowerKw * h) + (x.sites.length - 1) * p.slots * 0.25;
  };
  const siteIndex = new Map(p.sites.map((s, i) => [s.id, i]));
  const short: number[] = [];
  let madeRoom = 0;
  let occ: Occupancy | undefined;
  d.deficitKwh.forEach((need, j) => {
    if (need > 1e-9 * Math.max(1, p.jobs[j]!.energyKwh)) short.push(j);
  });
  // The least flexible jobs first: a loose job could take the only slots a tight one can use.
  // Jobs that may wait beyond the horizon go last, the dearest to delay first (soft.ts deferOrder).
  for (const j of short.sort((a, b) => deferOrder(p, p.jobs[a]!, p.jobs[b]!) || laxity(a) - laxity(b))) {
    const pw = d.power[j];
    const s = d.site[j] as number;
    if (pw && s >= 0 && p.jobs[j]!.preemptible) {
      const r = topUp(p, j, s, pw, d.deficitKwh[j] as number, load, limit, costs, true);
      occ?.add(j, s, pw);
      if (r.left <= 1e-7 * Math.max(1, p.jobs[j]!.energyKwh)) {
        d.deficitKwh[j] = 0;
        continue;
      }
    }
    if (pw) unplace(p, d, load, j);
    if (placeWhole(p, d, j, load, limit, costs, siteIndex)) {
      occ?.add(j, d.site[j] as number, d.power[j]);
      continue;
    }
    // A soft job that may wait beyond the horizon takes what room there is and leaves the rest.
    if (mayLeaveUnserved(p, p.jobs[j]!)) {
      placePartly(p, d, j, load, limit, costs, siteIndex);
      occ?.add(j, d.site[j] as number, d.power[j]);
      continue;
    }
    madeRoom++;
    occ ??= new Occupancy(p, d);
    if (!makeRoom(p, d, j, load, limit, costs, siteIndex, occ)) {
      const job = p.jobs[j]!;
      return {
        ok: false,
        reason: `job ${job.id}: no room left for ${job.energyKwh} kWh in slots [${job.releaseSlot}, ${runEnd(p, job)}) at ${job.sites.join(', ')} after placing the other jobs`,
      };
    }
  }
  return { ok: true, moved: short.length, madeRoom };
};
