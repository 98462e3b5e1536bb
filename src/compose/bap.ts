// The Grid Orchestrator (BAP) as a role: a grid party's buyer. It watches the forecasts and its
// OpenADR-style event intake, and its procurement loop (src/agents/grid/procurement-loop.ts) buys
// flexibility on the network and follows it to settlement. GET /health shows the day's procurement.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import Fastify from 'fastify';
import { GridOrchestrator, type StatusPush } from '../agents/grid/orchestrator.ts';
import { ProcurementLoop, type ProcurementEvent } from '../agents/grid/procurement-loop.ts';
import { registerGridEventRoutes } from '../adapters/events-openadr/routes.ts';
import { GridEventStore } from '../adapters/events-openadr/store.ts';
import { HttpRegistry } from '../adapters/registry-http/client.ts';
import { registryKeyResolver } from '../beckn/key-resolver.ts';
import { useRawJsonBody } from '../beckn/raw-body.ts';
import { registerReceiver } from '../beckn/receiver.ts';
import { registerOnSubscribe } from '../beckn/registry/on-subscribe.ts';
import { becknValidator } from '../beckn/validator.ts';
import { epochMs } from '../domain/time.ts';
import { asFlexError } from '../errors.ts';
import type { Store } from '../ports.ts';
import type { SharedParts } from './bpp.ts';
import { mountDashboard } from '../web/mount.ts';
import type { BapConfig } from './config.ts';
import { mountBecknV2Bap } from './bap-v2.ts';
import { versionedClient } from './bpp-v2.ts';
import {
  assertPortFree,
  listenOn,
  makeClock,
  makeKeys,
  makeLogger,
  makeSignals,
  openJournal,
  verifierPool,
  openStore,
  subscriptionOf,
  type RunningRole,
} from './parts.ts';

export interface ComposedBap extends RunningRole {
  readonly bap: GridOrchestrator;
  readonly loop: ProcurementLoop;
  readonly events: GridEventStore;
  readonly store: Store;
}

export interface BapParts extends SharedParts {
  /**
   * Who steps the procurement loop: the role itself at every slot boundary (`flexlon run bap`), or
   * the composition (the demo, which steps it after every site has reported in the slot).
   */
  readonly drive?: 'self' | 'external';
  /** New transaction ids (default random UUIDs; a seeded demo passes a repeatable source). */
  readonly transactionId?: () => string;
  readonly onEvent?: (e: ProcurementEvent) => void;
  readonly onStatusPush?: (push: StatusPush) => void;
}

/** The intake's bearer token: read from its file, or made there (0600) on first start. */
const tokenFrom = (file: string): string => {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('hex');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
};

