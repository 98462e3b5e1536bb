// The capacity value of later room at a contended site (docs/cost-model.md, "Capacity value on a full
// site"; docs/backtest.md, "Capacity value"), and the offered load it is scaled by. A planner sees
// only the jobs submitted so far, so on a full site it takes the hours ahead for free room and defers
// work into their cheap slots, leaving GPUs idle now; the jobs submitted meanwhile then find those
// slots taken and wait. Each hour a kWh is deferred therefore costs a share of what an hour of
// lateness costs a kWh of work (the lateness price over the GPU's power above idle), scaled by how
// contended the site is: its offered load over the last week (work submitted over the capacity),
// from 0 at OFFERED_FREE to the full share at OFFERED_FULL. A half-idle site pays nothing for deferral.
// The backtest's flexlon strategy (src/backtest/planner-strategy.ts) and the Flexibility
// Orchestrator's operational plan (src/agents/flex/fleet-plan.ts) both price their slots so.
import type { PlanningProblem } from '../domain/planning.ts';
import { DEFAULT_LATE_GBP_PER_GPU_HOUR } from './problem.ts';

export const CAPACITY_VALUE_SHARE = 0.25;
export const OFFERED_FREE = 0.6;
export const OFFERED_FULL = 0.85;
const WEEK_MS = 7 * 24 * 3_600_000;

/** £/MWh per hour of deferral at a site with this offered load (see CAPACITY_VALUE_SHARE). */
export const capacityValue = (
  offered: number,
  kwPerGpu: number,
  share = CAPACITY_VALUE_SHARE,
  lateGbpPerGpuHour = DEFAULT_LATE_GBP_PER_GPU_HOUR,
): number => {
  const contended = Math.min(1, Math.max(0, (offered - OFFERED_FREE) / (OFFERED_FULL - OFFERED_FREE))) ** 2;
  return kwPerGpu > 0 ? (share * contended * lateGbpPerGpuHour * 1000) / kwPerGpu : 0;
};

/**
 * The problem with each listed site's slots priced up by its capacity value (£/MWh per hour ahead) ×
 * the hours from the horizon's start: what the planner weighs, not what energy costs.
 */
export const withCapacityValue = (p: PlanningProblem, values: ReadonlyMap<string, number>): PlanningProblem => {
  const h = p.slotMinutes / 60;
  const sites = p.sites.map((site) => {
    const value = values.get(site.id) ?? 0;
    return value > 0 ? { ...site, priceGbpPerMwh: site.priceGbpPerMwh.map((x, t) => x + value * t * h) } : site;
  });
  return { ...p, sites };
};

/** Per site: jobs seen submitted in the last week (id, submission time, amount of work), as checkpointed. */
export type OfferedLoadState = Record<string, [id: string, at: number, amount: number][]>;

/** A submitted job as the offered load counts it: `amount` of work in the capacity's unit × hours. */
export interface Submitted {
  readonly id: string;
  readonly submittedAt: number;
  readonly amount: number;
}

/** Each site's offered load over the last week, from the jobs seen submitted there. */
export class OfferedLoad {
  private readonly seenIds = new Set<string>();

  constructor(private submitted: OfferedLoadState = {}) {
    for (const site of Object.values(submitted)) for (const [id] of site) this.seenIds.add(id);
  }

  /**
   * The site's offered load over the last week as seen by `now`: the work of the jobs submitted
   * (whatever became of them; `jobs` are those seen now, each counted once) over `capacity` × the
   * hours seen so far, at least 24, while under a week has passed.
   */
  of(site: string, capacity: number, jobs: Iterable<Submitted>, now: number): number {
    const since = now - WEEK_MS;
    // Entries a week old leave the list, and their ids the seen set: a job submitted before `since`
    // is not counted again whatever its state, so the set holds a week of ids, not the whole run's.
    // In place, keeping the order (a copy per site and period was a part of a backtest of pods).
    const list = this.submitted[site] ?? [];
    let kept = 0;
    for (const e of list)
      if (e[1] > since) list[kept++] = e;
      else this.seenIds.delete(e[0]);
    list.length = kept;
    for (const j of jobs)
      if (j.submittedAt > since && !this.seenIds.has(j.id)) {
        this.seenIds.add(j.id);
        list.push([j.id, j.submittedAt, j.amount]);
      }
    this.submitted[site] = list;
    const first = list.reduce((m, [, at]) => Math.min(m, at), now);
    const hours = Math.max(24, Math.min(WEEK_MS, now - first) / 3_600_000);
    return capacity > 0 ? list.reduce((n, [, , g]) => n + g, 0) / (capacity * hours) : 0;
  }

  /** How long before `now` the first submission still counted at the site was (ms; 0: none). */
  seenFor(site: string, now: number): number {
    const list = this.submitted[site] ?? [];
    return list.length ? now - list.reduce((m, [, at]) => Math.min(m, at), now) : 0;
  }

  save(): OfferedLoadState {
    return this.submitted;
  }
}
