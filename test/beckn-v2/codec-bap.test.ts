// FlexLon's buyer and FlexLon's BPP agree over Beckn 2.0 (issue 18, the grid buyer as a 2.0 BAP):
// what the buyer's codec sends (codec-bap.ts) is what the BPP's codec reads (codec-in.ts), and what
// the BPP sends (codec-out.ts) reads back, through the grid buyer's own readers (buyer-codec.ts), as
// the values it was made from. Every 2.0 message on the way validates against FlexLon's envelope and
// the official LTS beckn.yaml (read from ../shared at test time).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { orderToWire } from '../../src/agents/flex/wire-order.ts';
import {
  baselineMethodOf,
  confirmedOrderId,
  fulfilmentState,
  initMessage,
  quotedPrice,
  selectMessage,
} from '../../src/beckn/buyer-codec.ts';
import { buildContext, type Action, type BecknMessage } from '../../src/beckn/context.ts';
import { catalogToOffers, needToIntent, offersToCatalog } from '../../src/beckn/flex-codec.ts';
import { contractIdOf, fromV2Request, needFromDiscover } from '../../src/beckn/v2/codec-in.ts';
import { contractToOrder, fromV2Callback, toV2Request } from '../../src/beckn/v2/codec-bap.ts';
import { orderToContract, toV2Callback } from '../../src/beckn/v2/codec-out.ts';
import { checkV2, loadOfficialSpec } from '../../src/beckn/v2/validate.ts';
import type { FlexNeed, FlexOffer } from '../../src/domain/offers.ts';
import type { Order } from '../../src/domain/order.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbp, gbpPerMwh, kw } from '../../src/domain/units.ts';
import { readSettlement } from '../../src/settlement/codec.ts';
import { LTS } from './deg-buyer.ts';

const spec = loadOfficialSpec(LTS);
const T0 = Date.parse('2026-12-05T17:00:00Z');
const HALF = 30 * 60_000;
const v2Context = (transactionId: string) => ({
  domain: 'uei:compute_flexibility',
  version: '2.0.0',
  bapId: 'grid.example',
  bapUri: 'http://grid.example/v2',
  bppId: 'dc.example',
  bppUri: 'http://dc.example/v2',
  transactionId,
  messageId: randomUUID(),
  timestamp: new Date().toISOString(),
  ttl: 'PT30S',
});
const internal = (action: Action, message: unknown): BecknMessage => ({
  context: buildContext({ action, bapId: 'grid.example', bapUri: 'http://grid.example', now: Date.now() }),
  message,
});
const valid = (action: string, msg: object): void => {
  assert.deepEqual(checkV2('lts', action, msg), [], `${action}: FlexLon's 2.0 envelope`);
  assert.deepEqual(spec.check(action, msg), [], `${action}: the LTS beckn.yaml`);
};

test("the buyer's discover carries its need; the BPP reads the same need", () => {
  const need: FlexNeed = {
    kind: 'price-peak',
    windowStart: epochMs(T0),
    windowEnd: epochMs(T0 + 2 * HALF),
    wantedKw: kw(250),
    maxPriceGbpPerMwh: gbpPerMwh(180),
  };
  const { action, message } = toV2Request(internal('search', { intent: needToIntent(need) }), v2Context(randomUUID()));
  assert.equal(action, 'discover');
  valid(action, message);
  const read = needFromDiscover((message as { message: unknown }).message);
  assert.deepEqual(
    [read.windowStart, read.windowEnd, read.wantedKw, read.maxPriceGbpPerMwh],
    [need.windowStart, need.windowEnd, need.wantedKw, need.maxPriceGbpPerMwh],
  );
});

