// Work-bounded planning (src/optimise/work.ts) is repeatable: the same problem gives a byte-identical
// schedule with a fresh solver, with a busy event loop, with slow solves and with a clock that runs
// far ahead, because no stage reads the time. Two problems: one re-plan of the demo's BPP (the
// exact MILP runs and finishes; time-limited, its busy-loop run plans different bytes) and a harder
// fleet whose MILP is stopped by the work limit.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { PlanningProblem } from '../../src/domain/planning.ts';
import { HighsClient } from '../../src/adapters/solver-highs/client.ts';
import { createHighsSolver } from '../../src/adapters/solver-highs/solver.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import type { LpSolve } from '../../src/optimise/lp.ts';
import { DEFAULT_PLANNER_OPTIONS, DEFAULT_WORK, planWithLp, type PlanStats } from '../../src/optimise/planner.ts';
import { generatePlanningProblem } from '../../src/sim/planning-instance.ts';

const demo = JSON.parse(
  readFileSync(new URL('./fixtures/demo-bpp-replan.json', import.meta.url), 'utf8'),
) as PlanningProblem;
const fleet = generatePlanningProblem({ jobs: 100, seed: 2 });
// The demo BPP's budget (src/compose.ts), plus the work limits.
const options = { timeLimitSeconds: 5, milpTimeLimitSeconds: 0.25, work: DEFAULT_WORK };

const client = new HighsClient();
after(() => client.close());

/** Plans with a fresh solver; `busy` blocks the event loop for 20 ms of every 25 while it runs. */
const planFresh = async (p: PlanningProblem, busy = false): Promise<{ json: string; stats: PlanStats }> => {
  let stats: PlanStats | undefined;
  const solver = createHighsSolver({ ...options, onStats: (s) => (stats = s) });
  const spin = busy
    ? setInterval(() => {
        const until = performance.now() + 20;
        while (performance.now() < until);
      }, 5)
    : undefined;
  try {
    const s = await solver.plan(p);
    return { json: JSON.stringify(s), stats: stats! };
  } finally {
    clearInterval(spin);
    await solver.close();
  }
};

/** Plans through one shared worker with every solve delayed and a clock that leaps 100 s per read. */
const planSlowly = async (p: PlanningProblem): Promise<string> => {
  let now = 0;
  const slow: LpSolve = async (model, o) => {
    await new Promise((r) => setTimeout(r, 30));
    return client.solve(model, o);
  };
  const s = await planWithLp(p, slow, { ...DEFAULT_PLANNER_OPTIONS, ...options }, () => (now += 100));
  return JSON.stringify(s);
};

for (const [name, p] of [
  ['a re-plan of the demo BPP', demo],
  ['a 100-job, 3-site fleet whose MILP stops at the work limit', fleet],
] as const) {
  test(`work-bounded planning is repeatable: ${name}`, async () => {
    const first = await planFresh(p);
    // Between the runs: the event loop blocked for a while, as under load.
    const until = performance.now() + 300;
    while (performance.now() < until);
    const second = await planFresh(p, true);
    const third = await planSlowly(p);
    assert.equal(second.json, first.json, 'a fresh solver with a busy event loop plans the same bytes');
    assert.equal(third, first.json, 'slow solves and a racing clock plan the same bytes');
    const schedule = JSON.parse(first.json) as Parameters<typeof checkSchedule>[1];
    assert.ok(checkSchedule(p, schedule).ok, 'the plan passes the independent check');
    assert.equal(first.stats.safetyCapHits, undefined, 'no solve reached the safety cap');
    assert.match(first.stats.milp ?? '', p === fleet ? /^limit/ : /^optimal/, 'the MILP ran');
  });
}

test('work-bounded planning is repeatable: an overloaded fleet with soft deadlines', async () => {
  const p = generatePlanningProblem({ jobs: 100, seed: 2, slots: 48, overload: 1.25 });
  const first = await planFresh(p);
  const second = await planFresh(p, true);
  const third = await planSlowly(p);
  assert.equal(second.json, first.json, 'a fresh solver with a busy event loop plans the same bytes');
  assert.equal(third, first.json, 'slow solves and a racing clock plan the same bytes');
  const schedule = JSON.parse(first.json) as Parameters<typeof checkSchedule>[1];
  assert.ok(checkSchedule(p, schedule).ok, 'the plan passes the independent check');
  assert.ok((schedule.late ?? []).length > 0, 'some jobs are late');
  assert.match(first.stats.milp ?? '', /^(limit|optimal)/, 'the MILP ran');
});
