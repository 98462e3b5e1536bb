// A commitment's hold (src/backtest/planner-strategy.ts holdImport): in each period of a committed
// window flexlon's battery setpoint carries the import cap the site must stay under, only there; the
// hold survives a checkpoint and is dropped once its period has passed.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPlanningSolver } from '../../src/compose/solver.ts';
import { DEFAULT_WORK } from '../../src/optimise/planner.ts';
import type { PlannerStrategy } from '../../src/backtest/planner-strategy.ts';
import { flexlonWith, recordedAround } from './fixtures.ts';
import type { ProductWindow } from '../../src/backtest/product-calendar.ts';
import { SiteSim } from '../../src/backtest/site-sim.ts';
import type { SiteBattery } from '../../src/backtest/site-battery.ts';
import { SIM_SITES } from '../../src/sim/sites.ts';
import { ForecastView } from '../../src/backtest/signal-view.ts';
import { PERIOD_MS } from '../../src/domain/settlement-day.ts';

const solver = createPlanningSolver({ work: DEFAULT_WORK });
after(() => solver.close());
// 23 January 2023, with a week of grid data before it for the forecasts.
const { start, dataStart, data, noise } = recordedAround('2023-01-23');
// cdf's: 400 kWh, 200 kW each way, 88 % round trip, 40–360 kWh, £40 per MWh discharged.
const cdf = (SIM_SITES.find((x) => x.id === 'cdf') as { battery: SiteBattery }).battery;

/** A small training pool behind cdf's battery, holding `socKwh` at the start. */
const site = (socKwh = cdf.initialSocKwh) =>
  new SiteSim({
    id: 'cdf',
    gpus: 16,
    trainingIdleKw: 10,
    trainingMaxKw: 60,
    pue: 1.2,
    battery: { ...cdf, initialSocKwh: socKwh },
  });

const flexlon = (windows: ProductWindow[] = []) => flexlonWith(solver, windows);

/** The decision context at period `k` of the day. */
const at = (sim: SiteSim, k: number) => {
  const now = start + k * PERIOD_MS;
  return { now, period: (now - dataStart) / PERIOD_MS, sites: [sim], view: new ForecastView(data, now, noise) };
};

describe('a battery holding a committed window', () => {
  it('gives the cap in the window only, keeps it through a checkpoint, and drops it after', async () => {
    const sim = site();
    const strategy = flexlon();
    const setpoint = async (s: PlannerStrategy, k: number) => (await s.decide(at(sim, k))).battery?.('cdf');
    // The window is periods 34–35 of the day (17:00–18:00 UTC): import at most 30 and 25 kW there.
    strategy.holdImport('cdf', at(sim, 34).period, [30, 25]);
    assert.equal((await setpoint(strategy, 33))?.importCapKw, undefined);
    assert.equal((await setpoint(strategy, 34))?.importCapKw, 30);
    // A resumed run has it too.
    const resumed = flexlon();
    resumed.load(JSON.parse(JSON.stringify(strategy.save())));
    assert.equal((await setpoint(resumed, 35))?.importCapKw, 25);
    const later = await setpoint(resumed, 36);
    assert.ok(later, 'the battery still has a plan');
    assert.equal(later.importCapKw, undefined);
    assert.deepEqual((resumed.save() as { holds: Record<string, object> }).holds, { cdf: {} });
    // Two windows announced for the same periods: the stricter cap holds.
    strategy.holdImport('cdf', at(sim, 40).period, [50]);
    strategy.holdImport('cdf', at(sim, 40).period, [45]);
    assert.equal((await setpoint(strategy, 40))?.importCapKw, 45);
  });

  it('plans for an announced window until it is found unpriceable, then no longer', async () => {
    // A DFS hour at W:00 UTC (periods 2W and 2W + 1), announced at 00:00; the battery starts at its
    // floor. At 13:00, not in the evening peak, where the forecast price alone (dearer where the carbon
    // forecast is) already has the battery discharge all the site draws, priced or not.
    const W = 13;
    const window: ProductWindow = {
      product: 'dfs',
      date: '2023-01-23',
      noticeAt: start,
      start: start + 2 * W * PERIOD_MS,
      periods: 2,
      fromSlot: 2 * W,
      source: 'test',
    };
    const discharge = async (s: PlannerStrategy) => {
      const sim = site(cdf.minSocKwh);
      let kwh = 0;
      for (let k = 0; k < 2 * W + 2; k++) {
        const d = await s.decide(at(sim, k));
        const m = sim.step(at(sim, k).now, d.eligible, d.order, 10, d.early, d.battery?.('cdf'));
        if (k >= 2 * W) kwh += m.battery?.dischargedKwh ?? 0;
      }
      return kwh;
    };
    // Priced at £300/MWh, the hour is worth filling the battery for; once unpriced (no baseline at its
    // notice) it is an ordinary afternoon hour again.
    const priced = await discharge(flexlon([window]));
    const unpriced = flexlon([window]);
    unpriced.unprice(window);
    const plain = await discharge(unpriced);
    assert.ok(priced > plain + 10, `discharged in the window: ${priced} kWh priced, ${plain} kWh unpriced`);
    assert.ok((JSON.parse(JSON.stringify(unpriced.save())) as { unpriced: string[] }).unpriced.length === 1);
  });
});
