// The BPP's 2.0 endpoint keeps the 1.1.1 receiver's rules (docs/beckn.md, "The receiver pipeline"):
// the same message again is a duplicate with the same ACK and no second effect, another body under a
// used messageId is refused, callbacks go only to registered URLs, late messages are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Market } from '../../src/compose/index.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';
import { startDegBuyer, type DegBuyer, type Msg } from './deg-buyer.ts';

let market: TestMarket;
let m: Market;
let buyer: DegBuyer;

before(async () => {
  market = await openMarket('v2-receiver');
  m = market.m;
  buyer = await startDegBuyer(m);
});

after(async () => {
  await buyer.stop();
  await market.stop();
});

const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');
const discover = (txn: string, kw = 20): Msg => ({
  context: buyer.context('discover', txn),
  message: {
    intent: {
      filters: {
        type: 'jsonpath',
        expression: `$[?(@.resourceAttributes.eventWindow.startDate == '${iso(m.dayStart + 4 * 3_600_000)}' && @.resourceAttributes.eventWindow.endDate == '${iso(m.dayStart + 5 * 3_600_000)}' && @.resourceAttributes.maxCapacityKw >= ${kw})]`,
      },
    },
  },
});
const errorOf = (ack: Record<string, unknown>) => ack.error as { errorCode: string; path?: string };

test('the same 2.0 request twice: the same ACK, one effect; another body under its messageId: refused', async () => {
  const txn = randomUUID();
  const msg = discover(txn);
  const first = await buyer.post(msg);
  const again = await buyer.post(msg);
  assert.deepEqual([first.http, first.ack.status, again.http, again.ack.status], [200, 'ACK', 200, 'ACK']);
  const other = await buyer.post({ ...msg, message: discover(txn, 30).message });
  assert.deepEqual(
    [other.http, errorOf(other.ack).errorCode, errorOf(other.ack).path],
    [400, '30000', 'context.messageId'],
  );
  // One pricing task and one on_discover owed for the messageId; the audit says which copy did what.
  for (let i = 0; i < 200 && !buyer.received.some((r) => r.msg.context.messageId === msg.context.messageId); i++)
    await new Promise((r) => setTimeout(r, 50));
  const owed = await m.stores.flex.listOutbox({ transactionId: txn });
  assert.deepEqual(owed.map((o) => o.action).sort(), ['on_search', 'task:offers']);
  const ins = (await m.stores.flex.auditTrail({ transactionId: txn })).filter((a) => a.kind === 'beckn.in');
  assert.deepEqual(
    ins.map((a) => (a.payload as { outcome: string }).outcome),
    ['ACK', 'ACK (duplicate: no effect)'],
  );
  assert.equal(buyer.received.filter((r) => r.msg.context.messageId === msg.context.messageId).length, 1);
});

test('a bapUri other than the registered URL (or it + /v2), another BPP, a late message: refused with the field', async () => {
  const elsewhere = discover(randomUUID());
  elsewhere.context.bapUri = 'http://127.0.0.1:9/steal';
  const a = await buyer.post(elsewhere);
  assert.deepEqual([a.http, errorOf(a.ack).errorCode, errorOf(a.ack).path], [400, '60005', 'context.bapUri']);
  const notHere = discover(randomUUID());
  notHere.context.bppId = 'other-bpp.example';
  const b = await buyer.post(notHere);
  assert.deepEqual([b.http, errorOf(b.ack).errorCode, errorOf(b.ack).path], [400, '60005', 'context.bppId']);
  const late = discover(randomUUID());
  late.context.timestamp = new Date(Date.now() - 120_000).toISOString();
  const c = await buyer.post(late);
  assert.deepEqual([c.http, errorOf(c.ack).errorCode, errorOf(c.ack).path], [400, '30000', 'context.ttl']);
  // Each refusal is counter-signed and audited as a 2.0 rejection.
  for (const r of [a, b, c])
    assert.ok(
      buyer.counterSignatureValid(r.text, r.request, (JSON.parse(r.request.toString()) as Msg).context.messageId),
    );
  const rejected = (await m.stores.flex.auditTrail()).filter(
    (x) => x.kind === 'beckn.rejected' && (x.payload as { version?: string }).version === '2.0.0',
  );
  assert.ok(rejected.length >= 3);
});
