// Hand-computable backtests on made-up signals (issue 15): a flat day saves nothing, a single cheap
// half hour takes all the deferrable energy it has room for, and the oracle (outturn signals) is
// never worse than flexlon (forecasts) on the planner's own objective.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPlanningSolver } from '../../src/compose/solver.ts';
import { DEFAULT_WORK } from '../../src/optimise/planner.ts';
import { summarise } from '../../src/backtest/metrics.ts';
import { loadDay } from '../../src/backtest/checkpoint.ts';
import { runBacktest } from '../../src/backtest/run.ts';
import type { BacktestOptions } from '../../src/backtest/run-options.ts';
import { oracleIsBound } from '../../src/backtest/targets.ts';
import type { StrategyName } from '../../src/backtest/strategies.ts';
import type { FleetSite } from '../../src/backtest/fleet.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { PERIOD_MS } from '../../src/domain/settlement-day.ts';
import { epochMs } from '../../src/domain/time.ts';
import { kw, kwh } from '../../src/domain/units.ts';
import { DAY, DAY_START, halfHour, history, shortJobs, SMALL_SITE, tmp } from './fixtures.ts';

const solver = createPlanningSolver({ work: DEFAULT_WORK });
after(() => solver.close());

const run = async (h: BacktestOptions['history'], jobs: number, strategies: StrategyName[], site = SMALL_SITE) => {
  const o: BacktestOptions = {
    from: DAY,
    to: DAY,
    sites: ['edi'],
    fleet: 'busy',
    strategies,
    seed: 3,
    out: tmp(),
    history: h,
    solver,
    carbonGbpPerTonne: 0,
    // Hand-made signals: carbon has no bearing on their prices, so the price forecast's carbon term
    // would only carry the carbon vintage's noise into the price ties these cases are built on.
    pricePerCarbon: 0,
    fleetSites: [site],
    workload: (_s, k, dayStart) => ({ jobs: k === 0 ? shortJobs(jobs, dayStart) : [], inferenceKw: [0] }),
  };
  const out = await runBacktest(o);
  const chunks = out.days.map((_, k) => loadDay(o.out, k));
  return { out, chunks, ...summarise(chunks, strategies, out.open, 0) };
};

/** kWh the site imported in the period starting at `t` under a strategy. */
const importAt = (chunks: Awaited<ReturnType<typeof run>>['chunks'], name: string, t: number): number =>
  chunks.flatMap((c) => c.rows[name] ?? []).find((r) => r.t === t)?.siteKwh[0] ?? NaN;

const TEN = DAY_START + 10 * 3_600_000;
const FOURTEEN = DAY_START + 14 * 3_600_000;
const IDLE_KWH = 10 * 0.5;

