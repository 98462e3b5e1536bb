// withWorkMetrics (src/domain/planning.ts): £ per unit of the work asked for, gCO2 per unit of the
// work run within the horizon, worked out afresh each time a schedule passes through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withWorkMetrics, type PlanningProblem, type Schedule } from '../../src/domain/planning.ts';

const problem = {
  version: 2,
  start: '2023-01-24T00:00:00Z',
  slotMinutes: 30,
  slots: 2,
  sites: [],
  jobs: [
    {
      id: 'a',
      energyKwh: 100,
      maxPowerKw: 100,
      releaseSlot: 0,
      deadlineSlot: 2,
      preemptible: true,
      sites: ['x'],
      work: 10,
    },
    {
      id: 'b',
      energyKwh: 50,
      maxPowerKw: 50,
      releaseSlot: 0,
      deadlineSlot: 2,
      preemptible: true,
      sites: ['x'],
      work: 30,
    },
  ],
} as unknown as PlanningProblem;

const schedule = (unserved: Record<string, number>): Schedule => ({
  version: 2,
  status: 'feasible',
  costGbp: 80,
  carbonKg: 20,
  lowerBoundGbp: 0,
  jobs: [],
  batteries: [],
  late: Object.entries(unserved).map(([id, unservedKwh]) => ({
    id,
    deadlineSlot: 2,
    finishSlot: null,
    lateSlots: 0,
    unservedKwh,
    costGbp: 1,
  })),
});

test('gCO2 per unit divides by the work run within the horizon, £ per unit by the work asked for', () => {
  // b leaves 25 of its 50 kWh beyond the horizon: 15 of its 30 units wait.
  const s = withWorkMetrics(problem, schedule({ b: 25 }));
  assert.equal(s.work, 40);
  assert.equal(s.workDone, 25);
  assert.equal(s.gbpPerUnitOfWork, 2);
  assert.equal(s.gCo2PerUnitOfWork, 800);
});

test('a schedule passed in again loses figures that no longer hold', () => {
  const first = withWorkMetrics(problem, schedule({}));
  assert.equal(first.gCo2PerUnitOfWork, 500);
  // All the work now waits: no gCO2 per unit at all, not the old 500.
  const again = withWorkMetrics(problem, { ...schedule({ a: 100, b: 50 }), gCo2PerUnitOfWork: 500, workDone: 40 });
  assert.equal(again.workDone, 0);
  assert.equal(again.gCo2PerUnitOfWork, undefined);
  assert.equal('gCo2PerUnitOfWork' in again, false);
});
