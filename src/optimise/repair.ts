// Repair after disaggregation: make a draft plan respect every site's IT limit and import ceiling
// (given a tentative battery plan), then place whatever is still missing in the cheapest room left.
// 1. shed load where a site-slot is over its limit (a non-preemptible job leaves entirely, a
//    preemptible one gives up power in that slot);
// 2. top up each preemptible job's deficit in the cheapest free slots of its window at its site;
// 3. place every job still without a plan at the cheapest site and slots (a non-preemptible job
//    as a contiguous run), least flexible first.
// It never creates a violation, so a job that finds no room is a failure, reported by name.
import type { PlanningProblem } from '../domain/planning.ts';
import { runProfile, type Draft, type UnitCosts } from './disaggregate.ts';
import { deferOrder, lateGbpPerKwh, mayLeaveUnserved, runEnd, unservedGbpPerKwh } from './soft.ts';

export type RepairResult =
  | { readonly ok: true; readonly moved: number; readonly madeRoom: number }
  | { readonly ok: false; readonly reason: string };

const EPS = 1e-9;
const slack = (x: number): number => 1e-9 * Math.max(1, Math.abs(x));

const loads = (p: PlanningProblem, d: Draft): Float64Array[] => {
  const out = p.sites.map(() => new Float64Array(p.slots));
  d.power.forEach((pw, j) => {
    const s = d.site[j] as number;
    if (!pw || s < 0) return;
    const l = out[s]!;
    for (let t = 0; t < p.slots; t++) l[t] = (l[t] as number) + (pw[t] as number);
  });
  return out;
};

const unplace = (p: PlanningProblem, d: Draft, load: Float64Array[], j: number): void => {
  const pw = d.power[j];
  const s = d.site[j] as number;
  if (pw && s >= 0) for (let t = 0; t < p.slots; t++) load[s]![t] = (load[s]![t] as number) - (pw[t] as number);
  d.power[j] = undefined;
  d.site[j] = -1;
  d.deficitKwh[j] = p.jobs[j]!.energyKwh;
};

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
    const pinned = (j: number): number => {
      const x = p.jobs[j]!;
      return x.slo?.kind !== 'soft' &&
        runEnd(p, x) - x.releaseSlot <= Math.ceil(x.energyKwh / (x.maxPowerKw * h) - 1e-9)
        ? 1
        : 0;
    };
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

/** Cheapest slots of the window with room; adds power to `pw` and `load`. Returns the energy still missing. */
const topUp = (
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
  const slots: number[] = [];
  // A soft job's slots past its deadline cost its lateness as well (computed once per slot: the
  // sort below is the hottest loop of placement).
  const units = new Float64Array(end);
  for (let t = job.releaseSlot; t < end; t++) {
    slots.push(t);
    units[t] = (costs[s]![t] as number) + lateGbpPerKwh(p, job, t);
  }
  const unit = (t: number): number => units[t] as number;
  slots.sort((a, b) => unit(a) - unit(b) || a - b);
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
  for (let st = job.releaseSlot; st + run.length <= runEnd(p, job); st++) {
    let cost = 0;
    let fits = true;
    for (let i = 0; i < run.length && fits; i++) {
      const t = st + i;
      fits =
        (load[s]![t] as number) + (run[i] as number) <= (limit[s]![t] as number) - slack(limit[s]![t] as number) + EPS;
      cost += (run[i] as number) * ((costs[s]![t] as number) + lateGbpPerKwh(p, job, t));
    }
    if (fits && (!best || cost < best.cost)) best = { start: st, cost };
  }
  // A soft job that may wait beyond the horizon runs only where that is cheaper than waiting.
  if (best && mayLeaveUnserved(p, job) && best.cost * (p.slotMinutes / 60) >= job.energyKwh * unservedGbpPerKwh(p, job))
    return undefined;
  return best;
};

