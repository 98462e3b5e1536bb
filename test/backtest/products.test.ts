// Flexibility products in the backtest (issue 15), against cases worked out by hand: a DFS event of
// known kW and price pays min(delivered, accepted) × price; a DSO peak reduction pays availability
// and utilisation times the WPD/NGED factor; P415 sells the deviation at MID with the supplier's
// compensation stated, not charged; recalibration after a delivery corrects the next commitment.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPlanningSolver } from '../../src/compose/solver.ts';
import { DEFAULT_WORK } from '../../src/optimise/planner.ts';
import { loadDay } from '../../src/backtest/checkpoint.ts';
import { runBacktest } from '../../src/backtest/run.ts';
import { history, shortJobs, SMALL_SITE, tmp } from './fixtures.ts';
import { SIM_SITES } from '../../src/compose/market.ts';
import { PERIOD_MS, settlementDayStart } from '../../src/domain/settlement-day.ts';
import { fleetSites, SITE_IDS } from '../../src/backtest/fleet.ts';
import { sloClassOf, summarise } from '../../src/backtest/metrics.ts';
import type { MeterSource, Offer } from '../../src/backtest/products.ts';
import { settleOffers } from '../../src/backtest/product-settlement.ts';
import { DFS_LIVE_EVENTS, productCalendar, type ProductWindow } from '../../src/backtest/product-calendar.ts';
import { fitPower } from '../../src/backtest/recalibration.ts';
import type { DayChunk } from '../../src/backtest/checkpoint.ts';
import { thinBaselines } from '../../src/backtest/report-products.ts';

/** A site metering `base` kW in every period of every day, except the overrides (date → slot → kW). */
const meter = (base: number, over: Record<string, Record<number, number>> = {}, price = 100): MeterSource => ({
  day: (_, date) => {
    if (date < '2023-01-01') return undefined;
    return Array.from({ length: 48 }, (_, s) => over[date]?.[s] ?? base);
  },
  price: () => price,
});

const window = (product: ProductWindow['product'], date: string, fromSlot: number, periods: number): ProductWindow => ({
  product,
  date,
  noticeAt: settlementDayStart(date) - 10 * 3_600_000,
  start: settlementDayStart(date) + fromSlot * PERIOD_MS,
  periods,
  fromSlot,
  source: 'test',
});

const offer = (w: ProductWindow, predictedKw: number, baselineKw = 100): Offer => ({
  product: w.product,
  site: 'edi',
  siteIndex: 0,
  date: w.date,
  noticeAt: w.noticeAt,
  start: w.start,
  periods: w.periods,
  fromSlot: w.fromSlot,
  predictedKw: Array(w.periods).fill(predictedKw) as number[],
  baselineKw: Array(w.periods).fill(baselineKw) as number[],
});

// Tuesday 24 January 2023, 17:00–18:00 (SP35–36): working days before it metered 100 kW throughout.
const DFS = window('dfs', '2023-01-24', 34, 2);

