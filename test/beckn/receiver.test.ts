// The inbound pipeline over real HTTP with a real registry: every kind of bad signature gets a 401
// NACK with its own code, an audit row, and no effect; a duplicate message has no second effect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { signerFromPrivateKey } from '../../src/adapters/keystore-file/keystore.ts';
import { OPEN_REGISTRY, createRegistryService } from '../../src/beckn/registry/service.ts';
import { registerReceiver } from '../../src/beckn/receiver.ts';
import { registryKeyResolver, type KeyResolver, type ResolvedKey } from '../../src/beckn/key-resolver.ts';
import { buildContext, FLEXLON_DOMAIN } from '../../src/beckn/context.ts';
import { generateKeyPair, publicKeyFromBase64 } from '../../src/beckn/keys.ts';
import { signBody } from '../../src/beckn/signing.ts';
import type { Signer, Store, Subscription } from '../../src/ports.ts';

const BPP = 'bpp.test';
let dir: string;
let registryApp: FastifyInstance;
let bppApp: FastifyInstance;
let bppStore: Store;
let regStore: Store;
let url: string;
let effects = 0;
/** What admission control says (issue 14 finding 3): a reason refuses new requests. */
let busy: string | undefined;
const signers: Record<'good' | 'revoked' | 'unknown' | 'other' | 'query', Signer> = {} as never;

const sub = (s: Signer, url: string, status: Subscription['status'] = 'SUBSCRIBED'): Subscription => ({
  subscriber_id: s.subscriberId,
  subscriber_url: url,
  type: 'BAP',
  domain: FLEXLON_DOMAIN,
  unique_key_id: s.uniqueKeyId,
  signing_public_key: s.publicKeyBase64,
  valid_from: new Date(Date.now() - 60_000).toISOString(),
  valid_until: new Date(Date.now() + 86_400_000).toISOString(),
  status,
});

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flexlon-recv-'));
  regStore = await openSqliteStore(join(dir, 'registry.db'));
  bppStore = await openSqliteStore(join(dir, 'bpp.db'));
  // Open: the subscribers here are registered at URLs that do not answer the on_subscribe challenge.
  const registry = await createRegistryService({ store: regStore, now: Date.now, policy: OPEN_REGISTRY });
  registryApp = registry.app;
  await registryApp.listen({ host: '127.0.0.1', port: 0 });
  const regUrl = `http://127.0.0.1:${(registryApp.server.address() as { port: number }).port}`;
  for (const [name, id] of [
    ['good', 'bap.good'],
    ['revoked', 'bap.revoked'],
    ['unknown', 'bap.unknown'],
    ['other', 'bap.other'],
    ['query', 'bap.query'],
  ] as const) {
    signers[name] = signerFromPrivateKey(id, `${name}-key`, generateKeyPair().seedBase64);
  }
  for (const name of ['good', 'revoked', 'other'] as const) {
    await new HttpRegistry({ url: regUrl, now: Date.now }, signers[name]).subscribe(
      sub(signers[name], 'http://127.0.0.1:9/cb', name === 'revoked' ? 'UNSUBSCRIBED' : 'SUBSCRIBED'),
    );
  }
  // A subscriber whose registered URL carries another target in its query string (issue 14 finding 6).
  await new HttpRegistry({ url: regUrl, now: Date.now }, signers.query).subscribe(
    sub(signers.query, 'http://127.0.0.1:9/cb?next=http://169.254.169.254/latest'),
  );
  bppApp = Fastify();
  registerReceiver(bppApp, {
    subscriberId: BPP,
    role: 'BPP',
    resolver: registryKeyResolver(new HttpRegistry({ url: regUrl, now: Date.now, cacheTtlMs: 0 })),
    store: bppStore,
    now: Date.now,
    handlers: {
      search: async () => async () => {
        effects++;
      },
    },
    onBackgroundError: () => {},
    admission: () => busy,
  });
  await bppApp.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(bppApp.server.address() as { port: number }).port}`;
});

after(async () => {
  await bppApp.close();
  await registryApp.close();
  await bppStore.close();
  await regStore.close();
  rmSync(dir, { recursive: true, force: true });
});

const searchBody = (bapId = 'bap.good', extra: Partial<ReturnType<typeof buildContext>> = {}): string =>
  JSON.stringify({
    context: {
      ...buildContext({ action: 'search', bapId, bapUri: 'http://127.0.0.1:9/cb', now: Date.now() }),
      ...extra,
    },
    message: { intent: {} },
  });

const signed = (body: string, s: Signer, created = Math.floor(Date.now() / 1000), expires = created + 30): string =>
  signBody({ body, subscriberId: s.subscriberId, uniqueKeyId: s.uniqueKeyId, created, expires, sign: (d) => s.sign(d) })
    .header;

const post = async (body: string, authorization?: string) => {
  const res = await fetch(`${url}/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body,
  });
  return {
    status: res.status,
    body: (await res.json()) as { message: { ack: { status: string } }; error?: { code: string; message: string } },
    www: res.headers.get('www-authenticate'),
  };
};

