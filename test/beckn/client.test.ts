// The outbound client against real receivers on loopback: a lost ACK is retried with the same signed
// bytes and has no second effect; an unreachable peer is retried only inside the ttl; a peer's ACK
// is verified when signed (a bad signature is refused), an unsigned ACK accepted unless the per-peer
// policy requires signed ACKs; an invalid outgoing message is never sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BecknClient } from '../../src/beckn/client.ts';
import { ACK } from '../../src/beckn/ack.ts';
import { requireSignedAcksFrom, signAck } from '../../src/beckn/ack-signature.ts';
import { buildContext, type BecknMessage } from '../../src/beckn/context.ts';
import { useRawJsonBody } from '../../src/beckn/raw-body.ts';
import { registerReceiver } from '../../src/beckn/receiver.ts';
import type { Signer, Store } from '../../src/ports.ts';
import { listen, startNetwork, type TestNetwork } from '../helpers/network.ts';

let net: TestNetwork;
let bap: Signer;
let bpp: Signer;
let bppUrl: string;
let proxyUrl: string;
let fakeUrl: string;
let oddUrl: string;
let bapStore: Store;
let bppStore: Store;
let effects = 0;
let dropNext = 0;
let fakeSigner: Signer | undefined;

const select = (): BecknMessage => ({
  context: buildContext({
    action: 'select',
    bapId: bap.subscriberId,
    bapUri: 'http://127.0.0.1:9/bap',
    bppId: bpp.subscriberId,
    bppUri: bppUrl,
    now: Date.now(),
  }),
  message: { order: { items: [{ id: 'offer-1' }] } },
});

before(async () => {
  net = await startNetwork();
  bap = net.signer('bap.test');
  bpp = net.signer('bpp.test');
  bapStore = await net.store('bap');
  bppStore = await net.store('bpp');
  const app = net.app();
  registerReceiver(app, {
    subscriberId: bpp.subscriberId,
    role: 'BPP',
    resolver: net.resolver,
    store: bppStore,
    now: Date.now,
    ackSigner: bpp,
    onBackgroundError: () => {},
    handlers: {
      select: async () => async () => {
        effects++;
      },
    },
  });
  bppUrl = await listen(app);
  // A proxy in front of the BPP that delivers the request but loses the answer (502) when told to.
  const proxy = net.app();
  useRawJsonBody(proxy);
  proxy.post('/select', async (req, reply) => {
    const res = await fetch(`${bppUrl}/select`, {
      method: 'POST',
      body: req.body as Buffer,
      headers: { 'content-type': 'application/json', authorization: req.headers.authorization as string },
    });
    const text = await res.text();
    if (dropNext > 0) {
      dropNext--;
      return reply.code(502).send('bad gateway');
    }
    return reply
      .code(res.status)
      .header('signature', res.headers.get('signature') ?? '')
      .type('application/json')
      .send(text);
  });
  proxyUrl = await listen(proxy);
  // A peer that ACKs with whatever signature the test sets.
  const fake = net.app();
  useRawJsonBody(fake);
  fake.post('/select', async (_req, reply) => {
    const text = JSON.stringify(ACK);
    if (fakeSigner) reply.header('signature', signAck(text, fakeSigner, Date.now()));
    return reply.type('application/json').send(text);
  });
  fakeUrl = await listen(fake);
  // A peer that refuses in shapes that are not core 1.1.1's Error.
  const odd = net.app();
  useRawJsonBody(odd);
  let oddAnswer: [number, string] = [400, ''];
  odd.post('/answer', async (req) => {
    oddAnswer = JSON.parse((req.body as Buffer).toString('utf8')) as [number, string];
    return '';
  });
  odd.post('/select', async (_req, reply) => reply.code(oddAnswer[0]).type('application/json').send(oddAnswer[1]));
  oddUrl = await listen(odd);
  await net.subscribe(bap, 'BAP', 'http://127.0.0.1:9/bap');
  await net.subscribe(bpp, 'BPP', bppUrl);
});

after(async () => {
  await net.stop();
});

const rejectsWith = (p: Promise<unknown>, code: string, message: RegExp) =>
  assert.rejects(p, (e: unknown) => (e as { code?: string }).code === code && message.test((e as Error).message));

const client = (o: Partial<ConstructorParameters<typeof BecknClient>[0]> = {}) =>
  new BecknClient({
    signer: bap,
    store: bapStore,
    now: Date.now,
    ackResolver: net.resolver,
    retry: { baseMs: 5, maxAttempts: 5 },
    ...o,
  });

