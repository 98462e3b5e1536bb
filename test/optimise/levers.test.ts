// The levers beside moving work (issue 13 items 2 and 4), through buildProblem → planner → the
// dispatch readers: a running job that its scheduler can cap is planned as a floor plus a cappable
// part, so a commitment below its full power is met by capping it (at the job's lateness cost),
// and a battery behind the meter meets one by discharging (at its wear cost).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { HighsClient } from '../../src/adapters/solver-highs/client.ts';
import type { ComputeJob, FlexibilityReport } from '../../src/domain/compute.ts';
import { epochMs, type SlotGrid } from '../../src/domain/time.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import { costSplit } from '../../src/optimise/offers.ts';
import { DEFAULT_PLANNER_OPTIONS, planWithLp } from '../../src/optimise/planner.ts';
import { capPartId } from '../../src/optimise/cap-parts.ts';
import { batteryFor, powerCapsFor } from '../../src/optimise/dispatch.ts';
import { buildProblem } from '../../src/optimise/problem.ts';
import { CARRIED_PLANNER, WARM_PLANNER, replanCarried, replanFrom } from '../../src/optimise/warm.ts';
import { hardFirst } from '../../src/agents/flex/hard-first.ts';
import type { PlanningProblem } from '../../src/domain/planning.ts';
import { kw } from '../../src/domain/units.ts';
import { halfHourSignals } from '../helpers/lon-site.ts';

const client = new HighsClient();
after(() => client.close());
const plan = (p: PlanningProblem) => planWithLp(p, client.solve, { ...DEFAULT_PLANNER_OPTIONS, timeLimitSeconds: 20 });

const T0 = epochMs(Date.parse('2023-01-24T00:00:00Z'));
const grid: SlotGrid = { start: T0, slotMinutes: 30, slots: 8 };
const HOUR = 3_600_000;

const signals = () =>
  halfHourSignals(
    'lon',
    T0,
    Array.from({ length: 8 }, (_, t) => 100 + 10 * t),
  );

const running = (o: Partial<ComputeJob> = {}): ComputeJob =>
  ({
    id: 'train-1',
    name: 'train-1',
    site: 'lon',
    slo: 'deferrable',
    gpus: 32,
    powerKw: 26,
    minPowerKw: 14,
    powerCapRangeW: { minW: 200, maxW: 400 },
    energyKwh: 26 * 4,
    remainingKwh: 26 * 4,
    submittedAt: T0,
    releaseAt: T0,
    deadlineAt: epochMs(T0 + 4 * HOUR),
    preemptible: false,
    allowedSites: ['lon'],
    work: 128,
    workUnit: 'gpu-hours',
    state: 'running',
    startedAt: T0,
    ...o,
  }) as ComputeJob;

const report = (jobs: ComputeJob[], battery?: FlexibilityReport['battery']): FlexibilityReport => ({
  site: 'lon',
  region: 'lon',
  at: T0,
  itPowerLimitKw: kw(100),
  pue: 1.2,
  gridImportLimitKw: kw(200),
  baseLoadFrom: T0,
  slotMinutes: 30,
  baseLoadKw: new Array(8).fill(10),
  jobs,
  ...(battery ? { battery } : {}),
});

test('a cappable running job is planned as its floor and a soft cappable part; uncapped when nothing binds', async () => {
  const problem = buildProblem({ grid, now: T0, reports: [report([running()])], signals: signals(), commitments: [] });
  const parts = problem.jobs.filter((j) => j.id.endsWith('train-1'));
  assert.deepEqual(
    parts.map((j) => [j.id, j.maxPowerKw, j.preemptible, j.slo?.kind ?? 'hard']),
    [
      ['train-1', 14, false, 'hard'],
      [capPartId('train-1'), 12, true, 'soft'],
    ],
  );
  assert.ok(Math.abs(parts.reduce((a, j) => a + j.energyKwh, 0) - 104) < 1e-9, 'the energy is kept whole');
  const s = await plan(problem);
  assert.ok(checkSchedule(problem, s).ok);
  // Nothing binds: the job runs at full power, so no cap is sent (and none is lifted: it has none).
  assert.deepEqual(powerCapsFor(report([running()]), s, grid, T0), []);
  // A job FlexLon capped earlier gets its cap lifted.
  assert.deepEqual(powerCapsFor(report([running({ powerCapW: 300 })]), s, grid, T0), [
    { jobId: 'train-1', powerKw: null, until: epochMs(T0 + 1_800_000) },
  ]);
});

