// Local improvement of a finished plan: each job in turn is taken out and put back at its best
// place given everyone else (a preemptible job fills its cheapest slots with room, a
// non-preemptible one takes its cheapest contiguous run), at any of its sites. Slots are priced at
// price + λ·carbon (λ: the LP's carbon shadow price), and a move is kept only if it lowers that
// priced cost and keeps the plan's carbon under the cap. The battery flows stay as they are, so
// every move keeps import within its ceiling and ≥ 0; the battery LP is re-solved afterwards, and
// since the old flows are still feasible for it, the plan's cost can only fall.
import type { BatterySchedule, PlanningProblem } from '../domain/planning.ts';
import { importCaps } from './site-rows.ts';
import { runProfile, unitCosts, type Draft } from './disaggregate.ts';
import { moveGbpAtIndex } from './move-cost.ts';
import { isSoft, lateAt, lateGbpPerKwh, ratePerKwh, runEnd } from './soft.ts';
import { capGPerKwh, tightenedCap } from './carbon-cap.ts';
import { slotsByKey } from './slot-sort.ts';

export interface LocalSearchResult {
  /** Jobs moved (counting repeats over sweeps). */
  readonly moved: number;
  /** Fall of the priced cost (£, price + λ·carbon). */
  readonly gain: number;
  readonly sweeps: number;
}

const margin = (x: number): number => 1e-9 * Math.max(1, Math.abs(x));

interface SiteState {
  readonly load: Float64Array;
  /** IT power allowed per slot with the battery flows fixed: site limit and import ceiling. */
  readonly up: Float64Array;
  /** IT power needed per slot so that import stays ≥ 0 where the battery discharges. */
  readonly lo: Float64Array;
  /** Slots from cheapest to dearest by priced cost. */
  readonly order: readonly number[];
}

const siteStates = (
  p: PlanningProblem,
  d: Draft,
  batteries: readonly BatterySchedule[],
  priced: readonly Float64Array[],
): SiteState[] => {
  const caps = importCaps(p);
  return p.sites
    .map((site, s) => {
      const b = batteries.find((x) => x.site === site.id);
      const load = new Float64Array(p.slots);
      const up = new Float64Array(p.slots);
      const lo = new Float64Array(p.slots);
      for (let t = 0; t < p.slots; t++) {
        const net = b ? (b.chargeKw[t] ?? 0) - (b.dischargeKw[t] ?? 0) : 0;
        const u = Math.min(site.itPowerLimitKw, ((caps[s]![t] as number) - net) / site.pue);
        up[t] = u - margin(u);
        lo[t] = net < 0 ? -net / site.pue + margin(net) : Number.NEGATIVE_INFINITY;
      }
      const order = slotsByKey(0, p.slots, priced[s]!);
      return { load, up, lo, order };
    })
    .map((st, s) => {
      d.power.forEach((pw, j) => {
        if (pw && d.site[j] === s)
          for (let t = 0; t < p.slots; t++) st.load[t] = (st.load[t] as number) + (pw[t] as number);
      });
      return st;
    });
};

/** What the carbon cap counts of the plan with its batteries (kg, carbon-cap.ts), as check.ts counts it. */
const planCapUse = (p: PlanningProblem, st: readonly SiteState[], batteries: readonly BatterySchedule[]): number => {
  const h = p.slotMinutes / 60;
  let kg = 0;
  p.sites.forEach((site, s) => {
    const b = batteries.find((x) => x.site === site.id);
    for (let t = 0; t < p.slots; t++) {
      const flow = b ? (b.chargeKw[t] ?? 0) - (b.dischargeKw[t] ?? 0) : 0;
      const imp = (st[s]!.load[t] as number) * site.pue + flow;
      // (g − I) on all the import, and I back on the battery's flow: a battery earns no room.
      kg += (capGPerKwh(p, site, t) * imp * h) / 1000 + ((p.carbonCapGPerKwh ?? 0) * flow * h) / 1000;
    }
  });
  return kg;
};

