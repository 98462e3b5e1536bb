// Registry onboarding per registry.yaml (issue 18 item 3), over real HTTP on loopback: /subscribe
// answers UNDER_SUBSCRIPTION; the registry's signed on_subscribe challenge, encrypted for the
// subscriber's X25519 encr_public_key, is answered at the subscriber's URL, and only then is the key
// SUBSCRIBED; lookup is for subscribers and honours its filters; status transitions. The messages
// are checked against the official registry.yaml, read from ../shared at run time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import Fastify, { type FastifyInstance } from 'fastify';
import { parse } from 'yaml';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { signerFromPrivateKey } from '../../src/adapters/keystore-file/keystore.ts';
import { composeGateway } from '../../src/compose/gateway.ts';
import { FLEXLON_DOMAIN } from '../../src/beckn/context.ts';
import { signatureHeader } from '../../src/beckn/http.ts';
import { registryKeyResolver } from '../../src/beckn/key-resolver.ts';
import { generateKeyPair } from '../../src/beckn/keys.ts';
import { useRawJsonBody } from '../../src/beckn/raw-body.ts';
import { registerOnSubscribe } from '../../src/beckn/registry/on-subscribe.ts';
import { createRegistryService, type RegistryService } from '../../src/beckn/registry/service.ts';
import type { Signer, Store, Subscription } from '../../src/ports.ts';
import { listen, startNetwork, type TestNetwork } from '../helpers/network.ts';
import { sharedPath } from '../helpers/shared.ts';

const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;
const HOUR = 3_600_000;

let net: TestNetwork;
let store: Store;
let service: RegistryService;
let registryUrl: string;
let clock = Date.now();
/** A subscribed participant (test 2) and one whose challenge failed (test 3). */
let onboarded: Signer;
let failed: Signer;
/** A lookup client signed by a subscribed key, as participants' resolvers use. */
const lookups = () => new HttpRegistry({ url: registryUrl, now: () => clock, cacheTtlMs: 0 }, onboarded);
const apps: FastifyInstance[] = [];
/** Every on_subscribe a participant received, and what it answered. */
const challenges: { to: string; body: Record<string, unknown>; status: number; answer: unknown }[] = [];

// registry.yaml's own schemas, compiled from the official file (never copied into the project).
const spec = (): ((pointer: string, value: unknown) => string[]) => {
  const doc = parse(
    readFileSync(
      sharedPath('beckn', 'protocol-specifications', 'core-v1.1.1', 'api', 'registry', 'build', 'registry.yaml'),
      'utf8',
    ),
  ) as object;
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addSchema(doc, 'registry.yaml');
  return (pointer, value) => {
    const v = ajv.getSchema(`registry.yaml#${pointer}`);
    if (!v) throw new Error(`no schema at ${pointer}`);
    return v(value) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
  };
};
const check = spec();
const SUBSCRIBE_REQUEST = '/paths/~1subscribe/post/requestBody/content/application~1json/schema';
const SUBSCRIBE_RESPONSE = '/paths/~1subscribe/post/responses/default/content/application~1json/schema';
const ON_SUBSCRIBE_REQUEST = '/paths/~1on_subscribe/post/requestBody/content/application~1json/schema';
const ON_SUBSCRIBE_RESPONSE = '/paths/~1on_subscribe/post/responses/default/content/application~1json/schema';
const LOOKUP_RESPONSE = '/paths/~1lookup/post/responses/default/content/application~1json/schema';

before(async () => {
  net = await startNetwork();
  store = await net.store('yaml-registry');
  service = await createRegistryService({ store, now: () => clock });
  registryUrl = await listen(service.app);
});

after(async () => {
  await service.app.close();
  await Promise.allSettled(apps.map((a) => a.close()));
  await net.stop();
});

const signer = (id: string): Signer => signerFromPrivateKey(id, randomUUID(), generateKeyPair().seedBase64);

const record = (s: Signer, url: string, patch: Partial<Subscription> = {}): Subscription => ({
  subscriber_id: s.subscriberId,
  subscriber_url: url,
  type: 'BPP',
  domain: FLEXLON_DOMAIN,
  unique_key_id: s.uniqueKeyId,
  signing_public_key: s.publicKeyBase64,
  valid_from: new Date(clock - HOUR).toISOString(),
  valid_until: new Date(clock + 24 * HOUR).toISOString(),
  status: 'SUBSCRIBED',
  ...patch,
});