export const composeBap = async (c: BapConfig, parts: BapParts = {}): Promise<ComposedBap> => {
  const log = parts.log ?? makeLogger(c.logLevel, { agent: 'grid', id: c.id });
  const wallNow = parts.now ?? Date.now;
  const market = parts.clock ?? makeClock(c.clock);
  const signals = parts.signals ?? makeSignals(c.signals);
  becknValidator();
  await assertPortFree(c.listen);
  const signer = await makeKeys(c.keys).signer(c.id);
  const store = await openStore(c.store, 'grid-orchestrator');
  // Signed chain heads (issue 17): the audit log holds against someone who can write the database.
  store.signHeadsWith?.(signer, wallNow);
  const journal = await openJournal(c.journal, store, c.store);
  const pool = verifierPool(c.verifyThreads);
  // Signed lookups, and the subscription with its on_subscribe challenge (registry.yaml).
  const registry = new HttpRegistry({ url: c.registry.url, now: wallNow, cacheTtlMs: 30_000 }, signer);
  const resolver = registryKeyResolver(registry);
  const events = new GridEventStore(store, c.id, wallNow);
  const bap = new GridOrchestrator({
    id: c.id,
    events,
    uri: c.listen.publicUrl,
    store,
    // Beckn 2.0 beside 1.1.1 (issue 18): 2.0 to a BPP whose registry record says so, else 1.1.1.
    client: versionedClient({
      signer,
      store,
      now: wallNow,
      resolver,
      registry,
      publicUrl: c.listen.publicUrl,
      name: c.id,
    }),
    registry,
    market,
    wallNow,
    signals,
    region: c.region,
    policy: c.policy,
    collectMs: c.collectMs,
    callbackTimeoutMs: c.callbackTimeoutMs,
    log,
    ...(parts.onStatusPush ? { onStatusPush: parts.onStatusPush } : {}),
  });
  const loop = new ProcurementLoop({
    bap,
    clock: market,
    slotMinutes: c.slotMinutes,
    transactionId: parts.transactionId ?? (() => randomUUID()),
    eventCount: async () => (await events.events()).length,
    onEvent: (e) => {
      if (e.kind === 'error') log.error({ code: e.code, error: e.message }, 'procurement step failed');
      else log.info({ event: e.kind, at: new Date(e.at).toISOString() }, `procurement: ${e.kind}`);
      parts.onEvent?.(e);
    },
  });
  const app = Fastify({ logger: false });
  useRawJsonBody(app);
  registerOnSubscribe(app, registry);
  if (c.openadr) registerGridEventRoutes(app, { events, token: tokenFrom(c.openadr.tokenFile) });
  registerReceiver(app, {
    subscriberId: c.id,
    role: 'BAP',
    resolver,
    store,
    ackSigner: signer,
    now: wallNow,
    handlers: bap.handlers(),
    ...(journal.journal ? { journal: journal.journal } : {}),
    ...(pool ? { signatureCheck: pool.check } : {}),
    onBackgroundError: (e, inbound) =>
      log.error(
        {
          action: inbound.action,
          transaction_id: inbound.msg.context.transaction_id,
          message_id: inbound.msg.context.message_id,
          error: asFlexError(e).message,
        },
        'callback failed',
      ),
  });
  mountBecknV2Bap(app, {
    bap,
    resolver,
    signer,
    store,
    now: wallNow,
    log,
    ...(pool ? { signatureCheck: pool.check } : {}),
  });
  // The operator dashboard (issue 19, docs/dashboard.md): GET /dashboard/ and its JSON API.
  mountDashboard(app, c.dashboard, {
    role: 'bap',
    id: c.id,
    store,
    now: () => market.now(),
    signals,
    region: c.region,
    grid: bap,
    signer,
  });
  app.get('/health', async () => {
    const day = loop.current;
    return {
      ok: true,
      role: 'bap',
      id: c.id,
      store: store.location,
      marketTime: new Date(market.now()).toISOString(),
      today: day && {
        need: day.need,
        tried: day.tried,
        orderId: day.procurement?.orderId,
        noDeal: day.noDeal,
        state: day.finalState,
        deliveredKwh: day.settlement?.deliveredKwh,
      },
    };
  });
  const close = async () => {
    bap.stop();
    await app.close();
    await journal.close();
    await pool?.close();
    await store.close();
  };
  try {
    await listenOn(app, c.listen);
    if (c.registry.subscribe) await registry.subscribe(subscriptionOf(signer, 'BAP', c.listen.publicUrl, wallNow()));
  } catch (e) {
    await close();
    throw e;
  }
  const stop = new AbortController();
  const running =
    parts.drive === 'external'
      ? Promise.resolve()
      : loop.run(epochMs(8.64e15), stop.signal).catch((e: unknown) => {
          if ((e as Error).name !== 'AbortError')
            log.error({ error: asFlexError(e).message }, 'procurement loop stopped');
        });
  log.info({ url: c.listen.publicUrl, store: store.location }, 'bap ready');
  return {
    url: c.listen.publicUrl,
    bap,
    loop,
    events,
    store,
    description: `grid orchestrator (BAP) ${c.id} on ${c.listen.publicUrl}, store ${store.location}`,
    async stop() {
      stop.abort();
      bap.stop();
      await running;
      await close();
    },
  };
};
