// The proven bound of a run too long for one problem is the sum of its chunks' bounds, each chunk
// planned as if it had the site to itself (src/backtest/bound.ts). Cutting a run into chunks relaxes
// it, so the chunked bound is no higher than the bound of the run as one problem, and stays close to it.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPlanningSolver } from '../../src/compose/solver.ts';
import { recordedSource } from '../../src/compose/signals.ts';
import { DEFAULT_WORK } from '../../src/optimise/planner.ts';
import { objectiveBound, type BoundInput } from '../../src/backtest/bound.ts';
import { fleetSites, siteDayOf } from '../../src/backtest/fleet.ts';
import { gridDataOf } from '../../src/backtest/signal-view.ts';
import { PERIOD_MS, settlementDayStart } from '../../src/domain/settlement-day.ts';

const DAY_MS = 86_400_000;

const solver = createPlanningSolver({ work: DEFAULT_WORK });
after(() => solver.close());
const { history } = recordedSource({ kind: 'shipped' });

describe('a bound in chunks', () => {
  it('is below the one-problem bound of the same busy week, and within 3 % of it', async () => {
    const days = ['2023-03-01', '2023-03-02', '2023-03-03', '2023-03-04', '2023-03-05', '2023-03-06'];
    const start = settlementDayStart(days[0] as string);
    const end = start + days.length * DAY_MS;
    const dataStart = start - DAY_MS;
    const input: BoundInput = {
      sites: fleetSites(['edi'], 'busy'),
      allDays: days,
      jobDays: 4,
      end,
      data: gridDataOf(history, dataStart, (end - dataStart) / PERIOD_MS + 96, 1),
      dataStart,
      carbonGbpPerTonne: 70,
      workload: (s, k, t) => siteDayOf(s, 'busy', 1, k, t),
      solver,
    };
    const whole = await objectiveBound(input);
    const halves = await objectiveBound({ ...input, chunkDays: 2 });
    // Chunks of one day and no days past them: the work late in a day is left beyond its chunk's
    // horizon, priced at the least price after it (the run's own later work could not cost less).
    const days1 = await objectiveBound({ ...input, chunkDays: 1, tailDays: 0 });
    assert.ok(whole.objectiveGbp !== null && halves.objectiveGbp !== null && days1.objectiveGbp !== null);
    // The inflexible power is counted once, whatever the chunks.
    assert.equal(halves.sites[0]?.inflexibleGbp, whole.sites[0]?.inflexibleGbp);
    const jobs = (b: typeof whole) => (b.objectiveGbp === null ? NaN : (b.sites[0]?.jobsGbp ?? NaN));
    // A relaxation: no higher (to the LP's tolerance), and the more chunks the looser.
    assert.ok(jobs(halves) <= jobs(whole) * (1 + 1e-6), `${jobs(halves)} > ${jobs(whole)}`);
    assert.ok(jobs(days1) <= jobs(whole) * (1 + 1e-6), `${jobs(days1)} > ${jobs(whole)}`);
    assert.ok(jobs(halves) >= 0.97 * jobs(whole), `${jobs(halves)} against ${jobs(whole)}`);
    assert.ok(jobs(whole) > 0);
  });
});
