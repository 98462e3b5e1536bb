// Issue 18's mixed network: one FlexLon BPP, two buyers on one registry, both procuring through
// signed HTTP on loopback — FlexLon's own grid buyer (core 1.1.1) and a Beckn 2.0 buyer written with
// node:crypto and node:http only (deg-buyer.ts: core v2.0.0 LTS, camelCase context, Contract,
// counter-signed Acks). The BPP answers each in its own version from the same handlers. Every 2.0
// message FlexLon produces (callbacks and Acks) is checked against FlexLon's own 2.0 envelope and
// against the official LTS beckn.yaml, read from ../shared at test time (never copied).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { contractIdOf } from '../../src/beckn/v2/codec-in.ts';
import { checkV2, loadOfficialSpec } from '../../src/beckn/v2/validate.ts';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import { buyEarlyWindow, openMarket, type TestMarket } from '../helpers/market.ts';
import { eventually } from '../helpers/network.ts';
import { discoverCommitment, LTS, ltsSchema, startDegBuyer, type DegBuyer, type Msg } from './deg-buyer.ts';

let market: TestMarket;
let m: Market;
let buyer: DegBuyer;
let BUYER: string;

before(async () => {
  market = await openMarket('v2-mixed');
  m = market.m;
  buyer = await startDegBuyer(m);
  BUYER = buyer.id;
});

after(async () => {
  await buyer.stop();
  await market.stop();
});

test('a 1.1.1 buyer and a 2.0 buyer both procure from one BPP; every FlexLon 2.0 message validates', async () => {
  const need = await m.bap.detectNeed({ start: m.dayStart, slotMinutes: SLOT_MINUTES, slots: 48 });
  assert.ok(need, 'the day has a peak to buy against');
  const kw = Math.min(need.wantedKw, 50);

  // --- the 2.0 buyer: discover … status -------------------------------------------------------
  const txn = randomUUID();
  const { buy, commitment } = await discoverCommitment(buyer, txn, need, kw, {
    textSearch: 'demand flexibility',
    direction: true,
  });
  const onSelect = await buyer.ask('select', txn, { contract: { commitments: [commitment] } });
  const quoted = onSelect.message.contract as {
    status: { code: string };
    consideration: { considerationAttributes: { totalGbp: string } }[];
  };
  assert.equal(quoted.status.code, 'DRAFT');
  assert.ok(Number(quoted.consideration[0]?.considerationAttributes.totalGbp) > 0, 'priced');
  await buyer.ask('init', txn, { contract: { commitments: [commitment] } });
  const onConfirm = await buyer.ask('confirm', txn, { contract: { commitments: [commitment] } });
  const confirmed = onConfirm.message.contract as { id: string; status: { code: string } };
  assert.equal(confirmed.status.code, 'ACTIVE');
  const onStatus = await buyer.ask('status', txn, { contract: { id: confirmed.id, commitments: [commitment] } });
  const statused = onStatus.message.contract as { id: string; performance: { status: { code: string } }[] };
  assert.equal(statused.id, confirmed.id);
  assert.equal(statused.performance[0]?.status.code, 'COMMITTED');

  // --- the 1.1.1 buyer (FlexLon's grid buyer) ----------------------------------------------------
  const { p } = await buyEarlyWindow(m);

  // --- one BPP, two orders, each buyer in its own version ---------------------------------------
  const orders = await m.stores.flex.listOrders();
  const v2Order = orders.find((o) => o.transactionId === txn);
  const v1Order = orders.find((o) => o.transactionId === p.transactionId);
  assert.equal(v2Order?.state, 'confirmed');
  assert.equal(v2Order.bapId, BUYER);
  assert.equal(contractIdOf(v2Order.id), confirmed.id, "the Contract id is the order's");
  assert.equal(v2Order.reductionKw, buy);
  assert.equal(v1Order?.state, 'confirmed');
  assert.notEqual(v1Order.bapId, BUYER);
  const committed = await m.stores.flex.listCommitments({});
  assert.ok(committed.some((c) => c.orderId === v2Order.id) && committed.some((c) => c.orderId === v1Order.id));

  // The 2.0 callbacks: once each, signed by the BPP over their bytes, valid under both schemas.
  const ofTxn = buyer.received.filter((r) => r.msg.context.transactionId === txn);
  assert.deepEqual(
    ofTxn.map((r) => r.msg.context.action),
    ['on_discover', 'on_select', 'on_init', 'on_confirm', 'on_status'],
  );
  const spec = loadOfficialSpec(LTS);
  for (const r of ofTxn) {
    const a = r.msg.context.action;
    assert.ok(buyer.signedByBpp(r), `${a} signed by the BPP over its bytes`);
    assert.deepEqual(checkV2('lts', a, r.msg), [], `${a}: FlexLon's own 2.0 schema`);
    assert.deepEqual(spec.check(a, r.msg), [], `${a}: the official LTS beckn.yaml`);
  }
  // The Acks: beckn.yaml `Ack`, each counter-signed by the BPP over that Ack and that request.
  const ackSchema = ltsSchema('#/components/schemas/Ack');
  for (const a of buyer.acks.filter((x) => x.http === 200)) {
    assert.ok(ackSchema(JSON.parse(a.text)), `${a.action} Ack: ${JSON.stringify(ackSchema.errors)}`);
    assert.ok(buyer.counterSignatureValid(a.text, a.request, a.messageId), `${a.action} Ack counter-signature`);
  }

  // The BPP's audit: the 2.0 requests in, their exact bytes; the 2.0 callbacks out, each Ack's
  // counter-signature verified; the 1.1.1 transaction is 1.1.1 throughout.
  const trailOf = () => m.stores.flex.auditTrail({ transactionId: txn });
  await eventually(
    async () => (await trailOf()).filter((x) => x.kind === 'beckn.out').length >= 5,
    'the 2.0 callbacks audited at the BPP',
  );
  const trail = await trailOf();
  const ins = trail.filter((x) => x.kind === 'beckn.in').map((x) => x.payload as { action: string; version: string });
  assert.deepEqual(
    ins.map((x) => [x.action, x.version]),
    ['discover', 'select', 'init', 'confirm', 'status'].map((a) => [a, '2.0.0']),
  );
  const outs = trail.filter((x) => x.kind === 'beckn.out').map((x) => x.payload as Record<string, string>);
  assert.deepEqual(
    outs.map((x) => [x.action, x.version, x.outcome, x.ackCheck]),
    ['on_discover', 'on_select', 'on_init', 'on_confirm', 'on_status'].map((a) => [
      a,
      '2.0.0',
      'ACK',
      'counter-signature verified',
    ]),
  );
  // The BPP writes a callback's row once the buyer's ACK is back (through its group-commit journal),
  // after the buyer has the callback: waited for.
  const v1rows = async () =>
    (await m.stores.flex.auditTrail({ transactionId: p.transactionId }))
      .filter((x) => x.kind === 'beckn.out')
      .map((x) => x.payload as Record<string, string>);
  await eventually(async () => (await v1rows()).length >= 4, 'on_search … on_confirm audited at the BPP');
  const v1outs = await v1rows();
  for (const x of v1outs) {
    const sent = JSON.parse(x.body ?? '') as { context: { version: string; bap_id: string } };
    assert.deepEqual([x.version, sent.context.version, sent.context.bap_id], [undefined, '1.1.0', v1Order.bapId]);
  }
});