test("the buyer's select and init name the offer and kW the BPP reads", async () => {
  const parts = { providerId: 'dc.example', itemId: 'offer-1', selectedKw: 120, buyerId: 'grid.example' };
  for (const [a, msg] of [
    ['select', selectMessage(parts)],
    ['init', initMessage(parts)],
  ] as const) {
    const { action, message } = toV2Request(internal(a, msg), v2Context(randomUUID()));
    valid(action, message);
    const read = await fromV2Request(a, message as never, 'dc.example', async () => undefined);
    const item = (
      read.message as { order: { items: { id: string; quantity: { selected: { measure: { value: string } } } }[] } }
    ).order.items[0];
    assert.deepEqual([item?.id, Number(item?.quantity.selected.measure.value)], ['offer-1', 120]);
  }
});

const offer: FlexOffer = {
  id: 'offer-1',
  site: 'dc-london-1',
  region: 'London',
  windowStart: epochMs(T0),
  windowEnd: epochMs(T0 + 2 * HALF),
  reductionKw: kw(200),
  priceGbp: gbp(48.5),
  priceGbpPerMwh: gbpPerMwh(242.5),
  opportunityCostGbp: gbp(30),
  validUntil: epochMs(T0),
};

test("the BPP's on_discover reads back as the offers it was made from", () => {
  const onSearch: BecknMessage = {
    context: buildContext({
      action: 'on_search',
      bapId: 'grid.example',
      bapUri: 'http://grid.example',
      bppId: 'dc.example',
      bppUri: 'http://dc.example',
      now: Date.now(),
    }),
    message: { catalog: offersToCatalog('dc.example', 'DC', [offer]) },
  };
  const { action, message } = toV2Callback(onSearch, {
    bppUri: 'http://dc.example/v2',
    providerName: 'DC',
    now: Date.now(),
  });
  valid(action, message);
  const back = fromV2Callback(action, (message as { message: unknown }).message) as { catalog: never };
  const [got] = catalogToOffers(back.catalog).map((x) => x.offer);
  const keys = [
    'id',
    'site',
    'region',
    'windowStart',
    'windowEnd',
    'reductionKw',
    'priceGbp',
    'priceGbpPerMwh',
  ] as const;
  assert.deepEqual(
    keys.map((k) => got?.[k]),
    keys.map((k) => offer[k]),
  );
});

test("the BPP's Contract reads back through the grid buyer's own readers: price, baseline, order id, state, settlement", () => {
  const order: Order = {
    id: 'flx-123',
    transactionId: randomUUID(),
    bapId: 'grid.example',
    bapUri: 'http://grid.example',
    offerId: offer.id,
    site: offer.site,
    windowStart: offer.windowStart,
    windowEnd: offer.windowEnd,
    reductionKw: kw(120),
    priceGbp: gbp(29.1),
    state: 'completed',
    updatedAt: epochMs(T0 + 3 * HALF),
  };
  const settlement = {
    baselineMethod: 'FIFO_COUNTERFACTUAL',
    periods: [0, 1].map((k) => ({
      start: epochMs(T0 + k * HALF),
      baselineKw: 900,
      meteredKw: 790 - k * 20,
      deliveredKwh: (110 + k * 20) * 0.5,
      committedKwh: 60,
      shortfallKwh: k === 0 ? 5 : 0,
    })),
    deliveredKwh: 120,
    committedKwh: 120,
    shortfallKwh: 5,
    performance: 0.9583,
    paymentGbp: 27.89,
  };
  const wire = orderToWire({
    order,
    offer,
    providerId: 'dc.example',
    now: T0 + 3 * HALF,
    quoteTtlSeconds: 30,
    includeId: true,
    settlement,
  });
  const contract = orderToContract(wire);
  const msg = { context: { ...v2Context(order.transactionId), action: 'on_status' }, message: { contract } };
  valid('on_status', msg);
  const back = contractToOrder(contract);
  assert.equal(quotedPrice(back), 29.1);
  assert.equal(baselineMethodOf(back), baselineMethodOf(wire));
  assert.equal(confirmedOrderId(back), contractIdOf(order.id));
  assert.equal(fulfilmentState(back), 'DELIVERED');
  const read = readSettlement(back.tags);
  assert.deepEqual(
    [
      read?.deliveredKwh,
      read?.paymentGbp,
      read?.performance,
      read?.periods.map((p) => [p.start, p.baselineKw, p.meteredKw]),
    ],
    [120, 27.89, 0.9583, settlement.periods.map((p) => [p.start, p.baselineKw, p.meteredKw])],
  );
});