describe('backtest flexibility products', () => {
  it('a DFS event pays min(delivered, accepted) × the pay-as-bid price', () => {
    // Plan expects 70 kW against a 100 kW baseline: 30 kW committed. Metered 60 kW: 40 kW delivered.
    const r = settleOffers([offer(DFS, 70)], [DFS], meter(100, { '2023-01-24': { 34: 60, 35: 60 } }), ['dfs']);
    const s = r.settledOffers[0];
    assert.equal(s?.committedKw.raw, 30);
    assert.equal(s?.deliveredKwh, 40);
    // min(40 × 0.5, 30 × 0.5) = 15 kWh per period, 30 kWh × £300/MWh = £9.00.
    assert.equal(s?.paymentGbp.raw, 9);
    assert.equal(r.byProduct.dfs?.revenueGbp, 9);
    // Delivering less than accepted pays what was delivered (no penalty): 10 kW delivered → £3.00.
    const short = settleOffers([offer(DFS, 70)], [DFS], meter(100, { '2023-01-24': { 34: 90, 35: 90 } }), ['dfs']);
    assert.equal(short.settledOffers[0]?.paymentGbp.raw, 3);
  });

  it('says when a window settled on fewer baseline days than BL01 wants (a run that starts just before it)', () => {
    const full = settleOffers([offer(DFS, 70)], [DFS], meter(100), ['dfs']);
    assert.deepEqual(full.settledOffers[0]?.baselineDays, { used: 10, wanted: 10 });
    assert.equal(thinBaselines({ flexlon: full }), '');
    // Metered from Friday 20 January only: the Tuesday's baseline has the Friday and the Monday.
    const late: MeterSource = {
      ...meter(100),
      day: (s, date) => (date < '2023-01-20' ? undefined : meter(100).day(s, date)),
    };
    const thin = settleOffers([offer(DFS, 70)], [DFS], late, ['dfs']);
    assert.deepEqual(thin.settledOffers[0]?.baselineDays, { used: 2, wanted: 10 });
    assert.match(thinBaselines({ flexlon: thin }), /dfs 2023-01-24 \(2 of 10 days: flexlon at edi\)/);
  });

  it('a DSO peak reduction pays availability and utilisation times the WPD factor', () => {
    const w = window('dso-peak', '2023-01-24', 32, 6);
    // 30 kW committed for 3 h; 20 kW delivered: share 2/3, factor 1 − 3 × (1/3 − 0.05) = 0.15.
    const r = settleOffers(
      [offer(w, 70)],
      [w],
      meter(100, { '2023-01-24': { 32: 80, 33: 80, 34: 80, 35: 80, 36: 80, 37: 80 } }),
      ['dso-peak'],
    );
    // utilisation 600 × 0.060 MWh = £36.00; availability 12 × 0.030 MW × 3 h = £1.08; × 0.15 = £5.56.
    assert.equal(r.settledOffers[0]?.paymentGbp.raw, 5.56);
    assert.equal(r.byProduct['dso-peak']?.availabilityGbp, 1.08);
  });

  it('P415 sells the deviation at MID and states the supplier compensation without charging it', () => {
    const w = window('p415', '2023-01-24', 34, 4);
    // 40 kW below the baseline for 2 h: 80 kWh × £100/MWh = £8.00.
    const r = settleOffers([offer(w, 60)], [w], meter(100, { '2023-01-24': { 34: 60, 35: 60, 36: 60, 37: 60 } }, 100), [
      'p415',
    ]);
    assert.equal(r.settledOffers[0]?.deviationValueGbp, 8);
    assert.equal(r.byProduct.p415?.revenueGbp, 8);
    assert.equal(r.byProduct.p415?.supplierCompensationGbp, 8);
    assert.equal(r.totalGbp, 8, 'the compensation is not subtracted from the site');
    // Using more than the baseline is a negative deviation, paid for at MID.
    const up = settleOffers([offer(w, 60)], [w], meter(100, { '2023-01-24': { 34: 120, 35: 120, 36: 120, 37: 120 } }), [
      'p415',
    ]);
    assert.equal(up.totalGbp, -4);
  });

  it('no baseline days before the event: the offer is not settled, and says why', () => {
    // Tuesday 3 January 2023: the only days metered before it are a Sunday and a bank holiday.
    const w = window('dfs', '2023-01-03', 34, 2);
    const r = settleOffers([offer(w, 70)], [w], meter(100), ['dfs']);
    assert.equal(r.settledOffers.length, 0);
    assert.match(r.unsettled[0]?.reason ?? '', /no settlement baseline/);
  });

  it('recalibration after a delivery corrects the next commitment', () => {
    // The plan expects 70 kW each time; the site meters 90 kW in each window (20 kW more than the plan).
    // The first window is delivered before the second's notice (14:00 the day before).
    const w1 = window('dfs', '2023-01-19', 34, 2);
    const w2 = DFS;
    const m = meter(100, { '2023-01-19': { 34: 90, 35: 90 }, '2023-01-24': { 34: 90, 35: 90 } });
    const r = settleOffers([offer(w1, 70), offer(w2, 70)], [w1, w2], m, ['dfs']);
    // First: no delivery seen yet, both commit 30 kW. Second: the model has learnt +20 kW: 10 kW.
    assert.deepEqual(
      r.settledOffers.map((x) => x.committedKw),
      [
        { recalibrated: 30, raw: 30 },
        { recalibrated: 10, raw: 30 },
      ],
    );
    const a = r.offerAccuracy;
    // Delivered 10 kW × 1 h = 10 kWh each time; committed 30 kWh twice without, 30 then 10 with.
    assert.equal(a.withoutRecalibration.meanAbsErrorKwh, 20);
    assert.equal(a.withRecalibration.meanAbsErrorKwh, 10);
    assert.equal(a.withRecalibration.deliveredAtLeast95Share, 0.5);
    assert.equal(a.withoutRecalibration.deliveredAtLeast95Share, 0);
  });

  it('a window that could not be settled still teaches the power model', () => {
    // The first offer has no baseline at its notice (nothing settled), but its readings are metered.
    const w1 = window('dso-peak', '2023-01-19', 34, 2);
    const m = meter(100, { '2023-01-19': { 34: 90, 35: 90 }, '2023-01-24': { 34: 90, 35: 90 } });
    const r = settleOffers([{ ...offer(w1, 70), baselineKw: null }, offer(DFS, 70)], [w1, DFS], m, ['dfs', 'dso-peak']);
    assert.equal(r.unsettled.length, 1);
    assert.deepEqual(r.settledOffers[0]?.committedKw, { recalibrated: 10, raw: 30 });
    assert.equal(r.byProduct.dfs?.offerAccuracy.withRecalibration.meanAbsErrorKwh, 0);
    assert.equal(r.byProduct.dfs?.offerAccuracy.withoutRecalibration.meanAbsErrorKwh, 20);
    // Withdrawn (the strategy stopped planning for it), its prediction is not the plan's: it teaches nothing.
    const w = settleOffers([{ ...offer(w1, 70), baselineKw: null, withdrawn: true }, offer(DFS, 70)], [w1, DFS], m, [
      'dfs',
      'dso-peak',
    ]);
    assert.match(w.unsettled[0]?.reason ?? '', /withdrawn/);
    assert.deepEqual(w.settledOffers[0]?.committedKw, { recalibrated: 30, raw: 30 });
  });

  it('a commitment its battery carries, made for a full cluster, is neither recalibrated nor teaches the model', () => {
    const w1 = window('dfs', '2023-01-19', 34, 2);
    const m = meter(100, { '2023-01-19': { 34: 90, 35: 90 }, '2023-01-24': { 34: 90, 35: 90 } });
    // After an ordinary delivery 20 kW above the plan, a battery-carried offer keeps its 30 kW.
    const carried = settleOffers([offer(w1, 70), { ...offer(DFS, 70), batteryCarried: true }], [w1, DFS], m, ['dfs']);
    assert.deepEqual(carried.settledOffers[1]?.committedKw, { recalibrated: 30, raw: 30 });
    // Before an ordinary one, it teaches nothing: the next offer is committed as if nothing was seen.
    const first = settleOffers([{ ...offer(w1, 70), batteryCarried: true }, offer(DFS, 70)], [w1, DFS], m, ['dfs']);
    assert.deepEqual(first.settledOffers[1]?.committedKw, { recalibrated: 30, raw: 30 });
  });

  it('fits the bias alone from few points and the gain from enough', () => {
    assert.deepEqual(fitPower([{ predictedKw: 70, meteredKw: 90 }]), { offsetKw: 20, gain: 1, points: 1 });
    const pairs = Array.from({ length: 10 }, (_, i) => ({
      predictedKw: 50 + 10 * i,
      meteredKw: 10 + 1.2 * (50 + 10 * i),
    }));
    const f = fitPower(pairs);
    assert.ok(Math.abs(f.gain - 1.2) < 1e-9 && Math.abs(f.offsetKw - 10) < 1e-9, JSON.stringify(f));
  });

  it('calls DFS on its dated live events, DSO peak and P415 by their rules', () => {
    const days = ['2023-01-18', '2023-01-19', '2023-01-20', '2023-01-21', '2023-01-22', '2023-01-23', '2023-01-24'];
    // A forecast dearest from 18:00 to 20:00 UTC.
    const dear = () => (t: number) => (new Date(t).getUTCHours() >= 18 && new Date(t).getUTCHours() < 20 ? 200 : 50);
    const ws = productCalendar(['dfs', 'dso-peak', 'p415'], days, dear);
    const dfs = ws.filter((w) => w.product === 'dfs');
    assert.deepEqual(
      dfs.map((w) => [w.date, new Date(w.start).toISOString(), w.periods]),
      [
        ['2023-01-23', '2023-01-23T17:00:00.000Z', 2],
        ['2023-01-24', '2023-01-24T17:00:00.000Z', 2],
      ],
    );
    assert.ok(DFS_LIVE_EVENTS.every((e) => e.source.length > 20));
    // Working days from 2023-01-03 (2 January a bank holiday): 18 January is the 12th (index 11).
    assert.deepEqual(
      ws.filter((w) => w.product === 'dso-peak').map((w) => w.date),
      ['2023-01-19'],
    );
    // 23 January (index 14) would be P415's, but DFS has that day.
    assert.deepEqual(
      ws.filter((w) => w.product === 'p415').map((w) => w.date),
      [],
    );
    const summer = productCalendar(
      ['dso-peak', 'p415'],
      ['2023-06-05', '2023-06-06', '2023-06-07', '2023-06-08'],
      dear,
    );
    assert.equal(summer.filter((w) => w.product === 'dso-peak').length, 0, 'DSO peak is a winter product');
    const p = summer.filter((w) => w.product === 'p415');
    assert.equal(p.length, 1);
    // BST: 18:00 UTC is 19:00 local, SP 39 (slot 38); the notice is 14:00 local the day before.
    assert.equal(new Date(p[0]?.start ?? 0).toISOString().slice(11, 16), '18:00');
    assert.equal(p[0]?.periods, 4);
    assert.equal(new Date(p[0]?.noticeAt ?? 0).toISOString().slice(11, 16), '13:00');
  });

  it('keeps the rule days of 2023 whether the run starts in 2023 or on 2 December 2022', () => {
    const span = (from: string, n: number) =>
      Array.from({ length: n }, (_, k) =>
        new Date(Date.parse(`${from}T00:00Z`) + k * 86_400_000).toISOString().slice(0, 10),
      );
    const dear = () => () => 50;
    const in2023 = productCalendar(['dso-peak', 'p415'], span('2023-01-01', 31), dear).map(
      (w) => `${w.product} ${w.date}`,
    );
    const fromDecember = productCalendar(['dso-peak', 'p415'], span('2022-12-02', 61), dear).map(
      (w) => `${w.product} ${w.date}`,
    );
    assert.deepEqual(
      fromDecember.filter((w) => w.slice(-10) >= '2023-01-01'),
      in2023,
    );
    // December's working days count back from 2023-01-01 (the 26th and 27th bank holidays): the
    // 30th is index −1, the 29th −2 (P415's), the 28th −3 and the 23rd −4 (DSO peak's).
    assert.ok(
      fromDecember.includes('p415 2022-12-29') && fromDecember.includes('dso-peak 2022-12-23'),
      fromDecember.join(),
    );
    assert.ok(!fromDecember.includes('dso-peak 2022-12-28') && !fromDecember.includes('p415 2022-12-27'));
  });
});