const placeWhole = (
  p: PlanningProblem,
  d: Draft,
  j: number,
  load: Float64Array[],
  limit: readonly Float64Array[],
  costs: UnitCosts,
  siteIndex: Map<string, number>,
): boolean => {
  const job = p.jobs[j]!;
  let best: { s: number; cost: number; start?: number } | undefined;
  for (const id of job.sites) {
    const s = siteIndex.get(id) as number;
    if (!job.preemptible) {
      const r = bestRun(p, j, s, load, limit, costs);
      if (r && (!best || r.cost < best.cost)) best = { s, cost: r.cost, start: r.start };
    } else {
      const r = topUp(p, j, s, new Float64Array(p.slots), job.energyKwh, load, limit, costs, false);
      if (r.left <= 1e-7 * Math.max(1, job.energyKwh) && (!best || r.cost < best.cost)) best = { s, cost: r.cost };
    }
  }
  if (!best) return false;
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
const placePartly = (
  p: PlanningProblem,
  d: Draft,
  j: number,
  load: Float64Array[],
  limit: readonly Float64Array[],
  costs: UnitCosts,
  siteIndex: Map<string, number>,
): void => {
  const job = p.jobs[j]!;
  let best = { s: siteIndex.get(job.sites[0]!) as number, left: job.energyKwh };
  if (job.preemptible) {
    for (const id of job.sites) {
      const s = siteIndex.get(id) as number;
      const r = topUp(p, j, s, new Float64Array(p.slots), job.energyKwh, load, limit, costs, false);
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

/** Records jobs' plans before a tentative change, to undo it exactly. */
class Journal {
  private readonly saved = new Map<number, { power: Float64Array | undefined; site: number; deficit: number }>();
  private readonly loads: Float64Array[];
  constructor(
    private readonly d: Draft,
    private readonly load: Float64Array[],
  ) {
    this.loads = load.map((l) => Float64Array.from(l));
  }
  touch(k: number): void {
    if (!this.saved.has(k))
      this.saved.set(k, {
        power: this.d.power[k] && Float64Array.from(this.d.power[k]!),
        site: this.d.site[k] as number,
        deficit: this.d.deficitKwh[k] as number,
      });
  }
  undo(): void {
    for (const [k, v] of this.saved) {
      this.d.power[k] = v.power;
      this.d.site[k] = v.site;
      this.d.deficitKwh[k] = v.deficit;
    }
    this.loads.forEach((l, s) => this.load[s]!.set(l));
  }
}

/**
 * Which preemptible jobs have power at each (site, slot): built on the first make-room, then kept a
 * superset (entries are added as power is placed; stale ones are skipped), so make-room costs
 * O(window) instead of a scan of every job.
 */
class Occupancy {
  private readonly at = new Map<number, number[]>();
  constructor(
    private readonly p: PlanningProblem,
    d: Draft,
  ) {
    d.power.forEach((pw, k) => this.add(k, d.site[k] as number, pw));
  }
  add(k: number, s: number, pw: Float64Array | undefined): void {
    if (!pw || s < 0 || !this.p.jobs[k]!.preemptible) return;
    for (let t = 0; t < this.p.slots; t++) {
      if ((pw[t] as number) <= EPS) continue;
      const key = s * this.p.slots + t;
      const list = this.at.get(key);
      if (list) list.push(k);
      else this.at.set(key, [k]);
    }
  }
  /** Jobs that may have power at (s, t); callers check the power itself. */
  jobs(s: number, t: number): readonly number[] {
    return this.at.get(s * this.p.slots + t) ?? [];
  }
}

/**
 * Last resort for a job that finds no room: at its cheapest site and run (counting other
 * preemptible jobs' power as movable), push those jobs out of the slots it needs — into other
 * slots of their windows, or to another of their sites — then place it. Undone if any displaced
 * job cannot be re-homed.
 */
const makeRoom = (
  p: PlanningProblem,
  d: Draft,
  j: number,
  load: Float64Array[],
  limit: readonly Float64Array[],
  costs: UnitCosts,
  siteIndex: Map<string, number>,
  occ: Occupancy,
): boolean => {
  const h = p.slotMinutes / 60;
  const job = p.jobs[j]!;
  // Room as if the movable power in the job's window were gone; a plan found there is then cleared for real.
  const relaxed = load.map((l) => Float64Array.from(l));
  for (const id of job.sites) {
    const s = siteIndex.get(id) as number;
    for (let t = job.releaseSlot; t < runEnd(p, job); t++) {
      for (const k of occ.jobs(s, t))
        if (d.site[k] === s && k !== j) relaxed[s]![t] = (relaxed[s]![t] as number) - (d.power[k]?.[t] ?? 0);
    }
  }
  const before = { site: d.site[j] as number, power: d.power[j], deficit: d.deficitKwh[j] as number };
  const found = placeWhole(p, d, j, relaxed, limit, costs, siteIndex);
  const s = d.site[j] as number;
  const need = d.power[j];
  d.site[j] = before.site;
  d.power[j] = before.power;
  d.deficitKwh[j] = before.deficit;
  if (!found || !need) return false;
  const journal = new Journal(d, load);
  journal.touch(j);
  const displaced = new Set<number>();
  for (let t = 0; t < p.slots; t++) {
    if ((need[t] as number) <= EPS) continue;
    let over = (load[s]![t] as number) + (need[t] as number) - (limit[s]![t] as number) + slack(limit[s]![t] as number);
    // Displace the jobs with the latest deadlines first: they have the most other slots to go to.
    const here = [...new Set(occ.jobs(s, t))]
      .filter((k) => k !== j && d.site[k] === s && (d.power[k]?.[t] ?? 0) > EPS)
      .sort((a, b) => p.jobs[b]!.deadlineSlot - p.jobs[a]!.deadlineSlot);
    for (const k of here) {
      if (over <= EPS) break;
      const pw = d.power[k]!;
      journal.touch(k);
      const cut = Math.min(pw[t] as number, over);
      pw[t] = (pw[t] as number) - cut;
      load[s]![t] = (load[s]![t] as number) - cut;
      over -= cut;
      d.deficitKwh[k] = (d.deficitKwh[k] as number) + cut * h;
      displaced.add(k);
    }
  }
  need.forEach((kw, t) => {
    load[s]![t] = (load[s]![t] as number) + kw;
  });
  d.power[j] = need;
  d.site[j] = s;
  d.deficitKwh[j] = 0;
  occ.add(j, s, need);
  for (const k of displaced) {
    const r = topUp(p, k, s, d.power[k]!, d.deficitKwh[k] as number, load, limit, costs, true);
    if (r.left <= 1e-7 * Math.max(1, p.jobs[k]!.energyKwh) || mayLeaveUnserved(p, p.jobs[k]!)) {
      // A soft job may carry what does not fit beyond the horizon.
      d.deficitKwh[k] = r.left <= 1e-7 * Math.max(1, p.jobs[k]!.energyKwh) ? 0 : r.left;
      occ.add(k, s, d.power[k]);
      continue;
    }
    // Not enough room at this site: the whole job moves, possibly to another of its sites.
    unplace(p, d, load, k);
    if (!placeWhole(p, d, k, load, limit, costs, siteIndex)) {
      journal.undo();
      return false;
    }
    occ.add(k, d.site[k] as number, d.power[k]);
  }
  return true;
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