test("a commitment below the running job's full power is met by capping it, costed as the job's lateness", async () => {
  // Import now: (10 base + 26 job) × 1.2 = 43.2 kW. Commit to 30 kW in slot 0: IT ≤ 25 kW, so the
  // job must draw ≤ 15 kW there — above its 14 kW floor, so a cap can do it and nothing else can.
  const r = report([running()]);
  const problem = buildProblem({
    grid,
    now: T0,
    reports: [r],
    signals: signals(),
    commitments: [{ site: 'lon', fromSlot: 0, toSlot: 1, maxImportKw: 30 }],
  });
  const s = await plan(problem);
  assert.notEqual(s.status, 'infeasible', s.reason);
  assert.ok(checkSchedule(problem, s).ok);
  const caps = powerCapsFor(r, s, grid, T0);
  assert.equal(caps.length, 1);
  const kw = caps[0]!.powerKw as number;
  assert.ok(kw >= 14 - 1e-6 && kw <= 15 + 1e-6, `capped to ${kw} kW`);
  const split = costSplit(s);
  assert.ok(split.capsGbp > 0, 'the slowed work is costed');
  assert.equal(split.latenessGbp, 0, 'no waiting work is late');
});

/** A site battery at 60 kWh, £20/MWh wear: two of the tests below make it discharge. */
const battery = {
  capacityKwh: 100,
  maxChargeKw: 50,
  maxDischargeKw: 50,
  roundTripEfficiency: 0.9,
  minSocKwh: 10,
  maxSocKwh: 90,
  degradationGbpPerMwh: 20,
  socKwh: 60,
};

test("a battery meets a commitment by discharging, at its wear cost; its setpoint is the current slot's", async () => {
  const r = report([], battery);
  const problem = buildProblem({
    grid,
    now: T0,
    reports: [r],
    signals: signals(),
    commitments: [{ site: 'lon', fromSlot: 0, toSlot: 1, maxImportKw: 0 }],
  });
  assert.equal(problem.sites[0]!.battery?.capacityKwh, 90, 'the upper state-of-charge limit is the planner capacity');
  const s = await plan(problem);
  assert.notEqual(s.status, 'infeasible', s.reason);
  const v = checkSchedule(problem, s);
  assert.ok(v.ok, v.violations.join('; '));
  const b = batteryFor('lon', s, grid, T0);
  assert.ok(b && Math.abs(b.kw + 12) < 1e-6, `discharges the 12 kW import in slot 0, got ${b?.kw}`);
  assert.ok((s.batteryWearGbp ?? 0) > 0 && costSplit(s).batteryGbp === s.batteryWearGbp);
});

test('hard deadlines first: a hard plan whose battery discharges states its wear apart in the soft problem, and passes the check', async () => {
  // A waiting job: soft in the version 2 problem, so hardFirst plans it hard first.
  const { startedAt: _started, ...queued } = running({
    id: 'batch-1',
    state: 'queued',
    deadlineAt: epochMs(T0 + 3 * HOUR),
  });
  const waiting: ComputeJob = queued;
  const problem = buildProblem({
    grid,
    now: T0,
    reports: [report([waiting], battery)],
    signals: signals(),
    commitments: [{ site: 'lon', fromSlot: 0, toSlot: 1, maxImportKw: 0 }],
  });
  assert.equal(problem.version, 2);
  const s = await hardFirst({ name: 'highs', plan }).plan(problem);
  assert.notEqual(s.status, 'infeasible', s.reason);
  const v = checkSchedule(problem, s);
  assert.ok(v.ok, v.violations.join('; '));
  assert.ok((s.batteryWearGbp ?? 0) > 0, 'the battery discharged and its wear is stated');
  assert.ok(Math.abs((s.energyCostGbp ?? 0) + (s.batteryWearGbp ?? 0) + (s.latenessCostGbp ?? 0) - s.costGbp) < 1e-6);
});

