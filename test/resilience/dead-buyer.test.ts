// Faults at the buyer's end (issue 14: "a dead or slow buyer (callbacks time out)… nothing confirmed
// is lost… recovery by itself or a clear error"): a buyer whose registered URL refuses connections
// and one whose server accepts and never answers each send searches the BPP ACKs. Their on_search
// callbacks cannot be delivered; each must end as one outbox row given up (`dead`) with its reason and
// a `beckn.out` audit row saying what happened, never vanish, while the BPP stays healthy and a live
// buyer searching meanwhile gets its callback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signerFromPrivateKey } from '../../src/adapters/keystore-file/keystore.ts';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { buildContext } from '../../src/beckn/context.ts';
import { registryKeyResolver } from '../../src/beckn/key-resolver.ts';
import { generateKeyPair } from '../../src/beckn/keys.ts';
import { signedPost } from '../helpers/signed-post.ts';
import type { Market } from '../../src/compose/index.ts';
import type { Signer, Store } from '../../src/ports.ts';
import { startTestBap, type TestBap } from '../helpers/bap.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';
import { requestMessage, subscription } from './endpoints.ts';
import { probeHealth } from './send.ts';

let market: TestMarket;
let m: Market;
let dir: string;
let buyerStore: Store;
let live: TestBap;
let silent: Server;
const sockets = new Set<Socket>();
const key = (id: string) => signerFromPrivateKey(id, `${id}-k1`, generateKeyPair().seedBase64);
const deadKey = key('dead-bap.resilience');
const slowKey = key('slow-bap.resilience');
const liveKey = key('live-bap.resilience');
let deadUrl: string;
let slowUrl: string;

/** A port nothing listens on: bound, then closed (connections to it are refused). */
const closedPort = async (): Promise<number> => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
};

before(async () => {
  market = await openMarket('dead-buyer');
  m = market.m;
  dir = mkdtempSync(join(tmpdir(), 'flexlon-dead-buyer-'));
  buyerStore = await openSqliteStore(join(dir, 'live-bap.db'));
  const registry = new HttpRegistry({ url: m.urls.registry, now: Date.now, cacheTtlMs: 0 });
  live = await startTestBap({
    signer: liveKey,
    store: buyerStore,
    registryUrl: m.urls.registry,
    resolver: registryKeyResolver(registry),
  });
  // The slow buyer's server takes the connection and the request, and never answers.
  silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', () => undefined);
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  slowUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}/beckn`;
  deadUrl = `http://127.0.0.1:${await closedPort()}/beckn`;
  for (const [s, url] of [
    [deadKey, deadUrl],
    [slowKey, slowUrl],
  ] as const)
    await new HttpRegistry({ url: m.urls.registry, now: Date.now }, s).subscribe(
      subscription(s, 'BAP', url, Date.now()),
    );
});
after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent?.close(r));
  await live?.stop();
  await buyerStore?.close();
  await market?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A signed search from `s` whose callbacks go to `url`, with `ttlSeconds`; its status and message_id. */
const search = async (s: Signer, url: string, ttlSeconds: number): Promise<{ status: number; messageId: string }> => {
  const context = buildContext({
    action: 'search',
    bapId: s.subscriberId,
    bapUri: url,
    bppId: m.bpp.id,
    bppUri: m.urls.bpp,
    now: Date.now(),
    ttlSeconds,
  });
  const a = await signedPost({
    url: m.urls.bpp,
    signer: s,
    context,
    message: requestMessage('search', m),
    expiresInSeconds: ttlSeconds,
  });
  return { status: a.status, messageId: a.messageId };
};

const eventually = async <T>(what: string, f: () => Promise<T | undefined>, ms: number): Promise<T> => {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
};

test(
  'a dead buyer and a silent one: every ACKed search ends as one dead outbox row with its reason audited; the BPP stays healthy and a live buyer is answered meanwhile',
  { timeout: 180_000 },
  async () => {
    const probe = probeHealth({ bpp: m.urls.bpp });
    const TTL = 8;
    const faulty = [
      await search(deadKey, deadUrl, TTL),
      await search(slowKey, slowUrl, TTL),
      await search(deadKey, deadUrl, TTL),
      await search(slowKey, slowUrl, TTL),
    ];
    assert.deepEqual(
      faulty.map((f) => f.status),
      [200, 200, 200, 200],
      'each search is ACKed (an ACK promises a callback)',
    );
    // A live buyer searching while those callbacks fail is answered.
    const fine = await search(liveKey, live.url, 60);
    assert.equal(fine.status, 200);
    const answer = await live.callbacks.wait(fine.messageId, 90_000);
    assert.equal(answer.context.action, 'on_search');

    const ids = new Set(faulty.map((f) => f.messageId));
    let seen = '';
    const rows = await eventually(
      'every undeliverable on_search given up',
      async () => {
        // The callbacks owed (the BPP's own planning task for the search shares its message_id).
        const owed = (await m.stores.flex.listOutbox()).filter(
          (o) => o.action === 'on_search' && o.messageId !== undefined && ids.has(o.messageId),
        );
        seen = JSON.stringify(
          owed.map((o) => [o.id, o.destination, o.action, o.status, o.attempts, o.lastError?.slice(0, 60)]),
        );
        return owed.length === ids.size && owed.every((o) => o.status === 'dead') ? owed : undefined;
      },
      90_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; the rows for ${[...ids].join(', ')}: ${seen}`);
    });
    const health = await probe.stop();
    // One row per ACKed search (none lost, none doubled), each with the reason an operator can read.
    assert.deepEqual(new Set(rows.map((r) => r.messageId)), ids);
    for (const r of rows) {
      assert.match(r.lastError ?? '', /FLX_PEER_UNREACHABLE|FLX_REQ_EXPIRED|ttl|refused|no answer/i, r.id);
    }
    const out = (await m.stores.flex.auditTrail()).filter(
      (e) => e.kind === 'beckn.out' && e.messageId !== undefined && ids.has(e.messageId),
    );
    for (const id of ids) {
      const outcomes = out.filter((e) => e.messageId === id).map((e) => (e.payload as { outcome?: string }).outcome);
      assert.ok(
        outcomes.some((o) => o === 'unreachable' || o === 'dropped'),
        `${id}: audited as ${JSON.stringify(outcomes)}`,
      );
    }
    // The live buyer's callback was sent once, and nothing was ever sent twice to anyone.
    const liveRows = (await m.stores.flex.listOutbox()).filter(
      (o) => o.action === 'on_search' && o.messageId === fine.messageId,
    );
    assert.deepEqual(
      liveRows.map((r) => r.status),
      ['sent'],
    );
    console.log(
      JSON.stringify({
        deadRows: rows.map((r) => ({ attempts: r.attempts, lastError: r.lastError?.slice(0, 120) })),
        slowestHealthMs: Math.round(health.slowestMs.bpp ?? 0),
      }),
    );
    assert.deepEqual(health.failures, []);
    assert.ok((health.slowestMs.bpp ?? 0) < 1000, `BPP /health took ${health.slowestMs.bpp} ms at worst`);
  },
);
