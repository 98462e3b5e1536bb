// Strategies see no signal issued after their decision time (issue 15). The ForecastView hands out
// only values issued by its decision time (price forecasts from published outturns only), and a
// backtest whose recorded prices and actuals change after an instant decides identically before it
// for flexlon and gsf-best-window, while the oracle, which sees outturns, decides differently.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPlanningSolver } from '../../src/compose/solver.ts';
import { PERIOD_MS, settlementDayStart } from '../../src/domain/settlement-day.ts';
import { NATIONAL_REGION_ID } from '../../src/domain/regions.ts';
import { SignalHistory } from '../../src/domain/signal-history.ts';
import { epochMs } from '../../src/domain/time.ts';
import { DEFAULT_WORK } from '../../src/optimise/planner.ts';
import { loadDay } from '../../src/backtest/checkpoint.ts';
import { productWindows } from '../../src/backtest/commitments.ts';
import { runBacktest } from '../../src/backtest/run.ts';
import type { BacktestOptions } from '../../src/backtest/run-options.ts';
import {
  carbonNoise,
  ForecastView,
  gridDataOf,
  newAudit,
  PRICE_LEVEL_HOURS,
  pricePerCarbonAt,
} from '../../src/backtest/signal-view.ts';
import { DAY, DAY_START, halfHour, history, shortJobs, SMALL_SITE, tmp } from './fixtures.ts';

const solver = createPlanningSolver({ work: DEFAULT_WORK });
after(() => solver.close());

const NOON = DAY_START + 12 * 3_600_000;
const basePrice = (t: number): number => 50 + halfHour(t) * 2;
const baseCarbon = (t: number): number => 100 + ((halfHour(t) * 7) % 60);
/** The same history, but every price and carbon actual from noon on DAY is far lower. */
const changed = (f: (t: number) => number) => (t: number) => (t >= NOON ? f(t) / 10 : f(t));

