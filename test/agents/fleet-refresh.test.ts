// Incremental re-plans with the periodic fresh plan made in the background (issue 13 item 8): at a
// refresh slot the slot is answered with the plan carried from the last one, and the fresh plan of
// the same inputs comes beside it, to be carried from REFRESH_LAG slots later; without the
// background refresh the fresh plan is made in place. Real HiGHS, real problems, checked plans.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHighsSolver } from '../../src/adapters/solver-highs/solver.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { epochMs, type SlotGrid } from '../../src/domain/time.ts';
import { isRefreshSlot, rollingPlanOf, solveFleet, type FleetSolve } from '../../src/agents/flex/fleet-plan.ts';
import { RollingPlans } from '../../src/agents/flex/rolling-plans.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import { CARRIED_PLANNER } from '../../src/optimise/warm.ts';
import { createLogger } from '../../src/log.ts';
import { halfHourSignals, lonJob, lonReport } from '../helpers/lon-site.ts';

const solver = createHighsSolver({ timeLimitSeconds: 20 });
after(() => solver.close());

const T0 = epochMs(Date.parse('2023-01-24T00:00:00Z'));
const SLOT = 1_800_000;
const HOUR = 3_600_000;
const gridAt = (slot: number): SlotGrid => ({ start: epochMs(T0 + slot * SLOT), slotMinutes: 30, slots: 8 });

const signals = () =>
  halfHourSignals(
    'lon',
    T0,
    Array.from({ length: 24 }, (_, t) => 100 + 15 * Math.sin(t)),
  );

const job = lonJob;
const report = lonReport;

const fleetSolve = (slot: number, jobs: ComputeJob[]): FleetSolve => {
  const grid = gridAt(slot);
  return {
    solver,
    log: createLogger('silent'),
    input: { grid, now: grid.start, reports: [report(grid.start, jobs)], signals: signals() },
    firm: [],
    held: [],
    capIsTarget: false,
  };
};

const jobs = [job('a', T0, 2), job('b', T0, 1.5), job('c', epochMs(T0 + HOUR), 1)];

test('at a refresh slot the carried plan answers at once and the fresh plan of the same inputs comes beside it', async () => {
  assert.ok(isRefreshSlot(gridAt(4)) && !isRefreshSlot(gridAt(5)), 'slots are refresh slots every FULL_PLAN_EVERY');
  const before = await solveFleet(fleetSolve(3, jobs));
  const carry = rollingPlanOf(gridAt(3), before.problem, before.schedule);

  const now = await solveFleet({ ...fleetSolve(4, jobs), carry, refreshInBackground: true });
  assert.equal(now.schedule.planner, CARRIED_PLANNER, now.schedule.reason);
  assert.ok(checkSchedule(now.problem, now.schedule).ok);
  assert.ok(now.refresh, 'a fresh plan is being made beside the carried one');
  const fresh = await now.refresh;
  assert.notEqual(fresh.schedule.planner, CARRIED_PLANNER, 'the background plan is a fresh one');
  assert.deepEqual(fresh.problem, now.problem, 'of the same inputs');
  const v = checkSchedule(fresh.problem, fresh.schedule);
  assert.ok(v.ok, v.violations.join('; '));

  // Without the background refresh the fresh plan is made in place, and nothing comes beside it.
  const inPlace = await solveFleet({ ...fleetSolve(4, jobs), carry });
  assert.notEqual(inPlace.schedule.planner, CARRIED_PLANNER);
  assert.equal(inPlace.refresh, undefined);
  assert.equal(inPlace.schedule.costGbp, fresh.schedule.costGbp, 'the same plan as the one made in the background');
});

test('between refresh slots the plan is carried and no fresh plan is made', async () => {
  const before = await solveFleet(fleetSolve(4, jobs));
  const carry = rollingPlanOf(gridAt(4), before.problem, before.schedule);
  const next = await solveFleet({ ...fleetSolve(5, jobs), carry, refreshInBackground: true });
  assert.equal(next.schedule.planner, CARRIED_PLANNER, next.schedule.reason);
  assert.equal(next.refresh, undefined);
});

test('a commitment in the horizon does not make every plan a fresh one: it is compared by time, not slot index', async () => {
  // lon may import at most 40 kW from 03:00 to 04:00 (absolute slots 6 and 7); as the grid moves,
  // the same window has other slot indices.
  const window = (slot: number, maxImportKw = 40) => [
    { site: 'lon', fromSlot: 6 - slot, toSlot: 8 - slot, maxImportKw },
  ];
  const before = await solveFleet({ ...fleetSolve(4, jobs), firm: window(4) });
  const carry = rollingPlanOf(gridAt(4), before.problem, before.schedule);
  const next = await solveFleet({ ...fleetSolve(5, jobs), firm: window(5), carry });
  assert.equal(next.schedule.planner, CARRIED_PLANNER, next.schedule.reason);
  assert.ok(checkSchedule(next.problem, next.schedule).ok);
  // A changed commitment (a lower ceiling in the same window) is a change: the plan is made afresh.
  const changed = await solveFleet({ ...fleetSolve(5, jobs), firm: window(5, 35), carry });
  assert.notEqual(changed.schedule.planner, CARRIED_PLANNER);
});