const settle = () => new Promise((r) => setTimeout(r, 50));

test('a correctly signed request is ACKed, audited and acted on once', async () => {
  const before = effects;
  const body = searchBody();
  const r = await post(body, signed(body, signers.good));
  assert.equal(r.status, 200);
  assert.equal(r.body.message.ack.status, 'ACK');
  await settle();
  assert.equal(effects, before + 1);
  const trail = await bppStore.auditTrail();
  assert.equal(trail.at(-1)?.kind, 'beckn.in');
  assert.equal((trail.at(-1)?.payload as { body: string }).body, body, 'the exact bytes are stored');
});

test('the same message a second time gets the same ACK and no second effect', async () => {
  const body = searchBody();
  const header = signed(body, signers.good);
  await post(body, header);
  await settle();
  const before = effects;
  const r = await post(body, header);
  assert.equal(r.body.message.ack.status, 'ACK');
  await settle();
  assert.equal(effects, before);
  assert.match(JSON.stringify((await bppStore.auditTrail()).at(-1)?.payload), /duplicate: no effect/);
});

const cases: [string, () => [string, string | undefined], string][] = [
  [
    'missing header',
    () => {
      const b = searchBody();
      return [b, undefined];
    },
    'FLX_SIG_MISSING',
  ],
  [
    'malformed header',
    () => {
      const b = searchBody();
      return [b, 'Signature keyId=nonsense'];
    },
    'FLX_SIG_MALFORMED',
  ],
  [
    'tampered body',
    () => {
      const b = searchBody();
      return [b.replace('"search"', '"search" '), signed(b, signers.good)];
    },
    'FLX_SIG_INVALID',
  ],
  [
    'expired signature',
    () => {
      const b = searchBody();
      const t = Math.floor(Date.now() / 1000) - 600;
      return [b, signed(b, signers.good, t, t + 30)];
    },
    'FLX_SIG_EXPIRED',
  ],
  [
    'created in the future',
    () => {
      const b = searchBody();
      const t = Math.floor(Date.now() / 1000) + 600;
      return [b, signed(b, signers.good, t, t + 30)];
    },
    'FLX_SIG_NOT_YET_VALID',
  ],
  [
    'unknown key',
    () => {
      const b = searchBody('bap.unknown');
      return [b, signed(b, signers.unknown)];
    },
    'FLX_SIG_UNKNOWN_KEY',
  ],
  [
    'revoked key',
    () => {
      const b = searchBody('bap.revoked');
      return [b, signed(b, signers.revoked)];
    },
    'FLX_SIG_KEY_REVOKED',
  ],
  [
    'signed by another subscriber than context.bap_id',
    () => {
      const b = searchBody('bap.good');
      return [b, signed(b, signers.other)];
    },
    'FLX_SIG_WRONG_SUBSCRIBER',
  ],
];