test('a rolling plan carried one slot on keeps its jobs where they still fit and places the new ones; checked', async () => {
  const r = report([running()]);
  const first = buildProblem({ grid, now: T0, reports: [r], signals: signals(), commitments: [] });
  const previous = await plan(first);
  // Half an hour later: the job has run a slot, and a new waiting job has arrived.
  const later = epochMs(T0 + 1_800_000);
  const next = { ...grid, start: later };
  const arrived = running({
    id: 'batch-2',
    state: 'queued',
    gpus: 8,
    powerKw: kw(6.5) as never,
    minPowerKw: kw(6.5),
    energyKwh: 13 as never,
    remainingKwh: 13 as never,
    releaseAt: later,
    deadlineAt: epochMs(later + 3 * HOUR),
  });
  const moved = report([running({ remainingKwh: (26 * 3.5) as never }), arrived]);
  const problem = buildProblem({
    grid: next,
    now: later,
    reports: [{ ...moved, at: later, baseLoadFrom: later }],
    signals: signals(),
    commitments: [],
  });
  const carried = await replanCarried(problem, previous, 1, client.solve);
  assert.equal(carried.planner, CARRIED_PLANNER, carried.reason);
  const v = checkSchedule(problem, carried);
  assert.ok(v.ok, v.violations.join('; '));
  const fresh = await plan(problem);
  assert.ok(
    carried.costGbp <= fresh.costGbp * 1.05 + 1e-6,
    `carried £${carried.costGbp} against fresh £${fresh.costGbp}`,
  );
});

test('a new ceiling below the base load at a battery site is met from the battery by the warm re-plans, not planned afresh', async () => {
  // Flat prices: the base plan leaves the battery idle. A commitment to import nothing in slot 3 is
  // below the 12 kW base load (10 kW IT × PUE 1.2): with the base plan's (idle) battery flows the
  // warm repair had to shed the rigid base load, found no room for it, and planned afresh.
  const flat = new Map(
    [...signals()].map(([k, s]) => [k, { ...s, points: s.points.map((x) => ({ ...x, price: 100 as never })) }]),
  );
  const input = { grid, now: T0, reports: [report([], battery)], signals: flat };
  const base = await plan(buildProblem({ ...input, commitments: [] }));
  const window = [{ site: 'lon', fromSlot: 3, toSlot: 4, maxImportKw: 0 }];
  const problem = buildProblem({ ...input, commitments: window });
  const from = await replanFrom(problem, base, client.solve);
  assert.equal(from.planner, WARM_PLANNER, from.reason);
  const v = checkSchedule(problem, from);
  assert.ok(v.ok, v.violations.join('; '));
  assert.ok(
    Math.abs((batteryFor('lon', from, grid, epochMs(T0 + 3 * 1_800_000))?.kw ?? 0) + 12) < 1e-6,
    'discharges 12 kW',
  );

  // The rolling plan carried one slot on into a horizon where the same window has come in.
  const later = epochMs(T0 + 1_800_000);
  const next = buildProblem({
    ...input,
    grid: { ...grid, start: later },
    now: later,
    reports: [{ ...report([], battery), at: later, baseLoadFrom: later }],
    commitments: [{ site: 'lon', fromSlot: 2, toSlot: 3, maxImportKw: 0 }],
  });
  const carried = await replanCarried(next, base, 1, client.solve);
  assert.equal(carried.planner, CARRIED_PLANNER, carried.reason);
  const c = checkSchedule(next, carried);
  assert.ok(c.ok, c.violations.join('; '));
});

test('a running job is not cappable ahead of a window at its site that a capped run could reach; through a window it is', () => {
  // 39 kWh left at 26 kW: three half-hour slots uncapped. At its 14 kW floor throughout it would take
  // 3 / (14 / 26) ≈ 5.6 slots, so a window from slot 4 is within reach and one from slot 6 is not.
  const r = report([running({ energyKwh: 39 as never, remainingKwh: 39 as never })]);
  const parts = (fromSlot: number, toSlot: number) =>
    buildProblem({
      grid,
      now: T0,
      reports: [r],
      signals: signals(),
      commitments: [{ site: 'lon', fromSlot, toSlot, maxImportKw: 20 }],
    })
      .jobs.filter((j) => j.id.endsWith('train-1'))
      .map((j) => j.id);
  assert.deepEqual(parts(4, 6), ['train-1'], 'capping now could push its floor into the window: uncapped');
  assert.deepEqual(parts(6, 8), ['train-1', capPartId('train-1')], 'out of reach: cappable');
  assert.deepEqual(parts(1, 3), ['train-1', capPartId('train-1')], 'it runs through the window: the cap is the lever');
});

