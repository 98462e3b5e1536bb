// The registry service and its caching client over real HTTP: registry.yaml field names, who may
// subscribe what, and key rotation — a new key works at once, the old one until its valid_until, a
// revoked key is refused (at the latest one cache ttl later), an expired one at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { FLEXLON_DOMAIN } from '../../src/beckn/context.ts';
import { signatureHeader } from '../../src/beckn/http.ts';
import { registryKeyResolver } from '../../src/beckn/key-resolver.ts';
import type { Signer, Subscription } from '../../src/ports.ts';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { OPEN_REGISTRY, createRegistryService } from '../../src/beckn/registry/service.ts';
import { listen, startNetwork, type TestNetwork } from '../helpers/network.ts';

let net: TestNetwork;
before(async () => {
  net = await startNetwork();
});
after(async () => {
  await net.stop();
});

const HOUR = 3_600_000;
const record = (s: Signer, patch: Partial<Subscription> = {}): Subscription => ({
  subscriber_id: s.subscriberId,
  subscriber_url: `https://${s.subscriberId}/beckn`,
  type: 'BPP',
  domain: FLEXLON_DOMAIN,
  unique_key_id: s.uniqueKeyId,
  signing_public_key: s.publicKeyBase64,
  valid_from: new Date(Date.now() - HOUR).toISOString(),
  valid_until: new Date(Date.now() + 24 * HOUR).toISOString(),
  status: 'SUBSCRIBED',
  ...patch,
});
const subscribe = (sub: Subscription, signer: Signer, voucher?: Signer) =>
  new HttpRegistry({ url: net.registryUrl, now: Date.now }, signer, voucher).subscribe(sub);
const codeOf = (e: unknown) => (e as Error).message;

const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${net.registryUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
};

test('lookup takes registry.yaml field names (key_id) and answers with both spellings (url / subscriber_url, key_id / unique_key_id)', async () => {
  const s = net.signer('lookup.example', 'lk-1');
  await subscribe(record(s), s);
  const r = await post('/lookup', { subscriber_id: 'lookup.example', key_id: 'lk-1', type: 'BPP' });
  const [one] = r.body as Record<string, string>[];
  assert.equal(one?.url, 'https://lookup.example/beckn');
  assert.equal(one?.subscriber_url, one?.url);
  assert.equal(one?.key_id, 'lk-1');
  assert.equal(one?.unique_key_id, 'lk-1');
  assert.ok(one?.created && one.updated);
  const bad = await post('/lookup', { type: 'SHOP' });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.body), /FLX_REQ_SCHEMA: type must be one of BAP, BPP, BG/);
});

test('a subscription must be signed by the key it registers, and its fields must be sound', async () => {
  const s = net.signer('pop.example');
  const other = net.signer('someone.else');
  await assert.rejects(subscribe(record(s), other), (e) => /FLX_SIG_UNKNOWN_KEY/.test(codeOf(e)));
  await assert.rejects(subscribe(record(s, { valid_until: '2000-01-01T00:00:00Z' }), s), (e) =>
    /valid_until must be after valid_from/.test(codeOf(e)),
  );
  await assert.rejects(subscribe(record(s, { subscriber_url: 'ftp://x' }), s), (e) =>
    /subscriber_url must be an http\(s\) URL/.test(codeOf(e)),
  );
});

test("rotation: a second key needs the current key to vouch for it; nobody can add a key to someone else's id", async () => {
  const k1 = net.signer('dc.example', 'k1');
  const k2 = net.signer('dc.example', 'k2');
  const intruder = net.signer('dc.example', 'k-evil');
  await subscribe(record(k1), k1);
  await assert.rejects(subscribe(record(intruder), intruder), (e) =>
    /already has a valid key: adding key k-evil needs X-Subscriber-Authorization/.test(codeOf(e)),
  );
  await assert.rejects(subscribe(record(intruder), intruder, intruder), (e) => /FLX_SIG_UNKNOWN_KEY/.test(codeOf(e)));
  await subscribe(record(k2), k2, k1);
  const resolver = net.resolver;
  for (const k of [k1, k2])
    assert.equal(
      (await resolver.resolve('dc.example', k.uniqueKeyId, Date.now())).publicKey.asymmetricKeyType,
      'ed25519',
    );
  // A key id is never re-bound to another public key.
  const rebound = net.signer('dc.example', 'k1');
  await assert.rejects(subscribe(record(rebound), rebound, k2), (e) =>
    /registered with another public key; to rotate, register the new key under a new unique_key_id/.test(codeOf(e)),
  );
});

