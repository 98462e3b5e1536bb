// The version a composed grid buyer sends each BPP comes from the registry (issue 18): a market of
// composed roles (the registry, the gateway, FlexLon's grid buyer, two BPPs each selling its own
// site) where one BPP is registered with `beckn_version: "2.0.0"` at its 2.0 URL (<url>/v2) and the
// other is the demo's, registered as before (no field: core 1.1.1, whose context says "1.1.0").
// Nothing in the buyer is replaced: it reads the registry through its own client, and its
// VersionedClient picks the version per BPP.
//
// Beckn 2.0 has no gateway (14_Signing "removes legacy gateway-specific steps"): the gateway
// forwards the buyer's 1.1.1 search to the 1.1.1 BPP only (gateway.ts searchTargets), and the buyer
// discovers the 2.0 BPP directly beside it (orchestrator.ts search).
//
// The 2.0 BPP registers itself so: the extra provider's config says `becknVersion: "2.0"`
// (bpp-version-config.test.ts checks that record from a config file).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { FlexOffer } from '../../src/domain/offers.ts';
import { CORE_VERSION } from '../../src/beckn/context.ts';
import { contractIdOf } from '../../src/beckn/v2/codec-in.ts';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import type { AuditRecord } from '../../src/audit/chain.ts';
import type { Subscription } from '../../src/ports.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';
import { eventually } from '../helpers/network.ts';

let market: TestMarket;
let m: Market;
const V2_BPP = 'dc-v2site.flexlon.local';
const SLOT = SLOT_MINUTES * MINUTE_MS;

before(async () => {
  market = await openMarket('v2-composed', {
    extraProviders: [{ site: 'v2site', trainingNodes: 24, gridImportLimitKw: 300, seed: 42, becknVersion: '2.0' }],
  });
  m = market.m;
});

after(async () => {
  await market.stop();
});

const payload = (a: AuditRecord) => a.payload as { action: string; version?: string; body: string; url: string };
const versionOf = (a: AuditRecord): string => {
  const c = (JSON.parse(payload(a).body) as { context: { version?: string; core_version?: string } }).context;
  return c.version ?? c.core_version ?? '';
};