describe('backtest on hand-made signals', () => {
  it('a flat-price, flat-carbon day saves nothing', async () => {
    const r = await run(
      history(
        () => 80,
        () => 150,
      ),
      12,
      ['fifo', 'gsf-best-window', 'flexlon', 'oracle'],
    );
    for (const name of ['gsf-best-window', 'flexlon', 'oracle']) {
      const s = r.summary[name];
      assert.ok(s?.vsFifo);
      assert.ok(Math.abs(s.vsFifo.energyGbp) < 1e-9, `${name} saved £${s.vsFifo.energyGbp}`);
      assert.ok(Math.abs(s.vsFifo.tCo2) < 1e-12, `${name} saved ${s.vsFifo.tCo2} t`);
      // Every job ran: 12 jobs × 8 GPUs × 0.5 h.
      assert.equal(Math.round(s.gpuHours * 1e6) / 1e6, 48);
    }
    assert.equal(r.summary.flexlon?.captureShare, null);
    // The proven bound: nothing to gain, so every strategy's objective is at it.
    const bound = r.out.bound.objectiveGbp;
    assert.ok(bound !== null);
    for (const s of Object.values(r.summary))
      assert.ok(Math.abs(s.objectiveGbp - bound) < 1e-6, `${s.objectiveGbp} vs ${bound}`);
  });

  it('a single cheap half hour takes all the deferrable energy there is room for', async () => {
    const h = history(
      (t) => (halfHour(t) === 20 ? 10 : 100),
      () => 150,
    );
    // 12 jobs need 96 GPUs for one period; the site has 64: eight fit in the cheap period.
    const full = await run(h, 12, ['fifo', 'flexlon', 'oracle']);
    for (const name of ['flexlon', 'oracle']) assert.equal(importAt(full.chunks, name, TEN), IDLE_KWH + 8 * 4);
    assert.equal(importAt(full.chunks, 'fifo', TEN), IDLE_KWH);
    // £ saved against FIFO: the eight jobs' 32 kWh at £10 instead of £100 per MWh.
    assert.ok(Math.abs((full.summary.flexlon?.vsFifo?.energyGbp ?? 0) - (32 * 90) / 1000) < 1e-9);
    // Six jobs (48 GPUs) all fit: all 24 kWh go there.
    const some = await run(h, 6, ['fifo', 'flexlon']);
    assert.equal(importAt(some.chunks, 'flexlon', TEN), IDLE_KWH + 6 * 4);
    // The proven bound is below every strategy's objective, and flexlon, which took the cheap half
    // hour for all that fits, reaches it where all the jobs fit there.
    const bound = full.out.bound.objectiveGbp;
    assert.ok(bound !== null);
    for (const s of Object.values(full.summary))
      assert.ok(bound <= s.objectiveGbp + 1e-6, `${bound} > ${s.objectiveGbp}`);
    assert.ok(some.out.bound.objectiveGbp !== null);
    assert.ok(Math.abs((some.summary.flexlon?.objectiveGbp ?? 0) - some.out.bound.objectiveGbp) < 1e-6);
  });

  it('the oracle is never worse than flexlon on the planner objective', async () => {
    // Every earlier day is cheap at 10:00, so the naive forecast says 10:00; on the day itself the
    // cheap half hour is 14:00 instead. Only the oracle knows.
    const h = history(
      (t) => (halfHour(t) === 20 ? 10 : 100),
      () => 150,
      (t) =>
        t >= DAY_START && t < DAY_START + 86_400_000 ? (halfHour(t) === 28 ? 10 : 100) : halfHour(t) === 20 ? 10 : 100,
    );
    const r = await run(h, 12, ['fifo', 'flexlon', 'oracle']);
    const oracle = r.summary.oracle;
    const flexlon = r.summary.flexlon;
    assert.ok(oracle && flexlon);
    assert.ok(oracle.objectiveGbp <= flexlon.objectiveGbp + 1e-9, `${oracle.objectiveGbp} > ${flexlon.objectiveGbp}`);
    assert.equal(importAt(r.chunks, 'oracle', FOURTEEN), IDLE_KWH + 8 * 4);
    assert.equal(importAt(r.chunks, 'flexlon', TEN), IDLE_KWH + 8 * 4);
    assert.equal(r.summary.oracle?.captureShare, 1);
    // So the captured share is measured against it (results.json targets).
    assert.equal(oracleIsBound(flexlon, oracle), true);
    assert.equal(oracleIsBound(flexlon, { ...oracle, objectiveGbp: flexlon.objectiveGbp + 1 }), false);
  });
});

