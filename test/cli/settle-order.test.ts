// `flexlon settle --order ID` (issue 17) on the stores of a real market run: two deals bought over
// signed HTTP and settled by market time — one with no product (its agreed price paid as delivered),
// one under a DSO product's terms sent in init — then each order settled again through the CLI entry
// point from the provider's store and from the buyer's, every figure checked against the settlement
// the store recorded; a meter reading changed in the provider's database is named as a difference.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { main } from '../../src/cli/main.ts';
import type { SettleReport } from '../../src/cli/settle-html.ts';
import { SLOT_MINUTES } from '../../src/compose/index.ts';
import { openSqliteStore } from '../../src/compose/tools.ts';
import { WPD_PERFORMANCE, type ProductTerms } from '../../src/domain/products.ts';
import { MINUTE_MS } from '../../src/domain/time.ts';
import type { SettlementSummary } from '../../src/settlement/delivered.ts';
import { buyEarlyWindow, openMarket, runThrough, type TestMarket } from '../helpers/market.ts';

const SLOT = SLOT_MINUTES * MINUTE_MS;
let market: TestMarket;
let runDir: string;
let plain: string;
let withProduct: string;
const work = mkdtempSync(join(tmpdir(), 'flexlon-settle-order-'));

const PEAK: ProductTerms = {
  code: 'DSO_PEAK_REDUCTION',
  name: 'Peak Reduction',
  measurement: 'reduction',
  baseline: 'bl01',
  availabilityGbpPerMwH: 12,
  utilisationGbpPerMwh: 600,
  performance: WPD_PERFORMANCE,
};

before(
  async () => {
    market = await openMarket('settleorder', { secondsPerDay: '20' });
    const m = market.m;
    runDir = dirname(m.stores.flex.location);
    const a = await buyEarlyWindow(m);
    const fromB = Math.round((a.windowEnd - m.dayStart) / SLOT);
    const b = await buyEarlyWindow(m, { fromSlot: fromB, toSlot: fromB + 8, need: { product: PEAK } });
    plain = a.p.orderId;
    withProduct = b.p.orderId;
    await runThrough(m, Math.max(a.windowEnd, b.windowEnd) + SLOT);
    for (let i = 0; i < 100; i++) {
      const orders = await m.stores.flex.listOrders();
      if (orders.length === 2 && orders.every((o) => o.state === 'completed')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1_500)); // the DELIVERED on_status reaches the buyer
    await m.stop();
  },
  { timeout: 150_000 },
);

after(async () => {
  await market?.stop();
  rmSync(work, { recursive: true, force: true });
});

const settle = async (...args: string[]): Promise<{ code: number; text: string }> => {
  const out: string[] = [];
  const code = await main(['settle', ...args], { out: (l) => out.push(l), err: (l) => out.push(l) });
  return { code, text: out.join('\n') };
};

/** The provider's recorded settlement of an order (its `settlement` audit record). */
const recorded = async (orderId: string): Promise<SettlementSummary> => {
  const store = await openSqliteStore(join(runDir, 'flex-orchestrator.db'));
  try {
    const r = (await store.auditTrail()).findLast(
      (x) =>
        x.kind === 'settlement' && x.orderId === orderId && Array.isArray((x.payload as { periods?: unknown }).periods),
    );
    assert.ok(r, `the provider recorded a settlement of ${orderId}`);
    return r.payload as SettlementSummary;
  } finally {
    await store.close();
  }
};

/**
 * Every figure of the statement is the recorded one: exactly (the provider's store), or to the
 * precision on_status carries them (the buyer's: kW and kWh to 2 decimals, so £ to a penny or so).
 */
const assertSameFigures = (r: SettleReport, s: SettlementSummary, wire = false): void => {
  const same = (a: number, b: number, tol: number, what: string) =>
    wire ? assert.ok(Math.abs(a - b) <= tol + 1e-9, `${what}: ${a} vs ${b}`) : assert.equal(a, b, what);
  same(r.settlement.paymentGbp, s.paymentGbp, 0.015, 'payment');
  same(r.settlement.deliveredKwh, s.deliveredKwh, 0.01 * s.periods.length, 'delivered');
  assert.equal(r.settlement.periods.length, s.periods.length);
  assert.ok(s.periods.length >= 2);
  r.settlement.periods.forEach((p, i) => {
    const q = s.periods[i] as (typeof s.periods)[number];
    assert.equal(p.start, q.start);
    same(p.baselineKw, q.baselineKw, 0.005, 'baseline');
    same(p.meteredKw, q.meteredKw, 0.005, 'metered');
    same(p.deliveredKwh, q.deliveredKwh, 0.01, 'delivered');
  });
};