describe('backtest fleet and SLO classes', () => {
  it('sizes the sites from SIM_SITES', () => {
    assert.deepEqual(SITE_IDS, ['lon', 'man', 'edi']);
    const sized = fleetSites(SITE_IDS, 'busy');
    for (const s of sized) assert.equal(s.trainingNodes, SIM_SITES.find((x) => x.id === s.spec.id)?.trainingNodes);
  });

  it('reports deadlines and delay per slack class', () => {
    assert.equal(sloClassOf(7.9), 'tight');
    assert.equal(sloClassOf(8), 'loose');
    const chunk: DayChunk = {
      date: '2023-01-24',
      rows: { fifo: [] },
      finished: {
        fifo: [
          { id: 'a', gpus: 8, waitH: 1, lateH: -1, lateGpuH: 0, work: 8, slackH: 4 },
          { id: 'b', gpus: 8, waitH: 6, lateH: 2, lateGpuH: 8, work: 8, slackH: 5 },
          { id: 'c', gpus: 8, waitH: 3, lateH: -5, lateGpuH: 0, work: 8, slackH: 12 },
        ],
      },
    };
    const { summary } = summarise([chunk], ['fifo'], {}, 70);
    const c = summary.fifo?.slo.byClass;
    assert.deepEqual(c?.tight, {
      jobsFinished: 2,
      deadlinesMetShare: 0.5,
      meanWaitH: 3.5,
      p95WaitH: 6,
      meanLateH: 1,
      p95LateH: 2,
    });
    assert.deepEqual(c?.loose, {
      jobsFinished: 1,
      deadlinesMetShare: 1,
      meanWaitH: 3,
      p95WaitH: 3,
      meanLateH: 0,
      p95LateH: 0,
    });
  });
});