test('an ACK lost on the way back is retried with the same signed bytes; the BPP acts once', async () => {
  const before = effects;
  dropNext = 1;
  const msg = select();
  const ack = await client().send(proxyUrl, msg, { peer: bpp.subscriberId });
  assert.equal(ack.message.ack.status, 'ACK');
  await new Promise((r) => setImmediate(r));
  assert.equal(effects, before + 1, 'one effect for two deliveries');
  const inbound = (await bppStore.auditTrail()).filter(
    (r) => r.kind === 'beckn.in' && r.messageId === msg.context.message_id,
  );
  assert.deepEqual(
    inbound.map((r) => (r.payload as { outcome: string }).outcome),
    ['ACK', 'ACK (duplicate: no effect)'],
  );
  assert.equal(
    (inbound[0]?.payload as { authorization: string }).authorization,
    (inbound[1]?.payload as { authorization: string }).authorization,
    'the retry reused the signature',
  );
  const out = (await bapStore.auditTrail()).filter(
    (r) => r.kind === 'beckn.out' && r.messageId === msg.context.message_id,
  );
  assert.equal((out[0]?.payload as { attempts: number }).attempts, 2);
});

test('an unreachable peer is retried with backoff until the ttl runs out, then FLX_PEER_UNREACHABLE', async () => {
  let clock = Date.now();
  const delays: number[] = [];
  const c = client({
    now: () => clock,
    sleep: async (ms) => {
      delays.push(ms);
      clock += ms;
    },
    retry: { baseMs: 1000, maxAttempts: 10 },
  });
  const msg = { ...select(), context: { ...select().context, timestamp: new Date(clock).toISOString(), ttl: 'PT10S' } };
  const closed = net.app();
  const deadUrl = await listen(closed);
  await closed.close(); // nothing listens there now
  await rejectsWith(c.send(deadUrl, msg, { peer: bpp.subscriberId }), 'FLX_PEER_UNREACHABLE', /ECONNREFUSED/);
  assert.ok(delays.length >= 2, `retried (${delays.length} waits)`);
  delays.forEach((d, k) =>
    assert.ok(d >= 500 * 2 ** k && d <= 1000 * 2 ** k, `wait ${k} of ${d} ms is within [½, 1] × ${1000 * 2 ** k} ms`),
  );
  assert.ok(delays.reduce((a, b) => a + b, 0) < 10_000, 'no retry past the ttl');
  const last = (await bapStore.auditTrail()).at(-1);
  assert.equal((last?.payload as { outcome: string }).outcome, 'unreachable');
});

const lastOut = async (messageId: string) =>
  (await bapStore.auditTrail()).filter((r) => r.kind === 'beckn.out' && r.messageId === messageId).at(-1)?.payload as {
    outcome: string;
    ackCheck: string;
    reason?: string;
  };

test('an unsigned ACK (core 1.1.1) is accepted and audited as such; a signed one is verified', async () => {
  fakeSigner = undefined;
  const plain = select();
  assert.equal((await client().send(fakeUrl, plain, { peer: bpp.subscriberId })).message.ack.status, 'ACK');
  const row = await lastOut(plain.context.message_id);
  assert.equal(row.outcome, 'ACK');
  assert.equal(row.ackCheck, 'unsigned ACK accepted by policy');
  fakeSigner = bpp;
  const signed = select();
  assert.equal((await client().send(fakeUrl, signed, { peer: bpp.subscriberId })).message.ack.status, 'ACK');
  assert.equal((await lastOut(signed.context.message_id)).ackCheck, 'signed ACK verified');
});

test('a per-peer policy that requires signed ACKs refuses an unsigned one (FLX_PEER_ACK_SIGNATURE), other peers not', async () => {
  fakeSigner = undefined;
  const strict = client({ ackPolicy: requireSignedAcksFrom([bpp.subscriberId]) });
  const msg = select();
  await rejectsWith(
    strict.send(fakeUrl, msg, { peer: bpp.subscriberId }),
    'FLX_PEER_ACK_SIGNATURE',
    /has no Signature header, and signed ACKs are required from it/,
  );
  const row = await lastOut(msg.context.message_id);
  assert.equal(row.outcome, 'ACK refused (FLX_PEER_ACK_SIGNATURE)', 'the audit does not say ACK');
  assert.equal(row.ackCheck, 'unsigned ACK refused by policy');
  // The same policy leaves a peer it does not name to core 1.1.1's default.
  const other = { ...select(), context: { ...select().context, bpp_id: 'other.test' } };
  assert.equal((await strict.send(fakeUrl, other, { peer: 'other.test' })).message.ack.status, 'ACK');
});

