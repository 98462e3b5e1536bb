// No look-ahead: a decision taken at time t — the BAP's need (detectNeed), the BPP's planning input
// (forecast) and the plan itself (greedy planner) — is identical whatever the data recorded after t.
// "After t" means: forecasts issued after t, stored forecasts of periods starting after t, and
// outturn (actual carbon, prices) of periods ending after t. Random histories, random t.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HistorySignalSource } from '../../src/signals/history.ts';
import { GridOrchestrator } from '../../src/agents/grid/orchestrator.ts';
import { DEFAULT_NEED_POLICY } from '../../src/agents/grid/need-detection.ts';
import { buildProblem } from '../../src/optimise/problem.ts';
import type { FlexibilityReport } from '../../src/domain/compute.ts';
import { DEFAULT_VINTAGE_MODEL } from '../../src/domain/forecast-vintage.ts';
import { SignalHistory } from '../../src/domain/signal-history.ts';
import { epochMs, type EpochMs, type SlotGrid } from '../../src/domain/time.ts';
import { kw } from '../../src/domain/units.ts';
import { greedyPlan } from '../../src/optimise/greedy.ts';
import { generateDay } from '../../src/sim/workload.ts';
import type { AuditEntry } from '../../src/audit/chain.ts';

const P = 1_800_000;
const DAY0 = Date.UTC(2023, 0, 24);
const FROM = DAY0 - 8 * 86_400_000;
const N = 11 * 48; // 8 days before DAY0 to 3 days after
const startOf = (i: number) => epochMs(FROM + i * P);

interface Data {
  carbon: number[];
  actual: number[];
  price: number[];
  /** Recorded vintages: issue slot index and values for the 96 periods from the issue. */
  vintages: { issued: number; carbon: number[]; price: number[] }[];
}

const values = (lo: number, hi: number, n: number) =>
  fc.array(fc.integer({ min: lo, max: hi }), { minLength: n, maxLength: n });
const dataArb = fc.record({
  carbon: values(20, 400, N),
  actual: values(0, 400, N),
  price: values(-50, 600, N),
  vintages: fc.array(
    fc.record({
      issued: fc.integer({ min: 7 * 48, max: N - 1 }),
      carbon: values(20, 400, 96),
      price: values(-50, 600, 96),
    }),
    { maxLength: 6 },
  ),
});

const historyOf = (d: Data): SignalHistory => {
  const h = new SignalHistory();
  for (let i = 0; i < N; i++) {
    h.put(
      18,
      startOf(i),
      {
        carbonForecast: d.carbon[i] as number,
        ...(d.actual[i] ? { carbonActual: d.actual[i] as number } : {}),
        ...(i % 37 === 5 ? {} : { price: d.price[i] as number }),
      },
      { file: 'generated' },
    );
  }
  for (const v of d.vintages) {
    for (let k = 0; k < 96 && v.issued + k < N; k++) {
      h.putVintage(18, startOf(v.issued + k), 'carbon', { issuedAt: startOf(v.issued), value: v.carbon[k] as number });
      h.putVintage(18, startOf(v.issued + k), 'price', { issuedAt: startOf(v.issued), value: v.price[k] as number });
    }
  }
  return h;
};

/** `b` with everything known only after t taken from `other`. */
const afterT = (a: Data, other: Data, t: number): Data => {
  const pick = (xs: number[], ys: number[], knownAt: (i: number) => number) =>
    xs.map((x, i) => (knownAt(i) <= t ? x : (ys[i] as number)));
  return {
    carbon: pick(a.carbon, other.carbon, (i) => startOf(i)),
    actual: pick(a.actual, other.actual, (i) => startOf(i) + P),
    price: pick(a.price, other.price, (i) => startOf(i) + P),
    vintages: [
      ...a.vintages.filter((v) => startOf(v.issued) <= t),
      ...other.vintages.filter((v) => startOf(v.issued) > t),
    ],
  };
};

const memoryStore = () => {
  const rows: AuditEntry[] = [];
  return {
    rows,
    store: {
      appendAudit: async (e: AuditEntry) => {
        rows.push(e);
        return e;
      },
    },
  };
};

