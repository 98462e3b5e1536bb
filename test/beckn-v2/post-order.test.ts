// After the order over Beckn 2.0 (issue 18): a 2.0 buyer written with node:crypto and node:http
// (deg-buyer.ts) confirms an order at FlexLon's BPP, then asks status, track, update, rate, support
// and cancel at its /v2 endpoint, over signed HTTP on loopback. Each reaches the handler the 1.1.1
// BPP runs for it (src/agents/flex/post-order.ts, update.ts); every callback validates against
// FlexLon's 2.0 envelope and the official LTS beckn.yaml (read from ../shared at test time), every
// Ack is counter-signed, and the order in the BPP's store changes as each step says.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { contractIdOf } from '../../src/beckn/v2/codec-in.ts';
import { checkV2, loadOfficialSpec } from '../../src/beckn/v2/validate.ts';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';
import { discoverCommitment, LTS, ltsSchema, startDegBuyer, type DegBuyer, type Msg, type Obj } from './deg-buyer.ts';

let market: TestMarket;
let m: Market;
let buyer: DegBuyer;

before(async () => {
  market = await openMarket('v2-post-order');
  m = market.m;
  buyer = await startDegBuyer(m);
});

after(async () => {
  await buyer.stop();
  await market.stop();
});

const errorOf = (ack: Obj) => ack.error as { errorCode: string; path?: string };

