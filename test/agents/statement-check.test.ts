// The buyer's check of a provider's settlement statement (issue 16): recomputed under the terms
// bought, from the statement's own readings or from the buyer's own meter view and BL01 baseline —
// agreement when every figure holds, a dispute naming the period and figure (with both values) when
// one does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkStatement } from '../../src/agents/grid/statement-check.ts';
import { meterSeriesView } from '../../src/agents/grid/meter-view.ts';
import { parseMeterCsv } from '../../src/formats/meter-csv.ts';
import { WPD_PERFORMANCE } from '../../src/domain/products.ts';
import type { FlexOffer } from '../../src/domain/offers.ts';
import { epochMs } from '../../src/domain/time.ts';
import { settle } from '../../src/settlement/delivered.ts';
import { settleOrder } from '../../src/settlement/order.ts';
import type { Order } from '../../src/domain/order.ts';
import type { Commitment } from '../../src/domain/commitments.ts';

const T0 = epochMs(Date.parse('2023-01-24T18:00:00Z'));
const HALF = 1_800_000;
const offer = { windowStart: T0, windowEnd: epochMs(T0 + 2 * HALF) } as FlexOffer;
const readings = [
  { start: T0, baselineKw: 280, meteredKw: 230 },
  { start: epochMs(T0 + HALF), baselineKw: 280, meteredKw: 245 },
];

test('a statement that holds under the agreed price agrees; a changed payment or reading is disputed by name', () => {
  const p = { selectedKw: 40, quotedGbp: 20, offer };
  // The provider's own settlement: 25 + 17.5 = 42.5 of 40 kWh committed; shortfall 2.5 → £18.75.
  const statement = settle(readings, 40, 0.5, 20, 'FLX-CF-FIFO-1');
  assert.equal(statement.paymentGbp, 18.75);
  assert.deepEqual(checkStatement(p, statement, statement), { agreed: true, periods: 2, paymentGbp: 18.75 });

  const overpaid = { ...statement, paymentGbp: 20 };
  const c = checkStatement(p, overpaid, statement);
  assert.ok(!c.agreed);
  assert.deepEqual(c.differences, [{ where: 'total', field: 'payment £', ours: 18.75, theirs: 20 }]);

  // The statement's meter reading is not the one on_status reported for that period.
  const moved = settle(
    [readings[0] as (typeof readings)[number], { ...(readings[1] as (typeof readings)[number]), meteredKw: 200 }],
    40,
    0.5,
    20,
    'X',
  );
  const d = checkStatement(p, moved, statement);
  assert.ok(!d.agreed);
  assert.ok(
    d.differences.some(
      (x) =>
        x.where === '2023-01-24T18:30:00.000Z (SP38)' &&
        x.field === 'metered kW (vs on_status)' &&
        x.ours === 245 &&
        x.theirs === 200,
    ),
    JSON.stringify(d.differences),
  );
  // A period left out of the statement.
  const short = { ...statement, periods: statement.periods.slice(0, 1) };
  const e = checkStatement(p, short);
  assert.ok(!e.agreed && e.differences.some((x) => x.field === 'periods settled' && x.ours === 2 && x.theirs === 1));
});

test('under a product the buyer sent, the check applies its rule and refuses a statement that ignored it', () => {
  const product = {
    code: 'DSO_PEAK_REDUCTION',
    name: 'Peak Reduction',
    measurement: 'reduction' as const,
    baseline: 'bl01' as const,
    availabilityGbpPerMwH: 12,
    performance: WPD_PERFORMANCE,
  };
  const order = {
    id: 'o',
    transactionId: 't',
    state: 'completed',
    windowStart: T0,
    windowEnd: epochMs(T0 + 2 * HALF),
    reductionKw: 40,
    priceGbp: 20,
    product,
  } as unknown as Order;
  const commitment = {
    orderId: 'o',
    site: 'lon',
    windowStart: T0,
    windowEnd: epochMs(T0 + 2 * HALF),
    slotMinutes: 30,
    reductionKw: 40,
    baselineKw: [280, 280],
    maxImportKw: [240, 240],
  } as unknown as Commitment;
  const settled = settleOrder(order, [commitment], new Map([['lon', [230, 245]]]), 'FLX-CF-FIFO-1');
  assert.ok(settled?.total.terms);
  const p = { selectedKw: 40, quotedGbp: 20, offer, product };
  const c = checkStatement(p, settled.total, settled.total);
  assert.ok(c.agreed, JSON.stringify(c));
  // The same readings paid the old way (no product applied): disputed.
  const plain = settle(readings, 40, 0.5, 20, 'FLX-CF-FIFO-1');
  const d = checkStatement(p, plain, plain);
  assert.ok(!d.agreed && d.differences.some((x) => x.field === 'product terms applied (1 = yes)'));
});