describe('no look-ahead', () => {
  const start = DAY_START - 8 * 86_400_000;
  const periods = 20 * 48;
  const a = gridDataOf(history(basePrice, baseCarbon), start, periods, 1);
  const b = gridDataOf(history(basePrice, baseCarbon, changed(basePrice), changed(baseCarbon)), start, periods, 1);
  const noise = carbonNoise(1);
  const first = (NOON - start) / PERIOD_MS;

  it('a forecast at t is the same whatever is recorded after t', () => {
    const audit = newAudit();
    const va = new ForecastView(a, NOON, noise, audit);
    const vb = new ForecastView(b, NOON, noise);
    for (let i = first - 10; i < first + 96; i++) {
      assert.equal(va.price(i), vb.price(i), `price ${i}`);
      assert.equal(va.carbon(i), vb.carbon(i), `carbon ${i}`);
    }
    assert.ok(audit.reads > 0);
    assert.ok(audit.maxLeadMs <= 0, `a value issued ${audit.maxLeadMs} ms after the decision`);
  });

  it('P415 hours are chosen on the forecast at the notice: later prices cannot move them', () => {
    // Thursday 2 March 2023 is a P415 day; its notice is 14:00 on 1 March. basePrice is dearest in
    // the last hours of the day, so the window is 22:00–24:00.
    const notice = DAY_START + 14 * 3_600_000;
    const reversed = (t: number) => (t >= notice ? 200 - basePrice(t) : basePrice(t));
    const before = (t: number) => (t >= notice - 8 * 86_400_000 ? 200 - basePrice(t) : basePrice(t));
    const windowOf = (price: (t: number) => number) =>
      productWindows(
        ['p415'],
        ['2023-03-02'],
        gridDataOf(history(basePrice, baseCarbon, price), start, periods, 1),
        noise,
      ).map((w) => new Date(w.start).toISOString());
    assert.deepEqual(windowOf(basePrice), ['2023-03-02T22:00:00.000Z']);
    assert.deepEqual(windowOf(reversed), windowOf(basePrice), 'prices recorded after the notice change nothing');
    // Prices published before the notice do count: a week of reversed prices moves the window to
    // what is then dearest, the day's first 2 h.
    assert.deepEqual(windowOf(before), ['2023-03-02T00:00:00.000Z']);
  });

  /** Hours from `v`'s decision to the start of period i. */
  const leadOf = (v: ForecastView, i: number) => Math.max(0, start + i * PERIOD_MS - v.asOf) / 3_600_000;
  /** The carbon term of a forecast at `v`: the carbon vintage's distance from the week's, which repeats daily. */
  const carbonTerm = (v: ForecastView, i: number) =>
    pricePerCarbonAt(leadOf(v, i)) * (v.carbon(i) - baseCarbon(start + i * PERIOD_MS));
  const near = (x: number, y: number) => assert.ok(Math.abs(x - y) < 1e-9, `${x} against ${y}`);

  it("the price forecast is the last day's level plus the half hour's shape, with its carbon term", () => {
    const v = new ForecastView(a, NOON, noise);
    // 18:00 today has not been published at noon. The week repeats daily, so the last 24 h's mean +
    // 18:00's offset from its days' means = its value, + £0.22/MWh (the term 6 h ahead) per gCO2/kWh
    // that its carbon vintage (noisy: 6 h ahead) lies above 18:00's stored forecasts.
    assert.ok(Math.abs(carbonTerm(v, first + 12)) > 1e-6, 'the vintage has noise 6 h ahead');
    near(v.price(first + 12), basePrice(NOON + 6 * 3_600_000) + carbonTerm(v, first + 12));
    // 11:00 today ended by noon: its own outturn.
    assert.equal(v.price(first - 2), basePrice(NOON - 3_600_000));
  });

  it('a Saturday is forecast with the shape of weekends, a Friday with that of weekdays', () => {
    // Weekends run the other way round: dearest at night, cheapest in the evening.
    const weekend = (t: number) => [0, 6].includes(new Date(t).getUTCDay());
    const twoShapes = (t: number) => (weekend(t) ? 200 - basePrice(t) : basePrice(t));
    const friday = DAY_START + 2 * 86_400_000 + 12 * 3_600_000;
    const v = new ForecastView(gridDataOf(history(twoShapes, baseCarbon), start, periods, 1), friday, noise);
    const at = (t: number) => v.price((t - start) / PERIOD_MS);
    const hour = 3_600_000;
    assert.ok(at(friday + 10 * hour) > at(friday + 2 * hour) + 20, 'Friday 22:00 dearer than 14:00');
    const saturday = friday + 12 * hour;
    assert.ok(at(saturday + 1 * hour) > at(saturday + 22 * hour) + 60, 'Saturday 01:00 dearer than 22:00');
  });

  it('the forecast follows the local clock and does not depend on where the data starts', () => {
    // Prices that repeat every local day across the clock change of 26 March 2023; one run's data
    // starts before it (in GMT), the other's after it (in BST, at 23:00 UTC).
    const local = (t: number) => halfHour(t + (t >= Date.UTC(2023, 2, 26, 1) ? 3_600_000 : 0));
    const h = new SignalHistory();
    for (let t = Date.UTC(2023, 2, 1); t < Date.UTC(2023, 3, 20); t += PERIOD_MS)
      h.put(
        NATIONAL_REGION_ID,
        epochMs(t),
        { carbonForecast: 150, carbonActual: 150, price: 40 + 3 * local(t), priceVolume: 100 },
        { file: 'test' },
      );
    const asOf = Date.UTC(2023, 3, 5, 12);
    const early = settlementDayStart('2023-03-06');
    const late = settlementDayStart('2023-03-29');
    const a = new ForecastView(gridDataOf(h, early, 45 * 48, 1), asOf, noise);
    // Read a later decision first: what it works out and keeps must not change the earlier one.
    new ForecastView(gridDataOf(h, early, 45 * 48, 1), asOf + 86_400_000, noise).price(1800);
    const b = new ForecastView(gridDataOf(h, late, 20 * 48, 1), asOf, noise);
    for (let t = asOf; t < asOf + 48 * PERIOD_MS; t += PERIOD_MS) {
      const [x, y] = [a.price((t - early) / PERIOD_MS), b.price((t - late) / PERIOD_MS)];
      near(x, y);
      // Less the carbon term (the stored forecast is flat; its vintage has noise), the day's price.
      const i = (t - early) / PERIOD_MS;
      near(x - pricePerCarbonAt((t - asOf) / 3_600_000) * (a.carbon(i) - 150), 40 + 3 * local(t));
    }
  });

  it("the forecast carries the day's level: the last published half hour's error, fading with the lead", () => {
    // The two hours before noon ran £40/MWh above the same half hours of the days before. The last
    // 24 h's mean carries 4 of those 48 half hours (£3.33 on every forecast); the rest of the £40 is
    // the last half hour's error, which fades.
    const high = (t: number) => basePrice(t) + (t >= NOON - 2 * 3_600_000 && t < NOON ? 40 : 0);
    const v = new ForecastView(gridDataOf(history(basePrice, baseCarbon, high), start, periods, 1), NOON, noise);
    const raised = (40 * 4) / 48;
    const expected = (i: number, leadH: number) =>
      basePrice(start + i * PERIOD_MS) +
      raised +
      (40 - raised) * Math.exp(-leadH / PRICE_LEVEL_HOURS) +
      carbonTerm(v, i);
    near(v.price(first), expected(first, 0));
    near(v.price(first), basePrice(NOON) + 40 + carbonTerm(v, first));
    near(v.price(first + 12), expected(first + 12, 6));
    // A day ahead the error has all but faded: under £1 above the raised level.
    near(v.price(first + 48), expected(first + 48, 24));
    assert.ok(v.price(first + 48) - carbonTerm(v, first + 48) - basePrice(NOON) - raised < 1);
    // At 11:00 only 10:00–11:00 of the high hours is published: the last 24 h's mean holds two of
    // them, and the last half hour's error is the rest of its £40.
    const early = new ForecastView(
      gridDataOf(history(basePrice, baseCarbon, high), start, periods, 1),
      NOON - 3_600_000,
      noise,
    );
    const half = (40 * 2) / 48;
    near(
      early.price(first),
      basePrice(NOON) + half + (40 - half) * Math.exp(-1 / PRICE_LEVEL_HOURS) + carbonTerm(early, first),
    );
    // The last half hour has no MID (a missing or zero-volume period): the level is the error of
    // the one before, not 0 (which would leave only the £2.55 the last 24 h's mean carries).
    const gap = (t: number) => (t >= NOON - PERIOD_MS && t < NOON ? NaN : high(t));
    const g = new ForecastView(gridDataOf(history(basePrice, baseCarbon, gap), start, periods, 1), NOON, noise);
    assert.ok(g.price(first) - basePrice(NOON) - carbonTerm(g, first) > 35, `${g.price(first)}`);
    // A week that repeats itself has no level to carry.
    const flat = new ForecastView(a, NOON, noise);
    near(flat.price(first + 12), basePrice(NOON + 6 * 3_600_000) + carbonTerm(flat, first + 12));
  });

  it('a half hour forecast 50 gCO2/kWh above its days is forecast dearer: £5/MWh now, £10.83 6 h ahead, near £12.50 a day ahead', () => {
    // From noon on the day every stored carbon forecast is 50 g higher; the prices repeat the week.
    const higher = (t: number) => baseCarbon(t) + (t >= NOON ? 50 : 0);
    const v = new ForecastView(gridDataOf(history(basePrice, higher), start, periods, 1), NOON, noise);
    const w = new ForecastView(a, NOON, noise);
    // The same noise path: the vintages differ by the 50 g alone.
    near(v.carbon(first + 12) - w.carbon(first + 12), 50);
    // The term is weaker near the decision, where the day's level already says most.
    near(v.price(first) - w.price(first), 50 * 0.1);
    near(v.price(first + 12) - w.price(first + 12), 50 * (0.25 - 0.15 * Math.exp(-6 / 4)));
    near(v.price(first + 48) - w.price(first + 48), 50 * (0.25 - 0.15 * Math.exp(-24 / 4)));
    // Stored forecasts of periods after the decision reach the price forecast only through the carbon
    // vintage the view hands out (centred on them: docs/backtest.md, "Forecast vintages", a caveat).
    for (let i = first; i < first + 96; i++)
      near(v.price(i) - w.price(i), pricePerCarbonAt(leadOf(v, i)) * (v.carbon(i) - w.carbon(i)));
  });

  it("the day's level takes out the last half hour's carbon term at the weight of the lead it corrects", () => {
    // Only the last published half hour (11:30–12:00) was forecast 48 gCO2/kWh dirtier than its days,
    // at the same price: the forecast then ran 0.25 × 48 too dear there by the day-ahead weight, but
    // each half hour ahead is corrected with its own lead's weight w: the last 24 h's carbon mean is
    // 1 g higher (so every half hour ahead reads 1 g cleaner), and the level's error is the price
    // less w × 47 g, fading as the level does: the forecast moves by −w × (1 + 47 × fade).
    const blip = (t: number) => baseCarbon(t) + (t >= NOON - PERIOD_MS && t < NOON ? 48 : 0);
    const v = new ForecastView(gridDataOf(history(basePrice, blip), start, periods, 1), NOON, noise);
    const w = new ForecastView(a, NOON, noise);
    const moved = (leadH: number) => -pricePerCarbonAt(leadH) * (1 + 47 * Math.exp(-leadH / PRICE_LEVEL_HOURS));
    near(v.price(first) - w.price(first), moved(0));
    near(v.price(first) - w.price(first), -4.8);
    near(v.price(first + 12) - w.price(first + 12), moved(6));
  });

  it('flexlon and gsf-best-window decide the same before t whatever happens after t; the oracle does not', async () => {
    const run = async (h: BacktestOptions['history']) => {
      const o: BacktestOptions = {
        from: DAY,
        to: DAY,
        sites: ['edi'],
        fleet: 'busy',
        strategies: ['gsf-best-window', 'flexlon', 'oracle'],
        seed: 1,
        out: tmp(),
        history: h,
        solver,
        fleetSites: [SMALL_SITE],
        workload: (_s, k, dayStart) => ({
          jobs: k === 0 ? shortJobs(30, dayStart).map((j, n) => ({ ...j, id: `edi-${n}` })) : [],
          inferenceKw: [0],
        }),
      };
      const out = await runBacktest(o);
      return { rows: loadDay(o.out, 0).rows, audits: out.audits };
    };
    const ra = await run(history(basePrice, baseCarbon));
    const rb = await run(history(basePrice, baseCarbon, changed(basePrice), changed(baseCarbon)));
    const before = (rows: { t: number; siteKwh: readonly number[] }[] | undefined) =>
      (rows ?? []).filter((r) => r.t < NOON).map((r) => r.siteKwh[0]);
    for (const name of ['gsf-best-window', 'flexlon']) {
      assert.deepEqual(before(ra.rows[name]), before(rb.rows[name]), name);
      assert.ok((ra.audits[name]?.reads ?? 0) > 0);
      assert.ok((ra.audits[name]?.maxLeadMs ?? 1) <= 0);
    }
    assert.notDeepEqual(before(ra.rows.oracle), before(rb.rows.oracle));
  });
});
