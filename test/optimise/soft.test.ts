// Soft deadlines (planning problem version 2): an overloaded fleet always gets a checked plan that
// minimises energy + lateness cost and lists its late jobs; every planner path copes with soft jobs;
// a hard job that cannot fit is named; version 1 problems plan exactly as before.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { JobSlo, PlanningProblem, Schedule } from '../../src/domain/planning.ts';
import { HighsClient } from '../../src/adapters/solver-highs/client.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import { greedyPlan, simpleLowerBound } from '../../src/optimise/greedy.ts';
import type { LpSolve } from '../../src/optimise/lp.ts';
import { DEFAULT_PLANNER_OPTIONS, planWithLp, type PlannerOptions } from '../../src/optimise/planner.ts';
import { mayLeaveUnserved } from '../../src/optimise/soft.ts';
import { validateProblem } from '../../src/optimise/validate.ts';
import { generatePlanningProblem } from '../../src/sim/planning-instance.ts';
import { problemArb } from './arbitraries.ts';

const client = new HighsClient();
after(() => client.close());

const plan = (p: PlanningProblem, o: Partial<PlannerOptions> = {}, solve: LpSolve = client.solve) =>
  planWithLp(p, solve, { ...DEFAULT_PLANNER_OPTIONS, timeLimitSeconds: 20, ...o });
const failing: LpSolve = async () => ({ status: 'failed', reason: 'solver down', seconds: 0 });

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

const assertChecked = (p: PlanningProblem, s: Schedule, what: string): void => {
  assert.notEqual(s.status, 'infeasible', `${what}: ${s.reason}`);
  const v = checkSchedule(p, s);
  assert.ok(v.ok, `${what}: ${v.violations.slice(0, 3).join('; ')}`);
  assert.equal(s.version, 2);
  assert.ok(close(s.costGbp, (s.energyCostGbp ?? NaN) + (s.latenessCostGbp ?? NaN)), `${what}: cost split`);
  assert.ok(
    close(
      s.latenessCostGbp ?? NaN,
      (s.late ?? []).reduce((a, l) => a + l.costGbp, 0),
    ),
  );
  assert.ok(s.lowerBoundGbp <= s.costGbp + 1e-6 * Math.max(1, Math.abs(s.costGbp)));
};

const flat = (n: number, v: number): number[] => new Array<number>(n).fill(v);
const soft = (lateGbpPerHour: number, maxDelaySlots?: number): JobSlo =>
  maxDelaySlots === undefined ? { kind: 'soft', lateGbpPerHour } : { kind: 'soft', lateGbpPerHour, maxDelaySlots };

/** One 100 kW site at £100/MWh (PUE 1), four 1-hour slots: the worked example of docs/planning-problem.md. */
const tiny = (jobs: PlanningProblem['jobs']): PlanningProblem => ({
  version: 2,
  start: '2023-06-01T00:00:00Z',
  slotMinutes: 60,
  slots: 4,
  sites: [
    {
      id: 'lon',
      itPowerLimitKw: 100,
      pue: 1,
      gridImportLimitKw: 1000,
      priceGbpPerMwh: flat(4, 100),
      carbonGPerKwh: flat(4, 100),
    },
  ],
  jobs,
  commitments: [],
});

test('the worked example: lateness is work-weighted, unserved energy costs its lateness at the horizon plus the dearest price', async () => {
  // Both jobs want slots 0–1 (deadline 2) at 100 kW: 400 kWh into 200 kWh of room before the deadline.
  const p = tiny([
    {
      id: 'train',
      energyKwh: 200,
      maxPowerKw: 100,
      releaseSlot: 0,
      deadlineSlot: 2,
      preemptible: true,
      sites: ['lon'],
      slo: soft(40),
    },
    {
      id: 'batch',
      energyKwh: 300,
      maxPowerKw: 100,
      releaseSlot: 0,
      deadlineSlot: 2,
      preemptible: true,
      sites: ['lon'],
      slo: soft(10),
    },
  ]);
  for (const s of [await plan(p), greedyPlan(p)]) {
    assertChecked(p, s, s.planner ?? '?');
    // train (£40/h) runs on time; batch fills slots 2–3 (200 kWh, late 1 and 2 slots) and 100 kWh waits.
    // batch: 10 × (1·1·100/300 + 2·1·100/300) = £10; unserved 100 kWh: 10 × (4 − 2 + 1) × 1 × 100/300 = £10,
    // plus the surcharge 100 kWh × £0.10/kWh = £10.
    assert.deepEqual(
      s.late?.map((l) => [
        l.id,
        l.finishSlot,
        l.lateSlots,
        Math.round(l.unservedKwh),
        Math.round(l.costGbp * 100) / 100,
      ]),
      [['batch', null, 2, 100, 30]],
    );
    assert.ok(close(s.energyCostGbp ?? NaN, 40), 'energy: 400 kWh at £100/MWh');
    assert.ok(close(s.costGbp, 70));
  }
});

