// A 2.0 buyer's order moves with market time like any other: when its window opens and when it has
// been delivered, the BPP sends an unasked on_status — in 2.0, because the transaction began in 2.0 —
// and the last one carries the metering as DEG DemandFlexPerformance (per-site BecknTimeSeries of
// BASELINE and USAGE per settlement period) and the settled totals. Each push is checked against
// FlexLon's 2.0 envelope, the LTS beckn.yaml and the DEG DemandFlexPerformance v2.0 schema.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { checkV2, loadOfficialSpec } from '../../src/beckn/v2/validate.ts';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import { MINUTE_MS } from '../../src/domain/time.ts';
import { openMarket, runThrough, type TestMarket } from '../helpers/market.ts';
import { LTS, demandFlexPerformanceSchema, startDegBuyer, type DegBuyer, type Msg } from './deg-buyer.ts';

let market: TestMarket;
let m: Market;
let buyer: DegBuyer;
const SLOT = SLOT_MINUTES * MINUTE_MS;
const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');

before(async () => {
  market = await openMarket('v2-push', { secondsPerDay: '20' });
  m = market.m;
  buyer = await startDegBuyer(m);
});

after(async () => {
  await buyer.stop();
  await market.stop();
});

/** Buys 20 kW in the first two-slot window from slot 4 on that the BPP offers anything for. */
const buyEarly = async (): Promise<{ txn: string; windowEnd: number }> => {
  for (let from = 4; from <= 12; from++) {
    const windowStart = m.dayStart + from * SLOT;
    const windowEnd = windowStart + 2 * SLOT;
    const txn = randomUUID();
    const onDiscover = await buyer.ask('discover', txn, {
      intent: {
        filters: {
          type: 'jsonpath',
          expression: `$[?(@.resourceAttributes.eventWindow.startDate == '${iso(windowStart)}' && @.resourceAttributes.eventWindow.endDate == '${iso(windowEnd)}' && @.resourceAttributes.maxCapacityKw >= 20)]`,
        },
      },
    });
    const catalog = (onDiscover.message.catalogs as { offers: { id: string; resourceIds: string[] }[] }[])[0];
    const offer = catalog?.offers[0];
    if (!offer) continue;
    const commitment = {
      status: { descriptor: { code: 'DRAFT' } },
      resources: [{ id: offer.resourceIds[0], quantity: { unitCode: 'kW', unitQuantity: 20 } }],
      offer: { id: offer.id, resourceIds: offer.resourceIds },
    };
    try {
      await buyer.ask('select', txn, { contract: { commitments: [commitment] } });
    } catch {
      continue; // a smaller offer than 20 kW: try the next window
    }
    await buyer.ask('init', txn, { contract: { commitments: [commitment] } });
    await buyer.ask('confirm', txn, { contract: { commitments: [commitment] } });
    return { txn, windowEnd };
  }
  throw new Error('no early window had 20 kW to buy');
};

test(
  'the BPP pushes on_status unasked in 2.0, the last with DemandFlexPerformance and the settlement',
  { timeout: 120_000 },
  async () => {
    const { txn, windowEnd } = await buyEarly();
    await runThrough(m, windowEnd + SLOT);
    const pushes = (): Msg[] =>
      buyer.received
        .filter((r) => r.msg.context.transactionId === txn && r.msg.context.action === 'on_status')
        .filter((r) => r.msg.context.requestDigest === undefined) // unasked: it answers no request
        .map((r) => r.msg);
    for (let i = 0; i < 100 && pushes().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    type Contract = {
      status: { code: string };
      performance: { status: { code: string }; performanceAttributes?: Record<string, unknown> }[];
      settlements?: { status: string; settlementAttributes: { deliveredKwh: number; paymentGbp: string } }[];
    };
    const got = pushes().map((x) => x.message.contract as Contract);
    assert.deepEqual(
      got.map((c) => [c.status.code, c.performance[0]?.status.code]),
      [
        ['ACTIVE', 'DELIVERING'],
        ['COMPLETE', 'DELIVERED'],
      ],
    );
    const spec = loadOfficialSpec(LTS);
    for (const r of buyer.received.filter((x) => x.msg.context.transactionId === txn)) {
      assert.ok(buyer.signedByBpp(r));
      assert.deepEqual(
        checkV2('lts', r.msg.context.action, r.msg),
        [],
        `${r.msg.context.action}: FlexLon's 2.0 schema`,
      );
      assert.deepEqual(spec.check(r.msg.context.action, r.msg), [], `${r.msg.context.action}: the LTS beckn.yaml`);
    }
    const done = got[1] as Contract;
    const perf = done.performance[0]?.performanceAttributes as {
      '@type': string;
      meters: { telemetry: { intervals: { payloads: { type: string; values: number[] }[] }[] } }[];
    };
    assert.equal(perf['@type'], 'DemandFlexPerformance');
    assert.equal(perf.meters[0]?.telemetry.intervals.length, 2, 'both settlement periods');
    assert.deepEqual(
      perf.meters[0]?.telemetry.intervals[0]?.payloads.map((p) => p.type),
      ['BASELINE', 'USAGE'],
    );
    // The DEG schema is closed and lists no JSON-LD keys (its `@context` rides in context.schemaContext,
    // as its telemetry note says), while LTS Attributes require them: checked without them.
    const { '@context': _c, '@type': _t, ...bag } = perf as Record<string, unknown>;
    const deg = demandFlexPerformanceSchema();
    assert.ok(deg(bag), `DemandFlexPerformance v2.0: ${JSON.stringify(deg.errors)}`);
    // The settled totals agree with what the BPP stored.
    const order = (await m.stores.flex.listOrders()).find((o) => o.transactionId === txn);
    assert.equal(order?.state, 'completed');
    assert.equal(done.settlements?.[0]?.status, 'COMPLETE');
    assert.ok(typeof done.settlements?.[0]?.settlementAttributes.deliveredKwh === 'number');
  },
);
