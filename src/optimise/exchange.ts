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
// are preemptible and each stays in its own window, under its power limit and at its own site, so the
// move keeps every rule of docs/planning-problem.md. A late non-preemptible run shifts as a whole
// (shiftRun): earlier, with preemptible jobs in the slots it newly needs moving the same power into
// the slots it leaves, so every load is kept here too. Work is counted (evaluations of a candidate B), not timed, so a plan is
// repeatable (work.ts).
import type { PlanningProblem } from '../domain/planning.ts';
import { unitCosts, type Draft } from './disaggregate.ts';
import { isSoft, mayLeaveUnserved, ratePerKwh, runEnd, unservedGbpPerKwh } from './soft.ts';

export interface ExchangeResult {
  /** Exchanges made. */
  readonly swaps: number;
  /** Of those, late non-preemptible runs started earlier (shiftRuns). */
  readonly shifts: number;
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

/** What the moves share: the draft, the holders, and each job's window, £/kWh per slot late and limit. */
interface Context {
  readonly p: PlanningProblem;
  readonly d: Draft;
  readonly holders: Holders;
  readonly rel: Int32Array;
  /** End (exclusive) of the slots the job may run in (soft.ts runEnd). */
  readonly end: Int32Array;
  readonly due: Int32Array;
  /** £ per kWh per slot late. */
  readonly rate: Float64Array;
  readonly maxKw: Float64Array;
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
  const ctx: Context = { p, d, holders, rel, end, due, rate, maxKw };
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

  let evaluated = 0;
  let swaps = 0;
  let gain = 0;

  // Late non-preemptible runs first (see shiftRun): the preemptible partners they push later are
  // then re-ordered by the exchanges below (after them instead: the same cost to £15 at 300, 1k, 10k).
  let shifts = 0;
  const lateRuns = p.jobs
    .map((_, j) => j)
    .filter((j) => !p.jobs[j]!.preemptible && isSoft(p.jobs[j]!) && (rate[j] as number) > 0 && d.power[j])
    .sort((a, b) => (rate[b] as number) - (rate[a] as number) || a - b);
  for (const a of lateRuns) {
    if (evaluated >= maxEvaluations) break;
    const r = shiftRun(ctx, a, maxEvaluations - evaluated);
    evaluated += r.evaluated;
    if (r.gain > 0) {
      shifts++;
      gain += r.gain;
    }
  }
  swaps += shifts;

