// The capacity value flexlon puts on later room at a contended site, and the offered load it is
// scaled by (docs/backtest.md, "Capacity value"). The planner strategy (planner-strategy.ts) adds it
// to each slot's price by hours ahead.
import type { SiteSim } from './site-sim.ts';
import { DEFAULT_LATE_GBP_PER_GPU_HOUR } from '../optimise/problem.ts';

/**
 * The value of capacity later in the horizon on a contended site (docs/backtest.md, "Capacity
 * value"). The planner sees only the jobs submitted so far, so on a full site it takes the hours
 * ahead for free room and defers work into their cheap slots, leaving GPUs idle now; the jobs
 * submitted meanwhile then find those slots taken and wait. Measured over two weeks of the busy
 * fleet: 57 % of deadlines met against fifo's 96 %, £26k of lateness for £305 of energy and carbon.
 * Each hour a kWh is deferred therefore costs a share of what an hour of lateness costs a kWh of
 * work (the lateness price over the GPU's power above idle), scaled by how contended the site is:
 * its offered load over the last week (GPU-hours submitted over the pool's), from 0 at OFFERED_FREE
 * to the full share at OFFERED_FULL. A half-idle site (offered about 50 %) pays nothing for deferral.
 */
export const CAPACITY_VALUE_SHARE = 0.25;
export const OFFERED_FREE = 0.6;
export const OFFERED_FULL = 0.85;
const WEEK_MS = 7 * 24 * 3_600_000;

/** £/MWh per hour of deferral at a site with this offered load (see CAPACITY_VALUE_SHARE). */
export const capacityValue = (offered: number, kwPerGpu: number, share = CAPACITY_VALUE_SHARE): number => {
  const contended = Math.min(1, Math.max(0, (offered - OFFERED_FREE) / (OFFERED_FULL - OFFERED_FREE))) ** 2;
  return kwPerGpu > 0 ? (share * contended * DEFAULT_LATE_GBP_PER_GPU_HOUR * 1000) / kwPerGpu : 0;
};

/** Per site: jobs seen submitted in the last week (id, submission time, GPU-hours), as checkpointed. */
export type OfferedLoadState = Record<string, [id: string, at: number, gpuH: number][]>;

/** Each site's offered load over the last week, from the jobs seen submitted there. */
export class OfferedLoad {
  private readonly seenIds = new Set<string>();

  constructor(private submitted: OfferedLoadState = {}) {
    for (const site of Object.values(submitted)) for (const [id] of site) this.seenIds.add(id);
  }

  /**
   * The site's offered load over the last week as seen by `now` (jobs submitted, whatever became of
   * them); over the time seen so far, at least 24 h, while under a week has passed.
   */
  of(site: SiteSim, now: number): number {
    const since = now - WEEK_MS;
    const list: [string, number, number][] = [];
    // Entries a week old leave the list, and their ids the seen set: a job submitted before `since`
    // is not counted again whatever its state, so the set holds a week of ids, not the whole run's.
    for (const e of this.submitted[site.spec.id] ?? [])
      if (e[1] > since) list.push(e);
      else this.seenIds.delete(e[0]);
    for (const j of [...site.waiting, ...site.running])
      if (j.submittedAt > since && !this.seenIds.has(j.id)) {
        this.seenIds.add(j.id);
        list.push([j.id, j.submittedAt, (j.gpus * j.energyKwh) / j.powerKw]);
      }
    this.submitted[site.spec.id] = list;
    const first = list.reduce((m, [, at]) => Math.min(m, at), now);
    const hours = Math.max(24, Math.min(WEEK_MS, now - first) / 3_600_000);
    return list.reduce((n, [, , g]) => n + g, 0) / (site.spec.gpus * hours);
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

/**
 * For each period start `start + p × periodMs` (p < slots), whether a site reads as uncontended there
 * (offered load under OFFERED_FREE with a day of submissions seen), from all of its `jobs` by
 * submission time: what OfferedLoad.of and OfferedLoad.seenFor give a strategy that looks every
 * period, since a job is seen at the first period start after its submission. The bound uses it
 * (bound.ts): GPU caps happen only there (planner-strategy.ts capNode).
 */
export const uncontendedAt = (
  jobs: readonly {
    readonly submittedAt: number;
    readonly gpus: number;
    readonly energyKwh: number;
    readonly powerKw: number;
  }[],
  gpus: number,
  start: number,
  periodMs: number,
  slots: number,
): Uint8Array => {
  const sorted = [...jobs].sort((a, b) => a.submittedAt - b.submittedAt);
  const out = new Uint8Array(slots);
  let lo = 0;
  let hi = 0;
  let sum = 0;
  for (let p = 0; p < slots; p++) {
    const now = start + p * periodMs;
    for (; hi < sorted.length && (sorted[hi] as (typeof sorted)[number]).submittedAt <= now; hi++) {
      const j = sorted[hi] as (typeof sorted)[number];
      sum += (j.gpus * j.energyKwh) / j.powerKw;
    }
    for (; lo < hi && (sorted[lo] as (typeof sorted)[number]).submittedAt <= now - WEEK_MS; lo++) {
      const j = sorted[lo] as (typeof sorted)[number];
      sum -= (j.gpus * j.energyKwh) / j.powerKw;
    }
    if (lo === hi) continue;
    const first = (sorted[lo] as (typeof sorted)[number]).submittedAt;
    const hours = Math.max(24, Math.min(WEEK_MS, now - first) / 3_600_000);
    // A hair of margin: the running sum may drift from OfferedLoad's fresh one, and reading a site as
    // uncontended once too often only loosens the bound.
    if (sum / (gpus * hours) < OFFERED_FREE + 1e-9 && now - first >= 24 * 3_600_000) out[p] = 1;
  }
  return out;
};