test('revocation: the subscriber revokes its old key with its new one; the cached client refuses it once its cache ttl has passed', async () => {
  const k1 = net.signer('revoke.example', 'r1');
  const k2 = net.signer('revoke.example', 'r2');
  await subscribe(record(k1), k1);
  await subscribe(record(k2), k2, k1);
  let clock = Date.now();
  const resolver = registryKeyResolver(
    new HttpRegistry({ url: net.registryUrl, now: () => clock, cacheTtlMs: 60_000 }),
  );
  await resolver.resolve('revoke.example', 'r1', clock); // now cached
  await subscribe(record(k1, { status: 'UNSUBSCRIBED' }), k2);
  await assert.doesNotReject(
    resolver.resolve('revoke.example', 'r1', clock),
    'inside the cache ttl the cached record still answers (documented staleness)',
  );
  clock += 60_001;
  await assert.rejects(
    resolver.resolve('revoke.example', 'r1', clock),
    (e) => (e as { code?: string }).code === 'FLX_SIG_KEY_REVOKED' && /has status UNSUBSCRIBED/.test(codeOf(e)),
  );
  await assert.doesNotReject(resolver.resolve('revoke.example', 'r2', clock));
});

test('an old key stays valid until its own valid_until, then is refused even from the cache', async () => {
  const old = net.signer('expiry.example', 'e1');
  const fresh = net.signer('expiry.example', 'e2');
  const until = Date.now() + HOUR;
  await subscribe(record(old, { valid_until: new Date(until).toISOString() }), old);
  await subscribe(record(fresh), fresh, old);
  let clock = Date.now();
  const resolver = registryKeyResolver(
    new HttpRegistry({ url: net.registryUrl, now: () => clock, cacheTtlMs: 24 * HOUR }),
  );
  await assert.doesNotReject(resolver.resolve('expiry.example', 'e1', clock));
  clock = until + 1;
  await assert.rejects(
    resolver.resolve('expiry.example', 'e1', clock),
    (e) => (e as { code?: string }).code === 'FLX_SIG_KEY_REVOKED' && /expired at/.test(codeOf(e)),
  );
  await assert.doesNotReject(resolver.resolve('expiry.example', 'e2', clock));
});