test('an order with no product, from the run folder (the provider’s store): the figures are the recorded settlement', async () => {
  const { code, text } = await settle('--order', plain, runDir, '--format', 'json');
  assert.equal(code, 0, text);
  const r = JSON.parse(text) as SettleReport;
  assert.equal(r.order?.role, 'provider');
  assert.match(r.order?.store ?? '', /flex-orchestrator\.db$/);
  assert.deepEqual(r.order?.differences, []);
  assert.equal(r.settlement.product.code, 'FLEXLON-AGREED-PRICE');
  const s = await recorded(plain);
  assertSameFigures(r, s);
  assert.equal(r.baseline.name, s.baselineMethod);
  assert.ok(s.paymentGbp > 0, 'something was paid');

  const table = await settle('--order', plain, runDir);
  assert.equal(table.code, 0, table.text);
  assert.match(table.text, /^recorded {3}settlement record \d+: .*agrees with this statement$/m);
  assert.match(table.text, new RegExp(`^payment {4}£${s.paymentGbp.toFixed(2)} = `, 'm'));
});

test('an order under a product’s terms: the same figures from the provider’s and from the buyer’s store, in every format', async () => {
  const s = await recorded(withProduct);
  assert.equal(s.terms?.product, PEAK.code, 'settled under the product sent in init');
  const provider = await settle('--order', withProduct, join(runDir, 'flex-orchestrator.db'), '--format', 'json');
  assert.equal(provider.code, 0, provider.text);
  const p = JSON.parse(provider.text) as SettleReport;
  assertSameFigures(p, s);
  assert.equal(p.settlement.product.code, PEAK.code);
  assert.equal(p.settlement.performanceFactor, s.terms?.performanceFactor);
  assert.equal(p.settlement.availabilityGbp, s.terms?.availabilityGbp);

  const buyer = await settle('--order', withProduct, join(runDir, 'grid-orchestrator.db'), '--format', 'json');
  assert.equal(buyer.code, 0, buyer.text);
  const b = JSON.parse(buyer.text) as SettleReport;
  assert.equal(b.order?.role, 'buyer');
  assert.deepEqual(b.order?.differences, []);
  assertSameFigures(b, s, true);

  const csv = await settle('--order', withProduct, runDir, '--format', 'csv');
  assert.equal(csv.code, 0, csv.text);
  const rows = csv.text.split('\n');
  assert.match(rows[0] ?? '', /^settlement_date,settlement_period,start_utc,baseline_kw,metered_kw,delivered_kwh,/);
  assert.equal(rows.length - 1, s.periods.length);
  // Every kW and kWh to the watt(-hour): a meter's mean printed 14 decimals beside a 3-decimal baseline.
  for (const row of rows.slice(1))
    for (const cell of row.split(',').slice(3, 9)) assert.match(cell, /^(-?\d+(\.\d{1,3})?)?$/, row);
  const html = join(work, 'statement.html');
  const written = await settle('--order', withProduct, runDir, '--format', 'html', '--out', html);
  assert.equal(written.code, 0, written.text);
  const page = readFileSync(html, 'utf8');
  assert.match(page, /<svg[^>]*aria-label="baseline and metered import per settlement period"/);
  assert.match(page, new RegExp(`Payment £${s.paymentGbp.toFixed(2)} = `));
  assert.doesNotMatch(page, /<script|https?:\/\/(?!www\.w3\.org)/, 'opens offline');
});

test('a meter reading changed in the provider’s database is named; an unknown order is refused with its code', async () => {
  const dir = join(work, 'edited');
  cpSync(runDir, dir, { recursive: true });
  const db = new Database(join(dir, 'flex-orchestrator.db'));
  const s = await recorded(plain);
  const first = s.periods[0] as (typeof s.periods)[number];
  assert.equal(
    db.prepare('UPDATE meter_readings SET import_kw = import_kw - 40 WHERE slot_start = ?').run(first.start).changes,
    1,
  );
  db.close();
  const { code, text } = await settle('--order', plain, dir);
  assert.equal(code, 1, text);
  assert.match(text, /settlement record \d+: .*DIFFERS/);
  assert.match(text, new RegExp(`metered kW: ${first.meteredKw - 40} here, ${first.meteredKw} recorded`));

  const none = await settle('--order', 'no-such-order', runDir);
  assert.equal(none.code, 1, none.text);
  assert.match(none.text, /^flexlon settle: FLX_ORDER_NOT_FOUND: no order no-such-order in /m);
  const mixed = await settle('--order', plain, runDir, '--meter', 'x.csv');
  assert.equal(mixed.code, 2);
  assert.match(mixed.text, /FLX_CLI_USAGE: --meter does not go with --order/);
});