test("a running job is not cappable where its site's GPUs are all wanted, unless a commitment or the window being sold falls in its run", () => {
  // Room now: 100 kW limit − 10 kW base − 26 kW running = 64 kW. Three waiting 26 kW jobs (78 kW) want
  // every GPU; two (52 kW) leave some free. A cap frees power, not GPUs: on the full site it would
  // only slow the work, so the job is planned whole unless a window needs its power down.
  const waiting = (n: number) =>
    Array.from({ length: n }, (_, k) => {
      const { startedAt: _s, ...rest } = running({ id: `wait-${k}`, name: `wait-${k}`, state: 'queued' });
      return rest as ComputeJob;
    });
  const job = running({ energyKwh: 39 as never, remainingKwh: 39 as never }); // slots [0, 3)
  const parts = (n: number, o: { fromSlot?: number; sellingSlot?: number } = {}) =>
    buildProblem({
      grid,
      now: T0,
      reports: [report([job, ...waiting(n)])],
      signals: signals(),
      commitments:
        o.fromSlot === undefined
          ? []
          : [{ site: 'lon', fromSlot: o.fromSlot, toSlot: o.fromSlot + 1, maxImportKw: 60 }],
      ...(o.sellingSlot === undefined ? {} : { sellingAt: epochMs(T0 + o.sellingSlot * 1_800_000) }),
    })
      .jobs.filter((j) => j.id.endsWith('train-1'))
      .map((j) => j.id);
  const capped = ['train-1', capPartId('train-1')];
  assert.deepEqual(parts(2), capped, 'GPUs to spare: cappable on price');
  assert.deepEqual(parts(3), ['train-1'], 'every GPU wanted: planned whole');
  assert.deepEqual(parts(3, { fromSlot: 2 }), capped, 'a commitment in its run: the cap is the lever');
  assert.deepEqual(parts(3, { fromSlot: 7 }), ['train-1'], 'a commitment after its run does not need it');
  assert.deepEqual(parts(3, { sellingSlot: 1 }), capped, 'an offer priced for a window in its run');
  assert.deepEqual(parts(3, { sellingSlot: 3 }), ['train-1'], 'a window it has finished by');
});

test('all GPUs wanted: judged against the base load at its highest, and by commitments at the same site within the run', () => {
  // Half an hour into the horizon (slot 1): the job runs in slots [1, 4); slots count from the grid's start.
  const now = epochMs(T0 + 1_800_000);
  const job = running({ energyKwh: 39 as never, remainingKwh: 39 as never });
  const waiting = (n: number) =>
    Array.from({ length: n }, (_, k) => {
      const { startedAt: _s, ...rest } = running({ id: `wait-${k}`, name: `wait-${k}`, state: 'queued' });
      return rest as ComputeJob;
    });
  const parts = (o: {
    waiting: number;
    baseKw?: number[];
    commitment?: [string, number, number];
    sellingSlot?: number;
  }) =>
    buildProblem({
      grid,
      now,
      reports: [
        {
          ...report([job, ...waiting(o.waiting)]),
          at: now,
          ...(o.baseKw ? { baseLoadKw: o.baseKw } : {}),
        },
      ],
      signals: signals(),
      commitments: o.commitment
        ? [{ site: o.commitment[0], fromSlot: o.commitment[1], toSlot: o.commitment[2], maxImportKw: 60 }]
        : [],
      ...(o.sellingSlot === undefined ? {} : { sellingAt: epochMs(T0 + o.sellingSlot * 1_800_000) }),
    })
      .jobs.filter((j) => j.id.endsWith('train-1'))
      .map((j) => j.id);
  const capped = ['train-1', capPartId('train-1')];
  // 100 kW − 10 base − 26 running leaves 64 kW now; with the inference peak of 40 kW later, 34 kW.
  assert.deepEqual(parts({ waiting: 2 }), capped, 'a flat base load: 52 kW waiting fits in 64');
  assert.deepEqual(
    parts({ waiting: 2, baseKw: [10, 10, 10, 10, 40, 10, 10, 10] }),
    ['train-1'],
    'the peak leaves 34 kW: every GPU wanted',
  );
  assert.deepEqual(
    parts({ waiting: 3, sellingSlot: 1 }),
    capped,
    'an offer window from slot 1, measured from the grid start',
  );
  assert.deepEqual(parts({ waiting: 3, commitment: ['lon', 2, 3] }), capped, 'a commitment here within the run');
  assert.deepEqual(parts({ waiting: 3, commitment: ['man', 2, 3] }), ['train-1'], 'a commitment at another site');
  assert.deepEqual(parts({ waiting: 3, commitment: ['lon', 0, 1] }), ['train-1'], 'a commitment over before the run');
});
