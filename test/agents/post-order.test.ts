// The post-order actions (core 1.1.1 track, cancel, update, rating, support) between the real BAP and
// BPP of a composed market on loopback: real HTTP, signatures, SQLite. Every message exchanged is
// also checked against the official transaction.yaml.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import type { Procurement } from '../../src/agents/grid/orchestrator.ts';
import type { Commitment } from '../../src/domain/commitments.ts';
import {
  askSupport,
  cancelOrder,
  rateOrder,
  statementOf,
  trackOrder,
  updateOrder,
} from '../../src/agents/grid/post-order.ts';
import { buildContext } from '../../src/beckn/context.ts';
import { becknValidator } from '../../src/beckn/validator.ts';
import { officialValidator } from '../helpers/official-beckn.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
let m: Market;
let p: Procurement;

before(async () => {
  market = await openMarket('post-order');
  m = market.m;
  const need = await m.bap.detectNeed({ start: m.dayStart, slotMinutes: SLOT_MINUTES, slots: 48 });
  assert.ok(need, 'the day has a peak to buy against');
  const got = await m.bap.procure(need, randomUUID());
  assert.ok(!('none' in got), 'the BPP sold a reduction');
  p = got as Procurement;
});

after(async () => {
  await market.stop();
});

test('track before the window: on_track says inactive, for the order, at its site', async () => {
  const t = await trackOrder(m.bap, p);
  assert.equal(t.id, p.orderId);
  assert.equal(t.status, 'inactive');
});

test("update: lowering a confirmed order's quantity is re-quoted pro rata and re-planned; more than the fleet can deliver is refused with 50002; 30012 for a target that is no order field", async () => {
  const item = (kw: number) => ({
    items: [
      {
        id: p.offer.id,
        quantity: { selected: { measure: { type: 'CONSTANT' as const, value: String(kw), unit: 'kW' } } },
      },
    ],
  });
  const lower = Math.floor(p.selectedKw / 2);
  const updated = await updateOrder(m.bap, p, 'items', item(lower));
  assert.equal(updated.items?.[0]?.quantity?.selected?.measure.value, String(lower));
  const proRata = p.quotedGbp * (lower / p.selectedKw);
  assert.ok(
    Number(updated.quote?.price.value) >= proRata - 0.01,
    `re-quoted at £${updated.quote?.price.value}, at least the agreed rate on ${lower} kW (£${proRata.toFixed(2)})`,
  );
  const stored = await m.stores.flex.getOrder(p.orderId);
  assert.equal(stored?.reductionKw, lower);
  assert.equal(stored?.revision, 1);
  const [c] = await m.stores.flex.listCommitments<Commitment>({ orderId: p.orderId });
  assert.equal(c?.reductionKw, lower, 'the stored commitment follows the update');
  await assert.rejects(
    updateOrder(m.bap, p, 'items', item(100_000)),
    /50002 FLX_UPDATE_NOT_POSSIBLE: the fleet cannot deliver 100000 kW/,
  );
  assert.equal((await m.stores.flex.getOrder(p.orderId))?.reductionKw, lower, 'a refused update changes nothing');
  await assert.rejects(
    updateOrder(m.bap, p, 'billing', { billing: { name: 'x' } }),
    /50002 FLX_UPDATE_NOT_POSSIBLE: billing cannot be changed/,
  );
  await assert.rejects(updateOrder(m.bap, p, 'colour', {}), /30012 FLX_UPDATE_TARGET/);
});

test('rating: 1–5 is recorded and answered; 7 is refused with 30015', async () => {
  await rateOrder(m.bap, p, 5);
  const rated = (await m.stores.flex.auditTrail({ transactionId: p.transactionId })).filter(
    (r) => (r.payload as { event?: string }).event === 'rated',
  );
  assert.equal(rated.length, 1);
  await assert.rejects(rateOrder(m.bap, p, 7), /30015 FLX_RATING_VALUE/);
});

test('support before delivery: a contact and no statement yet', async () => {
  const s = await askSupport(m.bap, p);
  assert.equal(s.ref_id, p.orderId);
  assert.match(s.email ?? '', /^flexibility-desk@/);
  assert.equal(statementOf(s), undefined);
});

