// Commitments as the provider stores and plans them: one record per order and site, an import
// ceiling per slot of the window, and the baseline it was derived from. Pure arithmetic over them:
// the planner's constraints (toSpecs) and what is already sold at a site (committedKw).
// Sign convention: reductionKw is kW below baseline (positive = the site imports less).
import type { CommitmentSpec } from './planning.ts';
import { MINUTE_MS, type EpochMs, type SlotGrid } from './time.ts';

/**
 * A commitment at one site, in market time, as stored (Store.saveCommitment, one record per order
 * and site): an import ceiling per slot of the window, and the baseline it was derived from.
 */
export interface Commitment {
  readonly orderId: string;
  readonly site: string;
  readonly windowStart: EpochMs;
  readonly windowEnd: EpochMs;
  readonly slotMinutes: number;
  readonly maxImportKw: readonly number[];
  /** The site's share of the order (kW below baseline in every slot). */
  readonly reductionKw?: number;
  /** The settlement baseline per slot of the window (docs/beckn.md, settlement terms). */
  readonly baselineKw?: readonly number[];
}

/**
 * The plan's constraints for `commitments`. Additive (never promise the same kW twice): each
 * commitment with a baseline promises its reduction below that baseline, so commitments at the same
 * site and slot add up — import ≤ baseline − Σ reductions (two buyers of 30 kW get 60 kW). A
 * commitment stated only as ceilings (no baseline) is a ceiling of its own.
 */
export const toSpecs = (commitments: readonly Commitment[], grid: SlotGrid): CommitmentSpec[] => {
  const slot = grid.slotMinutes * MINUTE_MS;
  const acc = new Map<string, { site: string; t: number; baseline: number; reduction: number; ceiling: number }>();
  for (const c of commitments) {
    c.maxImportKw.forEach((max, k) => {
      const t = Math.floor((c.windowStart + k * c.slotMinutes * MINUTE_MS - grid.start) / slot);
      if (t < 0 || t >= grid.slots) return;
      const a = acc.get(`${c.site}|${t}`) ?? { site: c.site, t, baseline: Infinity, reduction: 0, ceiling: Infinity };
      const b = c.baselineKw?.[k];
      if (b !== undefined && c.reductionKw !== undefined) {
        a.baseline = Math.min(a.baseline, b);
        a.reduction += c.reductionKw;
      } else a.ceiling = Math.min(a.ceiling, max);
      acc.set(`${c.site}|${t}`, a);
    });
  }
  return [...acc.values()].map((a) => ({
    site: a.site,
    fromSlot: a.t,
    toSlot: a.t + 1,
    maxImportKw: Math.max(0, Math.min(a.ceiling, a.baseline - a.reduction)),
  }));
};

/**
 * Reduction already committed at a site in each `slotMinutes` slot from `start` (kW, the sum over
 * the commitments given).
 */
export const committedKw = (
  commitments: readonly Commitment[],
  site: string,
  start: EpochMs,
  slots: number,
  slotMinutes: number,
): number[] => {
  const slot = slotMinutes * MINUTE_MS;
  const out = new Array<number>(slots).fill(0);
  for (const c of commitments) {
    if (c.site !== site || c.reductionKw === undefined) continue;
    c.maxImportKw.forEach((_, k) => {
      const t = Math.round((c.windowStart + k * c.slotMinutes * MINUTE_MS - start) / slot);
      if (t >= 0 && t < slots) out[t] = (out[t] ?? 0) + (c.reductionKw ?? 0);
    });
  }
  return out;
};
