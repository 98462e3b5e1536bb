// `flexlon run bpp`: the Flexibility Orchestrator as its own process. Its state is the store: on
// start it recovers (the agents' last reports, the live commitments as hard constraints of a fresh
// plan, dispatched at once) and sends what the outbox still owes; SIGTERM stops it cleanly, SIGKILL
// loses nothing committed (test/e2e/crash.test.ts).
//
// Config (JSON; relative paths are relative to the file):
//   { "id": "dc.example", "name": "…", "listen": {"host", "port"}, "publicUrl"?, "store": {...},
//     "keys": {"dir", "generate"?}, "registry": {"url", "subscribe"?: true}, "clock"?, "signals"?,
//     "planner"?: {"kind": "highs" | "greedy", "timeLimitSeconds"?}, "horizonSlots"?, "slotMinutes"?,
//     "pricing"?: {...}, "cancellation"?: {...}, "quoteTtlSeconds"?, "carbonCapKg"?, "supportEmail"?,
//     "outboxEveryMs"?, "logLevel"?,
//     "sites": [{"id", "region", "agentUrl", "agentId", "agentKeyFile" | ("agentKeyId" + "agentPublicKey")}] }
import Fastify from 'fastify';
import { createBpp } from '../agents/flex/bpp.ts';
import { FlexOrchestrator, type FlexSite } from '../agents/flex/orchestrator.ts';
import { DEFAULT_PRICING, type PricingPolicy } from '../agents/flex/pricing.ts';
import { HttpRegistry } from '../adapters/registry-http/client.ts';
import { BecknClient } from '../beckn/client.ts';
import { registryKeyResolver } from '../beckn/key-resolver.ts';
import { useRawJsonBody } from '../beckn/raw-body.ts';
import { becknValidator } from '../beckn/validator.ts';
import { createPlanningSolver, greedySolver } from '../compose.ts';
import { DEFAULT_CANCELLATION, type CancellationPolicy } from '../domain/order.ts';
import { FlexError } from '../errors.ts';
import { createMetrics } from '../observability/metrics.ts';
import type { Solver } from '../ports.ts';
import type { ConfigReader } from './config-reader.ts';
import { subscriptionOf } from './network.ts';
import {
  listenOn,
  peerKeyResolver,
  readPeerKey,
  type PeerKey,
  readClock,
  readKeys,
  readListen,
  readLogger,
  readSignals,
  readStore,
  type RunningRole,
} from './common.ts';

interface SiteConfig extends FlexSite {
  readonly trust: PeerKey;
}

const readSite = (s: ConfigReader): SiteConfig => {
  const id = s.string('id');
  const region = s.string('region', 'GB');
  const agentUrl = s.url('agentUrl');
  const trust = readPeerKey(s, s.string('agentId'), agentUrl, 'agent');
  s.done();
  return { id, region, agentUrl, trust };
};

const readPricing = (c: ConfigReader): PricingPolicy => {
  const p = c.object('pricing', {});
  const out = {
    marginGbpPerMwh: p.number('marginGbpPerMwh', DEFAULT_PRICING.marginGbpPerMwh, -10_000, 100_000),
    floorGbpPerMwh: p.number('floorGbpPerMwh', DEFAULT_PRICING.floorGbpPerMwh, 0, 100_000),
    minimumKw: p.number('minimumKw', DEFAULT_PRICING.minimumKw, 0, 1_000_000),
    sellBelowCost: p.boolean('sellBelowCost', false),
  };
  p.done();
  return out;
};

const readCancellation = (c: ConfigReader): CancellationPolicy => {
  const p = c.object('cancellation', {});
  const out = {
    freeNoticeMinutes: p.number('freeNoticeMinutes', DEFAULT_CANCELLATION.freeNoticeMinutes, 0, 7 * 24 * 60, true),
    lateFeePercent: p.number('lateFeePercent', DEFAULT_CANCELLATION.lateFeePercent, 0, 100),
  };
  p.done();
  return out;
};

