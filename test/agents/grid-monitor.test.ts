// The buyer's shortfall rule during the window (issue 16, agents/grid/monitor.ts): counted period by
// period as settlement counts it, alerted only beyond the tolerance, and for an import-limit product
// measured as import above the limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shortfallOf } from '../../src/agents/grid/monitor.ts';
import { WPD_PERFORMANCE } from '../../src/domain/products.ts';
import { epochMs } from '../../src/domain/time.ts';
import { settle } from '../../src/settlement/delivered.ts';

const T0 = epochMs(Date.parse('2023-01-24T17:00:00Z'));
const HALF = 1_800_000;
const at = (i: number) => epochMs(T0 + i * HALF);

test('a shortfall is counted per period, beyond the tolerance, and asks for what the latest period missed', () => {
  const p = { selectedKw: 40 };
  // 38 of 40 kW in the first period: 5 % short, within the tolerance.
  const first = settle([{ start: at(0), baselineKw: 200, meteredKw: 162 }], 40, 0.5, 10, 'X');
  assert.equal(shortfallOf(p, {}, first, 0.05), undefined);
  assert.equal(shortfallOf(p, {}, undefined, 0.05), undefined, 'nothing metered yet');
  // 50 kW then 30 kW: 40 on average, but 10 kW short in the second period (12.5 %): an alert.
  const two = settle(
    [
      { start: at(0), baselineKw: 200, meteredKw: 150 },
      { start: at(1), baselineKw: 200, meteredKw: 170 },
    ],
    40,
    0.5,
    10,
    'X',
  );
  assert.deepEqual(shortfallOf(p, {}, two, 0.05), {
    periods: 2,
    deliveredKwh: 40,
    committedKwh: 40,
    shortfallKwh: 5,
    missingKw: 10,
    lastPeriod: '2023-01-24T17:30:00.000Z (SP36)',
  });
  assert.equal(shortfallOf(p, {}, two, 0.2), undefined, 'within a 20 % tolerance');
});

test('under an import-limit product a shortfall is import above the limit', () => {
  const product = {
    code: 'DSO_OPERATIONAL_UTILISATION',
    name: 'Operational Utilisation',
    measurement: 'import-limit' as const,
    importLimitKw: 250,
    baseline: 'bl01' as const,
    performance: WPD_PERFORMANCE,
  };
  const p = { selectedKw: 30, product };
  const under = settle([{ start: at(0), baselineKw: 280, meteredKw: 249 }], 30, 0.5, 10, 'X');
  assert.equal(shortfallOf(p, {}, under, 0.05), undefined, 'at or below the limit, however much was "reduced"');
  const over = settle([{ start: at(0), baselineKw: 280, meteredKw: 270 }], 30, 0.5, 10, 'X');
  const s = shortfallOf(p, {}, over, 0.05);
  assert.equal(s?.shortfallKwh, 10);
  assert.equal(s?.missingKw, 20);
});
