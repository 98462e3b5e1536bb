// Interoperability with an ordinary core 1.1.1 buyer (issue 18 item 1). The buyer is written here,
// with node:crypto and node:http only: it signs its requests per BECKN-006 and answers every
// callback with a plain, unsigned ACK, as core 1.1.1 `responses.default` defines it. It completes the
// whole lifecycle (search … confirm, status, support) with FlexLon's BPP of a composed market over
// signed HTTP on loopback, each callback arriving once, and the BPP's audit says what it accepted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import type { Signer } from '../../src/ports.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';
import { officialValidator } from '../helpers/official-beckn.ts';

const BUYER = 'plain-buyer.example';
const KEY_ID = 'plain-k1';

interface Msg {
  context: Record<string, string> & { action: string; message_id: string };
  message?: Record<string, unknown>;
  error?: unknown;
}

let market: TestMarket;
let m: Market;
let server: Server;
let buyerUrl: string;
let privateKey: KeyObject;
let publicKeyBase64: string;
/** Every callback received, with whether it carried an Authorization header and of whom. */
const received: { msg: Msg; keyId: string | undefined }[] = [];

/** BECKN-006: Authorization over the exact body (BLAKE2b-512 digest, ed25519), valid for the ttl. */
const authorization = (body: string): string => {
  const created = Math.floor(Date.now() / 1000);
  const expires = created + 30;
  const digest = createHash('blake2b512').update(body).digest('base64');
  const signingString = `(created): ${created}\n(expires): ${expires}\ndigest: BLAKE-512=${digest}`;
  const signature = sign(null, Buffer.from(signingString), privateKey).toString('base64');
  return `Signature keyId="${BUYER}|${KEY_ID}|ed25519",algorithm="ed25519",created="${created}",expires="${expires}",headers="(created) (expires) digest",signature="${signature}"`;
};

