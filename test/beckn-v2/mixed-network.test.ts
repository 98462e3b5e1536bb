// Issue 18's mixed network: one FlexLon BPP, two buyers on one registry, both procuring through
// signed HTTP on loopback — FlexLon's own grid buyer (core 1.1.1) and a Beckn 2.0 buyer written here
// with node:crypto and node:http only (core v2.0.0 LTS: camelCase context, Contract, counter-signed
// Acks). The BPP answers each in its own version from the same handlers. Every 2.0 message FlexLon
// produces (callbacks and Acks) is checked against FlexLon's own 2.0 envelope and against the
// official LTS beckn.yaml, read from ../shared at test time (never copied).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { parse } from 'yaml';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { contractIdOf } from '../../src/beckn/v2/codec-in.ts';
import { checkV2, loadOfficialSpec } from '../../src/beckn/v2/validate.ts';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import type { Signer } from '../../src/ports.ts';
import { buyEarlyWindow, openMarket, type TestMarket } from '../helpers/market.ts';
import { sharedPath } from '../helpers/shared.ts';

const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;
const LTS = sharedPath('beckn', 'protocol-specifications-v2', 'core-v2.0.0-lts', 'api', 'v2.0.0', 'beckn.yaml');
const BUYER = 'deg-buyer.example';
const KEY_ID = 'deg-k1';
const COUNTER_HEADERS = '(created) (expires) digest (request-digest) (message-id)';

type Obj = Record<string, unknown>;
interface Msg {
  context: Obj & { action: string; messageId: string; transactionId: string; requestDigest?: { digest: string } };
  message: Obj;
}

let market: TestMarket;
let m: Market;
let server: Server;
let buyerUrl: string;
let privateKey: KeyObject;
let bppKey: KeyObject;
const received: { msg: Msg; raw: Buffer; authorization: string }[] = [];
/** Every Ack the BPP answered the 2.0 buyer with: HTTP status, body text, the request's bytes. */
const acks: { action: string; http: number; text: string; request: Buffer; messageId: string }[] = [];

const b2 = (x: Uint8Array | string): string => createHash('blake2b512').update(x).digest('base64');

/** 14_Signing_Beckn_APIs_in_HTTP.md (= BECKN-006): Authorization over the exact body. */
const authorization = (body: string): string => {
  const created = Math.floor(Date.now() / 1000);
  const expires = created + 30;
  const s = `(created): ${created}\n(expires): ${expires}\ndigest: BLAKE-512=${b2(body)}`;
  const sig = sign(null, Buffer.from(s), privateKey).toString('base64');
  return `Signature keyId="${BUYER}|${KEY_ID}|ed25519",algorithm="ed25519",created="${created}",expires="${expires}",headers="(created) (expires) digest",signature="${sig}"`;
};

/** beckn.yaml Ack with its CounterSignature (the digest over the Ack body without `signature`). */
const counterSignedAck = (request: Buffer, messageId: string): string => {
  const ack = { status: 'ACK' };
  const created = Math.floor(Date.now() / 1000);
  const expires = created + 30;
  const s =
    `(created): ${created}\n(expires): ${expires}\ndigest: BLAKE-512=${b2(JSON.stringify(ack))}\n` +
    `(request-digest): BLAKE-512=${b2(request)}\n(message-id): ${messageId}`;
  const sig = sign(null, Buffer.from(s), privateKey).toString('base64');
  return JSON.stringify({
    ...ack,
    signature: `Signature keyId="${BUYER}|${KEY_ID}|ed25519",algorithm="ed25519",created="${created}",expires="${expires}",headers="${COUNTER_HEADERS}",signature="${sig}"`,
  });
};