/** A long meter file: `days` days of history at `historyKw` before T0's day, then `today` by period start. */
const meterCsv = (days: number, historyKw: number, today: ReadonlyMap<number, number>): string => {
  const dayStart = Date.parse('2023-01-24T00:00:00Z');
  const rows = ['start,kw,mpan'];
  for (let t = dayStart - days * 86_400_000; t < dayStart + 86_400_000; t += HALF)
    if (t < dayStart || today.has(t))
      rows.push(`${new Date(t).toISOString()},${t < dayStart ? historyKw : today.get(t)},1200012345678`);
  return rows.join('\n');
};

test('with its own meter view the buyer recomputes from its readings and its own BL01 baseline, and names the periods that differ', async () => {
  const p = { selectedKw: 40, quotedGbp: 20, offer: { ...offer, site: 'lon' } as FlexOffer };
  const product = {
    code: 'DSO_PEAK_REDUCTION',
    name: 'Peak Reduction',
    measurement: 'reduction' as const,
    baseline: 'bl01' as const,
    performance: WPD_PERFORMANCE,
  };
  // The buyer's meter: 280 kW on every earlier day; in the window the same readings the provider has.
  const series = parseMeterCsv(
    meterCsv(30, 280, new Map(readings.map((r) => [r.start as number, r.meteredKw]))),
    'dso-meter.csv',
  );
  const view = meterSeriesView(new Map([['lon', series]]));
  const own = await view.readingsFor({ offer: p.offer, product });
  assert.ok(own?.baselineKw, own?.baseline);
  assert.match(own.baseline, /BL01/);
  assert.deepEqual([...own.baselineKw.values()], [280, 280], 'the buyer’s own BL01 over its meter history');
  assert.equal(await view.readingsFor({ offer: { ...p.offer, site: 'man' } }), undefined, 'no meter for man');

  const statement = settle(readings, 40, 0.5, 20, 'FLX-CF-FIFO-1');
  const agreed = checkStatement(p, statement, statement, own);
  assert.ok(agreed.agreed, JSON.stringify(agreed));
  assert.equal(agreed.meter?.source, 'dso-meter.csv (meter 1200012345678)');

  // The provider's statement inflates the second period's baseline: the buyer's baseline and its
  // recomputed delivery name that period, and the payment follows from the buyer's figures.
  const inflated = settle(
    [readings[0] as (typeof readings)[number], { ...(readings[1] as (typeof readings)[number]), baselineKw: 300 }],
    40,
    0.5,
    20,
    'FLX-CF-FIFO-1',
  );
  const c = checkStatement(p, inflated, undefined, own);
  assert.ok(!c.agreed);
  const sp38 = '2023-01-24T18:30:00.000Z (SP38)';
  assert.deepEqual(
    c.differences.filter((x) => x.where !== 'total').map((x) => [x.where, x.field, x.ours, x.theirs]),
    [
      [sp38, 'baseline kW (buyer’s baseline)', 280, 300],
      [sp38, 'delivered kWh', 17.5, 27.5],
    ],
  );
  assert.ok(c.differences.some((x) => x.where === 'total' && x.field === 'payment £' && x.ours === 18.75));

  // A period the buyer's meter does not hold is checked on the statement's figures, and listed.
  const partial = parseMeterCsv(meterCsv(30, 280, new Map([[T0 as number, 230]])), 'dso-meter.csv');
  const half = await meterSeriesView(new Map([['lon', partial]])).readingsFor({ offer: p.offer, product });
  const d = checkStatement(p, statement, undefined, half);
  assert.ok(d.agreed, JSON.stringify(d));
  assert.deepEqual(d.meter?.unverified, [sp38]);
});
