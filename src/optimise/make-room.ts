// Make-room (repair.ts's last resort): a job that finds no room pushes preemptible jobs out of the
// slots it needs, into other slots of their windows or to another of their sites; undone exactly
// if any of them cannot be re-homed. When that is not enough, whole non-preemptible jobs that have
// somewhere else to go (a window longer than their run, another site, or a soft deadline) are moved
// as well: a waiting job planned at another site is not preemptible, and on a busy fleet where the
// plan moves some, a hard job at their new site found no room, and the plan fell back to greedy.
import type { PlanningProblem } from '../domain/planning.ts';
import type { Draft, UnitCosts } from './disaggregate.ts';
import { EPS, placeWhole, slack, topUp, unplace } from './placement.ts';
import { hasOneRun, mayLeaveUnserved, runEnd } from './soft.ts';

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
 * A non-preemptible job with somewhere else to go: soft (it may finish late), more than one site, or
 * a window longer than its run. Not a running job or base load, whose one placement is their window.
 */
const movableWhole = (p: PlanningProblem, k: number): boolean => {
  const job = p.jobs[k]!;
  return !job.preemptible && (job.sites.length > 1 || !hasOneRun(p, job));
};

/**
 * Which preemptible jobs, and which whole jobs that can move (movableWhole), have power at each
 * (site, slot): built on the first make-room, then kept a superset (entries are added as power is
 * placed; stale ones are skipped), so make-room costs O(window) instead of a scan of every job.
 */
export class Occupancy {
  private readonly at = new Map<number, number[]>();
  private readonly whole = new Map<number, number[]>();
  constructor(
    private readonly p: PlanningProblem,
    d: Draft,
  ) {
    d.power.forEach((pw, k) => this.add(k, d.site[k] as number, pw));
  }
  add(k: number, s: number, pw: Float64Array | undefined): void {
    if (!pw || s < 0) return;
    const into = this.p.jobs[k]!.preemptible ? this.at : movableWhole(this.p, k) ? this.whole : undefined;
    if (!into) return;
    for (let t = 0; t < this.p.slots; t++) {
      if ((pw[t] as number) <= EPS) continue;
      const key = s * this.p.slots + t;
      const list = into.get(key);
      if (list) list.push(k);
      else into.set(key, [k]);
    }
  }
  /** Preemptible jobs that may have power at (s, t); callers check the power itself. */
  jobs(s: number, t: number): readonly number[] {
    return this.at.get(s * this.p.slots + t) ?? [];
  }
  /** Non-preemptible jobs that can move and may have power at (s, t). */
  wholeJobs(s: number, t: number): readonly number[] {
    return this.whole.get(s * this.p.slots + t) ?? [];
  }
}

/**
 * Last resort for a job that finds no room: at its cheapest site and run (counting other
 * preemptible jobs' power as movable), push those jobs out of the slots it needs — into other
 * slots of their windows, or to another of their sites — then place it. Undone if any displaced
 * job cannot be re-homed. Failing that, the same with whole non-preemptible jobs that can move
 * counted as movable too (they go after the preemptible ones, latest deadline first).
 */
export const makeRoom = (
  p: PlanningProblem,
  d: Draft,
  j: number,
  load: Float64Array[],
  limit: readonly Float64Array[],
  costs: UnitCosts,
  siteIndex: Map<string, number>,
  occ: Occupancy,
): boolean => {
  const attempt = (whole: boolean): boolean => {
    const h = p.slotMinutes / 60;
    const job = p.jobs[j]!;
    // Room as if the movable power in the job's window were gone; a plan found there is then cleared for real.
    const relaxed = load.map((l) => Float64Array.from(l));
    for (const id of job.sites) {
      const s = siteIndex.get(id) as number;
      for (let t = job.releaseSlot; t < runEnd(p, job); t++) {
        // Each job once: the lists may hold a job twice (it is added again when re-placed), and
        // counting its power twice found room that clearing could not free.
        for (const k of new Set(occ.jobs(s, t)))
          if (d.site[k] === s && k !== j) relaxed[s]![t] = (relaxed[s]![t] as number) - (d.power[k]?.[t] ?? 0);
        if (whole)
          for (const k of new Set(occ.wholeJobs(s, t)))
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
    const movedWhole: number[] = [];
    for (let t = 0; t < p.slots; t++) {
      if ((need[t] as number) <= EPS) continue;
      let over =
        (load[s]![t] as number) + (need[t] as number) - (limit[s]![t] as number) + slack(limit[s]![t] as number);
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
      if (whole && over > EPS) {
        // Whole jobs leave entirely (every slot of their run frees), the latest deadline first.
        const movable = [...new Set(occ.wholeJobs(s, t))]
          .filter((k) => k !== j && d.site[k] === s && (d.power[k]?.[t] ?? 0) > EPS)
          .sort((a, b) => p.jobs[b]!.deadlineSlot - p.jobs[a]!.deadlineSlot);
        for (const k of movable) {
          if (over <= EPS) break;
          journal.touch(k);
          over -= d.power[k]![t] as number;
          unplace(p, d, load, k);
          movedWhole.push(k);
        }
      }
      if (over > EPS) {
        journal.undo();
        return false;
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
    // A whole job moved must be placed whole again (a soft one may run late within the horizon): left
    // beyond the horizon, its lateness and unserved cost would price a warm re-plan's reduction dearer
    // than the fresh plan it replaces.
    for (const k of movedWhole) {
      if (!placeWhole(p, d, k, load, limit, costs, siteIndex)) {
        journal.undo();
        return false;
      }
      occ.add(k, d.site[k] as number, d.power[k]);
    }
    return true;
  };
  return attempt(false) || attempt(true);
};