/**
 * Improves `d` in place (a complete plan that meets every limit with `batteries`). `lambda` is the
 * carbon price in £/kg. Returns what it did; `d` is unchanged when nothing helps.
 */
export const localSearch = (
  p: PlanningProblem,
  d: Draft,
  batteries: readonly BatterySchedule[],
  lambda: number,
  maxSweeps = 4,
  /**
   * Also stop after a sweep that gains less than this share of the first sweep's gain (0: only at
   * no gain). The planner's rounds repeat the search, so a tail of small gains is not lost for good.
   */
  minRelGain = 0,
): LocalSearchResult => {
  const h = p.slotMinutes / 60;
  const priced = unitCosts(p, lambda);
  const kgPerKwh = p.sites.map((site) =>
    Float64Array.from({ length: p.slots }, (_, t) => (site.pue * capGPerKwh(p, site, t)) / 1000),
  );
  const st = siteStates(p, d, batteries, priced);
  const budget = p.carbonCapKg === undefined ? Number.POSITIVE_INFINITY : tightenedCap(p, 1e-7);
  let carbon = planCapUse(p, st, batteries);
  const siteIndex = new Map(p.sites.map((s, i) => [s.id, i]));
  const value = (s: number, pw: Float64Array, table: readonly Float64Array[]): number => {
    let v = 0;
    for (let t = 0; t < p.slots; t++)
      if ((pw[t] as number) !== 0) v += (table[s]![t] as number) * (pw[t] as number) * h;
    return v;
  };

  // Room for job j at site s (its own power at its current site counts as free).
  const room = (j: number, s: number, t: number): number => {
    const own = d.site[j] === s ? (d.power[j]![t] as number) : 0;
    return (st[s]!.up[t] as number) - ((st[s]!.load[t] as number) - own);
  };
  // Power job j must keep in slot t at its current site so that import stays ≥ 0.
  const keep = (j: number, t: number): number => {
    const s = d.site[j] as number;
    const pw = d.power[j]!;
    return Math.max(0, (st[s]!.lo[t] as number) - ((st[s]!.load[t] as number) - (pw[t] as number)));
  };

  // A soft job's slots are priced with its lateness too (and in that order when filling).
  const lateValue = (j: number, pw: Float64Array): number => {
    const job = p.jobs[j]!;
    if (!isSoft(job)) return 0;
    let v = 0;
    for (let t = job.deadlineSlot; t < p.slots; t++)
      if ((pw[t] as number) !== 0) v += lateGbpPerKwh(p, job, t) * (pw[t] as number) * h;
    return v;
  };
  // Kept per job and site: the prices do not change during the search.
  const softOrders = new Map<number, number[]>();
  // Scratch, reused for every job: a plan makes tens of thousands of these, and a typed array costs
  // far more to make than to fill.
  const unit = new Float64Array(p.slots);
  const unitSum = new Float64Array(p.slots + 1);
  const short = new Int32Array(p.slots + 1);
  const softOrder = (j: number, s: number): number[] => {
    const key = j * p.sites.length + s;
    const known = softOrders.get(key);
    if (known) return known;
    const job = p.jobs[j]!;
    // Each slot's unit cost is computed once and sorted without a comparator (slot-sort.ts: this sort
    // ran per job and site and was a tenth of the planner's time at 10k jobs).
    for (let t = job.releaseSlot; t < runEnd(p, job); t++)
      unit[t] = (priced[s]![t] as number) + lateGbpPerKwh(p, job, t);
    const order = slotsByKey(job.releaseSlot, runEnd(p, job), unit);
    softOrders.set(key, order);
    return order;
  };

  // A preemptible soft job's cost if it had every slot of its window to itself at site s: its
  // energy at full power in its cheapest slots (the order fill uses). No placement there costs less,
  // so a job already at that cost has nothing to gain from fill at s (most jobs, once placed: fill
  // was the largest part of local search, at 10k jobs about 0.4 s).
  const ideals = new Map<number, number>();
  const ideal = (j: number, s: number): number => {
    const key = j * p.sites.length + s;
    const known = ideals.get(key);
    if (known !== undefined) return known;
    const job = p.jobs[j]!;
    let left = job.energyKwh / h;
    let cost = 0;
    for (const t of softOrder(j, s)) {
      if (left <= 0) break;
      const add = Math.min(left, job.maxPowerKw);
      cost += ((priced[s]![t] as number) + lateGbpPerKwh(p, job, t)) * add * h;
      left -= add;
    }
    const v = left > 1e-9 * Math.max(1, job.energyKwh / h) ? Number.NEGATIVE_INFINITY : cost;
    ideals.set(key, v);
    return v;
  };

  // Each writes job j's best placement at site s into `power` and returns its cost (undefined: none).
  const fill = (j: number, s: number, power: Float64Array): number | undefined => {
    const job = p.jobs[j]!;
    const hi = runEnd(p, job);
    power.fill(0);
    let left = job.energyKwh / h;
    if (d.site[j] === s) {
      for (let t = job.releaseSlot; t < hi; t++) {
        const k = keep(j, t);
        power[t] = k;
        left -= k;
      }
    }
    for (const t of isSoft(job) ? softOrder(j, s) : st[s]!.order) {
      if (left <= 0) break;
      if (t < job.releaseSlot || t >= hi) continue;
      const add = Math.min(left, Math.min(job.maxPowerKw, room(j, s, t)) - (power[t] as number));
      if (add > 0) {
        power[t] = (power[t] as number) + add;
        left -= add;
      }
    }
    if (left > 1e-9 * Math.max(1, job.energyKwh / h)) return undefined;
    return value(s, power, priced) + lateValue(j, power);
  };

  // The cheapest start of a contiguous run at site s. The run is at full power but for its last slot
  // (disaggregate.ts runProfile), so a start's cost is full power × a window sum of the unit prices
  // plus the last slot's, and it fits when no slot but the last has room below full power: prefix
  // sums make each start O(1) instead of O(run) (local search was the planner's largest stage).
  const bestRun = (j: number, s: number, power: Float64Array): number | undefined => {
    const job = p.jobs[j]!;
    const run = runProfile(job.energyKwh, job.maxPowerKw, h);
    const hi = runEnd(p, job);
    const lo = job.releaseSlot;
    const n = run.length;
    if (lo + n > hi) return undefined;
    const full = run[0] as number;
    const last = run[n - 1] as number;
    const here = d.site[j] === s;
    // unitSum[k] = Σ unit over [lo, lo + k); short[k] = slots in [lo, lo + k) with room below full power.
    unitSum[0] = 0;
    short[0] = 0;
    // The job's rate read once (soft.ts lateAt): this loop runs for every whole job at every site.
    const rate = ratePerKwh(job);
    for (let t = lo; t < hi; t++) {
      unitSum[t - lo + 1] =
        (unitSum[t - lo] as number) + (priced[s]![t] as number) + lateAt(rate, job.deadlineSlot, t, h);
      short[t - lo + 1] = (short[t - lo] as number) + (full <= room(j, s, t) ? 0 : 1);
    }
    // Slots the job leaves must keep what import ≥ 0 needs.
    const kept: number[] = [];
    if (here) for (let t = lo; t < hi; t++) if (keep(j, t) > 1e-12) kept.push(t);
    let best: { start: number; cost: number } | undefined;
    for (let start = lo; start + n <= hi; start++) {
      const k = start - lo;
      const end = start + n - 1;
      if ((short[k + n - 1] as number) - (short[k] as number) > 0 || last > room(j, s, end)) continue;
      let fits = true;
      for (const t of kept) {
        const inRun = t >= start && t <= end ? (run[t - start] as number) : 0;
        if (inRun < keep(j, t) - 1e-12) {
          fits = false;
          break;
        }
      }
      if (!fits) continue;
      const unitLast = (unitSum[k + n] as number) - (unitSum[k + n - 1] as number);
      const cost = (full * ((unitSum[k + n - 1] as number) - (unitSum[k] as number)) + last * unitLast) * h;
      if (!best || cost < best.cost) best = { start, cost };
    }
    if (!best) return undefined;
    power.fill(0);
    run.forEach((kw, i) => {
      power[best.start + i] = kw;
    });
    return best.cost;
  };

  const leaves = (j: number): boolean => {
    const job = p.jobs[j]!;
    for (let t = job.releaseSlot; t < runEnd(p, job); t++) if (keep(j, t) > 0) return false;
    return true;
  };

  // With no free room in its window at any of its sites, a job can only be put back where it is
  // (its own power is all the room it has), so it is skipped: on a full, overloaded fleet that is most
  // jobs, and the result is the same.
  const hasRoom = (j: number): boolean => {
    const job = p.jobs[j]!;
    const hi = runEnd(p, job);
    for (const id of job.sites) {
      const { up, load } = st[siteIndex.get(id) as number]!;
      for (let t = job.releaseSlot; t < hi; t++) if ((up[t] as number) - (load[t] as number) > 0) return true;
    }
    return false;
  };

  let moved = 0;
  let gain = 0;
  let sweeps = 0;
  let firstGain = 0;
  const total = p.jobs.reduce((a, j) => a + j.energyKwh, 0);
  // The placement being tried and the best one so far, swapped when a trial wins.
  let trial = new Float64Array(p.slots);
  let winner = new Float64Array(p.slots);
  for (; sweeps < maxSweeps; sweeps++) {
    let sweepGain = 0;
    for (let j = 0; j < p.jobs.length; j++) {
      const job = p.jobs[j]!;
      const pw = d.power[j];
      const s0 = d.site[j] as number;
      // A job with energy beyond the horizon stays as it is (moving it could only place more of it).
      if (!pw || s0 < 0 || job.energyKwh <= 0 || (d.deficitKwh[j] as number) > 0) continue;
      if (!hasRoom(j)) continue;
      // Away from home a job pays its move cost as well (move-cost.ts), once, wherever it runs there.
      const current = value(s0, pw, priced) + lateValue(j, pw) + moveGbpAtIndex(p, job, s0);
      let bestS = -1;
      let bestCost = Number.POSITIVE_INFINITY;
      const canLeave = job.sites.length > 1 && leaves(j);
      for (const id of job.sites) {
        const s = siteIndex.get(id) as number;
        if (s !== s0 && !canLeave) continue;
        const move = moveGbpAtIndex(p, job, s);
        if (job.preemptible && isSoft(job) && current <= ideal(j, s) + move + 1e-9 * Math.max(1, Math.abs(current)))
          continue;
        const c = job.preemptible ? fill(j, s, trial) : bestRun(j, s, trial);
        if (c !== undefined && (bestS < 0 || c + move < bestCost)) {
          bestS = s;
          bestCost = c + move;
          [trial, winner] = [winner, trial];
        }
      }
      if (bestS < 0 || bestCost >= current - 1e-9 * Math.max(1, Math.abs(current))) continue;
      const best = { s: bestS, power: Float64Array.from(winner), cost: bestCost };
      const dKg = value(best.s, best.power, kgPerKwh) - value(s0, pw, kgPerKwh);
      if (dKg > 0 && carbon + dKg > budget) continue;
      for (let t = 0; t < p.slots; t++) {
        st[s0]!.load[t] = (st[s0]!.load[t] as number) - (pw[t] as number);
        st[best.s]!.load[t] = (st[best.s]!.load[t] as number) + (best.power[t] as number);
      }
      d.power[j] = best.power;
      d.site[j] = best.s;
      carbon += dKg;
      sweepGain += current - best.cost;
      moved++;
    }
    gain += sweepGain;
    if (sweeps === 0) firstGain = sweepGain;
    // Stop when a sweep gains less than a millionth of the energy's worth at £1/MWh.
    if (sweepGain <= Math.max(1e-9 * total, minRelGain * firstGain)) {
      sweeps++;
      break;
    }
  }
  return { moved, gain, sweeps };
};
