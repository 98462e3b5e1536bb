// Product terms travel with the order (issue 16): the buyer sends a DSO product's terms in init, the
// BPP stores them with the order, and settlement applies exactly those terms — an import-limit
// product measured as import against the limit (never "619 % delivered"), the availability payment,
// the WPD performance rule — in on_status and in the signed statement; terms that do not hold
// together are NACKed with a coded error. Through signed HTTP in an in-process market.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import { askSupport, statementOf } from '../../src/agents/grid/post-order.ts';
import { WPD_PERFORMANCE, type ProductTerms } from '../../src/domain/products.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import { buyEarlyWindow, openMarket, runThrough, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
let m: Market;
const SLOT = SLOT_MINUTES * MINUTE_MS;

before(async () => {
  market = await openMarket('product', { secondsPerDay: '20' });
  m = market.m;
});

after(async () => {
  await market.stop();
});

const limitProduct = (limitKw: number): ProductTerms => ({
  code: 'DSO_OPERATIONAL_UTILISATION_SCHEDULED_AVAILABILITY',
  name: 'Operational Utilisation + Scheduled Availability',
  measurement: 'import-limit',
  importLimitKw: limitKw,
  baseline: 'bl01',
  availabilityGbpPerMwH: 12,
  utilisationGbpPerMwh: 600,
  performance: WPD_PERFORMANCE,
});

test(
  'an import-limit product is stored with the order and settled as import against the limit, with availability and the WPD rule',
  { timeout: 150_000 },
  async () => {
    // The half-idle site imports ~120–170 kW in the morning: a 100 kW limit asks for a real reduction.
    const limit = 100;
    const { p, windowEnd } = await buyEarlyWindow(m, {
      toSlot: 14,
      kw: 150,
      need: { kind: 'import-limit', importLimitKw: kw(limit), product: limitProduct(limit) },
    });
    const stored = await m.stores.flex.getOrder(p.orderId);
    assert.equal(stored?.product?.measurement, 'import-limit', 'the BPP stored the product with the order');
    assert.equal(stored?.product?.importLimitKw, limit);

    await runThrough(m, windowEnd + SLOT);
    let s = await m.bap.status(p);
    for (let i = 0; i < 50 && s.state !== 'DELIVERED'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      s = await m.bap.status(p);
    }
    assert.equal(s.state, 'DELIVERED');
    const settled = s.settlement;
    assert.ok(settled?.terms, 'on_status carries the product settlement');
    assert.equal(settled.terms.measurement, 'import-limit');
    assert.equal(settled.terms.importLimitKw, limit);
    // Each period: shortfall is import above the limit, never a percentage over 100.
    for (const per of settled.periods) {
      const over = Math.max(0, per.meteredKw - limit) * 0.5;
      assert.ok(Math.abs((per.exceedanceKwh ?? NaN) - over) < 0.01, `exceedance ${per.exceedanceKwh} vs ${over}`);
    }
    assert.ok(settled.performance <= 1 && settled.performance >= 0);
    // Availability: 12 £/MW/h × the accepted MW × 1 h; payment = (availability + utilisation) × factor.
    assert.ok(Math.abs(settled.terms.availabilityGbp - (12 * p.selectedKw) / 1000) < 0.01);
    assert.ok(
      Math.abs(
        settled.paymentGbp -
          (settled.terms.availabilityGbp + settled.terms.utilisationGbp) * settled.terms.performanceFactor,
      ) < 0.02,
    );
    const statement = statementOf(await askSupport(m.bap, p)) as
      { payment_rule?: string; product?: { code?: string } } | undefined;
    assert.match(statement?.payment_rule ?? '', /measured as import against the 100 kW limit/);
    assert.equal(statement?.product?.code, 'DSO_OPERATIONAL_UTILISATION_SCHEDULED_AVAILABILITY');
  },
);

test('terms that do not hold together are refused at init with a coded NACK naming the tag', async () => {
  const windowStart = epochMs(m.dayStart + 40 * SLOT);
  const need = {
    kind: 'price-peak' as const,
    windowStart,
    windowEnd: epochMs(windowStart + 2 * SLOT),
    wantedKw: kw(20),
    maxPriceGbpPerMwh: gbpPerMwh(100_000),
  };
  const tx = randomUUID();
  const found = await m.bap.search(need, tx);
  assert.ok(!('none' in found) && found.offers.length > 0, 'an evening offer to buy');
  const offer = found.offers[0]?.offer;
  assert.ok(offer);
  const bpp = found.bpps[0] as (typeof found.bpps)[number];
  const broken = { ...limitProduct(100), importLimitKw: undefined } as unknown as ProductTerms;
  await assert.rejects(
    m.bap.buy(bpp, offer, Math.min(10, offer.reductionKw), tx, 1, broken),
    /importLimitKw is needed for an import-limit product/,
  );
});