describe('backtest with a product window', () => {
  const solver = createPlanningSolver({ work: DEFAULT_WORK });
  after(() => solver.close());

  it('flexlon keeps deferrable work out of an announced P415 window that fifo runs through', async () => {
    // Thursday 2 March 2023 is a P415 day (working day index 42). Flat price and carbon: the forecast
    // ties everywhere, so the window is the day's first 2 h, and only the window's pay moves work.
    const out = tmp();
    const r = await runBacktest({
      from: '2023-03-02',
      to: '2023-03-02',
      sites: ['edi'],
      fleet: 'busy',
      strategies: ['fifo', 'flexlon'],
      products: ['p415'],
      seed: 3,
      out,
      history: history(
        () => 80,
        () => 150,
      ),
      solver,
      carbonGbpPerTonne: 0,
      // Flat carbon too, with no price forecast from it: the carbon vintage's noise would break the tie.
      pricePerCarbon: 0,
      fleetSites: [SMALL_SITE],
      workload: (_s, k, dayStart) => ({ jobs: k === 0 ? shortJobs(12, dayStart) : [], inferenceKw: [0] }),
    });
    const start = Date.UTC(2023, 2, 2);
    assert.deepEqual(
      r.windows.map((w) => [w.product, w.start - start, w.periods]),
      [['p415', 0, 4]],
    );
    const day = loadDay(out, 0);
    const kwh = (n: string) => (day.rows[n] ?? []).slice(0, 4).map((x) => x.siteKwh[0]);
    // Idle is 10 kW × 0.5 h = 5 kWh; fifo starts 8 of the 12 jobs (64 GPUs) at once.
    assert.deepEqual(kwh('flexlon'), [5, 5, 5, 5]);
    assert.equal(kwh('fifo')[0], 5 + 8 * 4);
    // flexlon committed at the first period from its plan: idle only in the window.
    const offers = day.offers?.flexlon ?? [];
    assert.equal(offers.length, 1);
    assert.deepEqual(offers[0]?.predictedKw, [10, 10, 10, 10]);
    assert.equal(offers[0]?.baselineKw, null, 'no metered days before the first: no BL01 yet');
    assert.equal(day.offers?.fifo, undefined, 'fifo makes no offers');
  });
});