test('the 2.0 endpoint refuses with real HTTP statuses, 2.0 error codes and counter-signed NACKs', async () => {
  const txn = randomUUID();
  const discover = (): Msg => ({
    context: buyer.context('discover', txn),
    message: {
      intent: { filters: { type: 'jsonpath', expression: '$[?(@.resourceAttributes.maxCapacityKw >= 10)]' } },
    },
  });
  // A need without its window: 400 NackBadRequest, 30000, the filter named.
  const noWindow = await buyer.post(discover());
  assert.equal(noWindow.http, 400);
  assert.deepEqual(noWindow.ack.status, 'NACK');
  const err = noWindow.ack.error as { errorCode: string; path: string };
  assert.deepEqual([err.errorCode, err.path], ['30000', 'message.intent.filters.expression']);
  // A body changed after signing: 401 NackUnauthorized, 60001.
  const msg = discover();
  const body = JSON.stringify(msg);
  const tampered = body.replace('>= 10', '>= 11');
  const res = await buyer.post(msg, tampered, body);
  const text = res.text;
  assert.equal(res.http, 401);
  assert.equal((JSON.parse(text) as { error: { errorCode: string } }).error.errorCode, '60001');
  // The NACK is counter-signed too, over the bytes received (here: the tampered ones, no messageId read).
  assert.ok(buyer.counterSignatureValid(text, Buffer.from(tampered), ''));
  // The DEG draft's snake_case context at the LTS endpoint: 400, 60005.
  const draft = {
    context: {
      action: 'discover',
      version: '2.0.0',
      bap_id: BUYER,
      bap_uri: buyer.url,
      transaction_id: txn,
      message_id: randomUUID(),
      timestamp: new Date().toISOString(),
    },
    message: { text_search: 'flex' },
  } as unknown as Msg;
  const d = await buyer.post(draft);
  assert.deepEqual([d.http, (d.ack.error as { errorCode: string }).errorCode], [400, '60005']);
  // A status for a contract this buyer does not have: 400, 30008 (2.0 "Order not found").
  const status = await buyer.post({
    context: buyer.context('status', txn),
    message: {
      contract: {
        id: randomUUID(),
        commitments: [
          {
            status: {},
            resources: [{ id: 'r', quantity: { unitCode: 'kW', unitQuantity: 1 } }],
            offer: { id: 'o', resourceIds: ['r'] },
          },
        ],
      },
    },
  });
  assert.deepEqual([status.http, (status.ack.error as { errorCode: string }).errorCode], [400, '30008']);
  // An action the 2.0 endpoint does not take: 404, 40001.
  // The DEG draft's rating (LTS: rate) is no 2.0 action here.
  const rate = await buyer.post({ context: buyer.context('rating', txn), message: { ratingInputs: [] } });
  assert.deepEqual([rate.http, (rate.ack.error as { errorCode: string }).errorCode], [404, '40001']);
});