test('a changed commitment: the slot is answered with the carried plan and the fresh plan comes beside it; an order check is carried and nothing comes beside it', async () => {
  const window = (slot: number, maxImportKw: number) => [
    { site: 'lon', fromSlot: 6 - slot, toSlot: 8 - slot, maxImportKw },
  ];
  const before = await solveFleet({ ...fleetSolve(4, jobs), firm: window(4, 40) });
  const carry = rollingPlanOf(gridAt(4), before.problem, before.schedule);
  // Not a refresh slot: before, the new ceiling made this plan a fresh one, made in place.
  const now = await solveFleet({ ...fleetSolve(5, jobs), firm: window(5, 35), carry, refreshInBackground: true });
  assert.equal(now.schedule.planner, CARRIED_PLANNER, now.schedule.reason);
  assert.ok(checkSchedule(now.problem, now.schedule).ok);
  assert.ok(now.refresh, 'the fresh plan of the new commitments is being made');
  const fresh = await now.refresh;
  assert.notEqual(fresh.schedule.planner, CARRIED_PLANNER);
  assert.deepEqual(fresh.problem, now.problem);

  const check = await solveFleet({ ...fleetSolve(4, jobs), firm: window(4, 30), carry, check: true });
  assert.equal(check.schedule.planner, CARRIED_PLANNER, check.schedule.reason);
  assert.ok(checkSchedule(check.problem, check.schedule).ok);
  assert.equal(check.refresh, undefined, 'a check is never dispatched: no fresh plan for it');
});

test('of two plans that overlap, the one started last is the rolling plan, whichever finishes last', async () => {
  const a = await solveFleet(fleetSolve(4, jobs));
  const b = await solveFleet({
    ...fleetSolve(4, jobs),
    firm: [{ site: 'lon', fromSlot: 2, toSlot: 4, maxImportKw: 30 }],
  });
  const rolling = new RollingPlans(createLogger('silent'));
  const first = rolling.begin();
  const second = rolling.begin();
  rolling.made({ grid: gridAt(4), ...b }, second);
  rolling.made({ grid: gridAt(4), ...a }, first);
  assert.equal(rolling.current?.schedule, b.schedule, 'the plan started first finished last and is not kept');
  assert.equal(rolling.current?.ceilings.length, 2);
});

test('while the commitments change every slot, the fresh plan made in the background still becomes the rolling plan', async () => {
  // A ceiling that moves with the clock (a search's holds, say): every slot's commitments differ
  // from the last. One fresh plan at a time is made, and each is carried from REFRESH_LAG slots on.
  const rolling = new RollingPlans(createLogger('silent'));
  const carriedFrom: (string | undefined)[] = [];
  let started = 0;
  for (let slot = 5; slot < 11; slot++) {
    const ticket = rolling.begin();
    const carry = await rolling.carry(gridAt(slot).start);
    carriedFrom.push(carry?.schedule.planner);
    const r = await solveFleet({
      ...fleetSolve(slot, jobs),
      firm: [{ site: 'lon', fromSlot: 3, toSlot: 5, maxImportKw: 30 + (slot % 2) * 5 }],
      ...(carry ? { carry, refreshInBackground: true, refreshPending: rolling.refreshPending } : {}),
    });
    if (r.refresh) started++;
    rolling.made({ grid: gridAt(slot), ...r }, ticket);
  }
  assert.ok(started >= 2 && started <= 3, `one fresh plan at a time (${started} started over 6 slots)`);
  const adopted = carriedFrom.slice(2).filter((p) => p !== undefined && p !== CARRIED_PLANNER).length;
  assert.ok(adopted >= 2, `fresh plans carried from: ${carriedFrom.join(', ')}`);
});

test('a FIFO cap no plan can keep: the plan is made without it and says so; a cap the operator stated stays hard', async () => {
  // 150 g per kWh everywhere: a cap of 1 g of kg, or of 10 g per kWh imported, cannot be met.
  for (const cap of [{ carbonCapKg: 0.001 }, { carbonCapKg: 0, gPerKwh: 10 }]) {
    const f = fleetSolve(5, jobs);
    const target = await solveFleet({
      ...f,
      input: { ...f.input, ...(cap.gPerKwh === undefined ? {} : { carbonCapGPerKwh: cap.gPerKwh }) },
      carbonCapKg: cap.carbonCapKg,
      capIsTarget: true,
    });
    assert.notEqual(target.schedule.status, 'infeasible', target.schedule.reason);
    assert.equal(target.carbonCapMissedKg, cap.carbonCapKg);
    assert.equal(target.problem.carbonCapKg, undefined, 'planned without the cap');
    assert.equal(target.problem.carbonCapGPerKwh, undefined, 'nor its intensity');
    assert.ok(checkSchedule(target.problem, target.schedule).ok);
    const hard = await solveFleet({
      ...f,
      input: { ...f.input, ...(cap.gPerKwh === undefined ? {} : { carbonCapGPerKwh: cap.gPerKwh }) },
      carbonCapKg: cap.carbonCapKg,
      capIsTarget: false,
    });
    assert.equal(hard.schedule.status, 'infeasible');
    assert.match(hard.schedule.reason ?? '', /carbon cap/);
  }
});
