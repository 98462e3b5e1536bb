// Exchange moves between soft jobs (src/optimise/exchange.ts): from any checked plan they keep every
// site-slot's load (so the battery plan, import and carbon stay as they are), never raise the plan's
// cost, and the gain they report is the fall of the checked cost; on small full sites they reach the
// optimum that no single-job move can (the late job needs a slot another job holds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { JobSpec, PlanningProblem, Schedule } from '../../src/domain/planning.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import type { Draft } from '../../src/optimise/disaggregate.ts';
import { exchange } from '../../src/optimise/exchange.ts';
import { greedyPlan } from '../../src/optimise/greedy.ts';
import { localSearch } from '../../src/optimise/local-search.ts';
import { assemble, draftOf } from '../../src/optimise/assemble.ts';
import { mayLeaveUnserved } from '../../src/optimise/soft.ts';
import { problemArb } from './arbitraries.ts';

const close = (a: number, b: number, rel = 1e-6) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));

/** Per site and slot, the IT load of a draft (kW). */
const loads = (p: PlanningProblem, d: Draft): number[][] =>
  p.sites.map((_, s) =>
    Array.from({ length: p.slots }, (_, t) =>
      d.power.reduce((a, pw, j) => a + (d.site[j] === s ? (pw?.[t] ?? 0) : 0), 0),
    ),
  );

// Random small problems made version 2 and overloaded: most jobs soft (some with a maximum delay),
// at random £/h, most preemptible, energy raised up to 3× when the job may leave energy beyond the horizon.
const softArb = fc
  .tuple(
    problemArb({ maxJobs: 10, slots: 10, tight: true }),
    fc.array(
      fc.record({
        kind: fc.integer({ min: 0, max: 3 }),
        rate: fc.integer({ min: 1, max: 60 }),
        delay: fc.integer({ min: 0, max: 6 }),
        more: fc.integer({ min: 1, max: 3 }),
      }),
      { minLength: 10, maxLength: 10 },
    ),
  )
  .map(([p, slos]): PlanningProblem => ({
    ...p,
    version: 2,
    jobs: p.jobs.map((j, i): JobSpec => {
      const x = slos[i]!;
      if (x.kind === 0) return j;
      const grown: JobSpec = {
        ...j,
        slo:
          x.kind === 3
            ? { kind: 'soft', lateGbpPerHour: x.rate, maxDelaySlots: x.delay }
            : { kind: 'soft', lateGbpPerHour: x.rate },
      };
      return mayLeaveUnserved(p, grown) ? { ...grown, energyKwh: j.energyKwh * x.more } : grown;
    }),
  }));

test('property: exchanges keep every site-slot load, pass the check, and lower the cost by what they report', () => {
  let improved = 0;
  fc.assert(
    fc.property(softArb, fc.double({ min: 0, max: 0.3, noNaN: true }), (p, lambda) => {
      // A feasible start that puts the wrong jobs first: the greedy plan of the same problem with
      // every soft job's £/h reversed (same windows, so the plan is valid here too).
      const reversed: PlanningProblem = {
        ...p,
        jobs: p.jobs.map((j) =>
          j.slo?.kind === 'soft' ? { ...j, slo: { ...j.slo, lateGbpPerHour: 61 - j.slo.lateGbpPerHour } } : j,
        ),
      };
      const start = greedyPlan(reversed);
      if (start.status === 'infeasible') return;
      const d = draftOf(p, start);
      // Local search first, as the planner does: it leaves no single-job move, only exchanges.
      localSearch(p, d, start.batteries, lambda);
      const before = assemble(p, d, start.batteries, -Infinity);
      const loadBefore = loads(p, d);
      const r = exchange(p, d, lambda);
      const after = assemble(p, d, start.batteries, -Infinity);
      const verdict = checkSchedule(p, after);
      assert.ok(verdict.ok, verdict.violations.slice(0, 3).join('; '));
      loads(p, d).forEach((l, s) =>
        l.forEach((kw, t) => assert.ok(close(kw, loadBefore[s]![t]!, 1e-9), `load at site ${s} slot ${t} moved`)),
      );
      assert.ok(after.carbonKg <= before.carbonKg + 1e-6 * Math.max(1, before.carbonKg), 'carbon rose');
      // Loads are unchanged, so the priced cost falls exactly as the checked cost does (λ·carbon cancels).
      assert.ok(r.gain >= 0);
      assert.ok(
        close(before.costGbp - after.costGbp, r.gain, 1e-6),
        `gain ${r.gain}, fall ${before.costGbp - after.costGbp}`,
      );
      if (r.swaps > 0) improved++;
    }),
    { numRuns: 200, seed: 21 },
  );
  assert.ok(improved > 10, `plans improved by exchanges: ${improved}`);
});

