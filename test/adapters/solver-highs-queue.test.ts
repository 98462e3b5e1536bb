// The HiGHS client's queue (src/adapters/solver-highs/client.ts): solves run one at a time in the
// worker, in arrival order, except that a background solve (the Flexibility Orchestrator's periodic
// fresh plan) waits while any other solve waits, so an offer priced meanwhile is not held behind a
// whole background plan. Real HiGHS in its worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HighsClient } from '../../src/adapters/solver-highs/client.ts';
import type { LpModel } from '../../src/optimise/lp.ts';

const tiny = (cost: number): LpModel => ({
  numCols: 1,
  numRows: 0,
  colCost: new Float64Array([cost]),
  colLower: new Float64Array([0]),
  colUpper: new Float64Array([1]),
  rowLower: new Float64Array(0),
  rowUpper: new Float64Array(0),
  starts: new Int32Array([0, 0]),
  indices: new Int32Array(0),
  values: new Float64Array(0),
});

test('a background solve waits while other solves wait; solves otherwise run in arrival order', async () => {
  const client = new HighsClient();
  try {
    await client.warm();
    const order: string[] = [];
    const o = { timeLimitSeconds: 10 };
    const runs = [
      client.solve(tiny(1), o).then((x) => order.push(`first ${x.status}`)),
      client.solveInBackground(tiny(-1), o).then((x) => order.push(`background ${x.status}`)),
      client.solve(tiny(2), o).then((x) => order.push(`second ${x.status}`)),
      client.solve(tiny(3), o).then((x) => order.push(`third ${x.status}`)),
    ];
    await Promise.all(runs);
    assert.deepEqual(order, ['first optimal', 'second optimal', 'third optimal', 'background optimal']);
    // Alone, a background solve runs at once, and the queue goes on after it.
    assert.equal((await client.solveInBackground(tiny(1), o)).status, 'optimal');
    assert.equal((await client.solve(tiny(1), o)).status, 'optimal');
  } finally {
    await client.close();
  }
});