/** A participant: an app at its subscriber URL answering on_subscribe through `client` (or `tamper`). */
const participant = async (
  s: Signer,
  tamper?: (answer: { answer: string }) => unknown,
): Promise<{ url: string; client: HttpRegistry }> => {
  const client = new HttpRegistry({ url: registryUrl, now: () => clock, cacheTtlMs: 0 }, s);
  const app = Fastify({ logger: false });
  apps.push(app);
  useRawJsonBody(app);
  const answering = {
    answerChallenge: async (raw: Buffer, authorization: string | undefined) => {
      const body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      try {
        const answer = await client.answerChallenge(raw, authorization);
        const sent = tamper ? tamper(answer) : answer;
        challenges.push({ to: s.subscriberId, body, status: 200, answer: (sent as { answer?: unknown }).answer });
        return sent as { answer: string };
      } catch (e) {
        challenges.push({ to: s.subscriberId, body, status: 401, answer: undefined });
        throw e;
      }
    },
  };
  registerOnSubscribe(app, answering);
  return { url: await listen(app), client };
};

const post = async (path: string, body: unknown, s?: Signer) => {
  const text = JSON.stringify(body);
  const res = await fetch(`${registryUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(s ? { authorization: signatureHeader(text, s, clock, 30) } : {}),
    },
    body: text,
  });
  return { status: res.status, www: res.headers.get('www-authenticate'), body: (await res.json()) as unknown };
};

const statusOf = (s: Signer) =>
  service.entries().find((e) => e.subscriber_id === s.subscriberId && e.unique_key_id === s.uniqueKeyId)?.status;

test('subscribe answers UNDER_SUBSCRIPTION; the signed, encrypted on_subscribe challenge is answered; then SUBSCRIBED — all per registry.yaml', async () => {
  const s = signer('bpp.onboard.example');
  const p = await participant(s);
  const body = { ...record(s, p.url), encr_public_key: p.client.encryptionPublicKey, nonce: randomUUID() };
  assert.deepEqual(check(SUBSCRIBE_REQUEST, { ...body, url: p.url, key_id: s.uniqueKeyId }), []);
  const r = await post('/subscribe', body, s);
  assert.deepEqual(r, { status: 200, www: null, body: { status: 'UNDER_SUBSCRIPTION' } });
  assert.deepEqual(check(SUBSCRIBE_RESPONSE, r.body), []);
  await service.settled();
  assert.equal(statusOf(s), 'SUBSCRIBED');
  const c = challenges.find((x) => x.to === s.subscriberId);
  assert.ok(c, 'the registry called on_subscribe at the subscriber URL');
  assert.deepEqual(check(ON_SUBSCRIBE_REQUEST, c.body), []);
  assert.deepEqual(check(ON_SUBSCRIBE_RESPONSE, { answer: c.answer }), []);
  assert.equal(c.body.status, 'UNDER_SUBSCRIPTION');
  assert.notEqual(c.body.challenge, c.answer, 'the challenge travels encrypted');
  assert.match(String(c.answer), /^[0-9a-f]{64}$/);
  // The key now verifies through the registry, and the record carries the encryption key.
  const [found] = await p.client.lookup({ subscriber_id: s.subscriberId, unique_key_id: s.uniqueKeyId });
  assert.equal((found as Subscription & { encr_public_key?: string }).encr_public_key, p.client.encryptionPublicKey);
  await assert.doesNotReject(registryKeyResolver(p.client).resolve(s.subscriberId, s.uniqueKeyId, clock));
  const events = (await store.auditTrail())
    .map((a) => a.payload as { event?: string; subscription?: Subscription })
    .filter((x) => x.subscription?.unique_key_id === s.uniqueKeyId)
    .map((x) => x.event);
  assert.deepEqual(events, ['under subscription', 'subscribed']);
});

test('HttpRegistry.subscribe runs the whole onboarding and resolves once SUBSCRIBED', async () => {
  const s = signer('bap.onboard.example');
  const p = await participant(s);
  await p.client.subscribe(record(s, p.url, { type: 'BAP' }));
  assert.equal(statusOf(s), 'SUBSCRIBED');
  onboarded = s;
});

test('a wrong answer, an unreachable URL or a forged challenge leaves the key unsubscribed (INITIATED, with the reason)', async () => {
  const wrong = signer('wrong.onboard.example');
  const w = await participant(wrong, () => ({ answer: 'guess' }));
  await assert.rejects(w.client.subscribe(record(wrong, w.url)), /did not answer the challenge/);
  assert.equal(statusOf(wrong), 'INITIATED');
  failed = wrong;
  await assert.rejects(
    registryKeyResolver(lookups()).resolve(wrong.subscriberId, wrong.uniqueKeyId, clock),
    /has status INITIATED/,
  );
  const away = signer('away.onboard.example');
  const client = new HttpRegistry({ url: registryUrl, now: () => clock, cacheTtlMs: 0 }, away);
  const closed = Fastify({ logger: false });
  const deadUrl = await listen(closed);
  await closed.close();
  await assert.rejects(client.subscribe(record(away, deadUrl)), /ECONNREFUSED/);
  assert.equal(statusOf(away), 'INITIATED');
  // Someone other than the registry posting a challenge gets 401 and no answer.
  const forger = signer('registry.flexlon.local');
  const body = JSON.stringify({ status: 'UNDER_SUBSCRIPTION', challenge: 'AAAA' });
  const res = await fetch(`${w.url}/on_subscribe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: signatureHeader(body, forger, clock, 30) },
    body,
  });
  assert.equal(res.status, 401);
  assert.match(JSON.stringify(await res.json()), /FLX_SIG_UNKNOWN_KEY/);
});