test('a key not valid yet is refused until its valid_from', async () => {
  const s = net.signer('later.example', 'l1');
  const from = Date.now() + HOUR;
  const body = JSON.stringify(
    record(s, { valid_from: new Date(from).toISOString(), valid_until: new Date(from + HOUR).toISOString() }),
  );
  const r = await fetch(`${net.registryUrl}/subscribe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: signatureHeader(body, s, Date.now(), 60) },
    body,
  });
  assert.equal(r.status, 200);
  await assert.rejects(net.resolver.resolve('later.example', 'l1', Date.now()), (e) =>
    /is not valid until/.test(codeOf(e)),
  );
  await assert.doesNotReject(net.resolver.resolve('later.example', 'l1', from + 1));
});

test('beckn_version: kept with the record, answered by lookup (and a lookup filter), kept across a restart on the same store, refused when not 1.1 / 2.0', async () => {
  const v2 = net.signer('speaks-v2.example', 'v2-1');
  const plain = net.signer('speaks-v1.example', 'v1-1');
  await subscribe(record(v2, { beckn_version: '2.0.0', subscriber_url: 'https://speaks-v2.example/beckn/v2' }), v2);
  await subscribe(record(plain), plain);
  const [got] = await net.registry.lookup({ subscriber_id: 'speaks-v2.example' });
  assert.equal(got?.beckn_version, '2.0.0');
  assert.equal(got?.subscriber_url, 'https://speaks-v2.example/beckn/v2');
  const [other] = await net.registry.lookup({ subscriber_id: 'speaks-v1.example' });
  assert.equal(other?.beckn_version, undefined, 'a record without the field reads as before (1.1.1)');
  const filtered = await post('/lookup', { type: 'BPP', beckn_version: '2.0.0' });
  assert.deepEqual(
    (filtered.body as Subscription[]).map((s) => s.subscriber_id),
    ['speaks-v2.example'],
  );
  // A resubscription without the field replaces the record: the subscriber speaks 1.1.1 again.
  await subscribe(record(v2), v2);
  assert.equal((await net.registry.lookup({ subscriber_id: 'speaks-v2.example' }))[0]?.beckn_version, undefined);
  await subscribe(record(v2, { beckn_version: '2.0' }), v2);
  for (const bad of ['3.0', '2.0.x', '1.0.0', '', 2])
    await assert.rejects(
      subscribe(record(v2, { beckn_version: bad as string }), v2),
      (e) => /FLX_REQ_SCHEMA/.test(codeOf(e)) && /beckn_version must be \\?"1\.1\\?" or/.test(codeOf(e)),
      JSON.stringify(bad),
    );
  const raw = await post('/subscribe', { ...record(v2), beckn_version: 'latest' }, {});
  assert.equal(raw.status, 400);
  assert.match(JSON.stringify(raw.body), /"paths":"beckn_version"/);
  // The registry keeps its records as one JSON document in its store: a registry started again on
  // the same SQLite file answers the field as before.
  const file = join(net.dir, 'registry-restart.db');
  const first = await openSqliteStore(file);
  const a = await createRegistryService({ store: first, now: Date.now, policy: OPEN_REGISTRY });
  const urlA = await listen(a.app);
  await new HttpRegistry({ url: urlA, now: Date.now }, v2).subscribe(record(v2, { beckn_version: '2.0.0' }));
  await a.app.close();
  await first.close();
  const second = await openSqliteStore(file);
  const b = await createRegistryService({ store: second, now: Date.now, policy: OPEN_REGISTRY });
  const urlB = await listen(b.app);
  try {
    const [again] = await new HttpRegistry({ url: urlB, now: Date.now }).lookup({ subscriber_id: 'speaks-v2.example' });
    assert.equal(again?.beckn_version, '2.0.0');
  } finally {
    await b.app.close();
    await second.close();
  }
});

test('a cached key is looked up afresh on refresh (a new URL), at most once a second per key, and only that key', async () => {
  const s = net.signer('moved.example', 'mv-1');
  const other = net.signer('stays.example', 'st-1');
  const at = (url: string) => record(s, { type: 'BAP', subscriber_url: url });
  await subscribe(at('http://127.0.0.1:9001'), s);
  await subscribe(record(other, { type: 'BAP', subscriber_url: 'http://127.0.0.1:9100' }), other);
  const client = new HttpRegistry({ url: net.registryUrl, now: Date.now, cacheTtlMs: 60_000 });
  // The client answers from its cache without a fetch: its fetches are the lookups the registry sees.
  const asked: string[] = [];
  const fetches = (): number => asked.length;
  const realFetch = globalThis.fetch;
  globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    if (String(input).endsWith('/lookup')) asked.push(String(init?.body));
    return realFetch(input, init);
  }) as typeof fetch;
  try {
    const resolver = registryKeyResolver(client);
    const t0 = Date.now();
    assert.equal((await resolver.resolve('moved.example', 'mv-1', t0)).url, 'http://127.0.0.1:9001');
    assert.equal((await resolver.resolve('stays.example', 'st-1', t0)).url, 'http://127.0.0.1:9100');
    await subscribe(at('http://127.0.0.1:9002'), s);
    assert.equal((await resolver.resolve('moved.example', 'mv-1', t0)).url, 'http://127.0.0.1:9001', 'cached');
    const before = fetches();
    assert.equal((await resolver.refresh?.('moved.example', 'mv-1', t0))?.url, 'http://127.0.0.1:9002');
    assert.equal(fetches(), before + 1, 'one lookup, for the moved key');
    await resolver.resolve('stays.example', 'st-1', t0);
    assert.equal(fetches(), before + 1, "the other key's cached lookup is kept");
    await subscribe(at('http://127.0.0.1:9003'), s);
    assert.equal(
      (await resolver.refresh?.('moved.example', 'mv-1', t0 + 500))?.url,
      'http://127.0.0.1:9002',
      'a second refresh within a second answers from the cache',
    );
    assert.equal(fetches(), before + 1);
    assert.equal((await resolver.refresh?.('moved.example', 'mv-1', t0 + 1000))?.url, 'http://127.0.0.1:9003');
    assert.equal(fetches(), before + 2);
  } finally {
    globalThis.fetch = realFetch;
  }
});

test('fresh lookups are capped over all keys: twenty a second, the rest answered from the cache', async () => {
  const forgotten: string[] = [];
  const registry = {
    lookup: async (q: { subscriber_id?: string; unique_key_id?: string }) => {
      const s = net.signer(q.subscriber_id ?? '', q.unique_key_id ?? '');
      return [record(s, { type: 'BAP' })];
    },
    subscribe: async () => {},
    forget: (q: { subscriber_id?: string }) => void forgotten.push(q.subscriber_id ?? ''),
  };
  const resolver = registryKeyResolver(registry);
  const t0 = Math.floor(Date.now() / 1000) * 1000;
  for (let i = 0; i < 30; i++) await resolver.refresh?.(`k${i}.example`, 'k-1', t0 + i);
  assert.equal(forgotten.length, 20, 'twenty keys looked up afresh in the first second');
  assert.deepEqual(forgotten.slice(0, 2), ['k0.example', 'k1.example']);
  await resolver.refresh?.('k25.example', 'k-1', t0 + 1000);
  assert.equal(forgotten.length, 21, 'the next second has room again');
});

test('refused requests are logged one by one only up to ten in ten seconds, so junk from anyone cannot fill the log', async () => {
  const lines: string[] = [];
  const log = {
    info: (_fields: object, msg?: string) => void lines.push(msg ?? ''),
    debug: () => {},
  } as unknown as NonNullable<Parameters<typeof createRegistryService>[0]['log']>;
  const dir = net.dir;
  const store = await openSqliteStore(join(dir, `refused-${Date.now()}.db`));
  const r = await createRegistryService({ store, now: Date.now, policy: OPEN_REGISTRY, log });
  const url = await listen(r.app);
  try {
    for (let i = 0; i < 15; i++) {
      const res = await fetch(`${url}/subscribe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.ok(res.status >= 400);
    }
    assert.equal(lines.filter((l) => l === 'request refused').length, 10);
  } finally {
    await r.app.close();
    await store.close();
  }
});
