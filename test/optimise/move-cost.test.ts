// A job's move cost in the planning problem (version 2 `moveCostGbp`; src/optimise/move-cost.ts):
// the check charges it, the exact MILP and the LP planner weigh it, and the bound stays below the
// exact optimum with it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { JobSpec, PlanningProblem, Schedule } from '../../src/domain/planning.ts';
import { HighsClient } from '../../src/adapters/solver-highs/client.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import { greedyPlan } from '../../src/optimise/greedy.ts';
import { localSearch } from '../../src/optimise/local-search.ts';
import { buildExactModel } from '../../src/optimise/milp.ts';
import { DEFAULT_PLANNER_OPTIONS, planWithLp, type PlannerOptions } from '../../src/optimise/planner.ts';
import { validateProblem } from '../../src/optimise/validate.ts';
import { problemArb } from './arbitraries.ts';

const client = new HighsClient();
after(() => client.close());

const plan = (p: PlanningProblem, o: Partial<PlannerOptions> = {}) =>
  planWithLp(p, client.solve, { ...DEFAULT_PLANNER_OPTIONS, ...o });
const noMilp = { milpMaxBinaries: -1 };
const close = (a: number, b: number, rel = 1e-6) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));

// Two sites alike but for price: 100 kWh of IT at PUE 1.5 costs £30 at lon (£200/MWh), £7.50 at man.
const site = (id: string, price: number) => ({
  id,
  itPowerLimitKw: 100,
  pue: 1.5,
  gridImportLimitKw: 1000,
  priceGbpPerMwh: new Array<number>(4).fill(price),
  carbonGPerKwh: new Array<number>(4).fill(200),
});
const twoSites = (job: Partial<JobSpec>): PlanningProblem => ({
  version: 2,
  start: '2023-06-01T00:00:00Z',
  slotMinutes: 30,
  slots: 4,
  sites: [site('lon', 200), site('man', 50)],
  jobs: [
    {
      id: 'train',
      energyKwh: 100,
      maxPowerKw: 50,
      releaseSlot: 0,
      deadlineSlot: 4,
      preemptible: false,
      sites: ['lon', 'man'],
      slo: { kind: 'hard' },
      ...job,
    },
  ],
  commitments: [],
});

/** The same problem planned by the exact MILP, the LP path (placements and local search) and greedy. */
const byThreePlanners = async (p: PlanningProblem): Promise<[string, Schedule][]> => [
  ['exact MILP', await plan(p)],
  ['LP and heuristics', await plan(p, noMilp)],
  ['greedy', greedyPlan(p)],
];

for (const preemptible of [false, true])
  test(`a ${preemptible ? 'preemptible' : 'non-preemptible'} job moves only where the saving (£22.50) beats its move cost`, async () => {
    for (const [moveCostGbp, site, cost] of [
      [20, 'man', 27.5],
      [25, 'lon', 30],
    ] as const) {
      const p = twoSites({ preemptible, moveCostGbp });
      for (const [how, s] of await byThreePlanners(p)) {
        assert.deepEqual(checkSchedule(p, s).violations, [], how);
        assert.equal(s.jobs[0]?.site, site, `${how} at a move cost of £${moveCostGbp}`);
        assert.ok(close(s.costGbp, cost), `${how}: £${s.costGbp}, expected £${cost}`);
        assert.equal(s.moveCostGbp, site === 'man' ? moveCostGbp : undefined, how);
        assert.ok(s.lowerBoundGbp <= cost + 1e-9, `${how}: bound £${s.lowerBoundGbp} above £${cost}`);
      }
    }
  });

test('local search brings a job home when its move costs more than the away site saves, and leaves it away otherwise', () => {
  for (const [moveCostGbp, site] of [
    [25, 0],
    [20, 1],
  ] as const) {
    const p = twoSites({ preemptible: true, moveCostGbp });
    const d = { site: Int32Array.of(1), power: [Float64Array.of(50, 50, 50, 50)], deficitKwh: new Float64Array(1) };
    localSearch(p, d, [], 0);
    assert.equal(d.site[0], site, `at a move cost of £${moveCostGbp}`);
  }
});

for (const preemptible of [true, false])
  test(`a soft ${preemptible ? 'preemptible' : 'non-preemptible'} job that may wait waits at home when its home is full and its move costs more than waiting`, async () => {
    // lon takes nothing in the window (a commitment of 0 kW); man runs the job for £7.50, plus a £40
    // move. Waiting whole costs 100 kWh × (lon's dearest £0.30 per kWh + a little lateness): about £31.
    const p: PlanningProblem = {
      ...twoSites({ preemptible, moveCostGbp: 40, slo: { kind: 'soft', lateGbpPerHour: 0.1 } }),
      commitments: [{ site: 'lon', fromSlot: 0, toSlot: 4, maxImportKw: 0 }],
    };
    for (const [how, s] of await byThreePlanners(p)) {
      assert.deepEqual(checkSchedule(p, s).violations, [], how);
      assert.equal(s.moveCostGbp, undefined, `${how} moved the job: £${s.costGbp}`);
      assert.ok(s.costGbp < 32, `${how}: £${s.costGbp}`);
    }
  });

