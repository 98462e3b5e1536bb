import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { PlanningProblem } from '../../src/domain/planning.ts';
import { greedyPlan } from '../../src/optimise/greedy.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import { flexibilityCurve, slotCommitments } from '../../src/optimise/offers.ts';

const flat = (n: number, v: number): number[] => new Array<number>(n).fill(v);

const small = (): PlanningProblem => ({
  version: 1,
  start: '2023-06-01T00:00:00Z',
  slotMinutes: 30,
  slots: 8,
  sites: [
    {
      id: 'lon',
      itPowerLimitKw: 100,
      pue: 1.5,
      gridImportLimitKw: 1000,
      priceGbpPerMwh: [50, 40, 30, 200, 200, 60, 20, 80],
      carbonGPerKwh: flat(8, 100),
    },
  ],
  jobs: [
    { id: 'a', energyKwh: 50, maxPowerKw: 50, releaseSlot: 0, deadlineSlot: 8, preemptible: false, sites: ['lon'] },
    { id: 'b', energyKwh: 20, maxPowerKw: 40, releaseSlot: 2, deadlineSlot: 6, preemptible: true, sites: ['lon'] },
  ],
  commitments: [],
});

test('greedy puts a non-preemptible job in its cheapest contiguous run and the check agrees', () => {
  const s = greedyPlan(small());
  assert.equal(s.status, 'feasible');
  const a = s.jobs.find((j) => j.id === 'a');
  // 50 kWh at 50 kW is two half-hour slots; the cheapest adjacent pair is slots 1–2 (40 + 30).
  assert.deepEqual(a?.powerKw, [0, 50, 50, 0, 0, 0, 0, 0]);
  const verdict = checkSchedule(small(), s);
  assert.deepEqual(verdict.violations, []);
  assert.ok(s.lowerBoundGbp <= s.costGbp + 1e-9);
});

test('a commitment is honoured: the job moves out of the window', () => {
  const p: PlanningProblem = { ...small(), commitments: [{ site: 'lon', fromSlot: 1, toSlot: 3, maxImportKw: 0 }] };
  const s = greedyPlan(p);
  assert.equal(s.status, 'feasible');
  const verdict = checkSchedule(p, s);
  assert.deepEqual(verdict.violations, []);
  assert.ok(s.jobs.every((j) => (j.powerKw[1] ?? 0) === 0 && (j.powerKw[2] ?? 0) === 0));
});

test('a job that cannot fit its window is infeasible with a reason naming it', () => {
  const p: PlanningProblem = {
    ...small(),
    jobs: [
      { id: 'big', energyKwh: 500, maxPowerKw: 50, releaseSlot: 0, deadlineSlot: 4, preemptible: true, sites: ['lon'] },
    ],
  };
  const s = greedyPlan(p);
  assert.equal(s.status, 'infeasible');
  assert.match(s.reason ?? '', /job big/);
});

test('the check names violations of a hand-made bad schedule', () => {
  const p = small();
  const verdict = checkSchedule(p, {
    version: 1,
    status: 'feasible',
    costGbp: 0,
    carbonKg: 0,
    lowerBoundGbp: 0,
    batteries: [],
    jobs: [{ id: 'a', site: 'lon', powerKw: [60, 0, 50, 0, 0, 0, 0, 0] }],
  });
  assert.equal(verdict.ok, false);
  const text = verdict.violations.join('\n');
  assert.match(text, /job a: power 60 kW in slot 0 exceeds maxPowerKw 50/);
  assert.match(text, /job a: non-preemptible but its run is not contiguous/);
  assert.match(text, /job b: missing/);
  assert.match(text, /reported cost/);
});

const problemArb = fc
  .record({
    slots: fc.integer({ min: 2, max: 12 }),
    limit: fc.integer({ min: 10, max: 300 }),
    prices: fc.array(fc.integer({ min: -50, max: 400 }), { minLength: 12, maxLength: 12 }),
    jobs: fc.array(
      fc.record({
        energy: fc.integer({ min: 1, max: 200 }),
        power: fc.integer({ min: 1, max: 100 }),
        release: fc.integer({ min: 0, max: 11 }),
        span: fc.integer({ min: 1, max: 12 }),
        preemptible: fc.boolean(),
      }),
      { maxLength: 8 },
    ),
    cap: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
  })
  .map(({ slots, limit, prices, jobs, cap }): PlanningProblem => ({
    version: 1,
    start: '2023-06-01T00:00:00Z',
    slotMinutes: 30,
    slots,
    sites: [
      {
        id: 's',
        itPowerLimitKw: limit,
        pue: 1.2,
        gridImportLimitKw: limit * 1.2,
        priceGbpPerMwh: prices.slice(0, slots),
        carbonGPerKwh: prices.slice(0, slots).map((x) => Math.abs(x)),
      },
    ],
    jobs: jobs.map((j, i) => ({
      id: `j${i}`,
      energyKwh: j.energy,
      maxPowerKw: j.power,
      releaseSlot: Math.min(j.release, slots - 1),
      deadlineSlot: Math.min(slots, j.release + j.span),
      preemptible: j.preemptible,
      sites: ['s'],
    })),
    ...(cap === undefined ? {} : { carbonCapKg: cap }),
    commitments: [],
  }));

test('property: every plan the greedy planner returns passes the independent check', () => {
  fc.assert(
    fc.property(problemArb, (p) => {
      const s = greedyPlan(p);
      if (s.status === 'infeasible') return typeof s.reason === 'string' && s.reason.length > 0;
      const verdict = checkSchedule(p, s);
      return verdict.ok || (console.error(verdict.violations), false);
    }),
    { numRuns: 300 },
  );
});

test('flexibility curve: the largest level is deliverable and priced at the re-plan cost', async () => {
  // Cheap slots 3–4 attract the job; reducing there pushes it into £100 slots.
  const p: PlanningProblem = {
    ...small(),
    sites: [{ ...small().sites[0]!, priceGbpPerMwh: [100, 100, 100, 10, 10, 100, 100, 100] }],
    jobs: [
      { id: 'x', energyKwh: 40, maxPowerKw: 40, releaseSlot: 0, deadlineSlot: 8, preemptible: true, sites: ['lon'] },
    ],
  };
  const curve = await flexibilityCurve(async (q) => greedyPlan(q), p, 'lon', 3, 5, 3);
  assert.ok(!('infeasible' in curve));
  assert.deepEqual(curve.plannedKw, [60, 60]); // 40 kW IT × PUE 1.5
  assert.deepEqual(curve.referenceKw, curve.plannedKw);
  const top = curve.points.at(-1);
  assert.ok(top);
  assert.equal(top.reductionKw, 60);
  // 40 kWh IT × 1.5 moved from £10 to £100/MWh.
  assert.ok(Math.abs(top.opportunityCostGbp - (40 * 1.5 * 90) / 1000) < 1e-9);
  const s = greedyPlan({ ...p, commitments: slotCommitments('lon', 3, top.maxImportKw) });
  assert.equal(s.status, 'feasible');
  assert.ok(curve.points.every((pt, i) => i === 0 || pt.reductionKw > (curve.points[i - 1]?.reductionKw ?? 0)));
});