  for (const a of late) {
    const s = d.site[a] as number;
    const pa = d.power[a]!;
    const order = Int32Array.from(
      { length: (end[a] as number) - (rel[a] as number) },
      (_, i) => i + (rel[a] as number),
    );
    const key = new Float64Array(T);
    for (let t = rel[a] as number; t < (end[a] as number); t++) key[t] = cost(a, s, t);
    order.sort((u, v) => (key[u] as number) - (key[v] as number) || u - v);
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
  return { swaps, shifts, gain, evaluated };
};

/**
 * A late non-preemptible run started earlier at its site, its profile kept, with every site-slot's
 * load kept as well: in the slots the earlier run newly needs, preemptible jobs there give up the
 * same power and take it in the slots the run leaves (each within its window and power limit). So,
 * as for the exchanges above, limits, batteries and carbon are unchanged and prices cancel; the move
 * is kept when the run's lateness saved exceeds the partners' lateness added. On the overloaded
 * benchmark (300 jobs) the late non-preemptible runs were about £370 of the plan's £560 above the
 * exact MILP's: runs due early (deadline slot 7–18) queued behind preemptible jobs due much later,
 * which no single-job move or preemptible exchange could reorder. Each start from one slot earlier
 * to on time is priced, and the best kept; the partners for each slot the run needs are the
 * cheapest of the first PARTNERS_PER_SLOT that could take part. Returns the gain (£) and the work.
 */
const shiftRun = (c: Context, a: number, maxEvaluations: number): { gain: number; evaluated: number } => {
  const { p, d, holders, rel, end, due, rate, maxKw } = c;
  const h = p.slotMinutes / 60;
  const pa = d.power[a]!;
  const s = d.site[a] as number;
  let first = -1;
  let last = -1;
  for (let t = 0; t < p.slots; t++)
    if ((pa[t] as number) > EPS) {
      if (first < 0) first = t;
      last = t;
    }
  // On time, not placed, or cut at the horizon (its energy beyond it: the shift would change loads).
  if (first < 0 || last < (due[a] as number) || (d.deficitKwh[a] as number) > 0) return { gain: 0, evaluated: 0 };
  const n = last - first + 1;
  const run = pa.slice(first, last + 1);
  const late = (j: number, t: number): number =>
    t >= (due[j] as number) ? (rate[j] as number) * (t - (due[j] as number) + 1) : 0;
  const runLate = (start: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) v += (run[i] as number) * late(a, start + i);
    return v;
  };
  const now = runLate(first);
  const T = p.slots;
  let evaluated = 0;
  type Move = { b: number; t: number; x: number; kw: number };
  let best: { gain: number; start: number; moves: Move[] } | undefined;
  const lowest = Math.max(rel[a] as number, Math.min(first - 1, (due[a] as number) - n));
  for (let start = first - 1; start >= lowest && evaluated < maxEvaluations; start--) {
    const saved = now - runLate(start); // £/h per kW: × h below
    if (saved <= EPS) continue;
    // Δ per slot: the new run less the old; free[x] the room the old run leaves (the slots in
    // `freed`, in time order), need[t] what the new one takes.
    const free = new Float64Array(T);
    const need: number[] = [];
    const freed: number[] = [];
    const needKw = new Float64Array(T);
    for (let t = start; t <= last; t++) {
      const nu = t < start + n ? (run[t - start] as number) : 0;
      const old = t >= first ? (run[t - first] as number) : 0;
      if (nu - old > EPS) {
        need.push(t);
        needKw[t] = nu - old;
      } else if (old - nu > EPS) {
        free[t] = old - nu;
        freed.push(t);
      }
    }
    const moves: Move[] = [];
    const took = new Map<number, Float64Array>(); // power each partner takes in the freed slots so far
    let lose = 0;
    let ok = true;
    for (const t of need) {
      let left = needKw[t] as number;
      // The first freed slot a partner can take (its lateness only grows later): its own window, and
      // room under its power limit beside what it has taken there already.
      const slotFor = (b: number): number => {
        const pb = d.power[b]!;
        const mine = took.get(b);
        for (const x of freed)
          if (
            (free[x] as number) > EPS &&
            x >= (rel[b] as number) &&
            x < (end[b] as number) &&
            (pb[x] as number) + (mine ? (mine[x] as number) : 0) < (maxKw[b] as number) - EPS
          )
            return x;
        return -1;
      };
      // Candidates: the first PARTNERS_PER_SLOT that could take part, cheapest first.
      const cands: { unit: number; b: number }[] = [];
      const list = holders.jobs(s, t);
      const seen = new Set<number>(); // a job may be listed twice
      for (let k = 0; k < list.length && cands.length < PARTNERS_PER_SLOT; k++) {
        const b = list[k] as number;
        evaluated++;
        const pb = d.power[b]!;
        if (d.site[b] !== s || (pb[t] as number) <= EPS) {
          list[k--] = list[list.length - 1] as number;
          list.pop();
          continue;
        }
        if (b === a || seen.has(b)) continue;
        seen.add(b);
        const x = slotFor(b);
        if (x >= 0) cands.push({ unit: late(b, x) - late(b, t), b });
      }
      cands.sort((u, v) => u.unit - v.unit || u.b - v.b);
      for (const c of cands) {
        const pb = d.power[c.b]!;
        let has = pb[t] as number; // its power in t still to give
        // A partner may spread over several freed slots as earlier ones fill.
        for (let x = slotFor(c.b); left > EPS && has > EPS && x >= 0; x = slotFor(c.b)) {
          const mine = took.get(c.b) ?? new Float64Array(T);
          const kw = Math.min(
            left,
            has,
            free[x] as number,
            (maxKw[c.b] as number) - (pb[x] as number) - (mine[x] as number),
          );
          moves.push({ b: c.b, t, x, kw });
          mine[x] = (mine[x] as number) + kw;
          took.set(c.b, mine);
          free[x] = (free[x] as number) - kw;
          left -= kw;
          has -= kw;
          lose += (late(c.b, x) - late(c.b, t)) * kw;
        }
        if (left <= EPS) break;
      }
      if (left > EPS * Math.max(1, needKw[t] as number)) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    const gain = (saved - lose) * h;
    if (gain > EPS && (!best || gain > best.gain)) best = { gain, start, moves };
  }
  if (!best) return { gain: 0, evaluated };
  // Commit: the run moves, each partner trades power between its two slots.
  for (let t = first; t <= last; t++) pa[t] = 0;
  for (let i = 0; i < n; i++) pa[best.start + i] = run[i] as number;
  for (const { b, t, x, kw } of best.moves) {
    const pb = d.power[b]!;
    if ((pb[x] as number) <= EPS) holders.add(s, x, b);
    pb[t] = Math.max(0, (pb[t] as number) - kw);
    pb[x] = (pb[x] as number) + kw;
  }
  return { gain: best.gain, evaluated };
};