test('the check charges a move once, and refuses a plan whose move cost is misreported', () => {
  const p = twoSites({ moveCostGbp: 20 });
  const away = {
    version: 2 as const,
    status: 'feasible' as const,
    costGbp: 27.5,
    carbonKg: 30,
    lowerBoundGbp: 0,
    energyCostGbp: 7.5,
    latenessCostGbp: 0,
    moveCostGbp: 20,
    late: [],
    jobs: [{ id: 'train', site: 'man', powerKw: [50, 50, 50, 50] }],
    batteries: [],
  };
  const v = checkSchedule(p, away);
  assert.deepEqual(v.violations, []);
  assert.equal(v.moveCostGbp, 20);
  const { moveCostGbp: _, ...silent } = away;
  assert.match(checkSchedule(p, { ...silent, costGbp: 7.5 }).violations.join('\n'), /reported move cost £undefined/);
  // At home nothing is charged, and a stated move cost there is an error.
  const home = {
    ...away,
    costGbp: 30,
    energyCostGbp: 30,
    jobs: [{ id: 'train', site: 'lon', powerKw: [50, 50, 50, 50] }],
  };
  assert.match(checkSchedule(p, home).violations.join('\n'), /reported move cost £20 differs from the recomputed £0/);
});

test('validation: a move cost is version 2, finite and not negative', () => {
  const bad = validateProblem({ ...twoSites({}), jobs: [{ ...twoSites({}).jobs[0], moveCostGbp: -1 }] });
  assert.equal(bad.ok, false);
  assert.match(JSON.stringify(bad), /jobs\/0\/moveCostGbp|jobs\[0\]\.moveCostGbp/);
  const v1 = validateProblem({ ...twoSites({ moveCostGbp: 5 }), version: 1 });
  assert.equal(v1.ok, false);
  assert.equal(validateProblem(twoSites({ moveCostGbp: 5 })).ok, true);
});

test('random problems with move costs: the planner never beats the exact optimum, and its bound never exceeds it', async () => {
  const runs = fc.sample(
    problemArb({ maxJobs: 8, slots: 10 }).chain((q) =>
      fc
        // £0–2 a move: about what moving saves on these problems' prices, so some plans move and some do not.
        .array(fc.integer({ min: 0, max: 20 }), { minLength: q.jobs.length, maxLength: q.jobs.length })
        .map((costs): PlanningProblem => ({
          ...q,
          version: 2,
          // Some jobs start at b, so their home is b.
          jobs: q.jobs.map((j, i) => ({
            ...j,
            ...(j.sites.length > 1 && i % 2 === 1 ? { sites: ['b', 'a'] } : {}),
            moveCostGbp: (costs[i] as number) / 10,
          })),
        })),
    ),
    { numRuns: 30, seed: 5 },
  );
  let planned = 0;
  let moved = 0;
  for (const p of runs) {
    const em = buildExactModel(p);
    const out = await client.solve(em.model, { timeLimitSeconds: 60, mipRelGap: 0 });
    const s = await plan(p, noMilp);
    if (out.status === 'infeasible') {
      assert.equal(s.status, 'infeasible');
      continue;
    }
    assert.equal(out.status, 'optimal');
    const truth = out.objective as number;
    if (s.status === 'infeasible') continue;
    planned++;
    const v = checkSchedule(p, s);
    assert.deepEqual(v.violations, []);
    if (v.moveCostGbp > 0) moved++;
    assert.ok(s.costGbp >= truth - 1e-6 * Math.max(1, Math.abs(truth)), `cost ${s.costGbp} below the optimum ${truth}`);
    assert.ok(
      s.lowerBoundGbp <= truth + 1e-6 * Math.max(1, Math.abs(truth)),
      `bound ${s.lowerBoundGbp} above ${truth}`,
    );
    // The exact MILP's own plan, checked: what it charges for moves is what the check charges.
    const exact = await plan(p);
    assert.deepEqual(checkSchedule(p, exact).violations, []);
    if (exact.status === 'optimal') assert.ok(close(exact.costGbp, truth, 1e-5), `${exact.costGbp} against ${truth}`);
  }
  assert.ok(planned >= 15, `${planned} of 30 planned`);
  assert.ok(moved >= 1, 'some plan pays for a move');
});