describe('backtest with a site battery', () => {
  // 20 kWh usable (10 to 30 kWh stored), 10 kW each way, lossless, no wear: hand-computable.
  const battery = {
    capacityKwh: 40,
    maxChargeKw: 10,
    maxDischargeKw: 10,
    roundTripEfficiency: 1,
    minSocKwh: 10,
    maxSocKwh: 30,
    initialSocKwh: 10,
    degradationGbpPerMwh: 0,
  };
  const site: FleetSite = { ...SMALL_SITE, spec: { ...SMALL_SITE.spec, battery } };
  // Cheap from 02:00 to 04:00 (half hours 4–7), dear from 17:00 to 19:00 (34–37), every day alike,
  // so the forecast is the outturn.
  const price = (t: number) =>
    halfHour(t) >= 4 && halfHour(t) < 8 ? 10 : halfHour(t) >= 34 && halfHour(t) < 38 ? 200 : 100;
  const runWith = (strategies: StrategyName[], wear = 0) =>
    run(
      history(price, () => 150),
      4,
      strategies,
      {
        ...site,
        spec: { ...site.spec, battery: { ...battery, degradationGbpPerMwh: wear } },
      },
    );

  it('flexlon cycles it wherever the spread pays; fifo leaves it idle', async () => {
    const r = await runWith(['fifo', 'flexlon']);
    const rows = r.chunks.flatMap((c) => c.rows.flexlon ?? []);
    // The site draws 10 kW idle (5 kWh a period) plus its jobs; the battery never makes it export.
    for (const x of rows) assert.ok((x.siteKwh[0] as number) >= -1e-9, `import ${x.siteKwh[0]} at ${x.t}`);
    // Lossless and unworn, two cycles a day pay: 20 kWh charged at £10 (02:00–04:00) and discharged
    // at £100 (04:00–06:00, into the idle power: the import falls to 0), then 20 kWh charged at £100
    // (15:00–17:00) and discharged at £200 (17:00–19:00). Each discharge is 10 kW, 5 kWh a period.
    const discharging = (x: (typeof rows)[number]) => (x.dischargedKwh ?? 0) > 1e-9;
    for (const day of [0, 1, 2]) {
      const halves = rows
        .filter((x) => x.t >= DAY_START + day * 86_400_000 && x.t < DAY_START + (day + 1) * 86_400_000)
        .filter(discharging)
        .map((x) => halfHour(x.t));
      assert.deepEqual(halves, [8, 9, 10, 11, 34, 35, 36, 37], `day ${day}`);
    }
    for (const x of rows.filter(discharging)) assert.ok(Math.abs((x.dischargedKwh ?? 0) - 5) < 1e-6);
    assert.equal(
      r.chunks.flatMap((c) => c.rows.fifo ?? []).some((x) => x.dischargedKwh !== undefined),
      false,
    );
    const s = r.summary.flexlon;
    assert.ok(s?.vsFifo);
    assert.ok(Math.abs(s.batteryDischargedMwh - 0.12) < 1e-9, String(s.batteryDischargedMwh));
    assert.equal(r.summary.fifo?.batteryDischargedMwh, 0);
    // £3.80 a day from the battery (20 kWh × £90 + 20 kWh × £100 per MWh) over the day and its two
    // drain days, beside what moving the four jobs into the cheap hours saves.
    assert.ok(s.vsFifo.energyGbp >= 3 * 3.8 - 1e-6, `saved £${s.vsFifo.energyGbp}`);
    assert.equal(r.out.batteries, true);
    // The proven bound covers the battery: its part is the most it can take off the bill with its
    // ties to the site dropped, £3.80 a day over the three days (2 h to fill at 10 kW, so no more
    // than one fill bought at £10 and sold at £200, or two cycles of 20 kWh each worth as much),
    // and a few pence for ending full after the last dear hours, credited at the run's mean price.
    const bound = r.out.bound;
    assert.ok(bound.objectiveGbp !== null, 'no bound');
    const part = bound.sites[0]?.batteryGbp;
    assert.ok(part !== undefined && part <= -3 * 3.8 + 1e-6 && part > -3 * 3.8 - 0.1, `battery part £${part}`);
    for (const n of ['fifo', 'flexlon'] as const) {
      const o = r.summary[n]?.objectiveGbp ?? NaN;
      assert.ok(bound.objectiveGbp <= o + 1e-6, `bound £${bound.objectiveGbp} above ${n}'s £${o}`);
    }
  });

  it('a battery worn at more than the spread stays idle', async () => {
    // £200/MWh of wear on each MWh discharged: the £190 spread no longer pays for a cycle.
    const r = await runWith(['flexlon'], 200);
    assert.equal(r.summary.flexlon?.batteryDischargedMwh, 0);
    assert.equal(r.summary.flexlon?.batteryWearGbp, 0);
  });
});