test('subscribe needs an X25519 encr_public_key, and a subscriber may ask only for SUBSCRIBED or UNSUBSCRIBED', async () => {
  const s = signer('fields.onboard.example');
  const p = await participant(s);
  const noKey = await post('/subscribe', record(s, p.url), s);
  assert.equal(noKey.status, 400);
  assert.match(JSON.stringify(noKey.body), /FLX_REQ_SCHEMA: encr_public_key is required/);
  const badKey = await post('/subscribe', { ...record(s, p.url), encr_public_key: s.publicKeyBase64.slice(4) }, s);
  assert.match(JSON.stringify(badKey.body), /encr_public_key must be an X25519 public key/);
  const expired = await post(
    '/subscribe',
    { ...record(s, p.url, { status: 'EXPIRED' }), encr_public_key: p.client.encryptionPublicKey },
    s,
  );
  assert.match(JSON.stringify(expired.body), /status EXPIRED is set by the registry/);
  assert.equal(statusOf(s), undefined, 'nothing was recorded');
});

test('lookup is for subscribers: unsigned 401 with WWW-Authenticate, a stranger 401, a key under subscription only its own records', async () => {
  const unsigned = await post('/lookup', { type: 'BPP' });
  assert.equal(unsigned.status, 401);
  assert.equal(unsigned.www, 'Signature realm="registry.flexlon.local",headers="(created) (expires) digest"');
  assert.match(JSON.stringify(unsigned.body), /FLX_SIG_MISSING/);
  const stranger = await post('/lookup', { type: 'BPP' }, signer('stranger.example'));
  assert.equal(stranger.status, 401);
  assert.match(JSON.stringify(stranger.body), /FLX_SIG_UNKNOWN_KEY/);
  // A key whose challenge failed may see its own record (and why), nobody else's.
  const own = await post('/lookup', { subscriber_id: failed.subscriberId }, failed);
  assert.equal(own.status, 200);
  const [mine] = own.body as (Subscription & { status_reason?: string })[];
  assert.deepEqual(
    [mine?.status, mine?.status_reason],
    ['INITIATED', `on_subscribe at ${mine?.subscriber_url}/on_subscribe did not answer the challenge`],
  );
  const others = await post('/lookup', { type: 'BPP' }, failed);
  assert.equal(others.status, 401);
  assert.match(JSON.stringify(others.body), /lookup is for subscribed participants: key .* is INITIATED/);
});

test('lookup honours its filters (type, domain, status, url, key) and answers registry.yaml Subscriptions', async () => {
  const bpp = signer('filters-bpp.example');
  const bap = signer('filters-bap.example');
  const pb = await participant(bpp);
  const pa = await participant(bap);
  await pb.client.subscribe(record(bpp, pb.url));
  await pa.client.subscribe(record(bap, pa.url, { type: 'BAP', domain: 'uei:other' }));
  const ids = async (q: Record<string, unknown>) =>
    ((await post('/lookup', q, bpp)).body as Subscription[])
      .map((x) => x.subscriber_id)
      .filter((x) => x.startsWith('filters-'))
      .sort();
  assert.deepEqual(await ids({ type: 'BPP' }), ['filters-bpp.example']);
  assert.deepEqual(await ids({ domain: 'uei:other' }), ['filters-bap.example']);
  assert.deepEqual(await ids({ url: pa.url }), ['filters-bap.example']);
  assert.deepEqual(await ids({ key_id: bpp.uniqueKeyId }), ['filters-bpp.example']);
  assert.deepEqual(await ids({ status: 'SUBSCRIBED' }), ['filters-bap.example', 'filters-bpp.example']);
  assert.deepEqual(await ids({ status: 'UNSUBSCRIBED' }), []);
  const all = (await post('/lookup', { subscriber_id: 'filters-bap.example' }, bpp)).body;
  assert.deepEqual(check(LOOKUP_RESPONSE, all), []);
});

