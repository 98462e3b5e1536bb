// The capacity value in the Flexibility Orchestrator's operational plan (src/agents/flex/
// capacity-value.ts, src/optimise/capacity-value.ts): a contended site's offered load read from its
// reports, and a plan made with the slots priced up by it, which runs work now that the plain plan
// defers to cheaper hours, stated at the signals' prices. Real HiGHS, real problems, checked plans.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHighsSolver } from '../../src/adapters/solver-highs/solver.ts';
import type { ComputeJob, FlexibilityReport } from '../../src/domain/compute.ts';
import { epochMs, type EpochMs } from '../../src/domain/time.ts';
import { solveFleet, type FleetSolve } from '../../src/agents/flex/fleet-plan.ts';
import { CapacityValues } from '../../src/agents/flex/capacity-value.ts';
import { capacityValue } from '../../src/optimise/capacity-value.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import { createLogger } from '../../src/log.ts';
import { halfHourSignals, lonJob, lonReport } from '../helpers/lon-site.ts';

const solver = createHighsSolver({ timeLimitSeconds: 20 });
after(() => solver.close());

const T0 = epochMs(Date.parse('2023-01-24T00:00:00Z'));
const SLOT = 1_800_000;
const HOUR = 3_600_000;

const job = (id: string, submittedAt: EpochMs, hours: number) => lonJob(id, T0, hours, submittedAt);
const report = (jobs: ComputeJob[]) => lonReport(T0, jobs);

/** lon's fleet problem at T0 over 8 half hours, at these prices. */
const fleetSolve = (r: FlexibilityReport, prices: number[]): FleetSolve => ({
  solver,
  log: createLogger('silent'),
  input: {
    grid: { start: T0, slotMinutes: 30, slots: 8 },
    now: T0,
    reports: [r],
    signals: halfHourSignals('lon', T0, prices),
  },
  firm: [],
  held: [],
  capIsTarget: false,
});

test('the offered load is read from the jobs reported: a full site has a capacity value, a half-idle one none', () => {
  // Room 30 − 5 = 25 kW, over the 24 h counted at least: 600 kWh. 0.9 of it submitted is contended
  // past OFFERED_FULL; 0.5 is below OFFERED_FREE.
  const full = Array.from({ length: 9 }, (_, i) => job(`f${i}`, epochMs(T0 - i * HOUR), 60 / 6.5));
  const v = new CapacityValues(0.25).at([report(full)], T0).get('lon');
  assert.equal(v?.offered, 0.9);
  assert.equal(v?.gbpPerMwhPerHour, Math.round(capacityValue(0.9, 6.5 / 8) * 100) / 100);
  assert.ok((v?.gbpPerMwhPerHour ?? 0) > 70, `${v?.gbpPerMwhPerHour}`);
  const half = Array.from({ length: 5 }, (_, i) => job(`h${i}`, epochMs(T0 - i * HOUR), 60 / 6.5));
  assert.equal(new CapacityValues(0.25).at([report(half)], T0).get('lon')?.gbpPerMwhPerHour, 0);
  // A job is counted once, however many reports show it.
  const twice = new CapacityValues(0.25);
  twice.at([report(half)], T0);
  assert.equal(twice.at([report(half)], epochMs(T0 + SLOT)).get('lon')?.offered, 0.5);
});

test('priced up by a capacity value the plan runs a job now that it would defer to cheaper hours, and states the plan at the signals’ prices', async () => {
  // 200 £/MWh for the first two hours, 100 after: the plain plan waits two hours to save £0.78.
  const f = fleetSolve(report([job('a', T0, 1)]), [200, 200, 200, 200, 100, 100, 100, 100]);
  const firstSlot = (s: Awaited<ReturnType<typeof solveFleet>>) =>
    s.schedule.jobs.find((j) => j.id === 'a')?.powerKw.findIndex((p) => p > 0);
  const plain = await solveFleet(f);
  assert.ok((firstSlot(plain) ?? 0) >= 4, `plain plan starts in slot ${firstSlot(plain)}`);
  // 80 £/MWh per hour ahead: two hours' wait costs 160 £/MWh, more than the 100 saved.
  const valued = await solveFleet({ ...f, capacityValue: new Map([['lon', 80]]) });
  assert.equal(firstSlot(valued), 0);
  // The problem is the signals' own; the plan's figures are measured on it, with no bound claimed.
  assert.deepEqual(valued.problem.sites[0]?.priceGbpPerMwh, plain.problem.sites[0]?.priceGbpPerMwh);
  const v = checkSchedule(valued.problem, valued.schedule);
  assert.ok(v.ok, v.violations.join('; '));
  assert.equal(valued.schedule.costGbp, v.costGbp);
  assert.equal(valued.schedule.status, 'feasible');
  assert.equal(valued.schedule.lowerBoundGbp, 0);
  assert.ok(
    valued.schedule.costGbp > plain.schedule.costGbp,
    'dearer at the signals’ prices: the wait it avoids is the point',
  );
});

test('a battery is planned at the signals’ prices, not the raised ones: on flat prices it stays idle', async () => {
  const withBattery: FlexibilityReport = {
    ...report([job('a', T0, 1)]),
    battery: {
      capacityKwh: 100,
      maxChargeKw: 50,
      maxDischargeKw: 50,
      roundTripEfficiency: 0.88,
      minSocKwh: 10,
      maxSocKwh: 100,
      degradationGbpPerMwh: 40,
      socKwh: 50,
    },
  };
  const f = fleetSolve(withBattery, new Array(8).fill(100));
  const plain = await solveFleet(f);
  const valued = await solveFleet({ ...f, capacityValue: new Map([['lon', 80]]) });
  const cycled = (s: typeof valued) =>
    s.schedule.batteries.reduce((a, b) => a + b.chargeKw.reduce((x, y) => x + y, 0), 0);
  assert.equal(cycled(plain), 0);
  // Raised by 80 £/MWh an hour, the prices would pay a battery to charge now and discharge later.
  assert.equal(cycled(valued), 0, JSON.stringify(valued.schedule.batteries));
});