test('cancel before the window: order CANCELLED, commitment lifted; a second cancel is refused with 50001', async () => {
  const order = await cancelOrder(m.bap, p, 'grid-need-gone');
  assert.equal(order.status, 'CANCELLED');
  assert.equal((await m.stores.flex.getOrder(p.orderId))?.state, 'cancelled');
  assert.deepEqual(await m.bpp.commitments(), []);
  await assert.rejects(cancelOrder(m.bap, p), /50001 FLX_CANCEL_NOT_POSSIBLE/);
});

test('a callback the BAP is not waiting for (late, or never asked for) is refused with FLX_REQ_EXPIRED and audited; an on_status for one of its orders is taken unasked', async () => {
  // on_status may come unasked, but only for an order of ours: a stranger's transaction is refused.
  const context = buildContext({
    action: 'on_status',
    bapId: m.bap.deps.id,
    bapUri: m.urls.bap,
    bppId: m.bpp.id,
    bppUri: m.urls.bpp,
    transactionId: randomUUID(),
    now: Date.now(),
  });
  await assert.rejects(m.bpp.context.client.send(m.urls.bap, { context, message: { order: { id: p.orderId } } }), (e) =>
    /30000 FLX_REQ_EXPIRED: no request .* is waiting for a callback/.test((e as Error).message),
  );
  const rejected = (await m.stores.grid.auditTrail()).filter(
    (r) => r.kind === 'beckn.rejected' && r.messageId === context.message_id,
  );
  assert.equal(rejected.length, 1);
  assert.equal((rejected[0]?.payload as { code: string }).code, 'FLX_REQ_EXPIRED');
  const unasked = buildContext({
    action: 'on_track',
    bapId: m.bap.deps.id,
    bapUri: m.urls.bap,
    bppId: m.bpp.id,
    bppUri: m.urls.bpp,
    transactionId: p.transactionId,
    now: Date.now(),
  });
  await assert.rejects(
    m.bpp.context.client.send(m.urls.bap, { context: unasked, message: { tracking: { status: 'active' } } }),
    /FLX_REQ_EXPIRED/,
    'other callbacks still need a request',
  );
  const ours = buildContext({
    action: 'on_status',
    bapId: m.bap.deps.id,
    bapUri: m.urls.bap,
    bppId: m.bpp.id,
    bppUri: m.urls.bpp,
    transactionId: p.transactionId,
    now: Date.now(),
  });
  await m.bpp.context.client.send(m.urls.bap, { context: ours, message: { order: { id: p.orderId } } });
  // Audited after the ACK, by the receiver's continuation.
  const audited = async () =>
    (await m.stores.grid.auditTrail({ transactionId: p.transactionId })).filter(
      (r) => r.kind === 'settlement' && (r.payload as { messageId?: string }).messageId === ours.message_id,
    );
  for (let i = 0; i < 50 && (await audited()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal((await audited()).length, 1, 'the unasked on_status is audited by the BAP');
});

test("every message both sides exchanged conforms to FlexLon's schemas and the official transaction.yaml", async () => {
  const official = officialValidator();
  let checked = 0;
  for (const store of [m.stores.flex, m.stores.grid]) {
    for (const r of await store.auditTrail()) {
      if (r.kind !== 'beckn.in' && r.kind !== 'beckn.out') continue;
      const { action, body } = r.payload as { action: string; body: string };
      const msg = JSON.parse(body) as unknown;
      assert.deepEqual(official(action, msg), [], `${action} (${r.kind}) against transaction.yaml`);
      assert.deepEqual(
        becknValidator().check(action as never, msg),
        [],
        `${action} (${r.kind}) against FlexLon's schema`,
      );
      checked++;
    }
  }
  const actions = new Set(
    (await m.stores.grid.auditTrail())
      .filter((r) => r.kind === 'beckn.out')
      .map((r) => (r.payload as { action: string }).action),
  );
  assert.deepEqual([...actions].sort(), [
    'cancel',
    'confirm',
    'init',
    'rating',
    'search',
    'select',
    'support',
    'track',
    'update',
  ]);
  assert.ok(checked > 20);
});
