// The Flexibility Orchestrator (BPP) as a role: its store, keys, planner, the sites' agents it
// trusts, the Beckn endpoints and the outbox (src/agents/flex/bpp.ts). On start it recovers (the
// agents' last reports, the live commitments re-planned and dispatched) and sends what is owed.
import Fastify from 'fastify';
import { createBpp, type Bpp } from '../agents/flex/bpp.ts';
import { FlexOrchestrator } from '../agents/flex/orchestrator.ts';
import type { PlanRecord } from '../agents/flex/plan-record.ts';
import { HttpRegistry } from '../adapters/registry-http/client.ts';
import { registryKeyResolver } from '../beckn/key-resolver.ts';
import { useRawJsonBody } from '../beckn/raw-body.ts';
import { registerOnSubscribe } from '../beckn/registry/on-subscribe.ts';
import { becknValidator } from '../beckn/validator.ts';
import { FlexError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createMetrics } from '../observability/metrics.ts';
import type { Clock, IdSource, SignalSource, Store } from '../ports.ts';
import { BL01_METHOD } from './baseline.ts';
import { registryCacheMs, type BppConfig } from './config.ts';
import {
  assertPortFree,
  listenOn,
  makeClock,
  dispatchKeyId,
  makeKeys,
  makeLogger,
  makeSignals,
  openJournal,
  verifierPool,
  openStore,
  keyFilesNotYetThere,
  notYetTrusted,
  peerKeyResolver,
  subscriptionOf,
  type RunningRole,
} from './parts.ts';
import { plannerOf } from './solver.ts';
import { mountBecknV2, versionedClient } from './bpp-v2.ts';
import { V2_PATH } from '../beckn/v2/receiver.ts';
import { mountDashboard } from '../web/mount.ts';

/** Parts a composition may share between roles in one process (the demo's one replayed clock). */
export interface SharedParts {
  /** New plan, order, offer and message ids (default random UUIDs; a seeded demo passes seededIds). */
  readonly ids?: IdSource;
  readonly clock?: Clock;
  readonly signals?: SignalSource;
  readonly log?: Logger;
  readonly now?: () => number;
  /** Told of each plan stored for dispatch (FlexOrchestratorDeps.onPlanRecorded). */
  readonly onPlanRecorded?: (plan: PlanRecord) => void;
}

export interface ComposedBpp extends RunningRole {
  readonly orchestrator: FlexOrchestrator;
  readonly node: Bpp;
  readonly store: Store;
}

