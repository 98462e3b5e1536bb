// Exchange moves between soft jobs at one site (issue 13, the busy fleet). On an overloaded site every
// slot is full, so local-search.ts cannot move a late job earlier: there is no room. An exchange makes
// room: job A moves δ kW from a late slot x (or from the energy it leaves beyond the horizon) into an
// earlier slot t of its window, and job B, which holds power in t, moves the same δ into x (or beyond
// the horizon). Every site-slot keeps its load, so IT limits, import ceilings, import ≥ 0 with the
// battery flows, and carbon are all unchanged; only who runs when changes. The move is kept when
//   [c_A(x) − c_A(t)] − [c_B(x) − c_B(t)] > 0,
// with c_j(t) = price + λ·carbon at the site + j's lateness £/kWh in t (soft.ts lateGbpPerKwh), and
// c_j(beyond) = its unserved £/kWh (soft.ts unservedGbpPerKwh). The price terms cancel within a slot,
// so the gain is lateness moved from a job with a high £/h per kWh to one with a lower one. Both jobs
// are preemptible (a non-preemptible run would have to shift as a whole) and each stays in its own
// window, under its power limit and at its own site, so the move keeps every rule of
// docs/planning-problem.md. Work is counted (evaluations of a candidate B), not timed, so a plan is
// repeatable (work.ts).
import type { PlanningProblem } from '../domain/planning.ts';
import { unitCosts, type Draft } from './disaggregate.ts';
import { slotsByKey } from './slot-sort.ts';
import { isSoft, mayLeaveUnserved, ratePerKwh, runEnd, unservedGbpPerKwh } from './soft.ts';

export interface ExchangeResult {
  /** Exchanges made. */
  readonly swaps: number;
  /** Fall of the priced cost (£: price + λ·carbon + lateness). */
  readonly gain: number;
  /** Candidate partners evaluated (the work bound). */
  readonly evaluated: number;
}

const EPS = 1e-9;
/**
 * Partners tried per slot (those that could take the move; the latest deadline first). On the 10k
 * overloaded benchmark 16 gave £382,874 with 4.4M evaluations, 64 £382,609 (15.6M), all £382,800 (40M).
 */
const PARTNERS_PER_SLOT = 16;

/** Growable per-(site, slot) lists of the preemptible jobs that may hold power there (a superset). */
class Holders {
  private readonly at: number[][];
  constructor(
    private readonly slots: number,
    sites: number,
  ) {
    this.at = Array.from({ length: sites * slots }, () => []);
  }
  add(s: number, t: number, j: number): void {
    this.at[s * this.slots + t]!.push(j);
  }
  jobs(s: number, t: number): number[] {
    return this.at[s * this.slots + t]!;
  }
}

/**
 * Improves `d` in place (a complete plan within every limit). `lambda` is the carbon price (£/kg)
 * used for slot prices; `maxEvaluations` bounds the work. Returns what it did.
 */
