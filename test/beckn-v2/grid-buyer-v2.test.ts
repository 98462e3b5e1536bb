// FlexLon's grid buyer as a Beckn 2.0 BAP (issue 18): the GridOrchestrator's own procurement
// (search, the cheapest offer, select, init, confirm, then status) runs over 2.0 against FlexLon's
// BPP, because the registry says the BPP speaks 2.0. Its requests leave through the VersionedClient,
// its callbacks come in at its /v2 endpoint and reach its usual handlers; then it tracks, updates,
// rates, asks support for and cancels the order over 2.0 with the same functions as over 1.1.1.
//
// The registry here is the market's registry seen through a Registry that adds `beckn_version:
// "2.0.0"` to the BPP's record with its 2.0 URL (<url>/v2) and lists no gateway (Beckn 2.0 has none:
// 14_Signing "removes legacy gateway-specific steps"). The registry service keeps `beckn_version`
// itself; composed-versions.test.ts registers a BPP as 2.0 there and uses the composed grid buyer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { signerFromPrivateKey } from '../../src/adapters/keystore-file/keystore.ts';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { DEFAULT_NEED_POLICY } from '../../src/agents/grid/need-detection.ts';
import { GridOrchestrator } from '../../src/agents/grid/orchestrator.ts';
import { askSupport, cancelOrder, rateOrder, trackOrder, updateOrder } from '../../src/agents/grid/post-order.ts';
import { registryKeyResolver } from '../../src/beckn/key-resolver.ts';
import { generateKeyPair } from '../../src/beckn/keys.ts';
import { contractIdOf } from '../../src/beckn/v2/codec-in.ts';
import { checkV2, loadOfficialSpec } from '../../src/beckn/v2/validate.ts';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import { mountBecknV2Bap } from '../../src/compose/bap-v2.ts';
import { versionedClient } from '../../src/compose/bpp-v2.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import { createLogger } from '../../src/log.ts';
import type { Registry, Store } from '../../src/ports.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';
import { LTS } from './deg-buyer.ts';

const ID = 'grid-v2.example';
let market: TestMarket;
let m: Market;
let app: FastifyInstance;
let store: Store;
let dir: string;
let bap: GridOrchestrator;