for (const [name, make, code] of cases) {
  test(`${name}: 401 NACK with ${code}, an audit row, no effect`, async () => {
    const before = effects;
    const [body, header] = make();
    const r = await post(body, header);
    assert.equal(r.status, 401);
    assert.equal(r.body.message.ack.status, 'NACK');
    assert.match(r.body.error?.message ?? '', new RegExp(`^${code}:`));
    assert.match(r.www ?? '', /^Signature realm="bpp.test"/);
    await settle();
    assert.equal(effects, before);
    const last = (await bppStore.auditTrail()).at(-1);
    assert.equal(last?.kind, 'beckn.rejected');
    assert.equal((last?.payload as { code: string }).code, code);
  });
}

test('a message past its ttl is refused with FLX_REQ_EXPIRED and no effect', async () => {
  const before = effects;
  const body = searchBody('bap.good', { timestamp: new Date(Date.now() - 120_000).toISOString(), ttl: 'PT30S' });
  const r = await post(body, signed(body, signers.good));
  assert.equal(r.status, 400);
  assert.match(r.body.error?.message ?? '', /^FLX_REQ_EXPIRED:/);
  await settle();
  assert.equal(effects, before);
});

test('property: arbitrary Authorization headers never crash the server and never cause an effect', async () => {
  const before = effects;
  const body = searchBody();
  const good = signed(body, signers.good);
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.string({ maxLength: 40 }).map((s) => good.replace(/signature="[^"]*"/, `signature="${s}"`)),
        fc.integer({ min: 0, max: good.length - 1 }).map((i) => good.slice(0, i) + good.slice(i + 1)),
      ),
      async (header) => {
        if (header === good) return true;
        const r = await fetch(`${url}/search`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: header.replace(/[^\x20-\x7e]/g, '?') },
          body,
        });
        return r.status === 401 || r.status === 200;
      },
    ),
    { numRuns: 60 },
  );
  await settle();
  // Only an exact copy of a valid header (already used) could ACK, and duplicates have no effect.
  assert.equal(effects, before);
});

test('a message that does not match its schema gets 400 FLX_REQ_SCHEMA naming the JSON paths, and no effect', async () => {
  const before = effects;
  const ctx = buildContext({ action: 'search', bapId: 'bap.good', bapUri: 'http://127.0.0.1:9/cb', now: Date.now() });
  const body = JSON.stringify({
    context: { ...ctx, message_id: 'm-1', ttl: '30 seconds' },
    message: { intent: { tags: 'none' } },
  });
  const r = await post(body, signed(body, signers.good));
  assert.equal(r.status, 400);
  assert.equal(r.body.message.ack.status, 'NACK');
  const error = r.body.error as { code: string; paths: string; message: string };
  assert.equal(error.code, '30000');
  assert.deepEqual(error.paths.split(', ').sort(), ['context.message_id', 'context.ttl', 'message.intent.tags']);
  assert.match(error.message, /^FLX_REQ_SCHEMA: the search message does not match its schema: /);
  await settle();
  assert.equal(effects, before);
  assert.equal((await bppStore.auditTrail()).at(-1)?.kind, 'beckn.rejected');
});

test('a different message under a message_id already used gets 409 FLX_REQ_DUPLICATE and no effect', async () => {
  const first = searchBody();
  await post(first, signed(first, signers.good));
  await settle();
  const before = effects;
  const reused = first.replace('"intent":{}', '"intent":{"descriptor":{"code":"other"}}');
  assert.notEqual(reused, first);
  const r = await post(reused, signed(reused, signers.good));
  assert.equal(r.status, 409);
  assert.match(
    r.body.error?.message ?? '',
    /^FLX_REQ_DUPLICATE: message_id .* was already used by bap.good for a different search/,
  );
  await settle();
  assert.equal(effects, before);
});

test('the exact same signed request replayed five more times inside its signature window has no second effect', async () => {
  const body = searchBody();
  const header = signed(body, signers.good, Math.floor(Date.now() / 1000), Math.floor(Date.now() / 1000) + 60);
  await post(body, header);
  await settle();
  const before = effects;
  for (let k = 0; k < 5; k++) assert.equal((await post(body, header)).body.message.ack.status, 'ACK');
  await settle();
  assert.equal(effects, before);
});