export const composeBpp = async (c: BppConfig, shared: SharedParts = {}): Promise<ComposedBpp> => {
  const log = shared.log ?? makeLogger(c.logLevel, { agent: 'flex', id: c.id });
  const wallNow = shared.now ?? Date.now;
  const market = shared.clock ?? makeClock(c.clock);
  const signals = shared.signals ?? makeSignals(c.signals);
  becknValidator(); // compile every message schema now, not on the first request
  await assertPortFree(c.listen);
  const signer = await makeKeys(c.keys).signer(c.id);
  const dispatchSigner = await makeKeys(c.keys).signer(dispatchKeyId(c.id));
  const store = await openStore(c.store, 'flex-orchestrator');
  // Signed chain heads (issue 17): the audit log holds against someone who can write the database.
  store.signHeadsWith?.(signer, wallNow);
  const journal = await openJournal(c.journal, store, c.store);
  const pool = verifierPool(c.verifyThreads);
  const solver = await plannerOf(c.planner);
  // Signed lookups, and the subscription with its on_subscribe challenge (registry.yaml).
  const registry = new HttpRegistry(
    { url: c.registry.url, now: wallNow, cacheTtlMs: registryCacheMs(c.registry) },
    signer,
  );
  const resolver = registryKeyResolver(registry);
  const metrics = createMetrics({ orders: () => store.listOrders(), processMetrics: true });
  const orchestrator = new FlexOrchestrator({
    id: c.id,
    uri: c.listen.publicUrl,
    name: c.name,
    store,
    signer,
    dispatchSigner,
    market,
    wallNow,
    signals,
    solver,
    sites: c.sites.map((s) => ({ id: s.id, region: s.region, agentUrl: s.agentUrl })),
    horizonSlots: c.horizonSlots,
    slotMinutes: c.slotMinutes,
    pricing: c.pricing,
    quoteTtlSeconds: c.quoteTtlSeconds,
    support: { email: c.supportEmail },
    log,
    metrics,
    // Beckn 2.0 beside 1.1.1 (issue 18): each counterparty's version, 1.1.1 by default.
    client: versionedClient({
      signer,
      store,
      now: wallNow,
      resolver,
      registry,
      publicUrl: c.listen.publicUrl,
      name: c.name,
      // beckn.out rows through the group-commit journal too, not one fsync each (docs/reliability.md).
      ...(journal.journal ? { journal: journal.journal } : {}),
    }),
    ...(c.cancellation ? { cancellation: c.cancellation } : {}),
    ...(typeof c.carbonCap === 'number' ? { carbonCapKg: c.carbonCap } : {}),
    ...(c.carbonCap === 'fifo' ? { carbonCapFifo: 'kg' as const } : {}),
    ...(c.carbonCap === 'fifo-intensity' ? { carbonCapFifo: 'intensity' as const } : {}),
    ...(c.moveCost ? { moveCost: c.moveCost } : {}),
    ...(c.capacityValueShare ? { capacityValueShare: c.capacityValueShare } : {}),
    ...(shared.onPlanRecorded ? { onPlanRecorded: shared.onPlanRecorded } : {}),
    ...(c.gatherReportsMs === undefined ? {} : { gatherReportsMs: c.gatherReportsMs }),
    ...(c.incrementalReplans ? { incrementalReplans: true } : {}),
    ...(c.baseline === 'bl01' ? { baselineMethod: BL01_METHOD } : {}),
    ...(shared.ids ? { ids: shared.ids } : {}),
  });
  const node = createBpp({
    orchestrator,
    resolver,
    agentTrust: peerKeyResolver(c.sites.map((s) => s.agent)),
    ackSigner: signer,
    metrics,
    outboxEveryMs: c.outboxEveryMs,
    ...(c.rateLimit === undefined ? {} : { rateLimit: c.rateLimit }),
    ...(journal.journal ? { journal: journal.journal } : {}),
    ...(pool ? { signatureCheck: pool.check } : {}),
  });
  const app = Fastify({ logger: false });
  useRawJsonBody(app);
  registerOnSubscribe(app, registry);
  // A 2.0 record's subscriber_url is publicUrl + /v2: the registry's challenge goes to <that>/on_subscribe.
  if (c.becknVersion === '2.0') registerOnSubscribe(app, registry, V2_PATH);
  node.register(app);
  mountBecknV2(app, { orchestrator, node, resolver, signer, ...(pool ? { signatureCheck: pool.check } : {}) });
  // The operator dashboard (issue 19, docs/dashboard.md): GET /dashboard/ and its JSON API.
  mountDashboard(app, c.dashboard, {
    role: 'bpp',
    id: c.id,
    store,
    now: () => market.now(),
    flex: orchestrator,
    signals,
    signer,
  });
  const close = async () => {
    await app.close();
    await node.stop();
    await journal.close();
    await pool?.close();
    await store.close();
    await solver.close?.();
  };
  try {
    await listenOn(app, c.listen);
    if (c.registry.subscribe)
      await registry.subscribe(subscriptionOf(signer, 'BPP', c.listen.publicUrl, wallNow(), c.becknVersion));
    await node.start();
  } catch (e) {
    await close();
    throw e instanceof FlexError
      ? e
      : new FlexError('FLX_PEER_UNREACHABLE', `bpp start-up failed: ${(e as Error).message}`);
  }
  const waiting = keyFilesNotYetThere(c.sites.map((s) => s.agent));
  log.info(
    { url: c.listen.publicUrl, store: store.location, sites: c.sites.map((s) => s.id), keyFilesNotYetThere: waiting },
    'bpp ready',
  );
  return {
    url: c.listen.publicUrl,
    orchestrator,
    node,
    store,
    description: `flexibility orchestrator (BPP) ${c.id} on ${c.listen.publicUrl}, store ${store.location}`,
    notes: notYetTrusted(waiting),
    stop: close,
  };
};