const readSolver = (c: ConfigReader): Solver & { close?: () => Promise<void> } => {
  const p = c.object('planner', { kind: 'highs' });
  const kind = p.oneOf('kind', ['highs', 'greedy'] as const);
  const timeLimitSeconds = p.number('timeLimitSeconds', 5, 0.1, 600);
  p.done();
  return kind === 'greedy'
    ? greedySolver
    : createPlanningSolver({ timeLimitSeconds, milpTimeLimitSeconds: Math.min(0.25, timeLimitSeconds) });
};

export const startBpp = async (c: ConfigReader): Promise<RunningRole> => {
  const id = c.string('id');
  const log = readLogger(c, { agent: 'flex', id });
  const listen = readListen(c);
  const openStore = readStore(c, 'flex-orchestrator');
  const keys = readKeys(c);
  const reg = c.object('registry');
  const registryUrl = reg.url('url');
  const subscribe = reg.boolean('subscribe', true);
  reg.done();
  const market = readClock(c);
  const signals = readSignals(c);
  const solver = readSolver(c);
  const sites = c.array('sites', 1).map(readSite);
  if (new Set(sites.map((s) => s.id)).size !== sites.length) c.fail('sites', 'site ids must be unique');
  const slotMinutes = c.number('slotMinutes', 30, 5, 60, true);
  const horizonSlots = c.number('horizonSlots', 96, 2, 2000, true);
  const options = {
    name: c.string('name', `FlexLon data centre (${id})`),
    pricing: readPricing(c),
    cancellation: readCancellation(c),
    quoteTtlSeconds: c.number('quoteTtlSeconds', 300, 5, 86_400, true),
    ...(c.has('carbonCapKg') ? { carbonCapKg: c.number('carbonCapKg', undefined, 0, 1e12) } : {}),
    support: { email: c.string('supportEmail', `flexibility-desk@${id}`) },
  };
  const outboxEveryMs = c.number('outboxEveryMs', 1000, 50, 60_000, true);
  c.optionalString('role');
  c.done();

  becknValidator();
  const signer = await keys.signer(id);
  const store = await openStore();
  const wallNow = () => Date.now();
  const registry = new HttpRegistry({ url: registryUrl, now: wallNow, cacheTtlMs: 30_000 });
  const resolver = registryKeyResolver(registry);
  const metrics = createMetrics({ orders: () => store.listOrders(), processMetrics: true });
  const fo = new FlexOrchestrator({
    id,
    uri: listen.publicUrl,
    store,
    signer,
    market,
    wallNow,
    signals,
    solver,
    sites,
    horizonSlots,
    slotMinutes,
    metrics,
    log,
    client: new BecknClient({ signer, store, now: wallNow, ackResolver: resolver }),
    ...options,
  });
  const bpp = createBpp({
    orchestrator: fo,
    resolver,
    agentTrust: peerKeyResolver(sites.map((s) => s.trust)),
    ackSigner: signer,
    metrics,
    outboxEveryMs,
  });
  const app = Fastify({ logger: false });
  useRawJsonBody(app);
  bpp.register(app);
  try {
    await listenOn(app, listen);
    if (subscribe)
      await new HttpRegistry({ url: registryUrl, now: wallNow }, signer).subscribe(
        subscriptionOf(signer, 'BPP', listen.publicUrl, wallNow()),
      );
    await bpp.start();
  } catch (e) {
    await app.close();
    await store.close();
    await solver.close?.();
    throw e instanceof FlexError
      ? e
      : new FlexError('FLX_PEER_UNREACHABLE', `bpp start-up failed: ${(e as Error).message}`);
  }
  log.info({ url: listen.publicUrl, store: store.location, sites: sites.map((s) => s.id) }, 'bpp ready');
  return {
    url: listen.publicUrl,
    description: `flexibility orchestrator (BPP) ${id} on ${listen.publicUrl}, store ${store.location}`,
    async stop() {
      await app.close();
      await bpp.stop();
      await store.close();
      await solver.close?.();
    },
  };
};
