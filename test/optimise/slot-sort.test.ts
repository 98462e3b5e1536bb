// The planner's slot order (src/optimise/slot-sort.ts) must be exactly the order the comparator sort
// it replaced gave — cheapest first, ties to the earlier slot — or plans would change: the 10k-job
// benchmark's plans are compared to the penny before and after (docs/benchmarks.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { slotsByKey, sortSlots } from '../../src/optimise/slot-sort.ts';

// Keys with many ties (small integers, 0 and −0) and long windows, past the insertion-sort runs.
const keyArb = fc.array(
  fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(0, -0), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
  { minLength: 0, maxLength: 220 },
);

const byComparator = (slots: readonly number[], key: Float64Array): number[] =>
  [...slots].sort((a, b) => (key[a] as number) - (key[b] as number) || a - b);

test('a window in order of its keys is the comparator sort of the same window, ties to the earlier slot', () => {
  fc.assert(
    fc.property(keyArb, fc.nat(), (keys, cut) => {
      const key = Float64Array.from(keys);
      const lo = keys.length === 0 ? 0 : cut % keys.length;
      const window = Array.from({ length: keys.length - lo }, (_, i) => lo + i);
      assert.deepEqual(slotsByKey(lo, keys.length, key), byComparator(window, key));
    }),
    { numRuns: 400 },
  );
});

test('slots given in any order come out in the same order', () => {
  fc.assert(
    fc.property(
      keyArb.chain((keys) =>
        fc.tuple(fc.constant(keys), fc.shuffledSubarray(Array.from({ length: keys.length }, (_, i) => i))),
      ),
      ([keys, slots]) => {
        const key = Float64Array.from(keys);
        assert.deepEqual(sortSlots([...slots], key), byComparator(slots, key));
      },
    ),
    { numRuns: 400 },
  );
});

test('an empty or reversed window', () => {
  const key = Float64Array.from([5, 4, 3, 2, 1, 0, 0, 1]);
  assert.deepEqual(slotsByKey(3, 3, key), []);
  assert.deepEqual(slotsByKey(0, 8, key), [5, 6, 4, 7, 3, 2, 1, 0]);
});