test('status transitions: an update keeps the live record until its challenge is answered; revocation → UNSUBSCRIBED; past valid_until reads EXPIRED', async () => {
  const s = signer('lifecycle.onboard.example');
  const p = await participant(s);
  const until = clock + 2 * HOUR;
  await p.client.subscribe(record(s, p.url, { valid_until: new Date(until).toISOString() }));
  // An update to a URL that cannot answer: the live record stays as it was.
  const closed = Fastify({ logger: false });
  const deadUrl = await listen(closed);
  await closed.close();
  const impatient = new HttpRegistry(
    { url: registryUrl, now: () => clock, cacheTtlMs: 0, onboardingTimeoutMs: 1000 },
    s,
  );
  await assert.rejects(
    impatient.subscribe(record(s, deadUrl, { valid_until: new Date(until).toISOString() })),
    /had not confirmed .* \(status SUBSCRIBED\)/,
  );
  const live = service.entries().find((e) => e.unique_key_id === s.uniqueKeyId);
  assert.deepEqual([live?.status, live?.subscriber_url], ['SUBSCRIBED', p.url]);
  const lookup = async () =>
    ((await post('/lookup', { subscriber_id: s.subscriberId }, s)).body as Subscription[])[0]?.status;
  clock = until + 1;
  assert.equal(await lookup(), 'EXPIRED', 'the registry reads a record past its valid_until as EXPIRED');
  clock = Date.now();
  await p.client.subscribe(record(s, p.url, { status: 'UNSUBSCRIBED', valid_until: new Date(until).toISOString() }));
  assert.equal(statusOf(s), 'UNSUBSCRIBED');
  assert.equal(await lookup(), 'UNSUBSCRIBED', 'a revoked key may still read its own record');
  await assert.rejects(
    registryKeyResolver(lookups()).resolve(s.subscriberId, s.uniqueKeyId, clock),
    /has status UNSUBSCRIBED/,
  );
});

test('a re-subscription that changes only beckn_version is not confirmed until the record says the new version', async () => {
  const s = signer('version.onboard.example');
  // This participant's answers turn wrong on demand, so the update's challenge fails and the live record stays 1.1.1.
  let wrong = false;
  const client = new HttpRegistry({ url: registryUrl, now: () => clock, cacheTtlMs: 0, onboardingTimeoutMs: 1500 }, s);
  const app = Fastify({ logger: false });
  apps.push(app);
  useRawJsonBody(app);
  registerOnSubscribe(app, {
    answerChallenge: async (raw, authorization) =>
      wrong ? { answer: 'not the challenge' } : client.answerChallenge(raw, authorization),
  });
  const url = await listen(app);
  const v1 = record(s, url);
  await client.subscribe(v1);
  wrong = true;
  await assert.rejects(
    client.subscribe({ ...v1, beckn_version: '2.0.0' }),
    /had not confirmed .* \(status SUBSCRIBED\)/,
  );
  const live = service.entries().find((e) => e.unique_key_id === s.uniqueKeyId);
  assert.deepEqual([live?.status, live?.beckn_version], ['SUBSCRIBED', undefined], 'the live record is still 1.1.1');
  wrong = false;
  await client.subscribe({ ...v1, beckn_version: '2.0.0' });
  assert.equal(service.entries().find((e) => e.unique_key_id === s.uniqueKeyId)?.beckn_version, '2.0.0');
});

test('a composed role (flexlon run gateway) answers the challenge at start and is SUBSCRIBED', async () => {
  const role = await composeGateway({
    id: 'bg.onboard.example',
    listen: { host: '127.0.0.1', port: 0, publicUrl: '' },
    store: { kind: 'sqlite', file: join(net.dir, 'gateway-role.db') },
    logLevel: 'silent',
    keys: { dir: join(net.dir, 'keys'), generate: true },
    registry: { url: registryUrl, subscribe: true },
  });
  try {
    const [entry] = service.entries().filter((e) => e.subscriber_id === 'bg.onboard.example');
    assert.deepEqual([entry?.type, entry?.status, entry?.subscriber_url], ['BG', 'SUBSCRIBED', role.url]);
    assert.ok(entry?.encr_public_key, 'it registered an encryption key');
    const events = (await store.auditTrail())
      .map((a) => a.payload as { event?: string; subscription?: Subscription })
      .filter((x) => x.subscription?.subscriber_id === 'bg.onboard.example')
      .map((x) => x.event);
    assert.deepEqual(events, ['under subscription', 'subscribed']);
  } finally {
    await role.stop();
  }
});
