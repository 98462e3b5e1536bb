// What the oracle foresees of arrivals (--oracle-arrivals; src/backtest/planner-strategy.ts
// `seesArrivals`): by default every job submitted within its horizon is in its plan before it is
// submitted; with 'none' only the jobs submitted so far are, as for flexlon, and its foresight is the
// outturn signals alone.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPlanningSolver } from '../../src/compose/solver.ts';
import { DEFAULT_WORK } from '../../src/optimise/planner.ts';
import { PlannerStrategy } from '../../src/backtest/planner-strategy.ts';
import { SiteSim } from '../../src/backtest/site-sim.ts';
import type { SimJob } from '../../src/backtest/sim-job.ts';
import { OutturnView } from '../../src/backtest/signal-view.ts';
import { PERIOD_MS } from '../../src/domain/settlement-day.ts';
import { recordedAround } from './fixtures.ts';

const solver = createPlanningSolver({ work: DEFAULT_WORK });
after(() => solver.close());
const { start, dataStart, data } = recordedAround('2023-01-23');
const HOUR = 3_600_000;

const job = (id: string, submittedAt: number): SimJob => ({
  id,
  gpus: 8,
  powerKw: 4,
  energyKwh: 8,
  remainingKwh: 8,
  submittedAt,
  releaseAt: submittedAt,
  deadlineAt: submittedAt + 12 * HOUR,
  work: 16,
});

const oracle = (foreseeArrivals: boolean) =>
  new PlannerStrategy('oracle', {
    solver,
    horizon: 96,
    fullPlanEvery: 48,
    carbonGbpPerTonne: 70,
    capacityValueShare: 0.25,
    foresight: true,
    ...(foreseeArrivals ? {} : { foreseeArrivals: false }),
  });

/** The job ids in the oracle's plan after one decision, with `now` waiting and `later` submitted in 2 h. */
const planned = async (foreseeArrivals: boolean): Promise<string[]> => {
  const sim = new SiteSim({ id: 'edi', gpus: 16, trainingIdleKw: 5, trainingMaxKw: 37, pue: 1.2 });
  sim.add([job('now', start), job('later', start + 2 * HOUR)]);
  sim.arrive(start);
  const s = oracle(foreseeArrivals);
  await s.decide({
    now: start,
    period: (start - dataStart) / PERIOD_MS,
    sites: [sim],
    view: new OutturnView(data, start),
  });
  const carries = (s.save() as { carries: Record<string, { schedule: { jobs: { id: string }[] } }> }).carries;
  return (carries.edi?.schedule.jobs ?? [])
    .map((j) => j.id)
    .filter((id) => id === 'now' || id === 'later')
    .sort();
};

describe('the oracle’s foresight of arrivals', () => {
  it('plans a job before it is submitted by default, and only the jobs submitted so far with none', async () => {
    assert.deepEqual(await planned(true), ['later', 'now']);
    assert.deepEqual(await planned(false), ['now']);
  });
});