const post = async (action: string, transactionId: string, message: unknown): Promise<Msg> => {
  const msg: Msg = {
    context: {
      domain: 'uei:compute_flexibility',
      action,
      version: '1.1.0',
      bap_id: BUYER,
      bap_uri: buyerUrl,
      bpp_id: m.bpp.id,
      bpp_uri: m.urls.bpp,
      transaction_id: transactionId,
      message_id: randomUUID(),
      timestamp: new Date().toISOString(),
      ttl: 'PT30S',
    },
    message: message as Record<string, unknown>,
  };
  assert.deepEqual(officialValidator()(action, msg), [], `the buyer's ${action} is core 1.1.1`);
  const body = JSON.stringify(msg);
  const res = await fetch(`${m.urls.bpp}/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: authorization(body) },
    body,
  });
  const ack = (await res.json()) as { message: { ack: { status: string } }; error?: unknown };
  assert.equal(ack.message.ack.status, 'ACK', `${action}: ${JSON.stringify(ack.error)}`);
  return waitCallback(`on_${action}`, msg.context.message_id);
};

const waitCallback = async (action: string, messageId: string, ms = 20_000): Promise<Msg> => {
  const until = Date.now() + ms;
  for (;;) {
    const got = received.find((r) => r.msg.context.message_id === messageId && r.msg.context.action === action);
    if (got) return got.msg;
    if (Date.now() > until) throw new Error(`no ${action} for ${messageId} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

before(async () => {
  market = await openMarket('plain-peer');
  m = market.m;
  const pair = generateKeyPairSync('ed25519');
  privateKey = pair.privateKey;
  publicKeyBase64 = Buffer.from(pair.publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString('base64');
  // An ordinary buyer: records the callback, answers the core 1.1.1 ACK body with no Signature header.
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const msg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Msg;
      const keyId = /keyId="([^"]*)"/.exec(req.headers.authorization ?? '')?.[1];
      received.push({ msg, keyId });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: { ack: { status: 'ACK' } } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  buyerUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const signer: Signer = {
    subscriberId: BUYER,
    uniqueKeyId: KEY_ID,
    publicKeyBase64,
    sign: (d) => sign(null, d, privateKey),
  };
  const now = Date.now();
  await new HttpRegistry({ url: m.urls.registry, now: Date.now }, signer).subscribe({
    subscriber_id: BUYER,
    subscriber_url: buyerUrl,
    type: 'BAP',
    domain: 'uei:compute_flexibility',
    unique_key_id: KEY_ID,
    signing_public_key: publicKeyBase64,
    valid_from: new Date(now - 60_000).toISOString(),
    valid_until: new Date(now + 86_400_000).toISOString(),
    status: 'SUBSCRIBED',
  });
});

after(async () => {
  await new Promise((r) => server.close(r));
  await market.stop();
});

test('a buyer that answers with plain unsigned ACKs completes search … confirm, status and support with the BPP', async () => {
  const need = await m.bap.detectNeed({ start: m.dayStart, slotMinutes: SLOT_MINUTES, slots: 48 });
  assert.ok(need, 'the day has a peak to buy against');
  const txn = randomUUID();
  const hours = (need.windowEnd - need.windowStart) / 3_600_000;
  const maxGbp = need.maxPriceGbpPerMwh * (need.wantedKw / 1000) * hours;
  const onSearch = await post('search', txn, {
    intent: {
      descriptor: { code: 'demand-reduction' },
      fulfillment: {
        type: 'DEMAND_RESPONSE',
        stops: [
          { type: 'start', time: { timestamp: new Date(need.windowStart).toISOString() } },
          { type: 'end', time: { timestamp: new Date(need.windowEnd).toISOString() } },
        ],
      },
      // Core 1.1.1 fields only, no FlexLon tags: the kW wanted and the most it would pay for them.
      item: {
        id: 'want',
        quantity: { selected: { measure: { type: 'CONSTANT', value: String(need.wantedKw), unit: 'kW' } } },
        price: { currency: 'GBP', maximum_value: maxGbp.toFixed(2) },
      },
    },
  });
  type Item = { id: string; quantity: { available: { measure: { value: string } } } };
  const catalog = onSearch.message?.catalog as { providers: { id: string; items: Item[] }[] };
  const provider = catalog.providers[0];
  const item = provider?.items[0];
  assert.ok(provider && item, 'the BPP offered a reduction');
  const kw = String(Math.min(Number(item.quantity.available.measure.value), need.wantedKw));
  const order = {
    provider: { id: provider.id },
    items: [{ id: item.id, quantity: { selected: { measure: { type: 'CONSTANT', value: kw, unit: 'kW' } } } }],
  };
  const onSelect = await post('select', txn, { order });
  assert.ok(Number((onSelect.message?.order as { quote: { price: { value: string } } }).quote.price.value) > 0);
  const billing = { name: BUYER, email: `settlement@${BUYER}` };
  const onInit = await post('init', txn, { order: { ...order, billing } });
  const payments = (onInit.message?.order as { payments: unknown[] }).payments;
  const onConfirm = await post('confirm', txn, { order: { ...order, billing, payments } });
  const confirmed = onConfirm.message?.order as { id: string; status: string };
  assert.equal(confirmed.status, 'ACTIVE');
  const onStatus = await post('status', txn, { order_id: confirmed.id });
  assert.equal((onStatus.message?.order as { id: string }).id, confirmed.id);
  const onSupport = await post('support', txn, { support: { ref_id: confirmed.id } });
  assert.equal((onSupport.message?.support as { ref_id: string }).ref_id, confirmed.id);

  // Each callback came once (no resend after an unsigned ACK), signed by the BPP, and is core 1.1.1.
  const ofTxn = received.filter((r) => r.msg.context.transaction_id === txn);
  assert.deepEqual(
    ofTxn.map((r) => r.msg.context.action),
    ['on_search', 'on_select', 'on_init', 'on_confirm', 'on_status', 'on_support'],
  );
  for (const r of ofTxn) {
    assert.match(r.keyId ?? '', new RegExp(`^${m.bpp.id.replace(/\./g, '\\.')}\\|`), `${r.msg.context.action} signed`);
    assert.deepEqual(officialValidator()(r.msg.context.action, r.msg), [], `${r.msg.context.action} is core 1.1.1`);
  }
  // The BPP holds each callback as delivered at the first attempt: nothing owed, nothing to resend.
  await new Promise((r) => setTimeout(r, 1500)); // more than the outbox's retry interval (1 s)
  const owed = (await m.stores.flex.listOutbox({ transactionId: txn })).filter((o) => o.action.startsWith('on_'));
  assert.deepEqual(
    owed.map((o) => [o.action, o.status, o.attempts]),
    ofTxn.map((r) => [r.msg.context.action, 'sent', 1]),
  );
  assert.equal(received.filter((r) => r.msg.context.transaction_id === txn).length, 6, 'no callback came twice');
  // The BPP's audit records what happened to each callback: an unsigned ACK accepted by policy.
  const out = (await m.stores.flex.auditTrail({ transactionId: txn })).filter((a) => a.kind === 'beckn.out');
  assert.equal(out.length, 6);
  for (const a of out) {
    const p = a.payload as { outcome: string; ackCheck: string; attempts: number; action: string };
    assert.deepEqual(
      [p.action, p.outcome, p.ackCheck, p.attempts],
      [p.action, 'ACK', 'unsigned ACK accepted by policy', 1],
    );
  }
});

test('select for a provider this BPP does not serve is NACKed with 30001 (BECKN-005 "Provider not found"), an unknown item with 30004', async () => {
  const nack = async (order: unknown) => {
    const msg = {
      context: {
        domain: 'uei:compute_flexibility',
        action: 'select',
        version: '1.1.0',
        bap_id: BUYER,
        bap_uri: buyerUrl,
        bpp_id: m.bpp.id,
        bpp_uri: m.urls.bpp,
        transaction_id: randomUUID(),
        message_id: randomUUID(),
        timestamp: new Date().toISOString(),
        ttl: 'PT30S',
      },
      message: { order },
    };
    const body = JSON.stringify(msg);
    const res = await fetch(`${m.urls.bpp}/select`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: authorization(body) },
      body,
    });
    const ack = (await res.json()) as {
      message: { ack: { status: string } };
      error?: { code: string; paths?: string };
    };
    return { http: res.status, status: ack.message.ack.status, code: ack.error?.code, paths: ack.error?.paths };
  };
  assert.deepEqual(await nack({ provider: { id: 'someone-else.example' }, items: [{ id: 'x' }] }), {
    http: 404,
    status: 'NACK',
    code: '30001',
    paths: 'message.order.provider.id',
  });
  assert.deepEqual((await nack({ provider: { id: m.bpp.id }, items: [{ id: 'no-such-offer' }] })).code, '30004');
});