test('a site that states the price of energy bought after the horizon sets the unserved surcharge; version 1 refuses it', async () => {
  const job = (id: string, energyKwh: number, lateGbpPerHour: number) => ({
    id,
    energyKwh,
    maxPowerKw: 100,
    releaseSlot: 0,
    deadlineSlot: 2,
    preemptible: true,
    sites: ['lon'],
    slo: soft(lateGbpPerHour),
  });
  const base = tiny([job('train', 200, 40), job('batch', 300, 10)]);
  const p: PlanningProblem = { ...base, sites: base.sites.map((x) => ({ ...x, unservedPriceGbpPerMwh: 20 })) };
  assert.ok(validateProblem(p).ok);
  for (const s of [await plan(p), greedyPlan(p)]) {
    assertChecked(p, s, s.planner ?? '?');
    // Energy bought after the horizon at £20/MWh: waiting costs batch 10 × (4 − 2 + 1) / 300 + £0.02 =
    // £0.12 per kWh, less than slot 2 (£0.10 + 10 × 1 / 300) or slot 3, so all 300 kWh wait: £30 + £6.
    assert.deepEqual(
      s.late?.map((l) => [l.id, Math.round(l.unservedKwh), Math.round(l.costGbp * 100) / 100]),
      [['batch', 300, 36]],
    );
    assert.ok(close(s.costGbp, 56), `${s.costGbp}`);
  }
  const v1 = validateProblem({ ...p, version: 1, jobs: p.jobs.map(({ slo: _, ...j }) => j) });
  assert.ok(!v1.ok);
  assert.ok(
    v1.faults.some((f) => f.path === '$.sites[0]' || f.path.startsWith('$.sites[0]')),
    JSON.stringify(v1.faults),
  );
});

test('with a stated price for energy bought after the horizon, the simple lower bound stays below a feasible plan', async () => {
  // Leaving work beyond the horizon can then be cheaper than any slot: the bound must allow it.
  for (const seed of [1, 2, 3, 4, 5, 6])
    for (const price of [-50, 0]) {
      const g = generatePlanningProblem({ jobs: 60, seed, slots: 24, overload: 1.25 });
      const p: PlanningProblem = { ...g, sites: g.sites.map((x) => ({ ...x, unservedPriceGbpPerMwh: price })) };
      // Any feasible plan must cost at least the bound, so the exact MILP is cut short (a second).
      const s = await plan(p, { milpTimeLimitSeconds: 1 });
      assertChecked(p, s, `seed ${seed}, £${price}/MWh`);
      assert.ok(
        simpleLowerBound(p) <= s.costGbp + 1e-6,
        `seed ${seed}, £${price}/MWh: bound ${simpleLowerBound(p)} > a plan's £${s.costGbp}`,
      );
    }
});

test('an overloaded fleet (offered load 125 % of capacity) gets a checked plan with its late jobs listed', async () => {
  const p = generatePlanningProblem({ jobs: 150, seed: 7, slots: 48, overload: 1.25 });
  assert.equal(p.version, 2);
  assert.ok(validateProblem(JSON.parse(JSON.stringify(p))).ok);
  const s = await plan(p, { milpTimeLimitSeconds: 1 });
  assertChecked(p, s, 'class LP');
  assert.match(s.status, /^(optimal|feasible)$/);
  assert.ok((s.late ?? []).length > 0, 'some jobs are late');
  assert.ok((s.latenessCostGbp ?? 0) > 0);
  const costs = (s.late ?? []).map((l) => l.costGbp);
  assert.deepEqual(
    costs,
    [...costs].sort((a, b) => b - a),
    'dearest first',
  );
  assertChecked(p, greedyPlan(p), 'greedy');
  // A late job left off the list is named with what is wrong with it: unfinished work is not "late by 0 slots".
  const unfinished = (s.late ?? []).find((l) => l.unservedKwh > 1);
  assert.ok(unfinished, 'some work is left beyond the horizon');
  const v = checkSchedule(p, { ...s, late: (s.late ?? []).filter((l) => l.id !== unfinished.id) });
  assert.ok(
    v.violations.some((x) =>
      x.startsWith(`job ${unfinished.id}: ${unfinished.unservedKwh.toFixed(1)} kWh not done within the horizon`),
    ),
    v.violations.join('\n'),
  );
});

