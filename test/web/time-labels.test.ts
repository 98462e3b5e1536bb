// The dashboard's time labels (src/web/api.ts) and the grid CLI's window end (src/cli/grid.ts), as a
// new user read them: an 18:00–19:00 window's end labelled "SP39", and a transaction's lifecycle,
// logged on the wall clock, labelled with the wall clock's settlement period beside a replayed day.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endLabel, timeLabel, wallLabel } from '../../src/web/api.ts';
import { whenEnd } from '../../src/cli/grid.ts';

test("a window's end is labelled with the last period it holds", () => {
  const end = Date.parse('2023-01-24T19:00Z');
  assert.equal(timeLabel(end).sp, '2023-01-24 SP39', 'the instant starts SP39');
  assert.deepEqual(endLabel(end), { ...timeLabel(end), sp: '2023-01-24 end of SP38' });
  // At a settlement day's end, the last period is the day's: SP48 of the day before in winter.
  assert.equal(endLabel(Date.parse('2023-01-25T00:00Z')).sp, '2023-01-24 end of SP48');
  assert.equal(whenEnd(Date.parse('2023-12-08T03:00Z')), '2023-12-08 03:00 UTC (end of SP6 of 2023-12-08, 03:00 GMT)');
  assert.equal(whenEnd(Date.parse('2023-07-12T18:00Z')), '2023-07-12 18:00 UTC (end of SP38 of 2023-07-12, 19:00 BST)');
});

test('a wall-clock instant says so where the market is replayed, and has its settlement period live', () => {
  const logged = Date.now() - 60_000;
  const replayed = { now: () => Date.parse('2023-01-24T19:30Z') };
  assert.equal(wallLabel(replayed, logged).sp, 'wall clock (the market is replayed)');
  assert.equal(wallLabel(replayed, logged).utc, timeLabel(logged).utc);
  const live = { now: () => Date.now() };
  assert.deepEqual(wallLabel(live, logged), timeLabel(logged));
});
