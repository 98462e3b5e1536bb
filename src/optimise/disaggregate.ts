// From the class plan back to jobs. Each class's IT energy per site and slot (its profile) is shared
// among its members: jobs go to sites in proportion to the site energies (largest first, to the
// site with the most energy still unclaimed); a preemptible job then takes its energy from the
// fullest slots of its own window first ("water-filling from the top", capped at its max power),
// the most constrained jobs first; a non-preemptible job gets the contiguous full-power run that
// the remaining profile covers best. Whatever does not fit is left as a deficit for repair.ts.
import type { PlanningProblem } from '../domain/planning.ts';
import type { ClassModel, JobClass } from './class-model.ts';
import { lateGbpPerKwh, runEnd } from './soft.ts';
import { capGPerKwh } from './carbon-cap.ts';

export interface Draft {
  /** Site index per job; −1 while the job is not placed. */
  readonly site: Int32Array;
  /** IT power per slot (kW) per job; undefined while not placed. */
  readonly power: (Float64Array | undefined)[];
  /** Energy a placed job still lacks (kWh); a job that is not placed lacks all of it. */
  readonly deficitKwh: Float64Array;
}

/** £ per kWh of IT energy at each site and slot: price and shadow-priced carbon, times PUE. */
export type UnitCosts = readonly Float64Array[];

export const unitCosts = (p: PlanningProblem, carbonGbpPerKg: number): UnitCosts =>
  p.sites.map((s) => {
    const out = new Float64Array(p.slots);
    for (let t = 0; t < p.slots; t++)
      out[t] = (s.pue * ((s.priceGbpPerMwh[t] ?? 0) + carbonGbpPerKg * capGPerKwh(p, s, t))) / 1000;
    return out;
  });

/**
 * Takes `need` kWh from cap[lo..hi) levelling the fullest slots down first: take_t = min(u, max(0,
 * cap_t − λ)) with λ ≥ 0 chosen so the takes sum to `need` (or λ = 0 when even that is too little).
 * Writes the takes into `take` and subtracts them from `cap`; returns the amount taken.
 */
export const fillFromTop = (
  cap: Float64Array,
  lo: number,
  hi: number,
  u: number,
  need: number,
  take: Float64Array,
): number => {
  let f0 = 0;
  for (let t = lo; t < hi; t++) f0 += Math.min(u, Math.max(0, cap[t] as number));
  let lambda = 0;
  if (f0 > need) {
    // f(λ) is piecewise linear and decreasing; sweep its breakpoints (cap_t − u: slot t starts to
    // give less than u; cap_t: slot t gives nothing) until f reaches `need`.
    const events: [number, number][] = [];
    let active = 0;
    for (let t = lo; t < hi; t++) {
      const c = cap[t] as number;
      if (c <= 0) continue;
      if (c - u > 0) events.push([c - u, 1]);
      else active++;
      events.push([c, -1]);
    }
    events.sort((a, b) => a[0] - b[0]);
    let f = f0;
    for (const [at, delta] of events) {
      const next = f - active * (at - lambda);
      if (next <= need && active > 0) {
        lambda += (f - need) / active;
        break;
      }
      f = next;
      lambda = at;
      active += delta;
    }
  }
  let taken = 0;
  for (let t = lo; t < hi; t++) {
    const x = Math.min(u, Math.max(0, (cap[t] as number) - lambda));
    take[t] = x;
    cap[t] = (cap[t] as number) - x;
    taken += x;
  }
  return taken;
};

const shareAmongSites = (p: PlanningProblem, c: JobClass, energies: number[]): number[][] => {
  const groups: number[][] = c.sites.map(() => []);
  const order = [...c.jobs].sort((a, b) => p.jobs[b]!.energyKwh - p.jobs[a]!.energyKwh);
  if (c.sites.length === 1) {
    groups[0] = order;
    return groups;
  }
  const left = [...energies];
  for (const j of order) {
    let k = 0;
    for (let i = 1; i < left.length; i++) if ((left[i] as number) > (left[k] as number)) k = i;
    groups[k]!.push(j);
    left[k] = (left[k] as number) - p.jobs[j]!.energyKwh;
  }
  return groups;
};

const placePreemptible = (
  p: PlanningProblem,
  c: JobClass,
  jobs: number[],
  cap: Float64Array,
  site: number,
  d: Draft,
): void => {
  const h = p.slotMinutes / 60;
  const duty = (j: number) => {
    const x = p.jobs[j]!;
    return x.energyKwh / (x.maxPowerKw * h * (runEnd(p, x) - x.releaseSlot));
  };
  const scratch = new Float64Array(cap.length);
  for (const j of [...jobs].sort((a, b) => duty(b) - duty(a))) {
    const job = p.jobs[j]!;
    const lo = job.releaseSlot - c.releaseSlot;
    const hi = runEnd(p, job) - c.releaseSlot;
    const taken = fillFromTop(cap, lo, hi, job.maxPowerKw * h, job.energyKwh, scratch);
    const power = new Float64Array(p.slots);
    for (let t = lo; t < hi; t++) power[t + c.releaseSlot] = (scratch[t] as number) / h;
    d.site[j] = site;
    d.power[j] = power;
    d.deficitKwh[j] = Math.max(0, job.energyKwh - taken);
  }
};