const params = (header: string): Map<string, string> =>
  new Map([...header.matchAll(/([a-zA-Z]+)="([^"]*)"/g)].map((x) => [x[1] as string, x[2] as string]));

/** The BPP's counter-signature over its Ack to `request`, checked the way beckn.yaml describes it. */
const counterSignatureValid = (text: string, request: Buffer, messageId: string): boolean => {
  const { signature, ...rest } = JSON.parse(text) as { signature: string };
  const p = params(signature);
  if (p.get('headers') !== COUNTER_HEADERS || !p.get('keyId')?.startsWith(`${m.bpp.id}|`)) return false;
  const s =
    `(created): ${p.get('created')}\n(expires): ${p.get('expires')}\ndigest: BLAKE-512=${b2(JSON.stringify(rest))}\n` +
    `(request-digest): BLAKE-512=${b2(request)}\n(message-id): ${messageId}`;
  return verify(null, Buffer.from(s), bppKey, Buffer.from(p.get('signature') ?? '', 'base64'));
};

const context = (action: string, transactionId: string): Msg['context'] => ({
  domain: 'uei:compute_flexibility',
  action,
  version: '2.0.0',
  bapId: BUYER,
  bapUri: buyerUrl,
  bppId: m.bpp.id,
  bppUri: `${m.urls.bpp}/v2`,
  transactionId,
  messageId: randomUUID(),
  timestamp: new Date().toISOString(),
  ttl: 'PT30S',
});

const postV2 = async (msg: Msg): Promise<{ http: number; ack: Obj; request: Buffer }> => {
  const body = JSON.stringify(msg);
  const res = await fetch(`${m.urls.bpp}/v2/${msg.context.action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: authorization(body) },
    body,
  });
  const text = await res.text();
  const request = Buffer.from(body);
  acks.push({ action: msg.context.action, http: res.status, text, request, messageId: msg.context.messageId });
  return { http: res.status, ack: JSON.parse(text) as Obj, request };
};

const waitCallback = async (action: string, messageId: string, ms = 30_000): Promise<(typeof received)[number]> => {
  const until = Date.now() + ms;
  for (;;) {
    const got = received.find((r) => r.msg.context.messageId === messageId && r.msg.context.action === action);
    if (got) return got;
    if (Date.now() > until) throw new Error(`no ${action} for ${messageId} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** Sends a 2.0 request, expects a counter-signed ACK and returns its callback. */
const ask = async (action: string, transactionId: string, message: Obj): Promise<Msg> => {
  const msg = { context: context(action, transactionId), message };
  const { http, ack, request } = await postV2(msg);
  assert.equal(http, 200, `${action}: ${JSON.stringify(ack)}`);
  assert.equal(ack.status, 'ACK');
  const cb = await waitCallback(`on_${action === 'discover' ? 'discover' : action}`, msg.context.messageId);
  // LTS Context.requestDigest binds the callback to this very request.
  assert.equal(cb.msg.context.requestDigest?.digest, `BLAKE-512=${b2(request)}`, `on_${action} names its request`);
  return cb.msg;
};

before(async () => {
  market = await openMarket('v2-mixed');
  m = market.m;
  const pair = generateKeyPairSync('ed25519');
  privateKey = pair.privateKey;
  const publicKeyBase64 = Buffer.from(pair.publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString(
    'base64',
  );
  // A 2.0 buyer: records each callback and answers with a counter-signed beckn.yaml Ack.
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const msg = JSON.parse(raw.toString('utf8')) as Msg;
      received.push({ msg, raw, authorization: req.headers.authorization ?? '' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(counterSignedAck(raw, msg.context.messageId));
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
  const registry = new HttpRegistry({ url: m.urls.registry, now: Date.now }, signer);
  const now = Date.now();
  await registry.subscribe({
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
  const [bpp] = await registry.lookup({ subscriber_id: m.bpp.id });
  assert.ok(bpp, 'the BPP is in the registry');
  bppKey = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(bpp.signing_public_key, 'base64')]),
    format: 'der',
    type: 'spki',
  });
});

after(async () => {
  await new Promise((r) => server.close(r));
  await market.stop();
});

test('a 1.1.1 buyer and a 2.0 buyer both procure from one BPP; every FlexLon 2.0 message validates', async () => {
  const need = await m.bap.detectNeed({ start: m.dayStart, slotMinutes: SLOT_MINUTES, slots: 48 });
  assert.ok(need, 'the day has a peak to buy against');
  const kw = Math.min(need.wantedKw, 50);
  const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');

  // --- the 2.0 buyer: discover … status -------------------------------------------------------
  const txn = randomUUID();
  const onDiscover = await ask('discover', txn, {
    intent: {
      textSearch: 'demand flexibility',
      filters: {
        type: 'jsonpath',
        expression:
          `$[?(@.resourceAttributes.direction == 'REDUCE' && @.resourceAttributes.eventWindow.startDate == '${iso(need.windowStart)}'` +
          ` && @.resourceAttributes.eventWindow.endDate == '${iso(need.windowEnd)}' && @.resourceAttributes.maxCapacityKw >= ${kw})]`,
      },
    },
  });
  const catalog = (onDiscover.message.catalogs as Obj[])[0] as { offers: Obj[]; resources: Obj[] };
  const offer = catalog.offers[0] as { id: string; resourceIds: string[] };
  assert.ok(offer, 'the BPP offered a reduction in 2.0');
  const resource = catalog.resources.find((r) => r.id === offer.resourceIds[0]) as {
    id: string;
    resourceAttributes: { maxCapacityKw: number };
  };
  const buy = Math.min(kw, resource.resourceAttributes.maxCapacityKw);
  const commitment = {
    status: { descriptor: { code: 'DRAFT' } },
    resources: [{ id: resource.id, quantity: { unitCode: 'kW', unitQuantity: buy } }],
    offer: { id: offer.id, resourceIds: [resource.id] },
  };
  const onSelect = await ask('select', txn, { contract: { commitments: [commitment] } });
  const quoted = onSelect.message.contract as {
    status: { code: string };
    consideration: { considerationAttributes: { totalGbp: string } }[];
  };
  assert.equal(quoted.status.code, 'DRAFT');
  assert.ok(Number(quoted.consideration[0]?.considerationAttributes.totalGbp) > 0, 'priced');
  await ask('init', txn, { contract: { commitments: [commitment] } });
  const onConfirm = await ask('confirm', txn, { contract: { commitments: [commitment] } });
  const confirmed = onConfirm.message.contract as { id: string; status: { code: string } };
  assert.equal(confirmed.status.code, 'ACTIVE');
  const onStatus = await ask('status', txn, { contract: { id: confirmed.id, commitments: [commitment] } });
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
  const committed = await m.stores.flex.listCommitments<{ orderId: string }>({});
  assert.ok(committed.some((c) => c.orderId === v2Order.id) && committed.some((c) => c.orderId === v1Order.id));

  // The 2.0 callbacks: once each, signed by the BPP over their bytes, valid under both schemas.
  const ofTxn = received.filter((r) => r.msg.context.transactionId === txn);
  assert.deepEqual(
    ofTxn.map((r) => r.msg.context.action),
    ['on_discover', 'on_select', 'on_init', 'on_confirm', 'on_status'],
  );
  const spec = loadOfficialSpec(LTS);
  for (const r of ofTxn) {
    const a = r.msg.context.action;
    const p2 = params(r.authorization);
    assert.ok(p2.get('keyId')?.startsWith(`${m.bpp.id}|`), `${a} signed by the BPP`);
    const s = `(created): ${p2.get('created')}\n(expires): ${p2.get('expires')}\ndigest: BLAKE-512=${b2(r.raw)}`;
    assert.ok(verify(null, Buffer.from(s), bppKey, Buffer.from(p2.get('signature') ?? '', 'base64')), `${a} signature`);
    assert.deepEqual(checkV2('lts', a, r.msg), [], `${a}: FlexLon's own 2.0 schema`);
    assert.deepEqual(spec.check(a, r.msg), [], `${a}: the official LTS beckn.yaml`);
  }
  // The Acks: beckn.yaml `Ack`, each counter-signed by the BPP over that Ack and that request.
  const doc = parse(readFileSync(LTS, 'utf8')) as object;
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addSchema(doc, 'lts');
  const ackSchema = ajv.getSchema('lts#/components/schemas/Ack');
  assert.ok(ackSchema);
  for (const a of acks.filter((x) => x.http === 200)) {
    assert.ok(ackSchema(JSON.parse(a.text)), `${a.action} Ack: ${JSON.stringify(ackSchema.errors)}`);
    assert.ok(counterSignatureValid(a.text, a.request, a.messageId), `${a.action} Ack counter-signature`);
  }

  // The BPP's audit: the 2.0 requests in, their exact bytes; the 2.0 callbacks out, each Ack's
  // counter-signature verified; the 1.1.1 transaction is 1.1.1 throughout.
  const trail = await m.stores.flex.auditTrail({ transactionId: txn });
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
  const v1outs = (await m.stores.flex.auditTrail({ transactionId: p.transactionId }))
    .filter((x) => x.kind === 'beckn.out')
    .map((x) => x.payload as Record<string, string>);
  assert.ok(v1outs.length >= 4);
  for (const x of v1outs) {
    const sent = JSON.parse(x.body) as { context: { version: string; bap_id: string } };
    assert.deepEqual([x.version, sent.context.version, sent.context.bap_id], [undefined, '1.1.0', v1Order.bapId]);
  }
});

test('the 2.0 endpoint refuses with real HTTP statuses, 2.0 error codes and counter-signed NACKs', async () => {
  const txn = randomUUID();
  const discover = (): Msg => ({
    context: context('discover', txn),
    message: {
      intent: { filters: { type: 'jsonpath', expression: '$[?(@.resourceAttributes.maxCapacityKw >= 10)]' } },
    },
  });
  // A need without its window: 400 NackBadRequest, 30000, the filter named.
  const noWindow = await postV2(discover());
  assert.equal(noWindow.http, 400);
  assert.deepEqual(noWindow.ack.status, 'NACK');
  const err = noWindow.ack.error as { errorCode: string; path: string };
  assert.deepEqual([err.errorCode, err.path], ['30000', 'message.intent.filters.expression']);
  // A body changed after signing: 401 NackUnauthorized, 60001.
  const msg = discover();
  const body = JSON.stringify(msg);
  const tampered = body.replace('>= 10', '>= 11');
  const res = await fetch(`${m.urls.bpp}/v2/discover`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: authorization(body) },
    body: tampered,
  });
  const text = await res.text();
  assert.equal(res.status, 401);
  assert.equal((JSON.parse(text) as { error: { errorCode: string } }).error.errorCode, '60001');
  // The NACK is counter-signed too, over the bytes received (here: the tampered ones, no messageId read).
  assert.ok(counterSignatureValid(text, Buffer.from(tampered), ''));
  // The DEG draft's snake_case context at the LTS endpoint: 400, 60005.
  const draft = {
    context: {
      action: 'discover',
      version: '2.0.0',
      bap_id: BUYER,
      bap_uri: buyerUrl,
      transaction_id: txn,
      message_id: randomUUID(),
      timestamp: new Date().toISOString(),
    },
    message: { text_search: 'flex' },
  } as unknown as Msg;
  const d = await postV2(draft);
  assert.deepEqual([d.http, (d.ack.error as { errorCode: string }).errorCode], [400, '60005']);
  // A status for a contract this buyer does not have: 400, 30008 (2.0 "Order not found").
  const status = await postV2({
    context: context('status', txn),
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
  const rate = await postV2({ context: context('rate', txn), message: { ratingInputs: [] } });
  assert.deepEqual([rate.http, (rate.ack.error as { errorCode: string }).errorCode], [404, '40001']);
});