test(
  'the composed grid buyer speaks 2.0 to the BPP registered as 2.0 and 1.1.1 to the other; both deals complete',
  { timeout: 240_000 },
  async () => {
    let found: Awaited<ReturnType<Market['bap']['search']>> | undefined;
    let txn = '';
    const wantedKw = 20;
    for (let from = 4; from <= 14; from++) {
      const windowStart = epochMs(m.dayStart + from * SLOT);
      txn = randomUUID();
      found = await m.bap.search(
        {
          kind: 'price-peak',
          windowStart,
          windowEnd: epochMs(windowStart + 2 * SLOT),
          wantedKw: kw(wantedKw),
          maxPriceGbpPerMwh: gbpPerMwh(100_000),
        },
        txn,
      );
      if ('none' in found) continue;
      const sellers = new Set(found.offers.map((o) => o.bppId));
      if (sellers.has(V2_BPP) && sellers.has(m.providers[0]?.id ?? '')) break;
    }
    assert.ok(found && !('none' in found), `search: ${JSON.stringify(found)}`);
    const records = new Map<string, Subscription>(found.bpps.map((s) => [s.subscriber_id, s]));
    assert.equal(records.get(V2_BPP)?.beckn_version, '2.0.0', "the buyer's registry client reads the BPP's version");
    assert.equal(records.get(m.providers[0]?.id ?? '')?.beckn_version, undefined);
    const offerOf = (bpp: string): FlexOffer => {
      const o = found && !('none' in found) ? found.offers.find((x) => x.bppId === bpp) : undefined;
      assert.ok(o, `an offer from ${bpp}`);
      return o.offer;
    };

    // The deal with the 2.0 BPP: select, init, confirm, then status, all in 2.0.
    const v2 = records.get(V2_BPP) as Subscription;
    const p2 = await m.bap.buy(
      v2,
      offerOf(V2_BPP),
      Math.min(wantedKw, offerOf(V2_BPP).reductionKw),
      txn,
      found.offers.length,
    );
    const v2Store = m.providers.find((p) => p.id === V2_BPP)?.store;
    assert.ok(v2Store);
    const order2 = (await v2Store.listOrders()).find((o) => o.transactionId === txn);
    assert.equal(order2?.state, 'confirmed');
    assert.equal(p2.orderId, contractIdOf(order2.id), 'the buyer holds the Contract id');
    assert.equal((await m.bap.status(p2)).state, 'COMMITTED');

    // The deal with the 1.1.1 BPP, in the same transaction: 1.1.1 throughout.
    const v1Id = m.providers[0]?.id ?? '';
    const v1 = records.get(v1Id) as Subscription;
    const p1 = await m.bap.buy(
      v1,
      offerOf(v1Id),
      Math.min(wantedKw, offerOf(v1Id).reductionKw),
      txn,
      found.offers.length,
    );
    const order1 = (await m.stores.flex.listOrders()).find((o) => o.transactionId === txn);
    assert.equal(order1?.state, 'confirmed');
    assert.equal(p1.orderId, order1.id, 'a 1.1.1 order keeps its own id');
    assert.equal((await m.bap.status(p1)).state, 'COMMITTED');

    // What left the buyer, per BPP, and in which version (its audit keeps the exact bytes).
    const out = (await m.stores.grid.auditTrail({ transactionId: txn })).filter((a) => a.kind === 'beckn.out');
    const to = (url: string) =>
      out.filter((a) => payload(a).url.startsWith(url)).map((a) => [payload(a).action, versionOf(a)]);
    assert.deepEqual(
      to(`${m.providers.find((p) => p.id === V2_BPP)?.url.replace(/\/+$/, '')}/v2/`),
      ['discover', 'select', 'init', 'confirm', 'status'].map((a) => [a, '2.0.0']),
    );
    // Core 1.1.1 messages carry the core line's "1.1.0" (context.ts CORE_VERSION): the search through
    // the gateway, the rest straight to the BPP.
    assert.deepEqual(to(`${m.urls.gateway.replace(/\/+$/, '')}/`), [['search', CORE_VERSION]]);
    assert.deepEqual(
      to(`${m.providers[0]?.url.replace(/\/+$/, '')}/`),
      ['select', 'init', 'confirm', 'status'].map((a) => [a, CORE_VERSION]),
    );
    // The gateway forwarded the search to the 1.1.1 BPP and not to the 2.0 one.
    const forwarded = (await m.stores.gateway.auditTrail({ transactionId: txn }))
      .filter((a) => a.kind === 'beckn.out')
      .map((a) => (a.payload as { to: string }).to);
    assert.ok(forwarded.includes(m.providers[0]?.id ?? ''), forwarded.join(', '));
    assert.ok(!forwarded.includes(V2_BPP), forwarded.join(', '));
    for (const a of out.filter((x) => payload(x).version === '2.0.0'))
      assert.equal((a.payload as { ackCheck: string }).ackCheck, 'counter-signature verified');
    // And what came back: the 2.0 BPP's callbacks in 2.0 at the buyer's /v2 endpoint, the other's in 1.1.1.
    // A BPP writes its row once the buyer's ACK is back, after the buyer has the callback: waited for.
    const inAt = (store: typeof v2Store) =>
      store
        .auditTrail({ transactionId: txn })
        .then((rows) => rows.filter((a) => a.kind === 'beckn.out').map((a) => [payload(a).action, versionOf(a)]));
    const rowsAt = async (store: typeof v2Store, expected: string[][]) => {
      await eventually(async () => (await inAt(store)).length >= expected.length, 'the BPP audited its callbacks');
      assert.deepEqual(await inAt(store), expected);
    };
    await rowsAt(
      v2Store,
      ['on_discover', 'on_select', 'on_init', 'on_confirm', 'on_status'].map((a) => [a, '2.0.0']),
    );
    // The demo's BPP writes them through its group-commit journal.
    await rowsAt(
      m.stores.flex,
      ['on_search', 'on_select', 'on_init', 'on_confirm', 'on_status'].map((a) => [a, CORE_VERSION]),
    );
  },
);