const decide = async (d: Data, t: EpochMs, vintages: boolean) => {
  const source = new HistorySignalSource(historyOf(d), {
    name: 'generated',
    vintages: vintages ? DEFAULT_VINTAGE_MODEL : false,
  });
  const { rows, store } = memoryStore();
  const bap = new GridOrchestrator({
    id: 'bap',
    region: 'GB',
    signals: source,
    policy: DEFAULT_NEED_POLICY,
    market: { now: () => t, waitUntil: async () => {} },
    store,
    wallNow: () => 0,
  } as never);
  const day: SlotGrid = { start: epochMs(DAY0), slotMinutes: 30, slots: 48 };
  const need = await bap.detectNeed(day);
  const horizon: SlotGrid = { start: epochMs(Math.floor(t / P) * P), slotMinutes: 30, slots: 96 };
  const forecast = await source.forecast('GB', horizon, t);
  const w = generateDay({ seed: 3, site: 'lon', dayStart: epochMs(DAY0), jobs: 12 });
  const report: FlexibilityReport = {
    site: 'lon',
    region: 'GB',
    at: t,
    itPowerLimitKw: kw(300),
    pue: 1.2,
    gridImportLimitKw: kw(400),
    baseLoadFrom: epochMs(DAY0),
    slotMinutes: 30,
    baseLoadKw: w.inferenceKw,
    jobs: w.jobs,
  };
  const plan = greedyPlan(
    buildProblem({ grid: horizon, now: t, reports: [report], signals: new Map([['GB', forecast]]), commitments: [] }),
  );
  return { need, audit: rows.map((r) => r.payload), forecast, plan };
};

const tArb = fc.integer({ min: 0, max: 47 }).map((k) => epochMs(DAY0 + k * P + (k % 3) * 60_000));

test('property: with recorded forecasts, the need, the planning input and the plan at t ignore everything recorded after t', async () => {
  await fc.assert(
    fc.asyncProperty(dataArb, dataArb, tArb, async (a, other, t) => {
      // Recorded vintages issued at or before t cover the decision horizon, so nothing is synthesised.
      const base: Data = {
        ...a,
        vintages: [
          ...a.vintages,
          { issued: Math.floor((t - FROM) / P), carbon: a.carbon.slice(0, 96), price: a.price.slice(0, 96) },
          { issued: 8 * 48 - 4, carbon: a.carbon.slice(96, 192), price: a.price.slice(96, 192) },
        ],
      };
      const x = await decide(base, t, true);
      const y = await decide(afterT(base, other, t), t, true);
      assert.deepEqual(y.forecast, x.forecast);
      assert.deepEqual(y.need, x.need);
      assert.deepEqual(y.audit, x.audit);
      assert.deepEqual(y.plan, x.plan);
    }),
    { numRuns: 20, endOnFailure: true },
  );
});

test('property: with recorded values only (no synthetic vintages), decisions at t ignore all data after t, stored forecasts included', async () => {
  await fc.assert(
    fc.asyncProperty(dataArb, dataArb, tArb, async (a, other, t) => {
      const x = await decide(a, t, false);
      const y = await decide(afterT(a, other, t), t, false);
      assert.deepEqual(y.forecast, x.forecast);
      assert.deepEqual(y.need, x.need);
      assert.deepEqual(y.plan, x.plan);
    }),
    { numRuns: 20, endOnFailure: true },
  );
});

test('synthetic vintages: the noise is the same whatever the data, and vanishes once a value is known', async () => {
  await fc.assert(
    fc.asyncProperty(dataArb, dataArb, tArb, async (a, b, t) => {
      const grid: SlotGrid = { start: epochMs(Math.floor(t / P) * P), slotMinutes: 30, slots: 96 };
      const noise = async (d: Data) => {
        const src = new HistorySignalSource(historyOf({ ...d, vintages: [] }), { name: 'generated' });
        const [f, o] = [await src.forecast('GB', grid, t), await src.outturn('GB', grid)];
        return f.points.map((p, i) => Math.round((p.carbonForecast - (o.points[i]?.carbonForecast as number)) * 1e6));
      };
      const [na, nb] = [await noise(a), await noise(b)];
      assert.deepEqual(na, nb);
      assert.equal(na[0], 0, 'the period under way is known: no noise');
      assert.ok(
        na.slice(20).some((x) => x !== 0),
        'later periods carry noise',
      );
    }),
    { numRuns: 10, endOnFailure: true },
  );
});

test('outturn, by contrast, does see later data: it is for settlement and reports, never a planning input', async () => {
  const a = fc.sample(dataArb, { numRuns: 1, seed: 5 })[0] as Data;
  const t = epochMs(DAY0 + 10 * P);
  const changed = { ...a, price: a.price.map((p, i) => (startOf(i) > t ? p + 500 : p)) };
  const grid: SlotGrid = { start: t, slotMinutes: 30, slots: 96 };
  const outturnA = await new HistorySignalSource(historyOf(a), { name: 'a' }).outturn('GB', grid);
  const outturnB = await new HistorySignalSource(historyOf(changed), { name: 'b' }).outturn('GB', grid);
  assert.notDeepEqual(
    outturnA.points,
    outturnB.points,
    'outturn does see later data — it is for settlement, never for planning',
  );
});
