// How much of a product window's pay a site's jobs see (src/backtest/window-choice.ts): none where
// the site's battery can carry the whole site through the window, all of it without a battery, and
// the plan at the notice follows: jobs kept out of the window only where that can still pay.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPlanningSolver } from '../../src/compose/solver.ts';
import { DEFAULT_WORK } from '../../src/optimise/planner.ts';
import type { PlannerStrategy } from '../../src/backtest/planner-strategy.ts';
import { flexlonWith, recordedAround } from './fixtures.ts';
import type { ProductWindow } from '../../src/backtest/product-calendar.ts';
import { SiteSim } from '../../src/backtest/site-sim.ts';
import type { SimJob } from '../../src/backtest/sim-job.ts';
import type { SiteBattery } from '../../src/backtest/site-battery.ts';
import { batteryCoverKw, jobShareOfPay, type WindowTerms } from '../../src/backtest/window-choice.ts';
import { SIM_SITES } from '../../src/sim/sites.ts';
import { ForecastView } from '../../src/backtest/signal-view.ts';
import { PERIOD_MS } from '../../src/domain/settlement-day.ts';

// cdf's: 400 kWh, 200 kW each way, 40–360 kWh usable.
const cdf = (SIM_SITES.find((x) => x.id === 'cdf') as { battery: SiteBattery }).battery;
const terms = (fixedKw: number, periods: number): WindowTerms => ({
  site: 'x',
  baselineKw: new Array<number>(periods).fill(200),
  fixedKw: new Array<number>(periods).fill(fixedKw),
});

describe("the jobs' share of a window's pay", () => {
  it('is all of it without a battery, none where the battery carries the whole site', () => {
    assert.equal(jobShareOfPay(terms(20, 6), { jobsMaxKw: 50, pue: 1.2 }, 0.5), 1);
    // 3 h from 320 kWh usable: 106.7 kW; the site at full load is 20 + 60 kW.
    assert.ok(Math.abs(batteryCoverKw(cdf, 3) - 320 / 3) < 1e-9);
    assert.equal(jobShareOfPay(terms(20, 6), { jobsMaxKw: 50, pue: 1.2, battery: cdf }, 0.5), 0);
    // An hour: the battery's 200 kW, beyond a site of 60 + 120 kW.
    assert.equal(jobShareOfPay(terms(60, 2), { jobsMaxKw: 100, pue: 1.2, battery: cdf }, 0.5), 0);
  });

  it('is the share of the jobs at full load the battery cannot carry', () => {
    // 3 h: 106.7 kW, 40.7 kW of it beyond the fixed 66 kW, against jobs of 100 × 1.2 kW.
    const share = jobShareOfPay(terms(66, 6), { jobsMaxKw: 100, pue: 1.2, battery: cdf }, 0.5);
    assert.ok(Math.abs(share - (1 - (320 / 3 - 66) / 120)) < 1e-9, `share ${share}`);
    // A battery that cannot cover the fixed load leaves the jobs all of it.
    assert.equal(jobShareOfPay(terms(150, 6), { jobsMaxKw: 100, pue: 1.2, battery: cdf }, 0.5), 1);
  });
});

describe('a plan at the notice of a window', () => {
  const solver = createPlanningSolver({ work: DEFAULT_WORK });
  after(() => solver.close());
  const { start, dataStart, data, noise } = recordedAround('2023-01-23');
  const notice = start + 24 * PERIOD_MS;
  const strategy = (windows: ProductWindow[]) => flexlonWith(solver, windows);
  /** A 16-GPU pool (10 kW idle, 60 kW busy) with one job of every GPU for 3 h, due in 20 h. */
  const site = (battery?: SiteBattery) => {
    const sim = new SiteSim({
      id: 'x',
      gpus: 16,
      trainingIdleKw: 10,
      trainingMaxKw: 60,
      pue: 1.2,
      ...(battery ? { battery } : {}),
    });
    const job: SimJob = {
      id: 'train',
      gpus: 16,
      powerKw: 50,
      energyKwh: 150,
      remainingKwh: 150,
      submittedAt: notice,
      releaseAt: notice,
      deadlineAt: notice + 20 * 3_600_000,
      work: 48,
    };
    sim.add([job]);
    sim.arrive(notice);
    return sim;
  };
  /** The job's planned IT power (kW) over the next 48 periods by the plan made at the notice. */
  const planAt = async (s: PlannerStrategy, sim: SiteSim, window?: ProductWindow) => {
    if (window)
      s.announce(window, [
        { site: 'x', baselineKw: new Array<number>(6).fill(80), fixedKw: new Array<number>(6).fill(12) },
      ]);
    const period = (notice - dataStart) / PERIOD_MS;
    await s.decide({ now: notice, period, sites: [sim], view: new ForecastView(data, notice, noise) });
    return Array.from({ length: 48 }, (_, p) => s.plannedJobsKw('x', period + p));
  };

  it('keeps the jobs out of it without a battery, and plans as if unannounced where the battery carries the site', async () => {
    const plain = await planAt(strategy([]), site(cdf));
    const first = plain.findIndex((kw) => kw > 1);
    assert.ok(first > 0, `the job is planned after the notice: ${plain.join(' ')}`);
    // A DSO peak-reduction window over the 3 h the job is planned in.
    const window: ProductWindow = {
      product: 'dso-peak',
      date: '2023-01-23',
      noticeAt: notice,
      start: notice + first * PERIOD_MS,
      periods: 6,
      fromSlot: 24 + first,
      source: 'test',
    };
    const inWindow = (kw: number[]) => kw.slice(first, first + 6).reduce((a, b) => a + b * 0.5, 0);
    assert.ok(inWindow(plain) > 100, `without the window the job runs in it: ${inWindow(plain)} kWh`);
    const bareStrategy = strategy([window]);
    const bare = await planAt(bareStrategy, site(), window);
    assert.ok(inWindow(bare) < 1, `no battery: the job keeps out of the window (${inWindow(bare)} kWh)`);
    const s = strategy([window]);
    const backed = await planAt(s, site(cdf), window);
    assert.deepEqual(backed, plain, "cdf's battery carries the whole site: the job is planned as without the window");
    // So its battery is planned, and its commitment made, for a full cluster in the window; without a
    // battery the jobs keep out of it and the plan is what is committed.
    assert.equal(s.batteryCarries('x', window.start), true);
    assert.equal(s.batteryCarries('x', window.start - PERIOD_MS), false);
    assert.equal(bareStrategy.batteryCarries('x', window.start), false);
    // The share is kept through a checkpoint.
    const resumed = strategy([window]);
    resumed.load(JSON.parse(JSON.stringify(s.save())));
    assert.deepEqual(Object.values((resumed.save() as { jobShare: Record<string, number> }).jobShare), [0]);
  });
});