// Random small problems made version 2: each job hard, soft (sometimes already overdue), or soft with
// a maximum delay, with its energy raised up to 4× so that the sites are often overloaded.
const softArb = fc
  .tuple(
    problemArb({ maxJobs: 8, slots: 8, tight: true }),
    fc.array(
      fc.record({
        kind: fc.integer({ min: 0, max: 3 }),
        rate: fc.integer({ min: 0, max: 50 }),
        delay: fc.integer({ min: 0, max: 6 }),
        more: fc.integer({ min: 1, max: 4 }),
        overdue: fc.integer({ min: 0, max: 3 }),
      }),
      { minLength: 8, maxLength: 8 },
    ),
  )
  .map(([p, slos]): PlanningProblem => ({
    ...p,
    version: 2,
    jobs: p.jobs.map((j, i) => {
      const x = slos[i]!;
      if (x.kind === 0) return j;
      const slo = soft(x.rate, x.kind === 3 ? x.delay : undefined);
      // Kind 2: sometimes already overdue (deadline at or before its release).
      const deadlineSlot = x.kind === 2 && x.overdue > 0 ? j.releaseSlot - x.overdue + 1 : j.deadlineSlot;
      const grown = { ...j, deadlineSlot, slo };
      return mayLeaveUnserved(p, grown) ? { ...grown, energyKwh: j.energyKwh * x.more } : grown;
    }),
  }));

test('property: every planner path gives random soft problems a plan that passes the check', async () => {
  let late = 0;
  await fc.assert(
    fc.asyncProperty(softArb, async (p) => {
      const paths: [string, Schedule][] = [
        ['class LP + MILP', await plan(p)],
        ['class LP', await plan(p, { milpMaxBinaries: -1 })],
        ['widened class LP', await plan(p, { maxColumns: 4 })],
        ['fallback', await plan(p, {}, failing)],
        ['greedy', greedyPlan(p)],
      ];
      // Only hard jobs (and soft ones with a maximum delay inside the horizon) can make a problem infeasible.
      const mustFit = p.jobs.some((j) => !mayLeaveUnserved(p, j));
      for (const [what, s] of paths) {
        if (s.status === 'infeasible') {
          assert.ok(mustFit, `${what}: infeasible with only deferrable jobs: ${s.reason}`);
          continue;
        }
        assertChecked(p, s, what);
        if ((s.late ?? []).length > 0) late++;
      }
      // Every proven bound is below every plan's cost.
      const plans = paths.map(([, s]) => s).filter((s) => s.status !== 'infeasible');
      for (const a of plans)
        for (const b of plans) assert.ok(a.lowerBoundGbp <= b.costGbp + 1e-6 * Math.max(1, Math.abs(b.costGbp)));
    }),
    { numRuns: 60, seed: 13 },
  );
  assert.ok(late > 20, `plans with late jobs: ${late}`);
});

test('a hard job that cannot fit makes the problem infeasible, naming it', async () => {
  const p = tiny([
    {
      id: 'inference',
      energyKwh: 300,
      maxPowerKw: 100,
      releaseSlot: 0,
      deadlineSlot: 2,
      preemptible: true,
      sites: ['lon'],
    },
    {
      id: 'batch',
      energyKwh: 100,
      maxPowerKw: 100,
      releaseSlot: 0,
      deadlineSlot: 2,
      preemptible: true,
      sites: ['lon'],
      slo: soft(5),
    },
  ]);
  const s = await plan(p);
  assert.equal(s.status, 'infeasible');
  assert.match(
    s.reason ?? '',
    /job inference: needs 300 kWh but can run at most 100 kW for 2 slots \(200 kWh in slots \[0, 2\) at lon\)/,
  );
  const q = tiny([
    {
      id: 'must-a',
      energyKwh: 150,
      maxPowerKw: 100,
      releaseSlot: 0,
      deadlineSlot: 2,
      preemptible: true,
      sites: ['lon'],
    },
    {
      id: 'must-b',
      energyKwh: 200,
      maxPowerKw: 100,
      releaseSlot: 1,
      deadlineSlot: 3,
      preemptible: true,
      sites: ['lon'],
      slo: { kind: 'hard' },
    },
    {
      id: 'flex',
      energyKwh: 100,
      maxPowerKw: 100,
      releaseSlot: 0,
      deadlineSlot: 2,
      preemptible: true,
      sites: ['lon'],
      slo: soft(5),
    },
  ]);
  const t = await plan(q);
  assert.equal(t.status, 'infeasible');
  assert.match(
    t.reason ?? '',
    /slots \[0, 3\) need 350\.0 kWh of IT energy, but the sites can take at most 300\.0 kWh/,
  );
  assert.match(t.reason ?? '', /2 jobs at lon: must-b, must-a/);
  assert.doesNotMatch(t.reason ?? '', /flex/);
});

