// The HiGHS solver's workers (src/adapters/solver-highs/): a client runs its solves one at a time, in
// arrival order; the Flexibility Orchestrator's background fresh plan (Solver.background) solves on a
// worker of its own, so the slot's carried plan and an offer's pricing never queue behind its MILP.
// Real HiGHS in its workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HighsClient } from '../../src/adapters/solver-highs/client.ts';
import { createHighsSolver } from '../../src/adapters/solver-highs/solver.ts';
import type { LpModel } from '../../src/optimise/lp.ts';
import { generatePlanningProblem } from '../../src/sim/planning-instance.ts';

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

test('solves run in arrival order, one at a time', async () => {
  const client = new HighsClient();
  try {
    await client.warm();
    const order: string[] = [];
    const o = { timeLimitSeconds: 10 };
    await Promise.all([1, 2, 3].map((k) => client.solve(tiny(k), o).then((x) => order.push(`${k} ${x.status}`))));
    assert.deepEqual(order, ['1 optimal', '2 optimal', '3 optimal']);
  } finally {
    await client.close();
  }
});

test('a background plan solves on its own worker, not the one the slot plans and offers queue on', async () => {
  const solver = createHighsSolver();
  try {
    const problem = generatePlanningProblem({ jobs: 8, seed: 5, slots: 12 });
    const before = solver.client.stats.solves;
    const background = solver.background?.();
    assert.ok(background, 'the HiGHS solver has a background queue');
    const s = await background.plan(problem);
    assert.notEqual(s.status, 'infeasible');
    assert.equal(solver.client.stats.solves, before, 'no solve of the background plan on the foreground worker');
    const f = await solver.plan(problem);
    assert.ok(solver.client.stats.solves > before, 'the foreground plan solves on the foreground worker');
    assert.equal(f.costGbp, s.costGbp, 'the same plan either way');
  } finally {
    await solver.close();
  }
});

test('close() ends the solver for good: a plan running then finishes without starting a new worker', async () => {
  const solver = createHighsSolver();
  const problem = generatePlanningProblem({ jobs: 40, seed: 5, slots: 24 });
  await solver.client.warm();
  const running = solver.plan(problem);
  await new Promise((r) => setTimeout(r, 300));
  await solver.close();
  const s = await running;
  assert.ok(['feasible', 'optimal', 'infeasible'].includes(s.status), s.status);
  // Before, the plan's next solve started a new worker, which held the process open until it ended.
  assert.equal(solver.client.stats.restarts, 0);
  const after = await solver.client.solve(tiny(1), { timeLimitSeconds: 1 });
  assert.equal(after.status, 'failed');
  assert.equal(solver.client.stats.restarts, 0);
});