test("a signature on an ACK that is not the peer's valid one is refused with FLX_PEER_ACK_SIGNATURE, whatever the policy", async () => {
  fakeSigner = net.signer('bpp.test', 'unregistered-key');
  const msg = select();
  await rejectsWith(
    client().send(fakeUrl, msg, { peer: bpp.subscriberId }),
    'FLX_PEER_ACK_SIGNATURE',
    /FLX_SIG_UNKNOWN_KEY/,
  );
  const row = await lastOut(msg.context.message_id);
  assert.equal(row.ackCheck, 'bad signature refused');
  assert.equal(row.outcome, 'ACK refused (FLX_PEER_ACK_SIGNATURE)');
  fakeSigner = bap;
  await rejectsWith(
    client().send(fakeUrl, select(), { peer: bpp.subscriberId }),
    'FLX_PEER_ACK_SIGNATURE',
    /signed by bap.test/,
  );
  fakeSigner = bpp;
  assert.equal((await client().send(fakeUrl, select(), { peer: bpp.subscriberId })).message.ack.status, 'ACK');
});

test('a refusal not in core 1.1.1 shape is FLX_PEER_NACK saying what came back (status and an excerpt), never "undefined"', async () => {
  const answer = (status: number, text: string) =>
    fetch(`${oddUrl}/answer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([status, text]),
    });
  const cases: [number, string, RegExp][] = [
    // A Beckn 2.0 NACK: status NACK and an error without core's fields.
    [
      400,
      JSON.stringify({ status: 'NACK', error: { reason: 'no such contract' } }),
      /HTTP 400 \{"status":"NACK","error":\{"reason":"no such contract"\}\}$/,
    ],
    [409, JSON.stringify({ message: { ack: { status: 'NACK' } }, error: {} }), /HTTP 409 \{"message"/],
    [400, JSON.stringify({ message: { ack: { status: 'NACK' } }, error: { code: '30004' } }), /HTTP 400 30004$/],
    // 2.0's Error fields are named errorCode / errorMessage.
    [
      400,
      JSON.stringify({ status: 'NACK', error: { errorCode: '40001', errorMessage: 'bad context' } }),
      /HTTP 400 40001 bad context$/,
    ],
    [503, '', /HTTP 503 \(empty body\)$/],
    [400, `<html>${'x'.repeat(500)}</html>`, /HTTP 400 <html>x{194}…$/],
  ];
  for (const [status, text, expected] of cases) {
    await answer(status, text);
    await assert.rejects(
      client({ retry: { baseMs: 5, maxAttempts: 1 } }).send(oddUrl, select()),
      (e: Error & { code?: string }) =>
        e.code === 'FLX_PEER_NACK' && expected.test(e.message) && !/undefined/.test(e.message),
      `${status} ${text.slice(0, 40)}`,
    );
  }
});

test('an outgoing message that does not match its schema is refused before anything is sent', async () => {
  const before = (await bapStore.auditTrail()).length;
  const bad = { ...select(), message: { order: { items: [] } } };
  await rejectsWith(
    client().send(bppUrl, bad),
    'FLX_REQ_SCHEMA',
    /the outgoing select message does not match its schema: message.order.items must NOT have fewer than 1 items/,
  );
  assert.equal((await bapStore.auditTrail()).length, before);
});

test("a callback due after its request's ttl is dropped with an audit row, not sent", async () => {
  const request = { ...select().context, timestamp: new Date(Date.now() - 60_000).toISOString(), ttl: 'PT30S' };
  const callback: BecknMessage = {
    context: buildContext({
      action: 'on_select',
      bapId: bap.subscriberId,
      bapUri: fakeUrl,
      bppId: bpp.subscriberId,
      bppUri: bppUrl,
      transactionId: request.transaction_id,
      messageId: request.message_id,
      now: Date.now(),
    }),
    message: { order: {} },
  };
  const c = new BecknClient({ signer: bpp, store: bppStore, now: Date.now });
  await rejectsWith(
    c.send(fakeUrl, callback, { inReplyTo: request }),
    'FLX_REQ_EXPIRED',
    /not sent: the request's ttl ended at/,
  );
  const last = (await bppStore.auditTrail()).at(-1);
  assert.equal(last?.kind, 'beckn.out');
  assert.equal((last?.payload as { outcome: string; attempts: number }).outcome, 'dropped');
  assert.equal((last?.payload as { attempts: number }).attempts, 0);
});
