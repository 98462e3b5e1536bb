// A job's window of slots in order of a per-slot cost. Placement, local search and the exchanges sort
// a window for every job they look at (tens of thousands of sorts in a 10k-job plan); a sort with a
// comparator calls back into JS for each comparison, and those sorts were about a tenth of the
// 10k-job overloaded benchmark's time (docs/benchmarks.md). This sorts typed arrays in place with no
// callback and gives the same order as `slots.sort((a, b) => key[a] - key[b] || a - b)` for finite
// keys: cheapest first, ties to the earlier slot. Slot lists are plain arrays: a small typed array
// costs far more to make than an array of small integers, and these are made by the thousand.

/** Runs shorter than this are sorted by insertion before merging. */
const RUN = 16;

const spare: number[] = [];

const before = (key: Float64Array, a: number, b: number): boolean => {
  const ka = key[a] as number;
  const kb = key[b] as number;
  return ka < kb || (ka === kb && a < b);
};

/**
 * Sorts `slots` (slot indices into `key`) in place by `key`, ties by the slot index, and returns it.
 * A stable merge sort, insertion below RUN elements.
 */
export const sortSlots = (slots: number[], key: Float64Array): number[] => {
  const n = slots.length;
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = Math.min(n, lo + RUN);
    for (let i = lo + 1; i < hi; i++) {
      const x = slots[i] as number;
      let k = i - 1;
      while (k >= lo && before(key, x, slots[k] as number)) {
        slots[k + 1] = slots[k] as number;
        k--;
      }
      slots[k + 1] = x;
    }
  }
  if (n <= RUN) return slots;
  while (spare.length < n) spare.push(0);
  let from = slots;
  let to = spare;
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(n, lo + width);
      const hi = Math.min(n, lo + 2 * width);
      let i = lo;
      let k = mid;
      let o = lo;
      while (i < mid && k < hi)
        to[o++] = before(key, from[k] as number, from[i] as number) ? (from[k++] as number) : (from[i++] as number);
      while (i < mid) to[o++] = from[i++] as number;
      while (k < hi) to[o++] = from[k++] as number;
    }
    [from, to] = [to, from];
  }
  if (from !== slots) for (let i = 0; i < n; i++) slots[i] = from[i] as number;
  return slots;
};

/** The slots [lo, hi) in order of `key` (sortSlots). */
export const slotsByKey = (lo: number, hi: number, key: Float64Array): number[] => {
  const slots: number[] = [];
  for (let t = lo; t < hi; t++) slots.push(t);
  return sortSlots(slots, key);
};
