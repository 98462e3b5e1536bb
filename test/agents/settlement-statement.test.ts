// The settlement statement of on_support: figures a reader can check without asking — sign
// convention, agreed price, window, and each period's GB settlement date and period.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Order } from '../../src/domain/order.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbp, kw } from '../../src/domain/units.ts';
import type { Commitment } from '../../src/domain/commitments.ts';
import { settleOrder } from '../../src/settlement/order.ts';
import { settlementStatement } from '../../src/settlement/statement.ts';

// 2024-03-31 is the spring clock change: 00:30 UTC is 00:30 GMT (period 2), 01:00 UTC is 02:00 BST (period 3).
const start = epochMs(Date.parse('2024-03-31T00:30:00Z'));
const order: Order = {
  id: 'o-1',
  transactionId: 't-1',
  bapId: 'grid.example',
  bapUri: 'http://127.0.0.1:1',
  offerId: 'offer-1',
  site: 'lon',
  windowStart: start,
  windowEnd: epochMs(start + 3_600_000),
  reductionKw: kw(100),
  priceGbp: gbp(20),
  state: 'completed',
  updatedAt: start,
};
const commitment: Commitment = {
  orderId: 'o-1',
  site: 'lon',
  windowStart: start,
  windowEnd: order.windowEnd,
  slotMinutes: 30,
  maxImportKw: [400, 400],
  reductionKw: 100,
  baselineKw: [500, 500],
};

test('the statement states the sign convention, the price per MWh, and settlement date and period per period (clock-change day)', () => {
  const settled = settleOrder(order, [commitment], new Map([['lon', [400, 450]]]), 'FLX-CF-FIFO-1');
  assert.ok(settled);
  const s = settlementStatement(order, settled);
  assert.match(s.sign_convention, /delivered = baseline − metered/);
  assert.equal(s.currency, 'GBP');
  assert.equal(s.agreed_price_gbp_per_mwh, 200, '£20 for 100 kW over 1 h = 0.1 MWh');
  assert.deepEqual(s.window, { start: '2024-03-31T00:30:00.000Z', end: '2024-03-31T01:30:00.000Z' });
  assert.deepEqual(
    s.periods.map((p) => [p.start_utc, p.settlement_date, p.settlement_period, p.deliveredKwh, p.shortfallKwh]),
    [
      ['2024-03-31T00:30:00.000Z', '2024-03-31', 2, 50, 0],
      ['2024-03-31T01:00:00.000Z', '2024-03-31', 3, 25, 25],
    ],
  );
  assert.equal(s.paymentGbp, 15, 'pay as delivered: 75 of 100 kWh');
  assert.equal('sites' in s, false, 'one site: no per-site breakdown');
});