test("after the order: the buyer's update, rate, support and cancel say what the BPP reads; on_track and on_support read back", async () => {
  const orderId = 'flx-123';
  const id = contractIdOf(orderId);
  const find = async () => ({ id: orderId });
  const bought = {
    status: { descriptor: { code: 'ACTIVE' } },
    resources: [{ id: 'offer-1-capacity', quantity: { unitCode: 'kW', unitQuantity: 120 } }],
    offer: { id: 'offer-1', resourceIds: ['offer-1-capacity'] },
  };
  const send = async (a: Action, message: unknown) => {
    const { action, message: m } = toV2Request(internal(a, message), v2Context(randomUUID()), (c) =>
      c === id ? bought : undefined,
    );
    valid(action, m);
    return (await fromV2Request(action as never, m as never, 'dc.example', find)).message;
  };
  const start = new Date(T0 + 2 * HALF).toISOString();
  const end = new Date(T0 + 4 * HALF).toISOString();
  const update = (await send('update', {
    update_target: 'items,fulfillments',
    order: {
      id,
      items: [{ id: 'offer-1', quantity: { selected: { measure: { type: 'CONSTANT', value: '80', unit: 'kW' } } } }],
      fulfillments: [
        {
          stops: [
            { type: 'start', time: { timestamp: start } },
            { type: 'end', time: { timestamp: end } },
          ],
        },
      ],
    },
  })) as { update_target: string; order: { id: string; items: never[]; fulfillments: { stops: unknown[] }[] } };
  assert.deepEqual(
    [update.update_target, update.order.id, JSON.stringify(update.order.items[0])],
    [
      'items,fulfillments',
      orderId,
      JSON.stringify({
        id: 'offer-1',
        quantity: { selected: { measure: { type: 'CONSTANT', value: '80', unit: 'kW' } } },
      }),
    ],
  );
  assert.deepEqual(update.order.fulfillments[0]?.stops, [
    { type: 'start', time: { timestamp: start.replace('.000Z', 'Z') } },
    { type: 'end', time: { timestamp: end.replace('.000Z', 'Z') } },
  ]);
  assert.deepEqual(await send('rating', { ratings: [{ rating_category: 'Order', id, value: '5' }] }), {
    ratings: [{ rating_category: 'Order', id: orderId, value: '5' }],
  });
  assert.deepEqual(await send('support', { support: { ref_id: id } }), { support: { ref_id: orderId } });
  assert.deepEqual(await send('cancel', { order_id: id }), { order_id: orderId });

  const callback = (action: Action, message: unknown) => {
    const m: BecknMessage = {
      context: buildContext({
        action,
        bapId: 'grid.example',
        bapUri: 'http://grid.example',
        bppId: 'dc.example',
        bppUri: 'http://dc.example',
        now: Date.now(),
      }),
      message,
    };
    const out = toV2Callback(m, { bppUri: 'http://dc.example/v2', providerName: 'DC', now: Date.now() });
    valid(out.action, out.message);
    return fromV2Callback(out.action, (out.message as { message: unknown }).message);
  };
  assert.deepEqual(
    callback('on_track', { tracking: { id: orderId, status: 'active', location: { id: 'dc-london-1' } } }),
    {
      tracking: { id, status: 'active', url: 'http://dc.example/v2/status' },
    },
  );
  const statement = `data:application/json;base64,${Buffer.from('{"order_id":"flx-123"}').toString('base64')}`;
  assert.deepEqual(
    callback('on_support', {
      support: { ref_id: orderId, email: 'ops@dc.example', phone: '+44 20 0000 0000', url: statement },
    }),
    { support: { ref_id: id, email: 'ops@dc.example', phone: '+44 20 0000 0000', url: statement } },
  );
  assert.deepEqual(callback('on_rating', {}), {});
});
