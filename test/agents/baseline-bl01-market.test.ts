// Settling against BL01 (`flexlon demo --baseline bl01`): the BPP names BL01 in on_init, offers and
// commitments are measured from it, and it is the mean of the site's 10 most recent working days of
// (simulated) metered history in each settlement period — not the same-day FIFO counterfactual.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SLOT_MINUTES, SIM_SITES, type Market } from '../../src/compose/index.ts';
import { bl01For, simulatedHistory } from '../../src/compose/baseline.ts';
import { demoConfig } from '../../src/config.ts';
import type { Procurement } from '../../src/agents/grid/orchestrator.ts';
import type { Commitment } from '../../src/domain/commitments.ts';
import { isWorkingDay, EW_BANK_HOLIDAYS } from '../../src/settlement/baseline-bl01.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
let m: Market;
const SLOT = SLOT_MINUTES * MINUTE_MS;
// The configuration the market was opened with (its seed and jobs make the history).
const config = () => demoConfig({ baseline: 'bl01' });

before(async () => {
  market = await openMarket('bl01', { baseline: 'bl01' });
  m = market.m;
});

after(async () => {
  await market.stop();
});

test('--baseline must be fifo or bl01, named in the error', () => {
  assert.throws(() => demoConfig({ baseline: 'bl02' }), /--baseline: must be fifo .* or bl01 .*, got "bl02"/);
});

test('the order is settled against BL01: the mean of the 10 most recent working days of history, per period', async () => {
  const windowStart = epochMs(m.dayStart + 36 * SLOT);
  const need = {
    kind: 'price-peak' as const,
    windowStart,
    windowEnd: epochMs(windowStart + 2 * SLOT),
    wantedKw: kw(40),
    maxPriceGbpPerMwh: gbpPerMwh(100_000),
  };
  const got = await m.bap.procure(need, randomUUID());
  assert.ok(!('none' in got), `a reduction was sold (${'none' in got ? got.none : ''})`);
  const p = got as Procurement;
  assert.equal(p.baselineMethod, 'BL01', 'on_init names BL01');
  const [c] = await m.stores.flex.listCommitments<Commitment>({ orderId: p.orderId });
  assert.ok(c?.baselineKw);
  // Independently: the same history, the 10 most recent working days before 2023-01-24, plain means.
  const lon = SIM_SITES[0];
  const c0 = config();
  const history = await simulatedHistory({
    site: lon.id,
    seed: c0.seed,
    jobs: c0.jobs,
    trainingNodes: lon.trainingNodes,
    gridImportLimitKw: lon.gridImportLimitKw,
    dayStart: m.dayStart,
    days: 15,
  });
  const days = history
    .filter((d) => isWorkingDay(d.day, EW_BANK_HOLIDAYS))
    .sort((a, b) => b.day.localeCompare(a.day))
    .slice(0, 10);
  assert.equal(days.length, 10);
  assert.ok(!days.some((d) => d.day === '2023-01-21' || d.day === '2023-01-22'), 'weekends are not working days');
  const mean = [36, 37].map((t) => days.reduce((a, d) => a + (d.importKw[t] ?? NaN), 0) / days.length);
  c.baselineKw.forEach((b, k) =>
    assert.ok(Math.abs(b - (mean[k] ?? NaN)) < 1e-9, `period ${k}: BL01 ${b} kW, expected ${mean[k]} kW`),
  );
  const twin = await m.businessAsUsual.importKw({ start: windowStart, slotMinutes: SLOT_MINUTES, slots: 2 });
  assert.notDeepEqual(c.baselineKw, twin, 'not the same-day FIFO counterfactual');
});

test('with too little history there is no BL01 baseline (NaN): the site cannot settle there and makes no offer', async () => {
  const lon = SIM_SITES[0];
  const history = await simulatedHistory({
    site: lon.id,
    seed: 7,
    jobs: 10,
    trainingNodes: lon.trainingNodes,
    gridImportLimitKw: lon.gridImportLimitKw,
    dayStart: m.dayStart,
    days: 1,
  });
  // 2023-01-23 is a Monday: one working day of history is enough (minDays 1); a Sunday has none.
  assert.ok(bl01For(history, { start: m.dayStart, slotMinutes: 30, slots: 2 }).every(Number.isFinite));
  assert.ok(
    bl01For(history, { start: epochMs(Date.parse('2023-01-29T00:00:00Z')), slotMinutes: 30, slots: 2 }).every(
      Number.isNaN,
    ),
  );
});