test('property: any correctly signed body — arbitrary JSON or bytes — gets an ACK or a 4xx NACK, never a 5xx or a crash', async () => {
  const ctx = () =>
    buildContext({ action: 'search', bapId: 'bap.good', bapUri: 'http://127.0.0.1:9/cb', now: Date.now() });
  const bodies = fc.oneof(
    fc.json().map((j) => j),
    fc.string({ maxLength: 200 }),
    fc.dictionary(fc.constantFrom('context', 'message', 'error', 'x'), fc.jsonValue()).map((o) =>
      JSON.stringify({
        ...o,
        context: { ...ctx(), ...(typeof o.context === 'object' && o.context !== null ? o.context : {}) },
      }),
    ),
    fc.jsonValue().map((m) => JSON.stringify({ context: ctx(), message: m })),
  );
  await fc.assert(
    fc.asyncProperty(bodies, async (body) => {
      const r = await fetch(`${url}/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: signed(body, signers.good) },
        body,
      });
      const answer = (await r.json()) as { message?: { ack?: { status?: string } } };
      return (
        (r.status === 200 && answer.message?.ack?.status === 'ACK') ||
        (r.status >= 400 && r.status < 500 && answer.message?.ack?.status === 'NACK')
      );
    }),
    { numRuns: 150 },
  );
});

// Issue 14 findings 2, 4 and 8: a body that is missing or not JSON, junk without credentials, and an
// action this role does not receive each get a coded Beckn NACK (never a 500, never an ACK), and a
// refused request leaves a digest and a short excerpt in the audit trail, not its whole body.
const raw = async (path: string, init: RequestInit) => {
  const res = await fetch(`${url}${path}`, { method: 'POST', ...init });
  return {
    status: res.status,
    body: (await res.json()) as { message: { ack: { status: string } }; error?: { code: string; message: string } },
  };
};

test('a POST with no body and no Content-Type is a 415 NACK with FLX_REQ_MEDIA_TYPE, audited, no effect', async () => {
  const before = effects;
  const r = await raw('/search', {});
  assert.equal(r.status, 415);
  assert.equal(r.body.message.ack.status, 'NACK');
  assert.match(r.body.error?.message ?? '', /^FLX_REQ_MEDIA_TYPE: the request has no body/);
  await settle();
  assert.equal(effects, before);
  const last = (await bppStore.auditTrail()).at(-1);
  assert.equal(last?.kind, 'beckn.rejected');
  assert.equal((last?.payload as { code: string }).code, 'FLX_REQ_MEDIA_TYPE');
});

test('a correctly signed search sent as text/plain is refused (415), not ACKed', async () => {
  const before = effects;
  const body = searchBody();
  const r = await raw('/search', {
    headers: { 'content-type': 'text/plain', authorization: signed(body, signers.good) },
    body,
  });
  assert.equal(r.status, 415);
  assert.equal(r.body.message.ack.status, 'NACK');
  assert.match(r.body.error?.message ?? '', /^FLX_REQ_MEDIA_TYPE: the body is text\/plain/);
  for (const type of ['application/octet-stream', 'application/x-www-form-urlencoded'])
    assert.equal((await raw('/select', { headers: { 'content-type': type }, body: 'x=1' })).status, 415, type);
  await settle();
  assert.equal(effects, before);
});

test('a refused request is audited as a digest and a 512-byte excerpt, not its whole body', async () => {
  const junk = JSON.stringify({ context: { action: 'search' }, padding: 'x'.repeat(100_000) });
  const r = await raw('/search', { headers: { 'content-type': 'application/json' }, body: junk });
  assert.equal(r.status, 401, 'unsigned');
  const last = (await bppStore.auditTrail()).at(-1)?.payload as { body: string; bodyBytes: number; bodySha256: string };
  assert.equal(last.bodyBytes, Buffer.byteLength(junk));
  assert.equal(last.body.length, 512);
  assert.match(last.bodySha256, /^[0-9a-f]{64}$/);
});

test('an action this role does not receive (on_search at a BPP) is a Beckn NACK naming it, not a framework 404', async () => {
  const r = await raw('/on_search', { headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(r.status, 404);
  assert.equal(r.body.message.ack.status, 'NACK');
  assert.equal(r.body.error?.code, '40001');
  assert.match(r.body.error?.message ?? '', /^FLX_ACTION_NOT_APPLICABLE: this BPP does not receive \/on_search/);
});

test('a signed /select with 100,000 invalid items is refused at once, naming the first (issue 14 finding 1: it was quadratic)', async () => {
  const context = buildContext({
    action: 'select',
    bapId: 'bap.good',
    bapUri: 'http://127.0.0.1:9/cb',
    bppId: 'bpp.test',
    bppUri: url,
    now: Date.now(),
  });
  const body = JSON.stringify({
    context,
    message: { order: { provider: { id: 'p' }, items: Array.from({ length: 100_000 }, () => ({ id: 5 })) } },
  });
  const started = performance.now();
  const r = await raw('/select', {
    headers: { 'content-type': 'application/json', authorization: signed(body, signers.good) },
    body,
  });
  const seconds = (performance.now() - started) / 1000;
  assert.equal(r.status, 400);
  assert.match(r.body.error?.message ?? '', /^FLX_REQ_SCHEMA: .*message\.order\.items\[0\]\.id must be string/);
  // Generous: the quadratic validator took about a minute here (10k items 0.34 s, 40k 10.6 s).
  assert.ok(seconds < 10, `answered in ${seconds.toFixed(2)} s`);
});

test('limits on lifetimes (issue 14 finding 5): a ttl of P100Y and a signature valid for 10 years are refused, naming them', async () => {
  const before = effects;
  const longTtl = searchBody('bap.good', { ttl: 'P100Y' });
  const a = await post(longTtl, signed(longTtl, signers.good));
  assert.equal(a.status, 400);
  assert.match(a.body.error?.message ?? '', /^FLX_REQ_CONTEXT: context\.ttl "P100Y" is longer than the 3600 s/);
  const body = searchBody();
  const created = Math.floor(Date.now() / 1000);
  const b = await post(body, signed(body, signers.good, created, created + 10 * 365 * 86_400));
  assert.equal(b.status, 401);
  assert.match(b.body.error?.message ?? '', /^FLX_SIG_MALFORMED: the signature is valid for 315360000 s/);
  await settle();
  assert.equal(effects, before);
});

test('a request whose callback URL carries a query string is refused, even when that is the registered URL (issue 14 finding 6)', async () => {
  const before = effects;
  const body = searchBody('bap.query', { bap_uri: 'http://127.0.0.1:9/cb?next=http://169.254.169.254/latest' });
  const r = await post(body, signed(body, signers.query));
  assert.equal(r.status, 400);
  assert.match(r.body.error?.message ?? '', /^FLX_REQ_CONTEXT: .* is not a plain http\(s\) URL/);
  await settle();
  assert.equal(effects, before);
});

test('admission control: a participant that owes too many callbacks answers 503 with Retry-After, not an ACK it cannot keep (issue 14 finding 3)', async () => {
  const before = effects;
  const rowsBefore = (await bppStore.auditTrail()).length;
  busy = '600 callbacks are still owed (at most 500); retry in a few seconds';
  try {
    const body = searchBody();
    const res = await fetch(`${url}/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: signed(body, signers.good) },
      body,
    });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '5');
    const nack = (await res.json()) as { message: { ack: { status: string } }; error: { message: string } };
    assert.equal(nack.message.ack.status, 'NACK');
    assert.match(nack.error.message, /^FLX_BUSY: 600 callbacks are still owed/);
    await settle();
    assert.equal(effects, before, 'no effect');
    assert.equal((await bppStore.auditTrail()).length, rowsBefore, 'load shedding writes nothing');
  } finally {
    busy = undefined;
  }
  const body = searchBody();
  assert.equal((await post(body, signed(body, signers.good))).status, 200, 'accepted again once the backlog clears');
});

