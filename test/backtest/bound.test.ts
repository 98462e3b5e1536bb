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
import { gridDataOf, outturnCarbon, outturnPrice } from '../../src/backtest/signal-view.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';
import type { PlanningProblem } from '../../src/domain/planning.ts';
import { PERIOD_MS, settlementDayStart } from '../../src/domain/settlement-day.ts';
import type { Solver } from '../../src/ports.ts';

const DAY_MS = 86_400_000;

const solver = createPlanningSolver({ work: DEFAULT_WORK });
after(() => solver.close());
const { history } = recordedSource({ kind: 'shipped' });

/** A busy edi from 1 March 2023: `jobDays` days of arrivals and two drain days. */
const busyEdi = (jobDays: number): BoundInput => {
  const allDays = Array.from({ length: jobDays + 2 }, (_, k) => `2023-03-${String(k + 1).padStart(2, '0')}`);
  const start = settlementDayStart(allDays[0] as string);
  const end = start + allDays.length * DAY_MS;
  const dataStart = start - DAY_MS;
  return {
    sites: fleetSites(['edi'], 'busy'),
    allDays,
    jobDays,
    end,
    data: gridDataOf(history, dataStart, (end - dataStart) / PERIOD_MS + 96, 1),
    dataStart,
    carbonGbpPerTonne: 70,
    workload: (s, k, t) => siteDayOf(s, 'busy', 1, k, t),
    solver,
  };
};

const jobsGbp = (b: Awaited<ReturnType<typeof objectiveBound>>): number =>
  b.objectiveGbp === null ? NaN : (b.sites[0]?.jobsGbp ?? NaN);

describe('a bound in chunks', () => {
  it('is below the one-problem bound of the same busy days, and within 3–5 % of it', async () => {
    const input = busyEdi(4);
    const whole = await objectiveBound(input);
    const halves = await objectiveBound({ ...input, chunkDays: 2 });
    // Chunks of one day and no days past them: each horizon still reaches its jobs' deadlines.
    const days1 = await objectiveBound({ ...input, chunkDays: 1, tailDays: 0 });
    assert.ok(whole.objectiveGbp !== null && halves.objectiveGbp !== null && days1.objectiveGbp !== null);
    // The inflexible power is counted once, whatever the chunks.
    assert.equal(halves.sites[0]?.inflexibleGbp, whole.sites[0]?.inflexibleGbp);
    // A relaxation: no higher (to the LP's tolerance), and close; the more chunks the looser.
    for (const [b, within] of [
      [halves, 0.03],
      [days1, 0.05],
    ] as const) {
      assert.ok(jobsGbp(b) <= jobsGbp(whole) * (1 + 1e-6), `${jobsGbp(b)} > ${jobsGbp(whole)}`);
      assert.ok(jobsGbp(b) >= (1 - within) * jobsGbp(whole), `${jobsGbp(b)} against ${jobsGbp(whole)}`);
    }
    assert.ok(jobsGbp(whole) > 0);
  });

  it('prices work left past a chunk at the least price + carbon after it, and reaches past its jobs’ deadlines', async () => {
    const input = busyEdi(8);
    const start = settlementDayStart(input.allDays[0] as string);
    const first = (start - input.dataStart) / PERIOD_MS;
    const slots = (input.end - start) / PERIOD_MS;
    const price = (t: number) =>
      outturnPrice(input.data, first + t) + (70 * outturnCarbon(input.data, first + t)) / 1000;
    const deadlines = new Map<string, number>();
    for (let k = 0; k < input.jobDays; k++)
      for (const j of input.workload(input.sites[0]!, k, start + k * DAY_MS).jobs as ComputeJob[])
        deadlines.set(j.id, j.deadlineAt);
    // Every chunk's problem, as the planner is asked it.
    const problems: PlanningProblem[] = [];
    const recording = {
      ...solver,
      plan: (p: PlanningProblem) => (problems.push(p), solver.plan(p)),
    } as Solver;
    const whole = await objectiveBound(input);
    const chunked = await objectiveBound({ ...input, chunkDays: 2, tailDays: 0, solver: recording });
    assert.equal(problems.length, 4);
    let priced = 0;
    for (const p of problems) {
      const from = (Date.parse(p.start) - start) / PERIOD_MS;
      const to = from + p.slots;
      // Past every job's deadline (or at the run's end).
      for (const j of p.jobs)
        assert.ok(
          to === slots || Math.ceil(((deadlines.get(j.id) as number) - start) / PERIOD_MS) <= to,
          `${j.id} is due after its chunk's horizon`,
        );
      const unserved = p.sites[0]?.unservedPriceGbpPerMwh;
      if (to === slots) {
        assert.equal(unserved, undefined, 'a chunk that reaches the run’s end states no price');
        continue;
      }
      let least = Infinity;
      for (let t = to; t < slots; t++) least = Math.min(least, price(t));
      assert.ok(Math.abs((unserved ?? NaN) - least) < 1e-9, `${unserved} against the least later price ${least}`);
      priced++;
    }
    assert.ok(priced >= 2, 'chunks whose horizon ends before the run does');
    // Bounded from both sides: no higher than the run as one problem, and not far below it.
    assert.ok(jobsGbp(chunked) <= jobsGbp(whole) * (1 + 1e-6), `${jobsGbp(chunked)} > ${jobsGbp(whole)}`);
    assert.ok(jobsGbp(chunked) >= 0.95 * jobsGbp(whole), `${jobsGbp(chunked)} against ${jobsGbp(whole)}`);

    // A cap on jobs per problem ends a chunk early, at a day's end: with room for any one day's
    // arrivals but no two days', each problem holds one day (8 problems, not 4).
    const perDay = Array.from(
      { length: input.jobDays },
      (_, k) => input.workload(input.sites[0]!, k, start + k * DAY_MS).jobs.length,
    );
    const cap = Math.min(...perDay.slice(1).map((n, k) => n + (perDay[k] as number))) - 1;
    assert.ok(cap >= Math.max(...perDay), `days of ${perDay.join(', ')} jobs`);
    problems.length = 0;
    const capped = await objectiveBound({ ...input, chunkDays: 2, tailDays: 0, maxJobs: cap, solver: recording });
    assert.ok(problems.length > 4, `${problems.length} problems`);
    assert.deepEqual(
      problems.map((p) => p.jobs.length),
      perDay,
      'one day of arrivals per problem',
    );
    assert.ok(jobsGbp(capped) <= jobsGbp(chunked) * (1 + 1e-6), `${jobsGbp(capped)} > ${jobsGbp(chunked)}`);
  });
});