const flat = (n: number, v: number): number[] => new Array<number>(n).fill(v);

/** One full 10 kW site at £100/MWh (PUE 1), one-hour slots. */
const site = (slots: number): PlanningProblem['sites'][number] => ({
  id: 'lon',
  itPowerLimitKw: 10,
  pue: 1,
  gridImportLimitKw: 100,
  priceGbpPerMwh: flat(slots, 100),
  carbonGPerKwh: flat(slots, 100),
});

const job = (id: string, lateGbpPerHour: number, deadlineSlot: number, energyKwh = 10): JobSpec => ({
  id,
  energyKwh,
  maxPowerKw: 10,
  releaseSlot: 0,
  deadlineSlot,
  preemptible: true,
  sites: ['lon'],
  slo: { kind: 'soft', lateGbpPerHour },
});

const planOf = (p: PlanningProblem, power: Record<string, number[]>): Schedule =>
  assemble(
    p,
    {
      site: new Int32Array(p.jobs.length),
      power: p.jobs.map((j) => Float64Array.from(power[j.id]!)),
      deficitKwh: new Float64Array(p.jobs.length),
    },
    [],
    -Infinity,
  );

test('a late job takes the slot of one due later, which no single-job move can do', () => {
  const p: PlanningProblem = {
    version: 2,
    start: '2023-06-01T00:00:00Z',
    slotMinutes: 60,
    slots: 2,
    sites: [site(2)],
    jobs: [job('urgent', 5, 1), job('relaxed', 1, 2)],
    commitments: [],
  };
  // The site is full in both slots: urgent runs in slot 1, an hour late (£5), relaxed in slot 0.
  const start = planOf(p, { urgent: [0, 10], relaxed: [10, 0] });
  assert.ok(close(start.latenessCostGbp ?? NaN, 5));
  const d = draftOf(p, start);
  assert.equal(localSearch(p, d, [], 0).moved, 0, 'no room for a single-job move');
  const r = exchange(p, d, 0);
  const s = assemble(p, d, [], -Infinity);
  assert.ok(checkSchedule(p, s).ok);
  assert.deepEqual(
    s.jobs.map((j) => j.powerKw),
    [
      [10, 0],
      [0, 10],
    ],
  );
  assert.ok(close(s.latenessCostGbp ?? NaN, 0), 'both on time');
  assert.ok(close(r.gain, 5));
});

test('energy left beyond the horizon goes to the job that pays least for waiting', () => {
  const p: PlanningProblem = {
    version: 2,
    start: '2023-06-01T00:00:00Z',
    slotMinutes: 60,
    slots: 1,
    sites: [site(1)],
    jobs: [job('dear', 6, 1), job('cheap', 2, 1)],
    commitments: [],
  };
  // One slot for two 10 kWh jobs: whoever waits pays its £/h for the slot past the horizon (its
  // lateness at the horizon's end, docs/planning-problem.md) plus the dearest price, £0.10/kWh.
  const start = planOf(p, { dear: [0], cheap: [10] });
  assert.ok(close(start.latenessCostGbp ?? NaN, 6 * 1 + 10 * 0.1));
  const d = draftOf(p, start);
  const r = exchange(p, d, 0);
  const s = assemble(p, d, [], -Infinity);
  assert.ok(checkSchedule(p, s).ok);
  assert.deepEqual(
    s.jobs.map((j) => j.powerKw),
    [[10], [0]],
  );
  assert.ok(close(s.latenessCostGbp ?? NaN, 2 * 1 + 10 * 0.1));
  assert.ok(close(r.gain, 4));
});