test('a 2.0 order through confirm, status, track, update, rate, support and cancel', { timeout: 120_000 }, async () => {
  const need = await m.bap.detectNeed({ start: m.dayStart, slotMinutes: SLOT_MINUTES, slots: 48 });
  assert.ok(need, 'the day has a peak to buy against');
  const kw = Math.min(need.wantedKw, 40);
  const txn = randomUUID();
  const { buy, resourceId, commitment } = await discoverCommitment(buyer, txn, need, kw);
  for (const a of ['select', 'init']) await buyer.ask(a, txn, { contract: { commitments: [commitment] } });
  const onConfirm = await buyer.ask('confirm', txn, { contract: { commitments: [commitment] } });
  const id = (onConfirm.message.contract as { id: string }).id;
  const order = async () => {
    const o = await m.stores.flex.findOrderByTransaction(txn);
    assert.ok(o);
    return o;
  };
  assert.equal(contractIdOf((await order()).id), id);
  assert.equal((await order()).state, 'confirmed');
  const contract = { id, commitments: [commitment] };

  const onStatus = await buyer.ask('status', txn, { contract });
  assert.equal((onStatus.message.contract as { status: { code: string } }).status.code, 'ACTIVE');

  // track: the window has not opened, so not being delivered; the url is the 2.0 status endpoint.
  const onTrack = await buyer.ask('track', txn, { tracking: { contract, status: 'ACTIVE', url: buyer.url } });
  const tracking = onTrack.message.tracking as { status: string; url: string; trackingAttributes: Obj };
  assert.deepEqual(
    [tracking.status, tracking.url, tracking.trackingAttributes.contractId],
    ['INACTIVE', `${m.urls.bpp}/v2/status`, id],
  );

  // update: half the kW, re-planned and re-quoted; the store's order has the new kW.
  const half = Math.max(1, Math.floor(buy / 2));
  const changed = { ...commitment, resources: [{ id: resourceId, quantity: { unitCode: 'kW', unitQuantity: half } }] };
  const onUpdate = await buyer.ask('update', txn, { contract: { id, commitments: [changed] } });
  const updated = onUpdate.message.contract as {
    commitments: { resources: { quantity: { unitQuantity: number } }[] }[];
  };
  assert.equal(updated.commitments[0]?.resources[0]?.quantity.unitQuantity, half);
  assert.equal((await order()).reductionKw, half);
  assert.equal((await order()).state, 'confirmed');

  // rate: the order, 4 of 5; audited at the BPP as the 1.1.1 rating is.
  await buyer.ask('rate', txn, {
    ratingInputs: [{ target: { id, descriptor: { code: 'Order' } }, range: { min: 1, max: 5, value: 4 } }],
  });
  const rated = (await m.stores.flex.auditTrail({ transactionId: txn })).find(
    (a) => a.kind === 'order' && (a.payload as { event?: string }).event === 'rated',
  );
  const oid = (await order()).id;
  assert.deepEqual((rated?.payload as { ratings: unknown }).ratings, [
    { rating_category: 'Order', id: oid, value: '4' },
  ]);

  // support: for the Contract; nothing delivered yet, so no settlement statement among the channels.
  const onSupport = await buyer.ask('support', txn, { support: { orderId: id } });
  const support = onSupport.message.support as { orderId: string; channels?: Obj[] };
  assert.equal(support.orderId, id);
  assert.ok(!(support.channels ?? []).some((c) => c['@type'] === 'FlexSettlementStatement'));

  // cancel with try: true asks for the terms only, which FlexLon does not offer: 40001, still confirmed.
  const tried = await buyer.post({ context: { ...buyer.context('cancel', txn), try: true }, message: { contract } });
  assert.deepEqual([tried.http, errorOf(tried.ack).errorCode, errorOf(tried.ack).path], [409, '40001', 'context.try']);
  assert.equal((await order()).state, 'confirmed');

  // cancel: before the window, inside the free notice or not, the order is cancelled in the store.
  const onCancel = await buyer.ask('cancel', txn, { contract });
  assert.equal((onCancel.message.contract as { status: { code: string } }).status.code, 'CANCELLED');
  assert.equal((await order()).state, 'cancelled');

  // Every callback of the transaction: signed by the BPP over its bytes, naming its request, valid
  // under FlexLon's 2.0 envelope and the official LTS beckn.yaml; every Ack counter-signed and valid.
  const ofTxn = buyer.received.filter((r) => r.msg.context.transactionId === txn);
  const after = ['on_status', 'on_track', 'on_update', 'on_rate', 'on_support', 'on_cancel'];
  assert.deepEqual(
    ofTxn.map((r) => r.msg.context.action),
    ['on_discover', 'on_select', 'on_init', 'on_confirm', ...after],
  );
  const spec = loadOfficialSpec(LTS);
  for (const r of ofTxn) {
    const a = r.msg.context.action;
    assert.ok(buyer.signedByBpp(r), `${a} signed by the BPP`);
    assert.deepEqual(checkV2('lts', a, r.msg), [], `${a}: FlexLon's 2.0 envelope`);
    assert.deepEqual(spec.check(a, r.msg), [], `${a}: the LTS beckn.yaml`);
  }
  // The buyer's requests are valid LTS too (the test checks its own side against the same file).
  const sent = buyer.acks.filter(
    (x) => x.http === 200 && JSON.parse(x.request.toString()).context.transactionId === txn,
  );
  for (const x of sent) {
    const msg = JSON.parse(x.request.toString()) as Msg;
    assert.deepEqual(spec.check(x.action, msg), [], `${x.action} request: the LTS beckn.yaml`);
  }
  const ackSchema = ltsSchema('#/components/schemas/Ack');
  for (const a of sent) {
    assert.ok(ackSchema(JSON.parse(a.text)), `${a.action} Ack`);
    assert.ok(buyer.counterSignatureValid(a.text, a.request, a.messageId), `${a.action} Ack counter-signature`);
  }
  const ins = (await m.stores.flex.auditTrail({ transactionId: txn }))
    .filter((x) => x.kind === 'beckn.in')
    .map((x) => x.payload as { action: string; version: string });
  assert.deepEqual(
    ins.slice(4).map((x) => [x.action, x.version]),
    ['status', 'track', 'update', 'rate', 'support', 'cancel'].map((a) => [a, '2.0.0']),
  );

  // Refusals, in 2.0 codes with the 2.0 paths: a cancelled order cannot be updated (50002, 409); a
  // rating outside 1–5 (30012, 400); another Contract id (30008).
  const post = (action: string, message: Obj) => buyer.post({ context: buyer.context(action, txn), message });
  const again = await post('update', { contract: { id, commitments: [changed] } });
  assert.deepEqual([again.http, errorOf(again.ack).errorCode], [409, '50002']);
  const badRating = await post('rate', {
    ratingInputs: [{ target: { id, descriptor: { code: 'Order' } }, range: { value: 9 } }],
  });
  assert.deepEqual(
    [badRating.http, errorOf(badRating.ack).errorCode, errorOf(badRating.ack).path],
    [400, '30012', 'message.ratingInputs[0].range.value'],
  );
  const other = await post('track', {
    tracking: { contract: { id: randomUUID(), commitments: [commitment] }, status: 'ACTIVE', url: buyer.url },
  });
  assert.deepEqual(
    [other.http, errorOf(other.ack).errorCode, errorOf(other.ack).path],
    [400, '30008', 'message.tracking.contract.id'],
  );
  // A catalog service path (LTS /catalog/…): FlexLon is none; a coded NACK, not a 404 page.
  const publish = await fetch(`${m.urls.bpp}/v2/catalog/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.deepEqual(
    [publish.status, ((await publish.json()) as { error: { errorCode: string } }).error.errorCode],
    [404, '40001'],
  );
  for (const r of [again, badRating, other])
    assert.ok(
      buyer.counterSignatureValid(r.text, r.request, (JSON.parse(r.request.toString()) as Msg).context.messageId),
    );
});
