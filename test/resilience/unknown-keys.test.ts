// A keyId the registry does not know costs one registry lookup per DEFAULT_UNKNOWN_KEY_TTL_MS, not
// one per request (issue 14 finding 5): signed requests over HTTP to a receiver whose resolver asks a
// real registry service, the lookups counted on the way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { signerFromPrivateKey } from '../../src/adapters/keystore-file/keystore.ts';
import { buildContext } from '../../src/beckn/context.ts';
import { DEFAULT_UNKNOWN_KEY_TTL_MS, registryKeyResolver } from '../../src/beckn/key-resolver.ts';
import { generateKeyPair } from '../../src/beckn/keys.ts';
import { registerReceiver } from '../../src/beckn/receiver.ts';
import { signBody } from '../../src/beckn/signing.ts';
import type { LookupQuery, Registry, Signer } from '../../src/ports.ts';
import { listen, startNetwork, type TestNetwork } from '../helpers/network.ts';

let net: TestNetwork;
/** The receivers' clock (ms): moved forward by the tests, the signatures made for it. */
let clock = Date.now();
let receivers = 0;

before(async () => {
  net = await startNetwork();
});
after(async () => {
  await net.stop();
});

/** A BPP receiver whose resolver asks the registry through a counter (no lookup cache of its own). */
const receiver = async (unknownKeyTtlMs?: number): Promise<{ url: string; lookups: () => number }> => {
  // The network's registry client keeps no lookup cache, so every lookup reaches the registry.
  let lookups = 0;
  const counted: Registry = {
    lookup: (q: LookupQuery) => {
      lookups++;
      return net.registry.lookup(q);
    },
    subscribe: (s) => net.registry.subscribe(s),
  };
  const store = await net.store(`bpp-${++receivers}`);
  const app = net.app();
  registerReceiver(app, {
    subscriberId: 'bpp.test',
    role: 'BPP',
    resolver: registryKeyResolver(counted, unknownKeyTtlMs === undefined ? {} : { unknownKeyTtlMs }),
    store,
    now: () => clock,
    handlers: { status: async () => undefined },
    onBackgroundError: () => {},
  });
  return { url: await listen(app), lookups: () => lookups };
};

const send = async (url: string, s: Signer): Promise<{ status: number; code: string | undefined }> => {
  const body = JSON.stringify({
    context: buildContext({ action: 'status', bapId: s.subscriberId, bapUri: 'http://127.0.0.1:9/cb', now: clock }),
    message: { order_id: 'o-1' },
  });
  const created = Math.floor(clock / 1000);
  const authorization = signBody({
    body,
    subscriberId: s.subscriberId,
    uniqueKeyId: s.uniqueKeyId,
    created,
    expires: created + 30,
    sign: (d) => s.sign(d),
  }).header;
  const r = await fetch(`${url}/status`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body,
  });
  const nack = (await r.json()) as { error?: { message?: string } };
  return { status: r.status, code: /^(FLX_[A-Z_]+)/.exec(nack.error?.message ?? '')?.[1] };
};

const stranger = (keyId: string) => signerFromPrivateKey('bap.stranger', keyId, generateKeyPair().seedBase64);

test('an unknown keyId costs one registry lookup per ttl, whatever the number of requests, concurrent or not', async () => {
  const bpp = await receiver();
  const s = stranger('never-registered');
  // 20 at once share one lookup; 30 more in turn are answered from memory.
  const first = await Promise.all(Array.from({ length: 20 }, () => send(bpp.url, s)));
  for (let k = 0; k < 30; k++) first.push(await send(bpp.url, s));
  assert.deepEqual(new Set(first.map((r) => `${r.status} ${r.code}`)), new Set(['401 FLX_SIG_UNKNOWN_KEY']));
  assert.equal(bpp.lookups(), 1, '50 requests, one lookup');
  // Another unknown keyId is its own lookup.
  assert.equal((await send(bpp.url, stranger('another'))).code, 'FLX_SIG_UNKNOWN_KEY');
  assert.equal(bpp.lookups(), 2);
  // Just before the ttl ends: still from memory; after it, asked again (the key might be registered now).
  clock += DEFAULT_UNKNOWN_KEY_TTL_MS - 1000;
  assert.equal((await send(bpp.url, s)).code, 'FLX_SIG_UNKNOWN_KEY');
  assert.equal(bpp.lookups(), 2);
  clock += 2000;
  assert.equal((await send(bpp.url, s)).code, 'FLX_SIG_UNKNOWN_KEY');
  assert.equal(bpp.lookups(), 3);
});

test('with unknownKeyTtlMs 0 every request with an unknown keyId asks the registry (what it was before)', async () => {
  const bpp = await receiver(0);
  const s = stranger('uncached');
  for (let k = 0; k < 5; k++) assert.equal((await send(bpp.url, s)).code, 'FLX_SIG_UNKNOWN_KEY');
  assert.equal(bpp.lookups(), 5);
});