before(async () => {
  market = await openMarket('v2-grid-buyer');
  m = market.m;
  dir = mkdtempSync(join(tmpdir(), 'flexlon-grid-v2-'));
  store = await openSqliteStore(join(dir, 'grid.db'));
  const signer = signerFromPrivateKey(ID, `${ID}-k1`, generateKeyPair().seedBase64);
  const real = new HttpRegistry({ url: m.urls.registry, now: Date.now, cacheTtlMs: 0 }, signer);
  const registry: Registry = {
    subscribe: (s) => real.subscribe(s),
    async lookup(q) {
      if (q.type === 'BG') return [];
      return (await real.lookup(q)).map((s) =>
        s.subscriber_id === m.bpp.id
          ? { ...s, subscriber_url: `${s.subscriber_url.replace(/\/+$/, '')}/v2`, beckn_version: '2.0.0' }
          : s,
      );
    },
  };
  app = Fastify({ logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  await app.close(); // the port is known; listen again once the routes are in
  const resolver = registryKeyResolver(real);
  bap = new GridOrchestrator({
    id: ID,
    uri: url,
    store,
    client: versionedClient({ signer, store, now: Date.now, resolver, registry, publicUrl: url, name: ID }),
    registry,
    market: m.clock,
    wallNow: Date.now,
    signals: m.signals,
    region: 'GB',
    policy: DEFAULT_NEED_POLICY,
    collectMs: 30_000,
    callbackTimeoutMs: 20_000,
    log: createLogger('silent'),
  });
  app = Fastify({ logger: false });
  mountBecknV2Bap(app, { bap, resolver, signer, store, now: Date.now, log: createLogger('silent') });
  await app.listen({ host: '127.0.0.1', port: Number(new URL(url).port) });
  const now = Date.now();
  await real.subscribe({
    subscriber_id: ID,
    subscriber_url: url,
    type: 'BAP',
    domain: 'uei:compute_flexibility',
    unique_key_id: signer.uniqueKeyId,
    signing_public_key: signer.publicKeyBase64,
    valid_from: new Date(now - 60_000).toISOString(),
    valid_until: new Date(now + 86_400_000).toISOString(),
    status: 'SUBSCRIBED',
  });
});

after(async () => {
  await app.close();
  await store.close();
  await market.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("the grid buyer's own procurement runs over Beckn 2.0 against FlexLon's BPP", { timeout: 120_000 }, async () => {
  const slot = SLOT_MINUTES * MINUTE_MS;
  let bought: Awaited<ReturnType<GridOrchestrator['procure']>> | undefined;
  for (let from = 4; from <= 12 && !(bought && !('none' in bought)); from++) {
    const windowStart = epochMs(m.dayStart + from * slot);
    bought = await bap.procure(
      {
        kind: 'price-peak',
        windowStart,
        windowEnd: epochMs(windowStart + 2 * slot),
        wantedKw: kw(20),
        maxPriceGbpPerMwh: gbpPerMwh(100_000),
      },
      randomUUID(),
    );
  }
  assert.ok(bought && !('none' in bought), `bought: ${JSON.stringify(bought)}`);
  const p = bought;
  // The order the grid buyer holds is the Contract id; the BPP's order behind it is confirmed.
  const order = (await m.stores.flex.listOrders()).find((o) => o.transactionId === p.transactionId);
  assert.equal(order?.state, 'confirmed');
  assert.equal(order.bapId, ID);
  assert.equal(p.orderId, contractIdOf(order.id));
  assert.ok(p.quotedGbp > 0);
  assert.equal(p.baselineMethod, order.baselineMethod ?? p.baselineMethod);
  // status over 2.0 too: the Contract (with the commitment it was bought with) is found.
  const status = await bap.status(p);
  assert.equal(status.state, 'COMMITTED');
  // Both sides audited 2.0 both ways, every Ack's counter-signature verified.
  const mine = (await store.auditTrail({ transactionId: p.transactionId })).filter((a) => a.kind === 'beckn.out');
  assert.deepEqual(
    mine.map((a) => [(a.payload as { action: string }).action, (a.payload as { version: string }).version]),
    ['discover', 'select', 'init', 'confirm', 'status'].map((a) => [a, '2.0.0']),
  );
  for (const a of mine) assert.equal((a.payload as { ackCheck: string }).ackCheck, 'counter-signature verified');
  const ins = (await store.auditTrail({ transactionId: p.transactionId })).filter((a) => a.kind === 'beckn.in');
  assert.deepEqual(
    ins.map((a) => (a.payload as { action: string }).action),
    ['on_discover', 'on_select', 'on_init', 'on_confirm', 'on_status'],
  );
  // Every 2.0 message of the exchange, as received (the audit keeps the exact bytes), is valid under
  // FlexLon's 2.0 envelope and the LTS beckn.yaml: the buyer's requests at the BPP, the BPP's
  // callbacks at the buyer.
  const spec = loadOfficialSpec(LTS);
  const received = [
    ...(await m.stores.flex.auditTrail({ transactionId: p.transactionId })),
    ...(await store.auditTrail({ transactionId: p.transactionId })),
  ].filter((a) => a.kind === 'beckn.in');
  assert.equal(received.length, 10);
  for (const a of received) {
    const { action, body } = a.payload as { action: string; body: string };
    const msg = JSON.parse(body) as unknown;
    assert.deepEqual(checkV2('lts', action, msg), [], `${action}: FlexLon's 2.0 envelope`);
    assert.deepEqual(spec.check(action, msg), [], `${action}: the LTS beckn.yaml`);
  }
  const theirs = (await m.stores.flex.auditTrail({ transactionId: p.transactionId })).filter(
    (a) => a.kind === 'beckn.out',
  );
  for (const a of theirs)
    assert.deepEqual(
      [(a.payload as { version: string }).version, (a.payload as { ackCheck: string }).ackCheck],
      ['2.0.0', 'counter-signature verified'],
    );

  // After the order, as the 1.1.1 buyer can (src/agents/grid/post-order.ts): track, update, rate,
  // support, then cancel, over 2.0 with the Contract's commitment; the BPP's order changes and is
  // cancelled; the ten messages valid LTS.
  const tracking = await trackOrder(bap, p);
  assert.deepEqual([tracking.id, tracking.status], [p.orderId, 'inactive']);
  const smaller = Math.max(1, Math.floor(order.reductionKw / 2));
  const updated = await updateOrder(bap, p, 'items', {
    items: [
      {
        id: order.offerId,
        quantity: { selected: { measure: { type: 'CONSTANT', value: String(smaller), unit: 'kW' } } },
      },
    ],
  });
  assert.equal(updated.items?.[0]?.quantity?.selected?.measure?.value, String(smaller));
  assert.equal((await m.stores.flex.getOrder(order.id))?.reductionKw, smaller);
  await rateOrder(bap, p, 5);
  const support = await askSupport(bap, p);
  assert.equal(support.ref_id, p.orderId);
  const cancelled = await cancelOrder(bap, p);
  assert.deepEqual([cancelled.id, cancelled.status], [p.orderId, 'CANCELLED']);
  assert.equal((await m.stores.flex.getOrder(order.id))?.state, 'cancelled');
  const later = [
    ...(await m.stores.flex.auditTrail({ transactionId: p.transactionId })),
    ...(await store.auditTrail({ transactionId: p.transactionId })),
  ].filter(
    (a) =>
      a.kind === 'beckn.in' &&
      !['discover', 'select', 'init', 'confirm', 'status'].includes(
        (a.payload as { action: string }).action.replace(/^on_/, ''),
      ),
  );
  assert.deepEqual(later.map((a) => (a.payload as { action: string }).action).sort(), [
    'cancel',
    'on_cancel',
    'on_rate',
    'on_support',
    'on_track',
    'on_update',
    'rate',
    'support',
    'track',
    'update',
  ]);
  for (const a of later) {
    const { action, body } = a.payload as { action: string; body: string };
    assert.deepEqual(spec.check(action, JSON.parse(body)), [], `${action}: the LTS beckn.yaml`);
  }
});