export const exchange = (
  p: PlanningProblem,
  d: Draft,
  lambda: number,
  maxEvaluations = 5000 * p.jobs.length,
): ExchangeResult => {
  const T = p.slots;
  const h = p.slotMinutes / 60;
  const priced = unitCosts(p, lambda);
  const n = p.jobs.length;
  const rel = new Int32Array(n);
  const end = new Int32Array(n);
  const due = new Int32Array(n);
  const rate = new Float64Array(n); // £ per kWh per slot late
  const maxKw = new Float64Array(n);
  const unserved = new Float64Array(n).fill(Number.NaN); // £/kWh beyond the horizon, NaN: not allowed
  const holders = new Holders(T, p.sites.length);
  p.jobs.forEach((job, j) => {
    rel[j] = job.releaseSlot;
    end[j] = runEnd(p, job);
    due[j] = job.deadlineSlot;
    rate[j] = ratePerKwh(job) * h;
    maxKw[j] = job.maxPowerKw;
    if (mayLeaveUnserved(p, job)) unserved[j] = unservedGbpPerKwh(p, job);
  });
  // Holders with the latest deadline first: a partner due after x loses nothing by moving there, and
  // that ends the search in t. (By £/h per kWh, cheapest first, was tried: worse plans for more work.)
  const byDue = p.jobs.map((_, j) => j).sort((a, b) => (due[b] as number) - (due[a] as number) || a - b);
  for (const j of byDue) {
    const pw = d.power[j];
    const s = d.site[j] as number;
    if (!p.jobs[j]!.preemptible || !pw || s < 0) continue;
    for (let t = 0; t < T; t++) if ((pw[t] as number) > EPS) holders.add(s, t, j);
  }
  // c_j at slot t of site s (t = T: beyond the horizon).
  const cost = (j: number, s: number, t: number): number =>
    t === T
      ? (unserved[j] as number)
      : (priced[s]![t] as number) + (t >= (due[j] as number) ? (rate[j] as number) * (t - (due[j] as number) + 1) : 0);

  // The jobs that pay lateness, dearest per kWh first: they gain most from an earlier slot.
  const late = p.jobs
    .map((_, j) => j)
    .filter((j) => p.jobs[j]!.preemptible && isSoft(p.jobs[j]!) && (rate[j] as number) > 0 && d.power[j])
    .sort((a, b) => (rate[b] as number) - (rate[a] as number) || a - b);

  const key = new Float64Array(T); // scratch: A's cost per slot of its window, for its order
  let evaluated = 0;
  let swaps = 0;
  let gain = 0;
  for (const a of late) {
    const s = d.site[a] as number;
    const pa = d.power[a]!;
    for (let t = rel[a] as number; t < (end[a] as number); t++) key[t] = cost(a, s, t);
    const order = slotsByKey(rel[a] as number, end[a] as number, key);
    // Repeatedly take A's dearest position (beyond the horizon, else its last late slot) and find the
    // best exchange for it; stop at the first position with none.
    // Positions tried in turn from the dearest; `below` is where the next search starts (a position
    // with no partner is passed over until an exchange is made).
    let below = T + 1;
    while (evaluated < maxEvaluations) {
      let x = -1;
      if (below > T && (d.deficitKwh[a] as number) > EPS * Math.max(1, p.jobs[a]!.energyKwh)) x = T;
      else
        for (let t = Math.min(below, end[a] as number) - 1; t >= (due[a] as number); t--)
          if ((pa[t] as number) > EPS) {
            x = t;
            break;
          }
      if (x < 0) break;
      const cax = cost(a, s, x);
      let best = { g: EPS, t: -1, b: -1 };
      // A's slots from its cheapest; a partner that loses nothing by moving ends the search in t.
      for (const t of order) {
        if (t >= x || (pa[t] as number) >= (maxKw[a] as number) - EPS) continue;
        const ps = priced[s]![t] as number;
        // The price step from t to x, which a partner pays back to A's side (0 beyond the horizon).
        const step = x === T ? 0 : (priced[s]![x] as number) - ps;
        const ga = cax - cost(a, s, t);
        if (ga - step <= best.g) continue; // no partner's lateness falls when it moves later
        const list = holders.jobs(s, t);
        let tried = 0;
        for (let k = 0; k < list.length && tried < PARTNERS_PER_SLOT; k++) {
          const b = list[k] as number;
          evaluated++;
          const pb = d.power[b]!;
          if (d.site[b] !== s || (pb[t] as number) <= EPS) {
            // No longer there: drop it (order within the list is only a preference).
            list[k--] = list[list.length - 1] as number;
            list.pop();
            continue;
          }
          if (b === a) continue;
          // What B's lateness (or waiting) loses by moving δ from t to x (soft.ts lateGbpPerKwh).
          const db = due[b] as number;
          const lateT = t >= db ? (rate[b] as number) * (t - db + 1) : 0;
          let lose: number;
          if (x === T) {
            if (Number.isNaN(unserved[b] as number)) continue;
            lose = (unserved[b] as number) - ps - lateT;
          } else {
            if (x >= (end[b] as number) || (pb[x] as number) >= (maxKw[b] as number) - EPS) continue;
            lose = x >= db ? (rate[b] as number) * (x - db + 1) - lateT : 0;
          }
          tried++;
          const g = ga - step - lose;
          if (g > best.g) best = { g, t, b };
          if (lose <= 0) break; // no partner in t can do better
        }
      }
      if (best.b < 0) {
        below = x;
        continue;
      }
      below = T + 1;
      const { t, b } = best;
      const pb = d.power[b]!;
      const fromA = x === T ? (d.deficitKwh[a] as number) / h : (pa[x] as number);
      const delta = Math.min(
        fromA,
        (maxKw[a] as number) - (pa[t] as number),
        pb[t] as number,
        x === T ? Number.POSITIVE_INFINITY : (maxKw[b] as number) - (pb[x] as number),
      );
      if (delta <= EPS) break;
      pa[t] = (pa[t] as number) + delta;
      pb[t] = (pb[t] as number) - delta;
      if (x === T) {
        d.deficitKwh[a] = Math.max(0, (d.deficitKwh[a] as number) - delta * h);
        d.deficitKwh[b] = (d.deficitKwh[b] as number) + delta * h;
      } else {
        if ((pb[x] as number) <= EPS) holders.add(s, x, b);
        pa[x] = (pa[x] as number) - delta;
        pb[x] = (pb[x] as number) + delta;
      }
      if ((pa[t] as number) <= EPS + delta) holders.add(s, t, a);
      swaps++;
      gain += best.g * delta * h;
    }
  }
  return { swaps, gain, evaluated };
};
