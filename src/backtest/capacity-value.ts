// The capacity value flexlon puts on later room at a contended site, and the offered load it is
// scaled by (docs/backtest.md, "Capacity value"): src/optimise/capacity-value.ts, shared with the
// Flexibility Orchestrator. The planner strategy (planner-prices.ts) adds it to each slot's price by
// hours ahead; here, the offered load of a simulated site and the bound's reading of it.
import type { SiteSim } from './site-sim.ts';
import { OFFERED_FREE, type OfferedLoad } from '../optimise/capacity-value.ts';

export {
  CAPACITY_VALUE_SHARE,
  OFFERED_FREE,
  OFFERED_FULL,
  OfferedLoad,
  capacityValue,
  type OfferedLoadState,
} from '../optimise/capacity-value.ts';

const WEEK_MS = 7 * 24 * 3_600_000;

/** A simulated site's offered load over the last week: GPU-hours submitted over its GPUs' hours. */
export const offeredAt = (load: OfferedLoad, site: SiteSim, now: number): number =>
  load.of(
    site.spec.id,
    site.spec.gpus,
    [...site.waiting, ...site.running].map((j) => ({
      id: j.id,
      submittedAt: j.submittedAt,
      amount: (j.gpus * j.energyKwh) / j.powerKw,
    })),
    now,
  );

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