test('a version 2 problem with only hard jobs plans exactly as its version 1 twin', async () => {
  const v1 = generatePlanningProblem({ jobs: 60, seed: 3, slots: 24 });
  const v2: PlanningProblem = { ...v1, version: 2, jobs: v1.jobs.map((j) => ({ ...j, slo: { kind: 'hard' } })) };
  const a = await plan(v1, { milpMaxBinaries: -1 });
  const b = await plan(v2, { milpMaxBinaries: -1 });
  assert.equal(a.version, 1);
  assert.equal(b.version, 2);
  assert.deepEqual(b.jobs, a.jobs);
  assert.equal(b.costGbp, a.costGbp);
  assert.deepEqual(b.late, []);
});

test('the checker refuses lateness figures that disagree, and a v1 problem cannot carry an SLO', async () => {
  const p = tiny([
    {
      id: 'batch',
      energyKwh: 300,
      maxPowerKw: 100,
      releaseSlot: 0,
      deadlineSlot: 1,
      preemptible: true,
      sites: ['lon'],
      slo: soft(10),
    },
  ]);
  const s = await plan(p);
  assertChecked(p, s, 'plan');
  const cheaper = { ...s, late: s.late!.map((l) => ({ ...l, costGbp: l.costGbp / 2 })) };
  assert.match(checkSchedule(p, cheaper).violations.join('\n'), /job batch: late list says/);
  const hidden = { ...s, late: [] };
  assert.match(checkSchedule(p, hidden).violations.join('\n'), /job batch: late by 2 slots .* not in the late list/);
  const v1 = { ...s, version: 1 as const };
  assert.match(checkSchedule(p, v1).violations.join('\n'), /only a version 2 schedule can report/);
  const asV1 = validateProblem({ ...JSON.parse(JSON.stringify(p)), version: 1 });
  assert.ok(!asV1.ok && asV1.faults.some((f) => f.path === '$.jobs[0].slo'));
  const noRate = validateProblem({ ...p, jobs: [{ ...p.jobs[0], slo: { kind: 'soft' } }] });
  assert.ok(!noRate.ok && noRate.faults.some((f) => f.path === '$.jobs[0].slo.lateGbpPerHour'));
});

test('a soft job whose deadline has passed is late from slot 0; a hard one is refused', async () => {
  const overdue = tiny([
    {
      id: 'old',
      energyKwh: 100,
      maxPowerKw: 100,
      releaseSlot: 0,
      deadlineSlot: -1,
      preemptible: false,
      sites: ['lon'],
      slo: soft(10),
    },
  ]);
  assert.ok(validateProblem(overdue).ok);
  const s = await plan(overdue);
  assertChecked(overdue, s, 'plan');
  // It runs at once, in slot 0: two slots past a deadline of −1, so 10 × 2 × 1 h × 100/100 = £20.
  assert.deepEqual(s.late, [{ id: 'old', deadlineSlot: -1, finishSlot: 1, lateSlots: 2, unservedKwh: 0, costGbp: 20 }]);
  const hard = validateProblem({ ...overdue, jobs: [{ ...overdue.jobs[0], slo: { kind: 'hard' } }] });
  assert.ok(
    !hard.ok &&
      hard.faults.some((f) =>
        /\$\.jobs\[0\]\.deadlineSlot: -1 must be after releaseSlot 0/.test(`${f.path}: ${f.message}`),
      ),
  );
  const never = validateProblem({ ...overdue, jobs: [{ ...overdue.jobs[0], slo: soft(10, 1) }] });
  assert.ok(!never.ok && never.faults.some((f) => f.path === '$.jobs[0].slo.maxDelaySlots'));
});