describe('backtest with work that must start when it arrives', () => {
  // Every half hour, at :15, an 8-GPU job of half an hour with no slack (due when its run ends if
  // it starts at the next decision); on the second day, eight 8-GPU jobs of two hours with slack all
  // day, which the cheap hours (10:00–12:00) draw.
  const job = (id: string, submittedAt: number, hours: number, deadlineAt: number): ComputeJob => ({
    id,
    name: id,
    site: 'edi',
    slo: 'deferrable',
    gpus: 8,
    powerKw: kw(8),
    energyKwh: kwh(8 * hours),
    remainingKwh: kwh(8 * hours),
    submittedAt: epochMs(submittedAt),
    releaseAt: epochMs(submittedAt),
    deadlineAt: epochMs(deadlineAt),
    preemptible: false,
    allowedSites: ['edi'],
    work: 8 * hours,
    workUnit: 'gpu-hours',
    state: 'queued',
  });
  const day = (k: number, dayStart: number): ComputeJob[] =>
    [
      ...(k === 1 ? Array.from({ length: 8 }, (_, i) => job(`d${i}`, dayStart, 2, dayStart + 23 * 3_600_000)) : []),
      ...Array.from({ length: 48 }, (_, i) => {
        const at = dayStart + i * PERIOD_MS + 15 * 60_000;
        return job(`ls-${k}-${i}`, at, 0.5, at + 15 * 60_000 + PERIOD_MS);
      }),
    ].sort((a, b) => a.submittedAt - b.submittedAt);

  /** flexlon alone at the small edi site from DAY to `to`, at the given prices, with no carbon price. */
  const flexlonAtEdi = (
    to: string,
    price: (t: number) => number,
    workload: BacktestOptions['workload'],
  ): BacktestOptions => ({
    from: DAY,
    to,
    sites: ['edi'],
    fleet: 'busy',
    strategies: ['flexlon'],
    seed: 3,
    out: tmp(),
    history: history(price, () => 150),
    solver,
    carbonGbpPerTonne: 0,
    fleetSites: [SMALL_SITE],
    ...(workload ? { workload } : {}),
  });

  it('flexlon keeps room for it in the hours it fills with deferred work', async () => {
    const o = flexlonAtEdi(
      '2023-03-02',
      (t) => (halfHour(t) >= 20 && halfHour(t) < 24 ? 10 : 100),
      (_s, k, dayStart) => ({ jobs: k < 2 ? day(k, dayStart) : [], inferenceKw: [0] }),
    );
    const out = await runBacktest(o);
    const finished = out.days.flatMap((_, k) => loadDay(o.out, k).finished.flexlon ?? []);
    const late = finished.filter((f) => f.id.startsWith('ls-') && f.lateH > 1e-9).map((f) => f.id);
    // Without the room kept, the deferred jobs fill 10:30–12:00 and the three arrivals then wait.
    assert.deepEqual(late, []);
    // The deferred work still runs in the cheap hours, as much as the room kept leaves for it.
    const cheap = finished.filter((f) => f.id.startsWith('d') && f.waitH >= 10 && f.waitH < 10.5);
    assert.ok(cheap.length >= 5, `${cheap.length} deferrable jobs started at 10:00`);
  });

  it('flexlon starts it at once even where waiting for cheaper hours would cost less than its lateness at the default price', async () => {
    // One 6-hour job of 8 GPUs seen at 14:00 and due at 20:00, with power at £300/MWh until 20:00
    // and £100 after. Deferred to 20:00 it would save 48 kWh × 1.3 × £200/MWh ≈ £12 for about £6.50
    // of lateness at £0.25 per GPU-hour: a hard SLO is not for sale (reserve.ts).
    const o = flexlonAtEdi(
      DAY,
      (t) => (halfHour(t) >= 28 && halfHour(t) < 40 ? 300 : 100),
      (_s, k, dayStart) => ({
        jobs: k === 0 ? [job('ls', dayStart + 27.5 * PERIOD_MS, 6, dayStart + 40 * PERIOD_MS)] : [],
        inferenceKw: [0],
      }),
    );
    const out = await runBacktest(o);
    const f = out.days.flatMap((_, k) => loadDay(o.out, k).finished.flexlon ?? []).find((x) => x.id === 'ls');
    assert.ok(f, 'the job ran');
    assert.ok(Math.abs(f.waitH - 0.25) < 1e-9, `started ${f.waitH} h after it arrived`);
    assert.ok(f.lateH <= 1e-9, `${f.lateH} h late`);
  });
});