test('a request whose handler runs past its ttl (the BPP planning behind a slow planner) is refused 503 FLX_BUSY, never ACKed late; its work is not committed and its lock released', async () => {
  const app = Fastify();
  let committed = 0;
  let settled = 0;
  const regUrl = `http://127.0.0.1:${(registryApp.server.address() as { port: number }).port}`;
  registerReceiver(app, {
    subscriberId: BPP,
    role: 'BPP',
    resolver: registryKeyResolver(new HttpRegistry({ url: regUrl, now: Date.now, cacheTtlMs: 0 })),
    store: bppStore,
    now: Date.now,
    handlers: {
      search: async () => {
        await new Promise((r) => setTimeout(r, 1_200));
        return {
          commit: async () => {
            committed++;
          },
          settle: () => {
            settled++;
          },
        };
      },
    },
    onBackgroundError: () => {},
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const slowUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const send = async (ttl: string) => {
      const body = searchBody('bap.good', { ttl });
      const res = await fetch(`${slowUrl}/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: signed(body, signers.good) },
        body,
      });
      const nack = (await res.json()) as { error?: { message: string } };
      return { status: res.status, retryAfter: res.headers.get('retry-after'), message: nack.error?.message ?? '' };
    };
    const late = await send('PT1S');
    assert.equal(late.status, 503);
    assert.equal(late.retryAfter, '5');
    assert.match(late.message, /^FLX_BUSY: answering this search took until/);
    assert.equal(committed, 0, 'nothing committed, nothing owed');
    assert.equal(settled, 1, 'the work was told it ended (its lock released)');
    // With time to spare the same handler is ACKed and committed.
    assert.equal((await send('PT10S')).status, 200);
    assert.equal(committed, 1);
  } finally {
    await app.close();
  }
});

test('a bap_uri other than the cached one: the key is looked up afresh, and the new URL is taken only with the same key; other refusals ask nothing', async () => {
  const good = signers.good;
  const other = signers.other;
  const key = (s: Signer, at: string): ResolvedKey => ({
    subscriberId: good.subscriberId,
    uniqueKeyId: good.uniqueKeyId,
    type: 'BAP',
    url: at,
    publicKey: publicKeyFromBase64(s.publicKeyBase64),
    publicKeyBase64: s.publicKeyBase64,
  });
  // The cache still holds the old URL; the registry now holds `fresh`.
  let fresh = key(good, 'http://127.0.0.1:7/cb');
  let refreshes = 0;
  const resolver: KeyResolver = {
    resolve: async () => key(good, 'http://127.0.0.1:9/cb'),
    refresh: async () => {
      refreshes += 1;
      return fresh;
    },
  };
  const app = Fastify();
  let acted = 0;
  registerReceiver(app, {
    subscriberId: BPP,
    role: 'BPP',
    resolver,
    store: bppStore,
    now: Date.now,
    handlers: {
      search: async () => async () => {
        acted++;
      },
    },
    onBackgroundError: () => {},
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const at = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/search`;
  const send = async (body: string) => {
    const res = await fetch(at, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: signed(body, good) },
      body,
    });
    return { status: res.status, body: (await res.json()) as { error?: { message: string } } };
  };
  try {
    const moved = searchBody('bap.good', { bap_uri: 'http://127.0.0.1:7/cb' });
    assert.equal((await send(moved)).status, 200, 'the re-subscribed URL is taken');
    assert.equal(refreshes, 1);
    await settle();
    assert.equal(acted, 1);

    // The registry's record now has another public key: the signature was checked with the first.
    fresh = key(other, 'http://127.0.0.1:7/cb');
    const r = await send(searchBody('bap.good', { bap_uri: 'http://127.0.0.1:7/cb' }));
    assert.equal(r.status, 400);
    assert.match(
      r.body.error?.message ?? '',
      /^FLX_REQ_CONTEXT: http:\/\/127\.0\.0\.1:7\/cb is not the URL registered/,
    );
    assert.equal(refreshes, 2);

    // Refused for its domain first: no lookup is spent on its URL.
    const wrong = await send(searchBody('bap.good', { bap_uri: 'http://127.0.0.1:6/cb', domain: 'retail' }));
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.error?.message ?? '', /domain/);
    assert.equal(refreshes, 2);
    await settle();
    assert.equal(acted, 1);
  } finally {
    await app.close();
  }
});
