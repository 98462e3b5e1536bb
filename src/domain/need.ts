// How the grid side decides it needs flexibility: the contiguous window with the highest combined
// stress score (price and carbon, each scaled to the day's range). Pure, so it is testable and the
// same rule runs in replay and live mode.

export interface PeakWindow {
  readonly fromSlot: number;
  readonly toSlot: number;
  readonly meanPrice: number;
  readonly meanCarbon: number;
  readonly score: number;
}

const scale = (xs: readonly number[]): number[] => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return xs.map((x) => (hi > lo ? (x - lo) / (hi - lo) : 0));
};

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * Finds the window of `length` slots, starting at or after `earliestSlot`, with the highest mean of
 * priceWeight·price' + (1−priceWeight)·carbon' (both min–max scaled). Returns undefined if no window fits.
 */
export const findPeakWindow = (
  prices: readonly number[],
  carbon: readonly number[],
  length: number,
  earliestSlot: number,
  priceWeight = 0.5,
): PeakWindow | undefined => {
  if (prices.length !== carbon.length) throw new Error('price and carbon series differ in length');
  const p = scale(prices);
  const c = scale(carbon);
  const score = p.map((x, i) => priceWeight * x + (1 - priceWeight) * (c[i] ?? 0));
  let best: PeakWindow | undefined;
  for (let from = Math.max(0, earliestSlot); from + length <= prices.length; from++) {
    const s = mean(score.slice(from, from + length));
    if (!best || s > best.score) {
      best = {
        fromSlot: from,
        toSlot: from + length,
        score: s,
        meanPrice: mean(prices.slice(from, from + length)),
        meanCarbon: mean(carbon.slice(from, from + length)),
      };
    }
  }
  return best;
};