/** A non-preemptible job's run: k slots at maxPowerKw, the last one only as long as needed (kW). */
export const runProfile = (energyKwh: number, maxPowerKw: number, h: number): number[] => {
  const k = Math.max(1, Math.ceil(energyKwh / (maxPowerKw * h) - 1e-9));
  // As Array.from({ length: k }) did: no run for a NaN length, and a clear error (not a loop that
  // fills memory) for a length no array can have (a job with no power, built in code unchecked).
  if (Number.isNaN(k)) return [];
  if (!(k <= 2 ** 32 - 1)) throw new RangeError(`a run of ${k} slots: maxPowerKw ${maxPowerKw}`);
  // A loop, not Array.from with a callback: local search and placement ask for every whole job's run
  // at each of its sites, and on a backtest of pods that was a tenth of the planner's time.
  const run: number[] = [];
  for (let i = 0; i < k - 1; i++) run.push(maxPowerKw);
  run.push(energyKwh / h - (k - 1) * maxPowerKw);
  return run;
};

const placeRuns = (
  p: PlanningProblem,
  c: JobClass,
  jobs: number[],
  cap: Float64Array,
  site: number,
  costs: UnitCosts,
  d: Draft,
): void => {
  const h = p.slotMinutes / 60;
  const cost = costs[site]!;
  for (const j of [...jobs].sort((a, b) => p.jobs[b]!.energyKwh - p.jobs[a]!.energyKwh)) {
    const job = p.jobs[j]!;
    const run = runProfile(job.energyKwh, job.maxPowerKw, h);
    const lo = job.releaseSlot - c.releaseSlot;
    const hi = runEnd(p, job) - c.releaseSlot;
    let best = -1;
    let bestCover = -1;
    let bestCost = Infinity;
    for (let s = lo; s + run.length <= hi; s++) {
      let cover = 0;
      let price = 0;
      run.forEach((kw, i) => {
        cover += Math.min(Math.max(0, cap[s + i] as number), kw * h);
        price += ((cost[s + i + c.releaseSlot] as number) + lateGbpPerKwh(p, job, s + i + c.releaseSlot)) * kw;
      });
      if (cover > bestCover + 1e-9 || (cover > bestCover - 1e-9 && price < bestCost)) {
        best = s;
        bestCover = cover;
        bestCost = price;
      }
    }
    if (best < 0) {
      d.deficitKwh[j] = job.energyKwh;
      continue;
    }
    const power = new Float64Array(p.slots);
    run.forEach((kw, i) => {
      power[best + i + c.releaseSlot] = kw;
      cap[best + i] = (cap[best + i] as number) - kw * h;
    });
    d.site[j] = site;
    d.power[j] = power;
    d.deficitKwh[j] = 0;
  }
};

/** Splits the class plan `x` (the class LP's column values) into a plan per job. */
export const disaggregate = (p: PlanningProblem, cm: ClassModel, x: Float64Array, costs: UnitCosts): Draft => {
  const n = p.jobs.length;
  const h = p.slotMinutes / 60;
  const d: Draft = {
    site: new Int32Array(n).fill(-1),
    power: new Array<Float64Array | undefined>(n),
    deficitKwh: new Float64Array(n),
  };
  p.jobs.forEach((j, i) => {
    d.deficitKwh[i] = j.energyKwh;
  });
  cm.classes.forEach((c, ci) => {
    const len = c.deadlineSlot - c.releaseSlot;
    const profiles = c.sites.map((_, k) => {
      const cap = new Float64Array(len);
      for (let i = 0; i < len; i++) cap[i] = Math.max(0, (x[(cm.colStart[ci] as number) + k * len + i] ?? 0) * h);
      return cap;
    });
    const groups = shareAmongSites(
      p,
      c,
      profiles.map((cap) => cap.reduce((a, b) => a + b, 0)),
    );
    groups.forEach((jobs, k) => {
      if (c.preemptible) placePreemptible(p, c, jobs, profiles[k]!, c.sites[k]!, d);
      else placeRuns(p, c, jobs, profiles[k]!, c.sites[k]!, costs, d);
    });
  });
  // Jobs with no energy to deliver run nowhere, at their first site.
  const siteIndex = new Map(p.sites.map((s, i) => [s.id, i]));
  p.jobs.forEach((j, i) => {
    if (j.energyKwh > 0) return;
    d.site[i] = siteIndex.get(j.sites[0]!) ?? 0;
    d.power[i] = new Float64Array(p.slots);
    d.deficitKwh[i] = 0;
  });
  return d;
};
