// The Grid Orchestrator (BAP) as a role: a grid party's buyer. It watches the forecasts and its
// OpenADR-style event intake, and its procurement loop (src/agents/grid/procurement-loop.ts) buys
// flexibility on the network and follows it to settlement. GET /health shows the day's procurement.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import Fastify from 'fastify';
import { meterSeriesView, type MeterView } from '../agents/grid/meter-view.ts';
import type { MonitorEvent } from '../agents/grid/monitor.ts';
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
import { epochMs, isoOf } from '../domain/time.ts';
import { asFlexError, FlexError } from '../errors.ts';
import { parseJsonText } from '../formats/json.ts';
import { parseMeterCsv, type MeterSeries } from '../formats/meter-csv.ts';
import { parsePrometheusRange } from '../formats/prometheus-range.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../ports.ts';
import type { SharedParts } from './bpp.ts';
import { mountDashboard } from '../web/mount.ts';
import { registryCacheMs, type BapConfig } from './config.ts';
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
  /** What delivery monitoring finds (shortfall alerts, top-ups), after the role has logged it. */
  readonly onMonitor?: (e: MonitorEvent) => void;
}

/** The unit of a buyer's meter file where its header does not say: kWh or kW (CSV), W or kW (Prometheus). */
export type BuyerMeterUnit = 'kWh' | 'kW' | 'W';

/** One site's meter file, as the buyer holds it (its settlement or smart-meter data, a supplier's export). */
export interface BuyerMeterFile {
  /** The site id the providers' offers name (`offer.site`). */
  readonly site: string;
  /** A meter CSV (docs/meters.md), or a `.json` file holding a saved Prometheus query_range answer. */
  readonly file: string;
  readonly unit?: BuyerMeterUnit;
}

/** A BAP's config as `flexlon run bap` reads it (src/run/roles.ts): the role's, and the buyer's own meter files. */
export interface BapRunConfig extends BapConfig {
  readonly meters?: readonly BuyerMeterFile[];
}

const readMeterSeries = (m: BuyerMeterFile, field: string): MeterSeries => {
  let text: string;
  try {
    text = readFileSync(m.file, 'utf8');
  } catch (e) {
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `${field}: the meter file for site ${m.site}, ${m.file}, cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { path: field },
    );
  }
  // The readers' own errors are FLX_DATA_INVALID naming the file and line (or sample).
  if (m.file.toLowerCase().endsWith('.json'))
    return parsePrometheusRange(
      parseJsonText(text, m.file),
      m.file,
      m.unit === 'W' || m.unit === 'kW' ? { unit: m.unit } : {},
    );
  return parseMeterCsv(text, m.file, m.unit === 'kWh' || m.unit === 'kW' ? { unit: m.unit } : {});
};

/**
 * The buyer's meter view over its meter files (agents/grid/meter-view.ts): each file is read when
 * the role starts, so a bad one stops the start naming it, and read again when it changes — a
 * desk's meter export grows day by day while the buyer runs. A re-read that fails is logged and the
 * last good readings are kept: a half-written export must not leave a statement unchecked.
 */
export const buyerMeterView = (files: readonly BuyerMeterFile[], log: Logger): MeterView => {
  const held = files.map((file, i) => {
    const field = `meters[${i}].file`;
    const series = readMeterSeries(file, field);
    return { file, field, series, mtimeMs: statSync(file.file).mtimeMs };
  });
  const fresh = (): MeterView => {
    for (const h of held) {
      let mtimeMs: number;
      try {
        mtimeMs = statSync(h.file.file).mtimeMs;
      } catch {
        continue;
      }
      if (mtimeMs === h.mtimeMs) continue;
      h.mtimeMs = mtimeMs;
      try {
        h.series = readMeterSeries(h.file, h.field);
        log.info({ site: h.file.site, file: h.file.file, to: isoOf(h.series.to) }, 'buyer meter file read again');
      } catch (e) {
        const f = asFlexError(e);
        log.warn(
          { site: h.file.site, code: f.code, error: f.message },
          'buyer meter file unreadable: last readings kept',
        );
      }
    }
    return meterSeriesView(new Map(held.map((h) => [h.file.site, h.series])));
  };
  return { readingsFor: (p) => fresh().readingsFor(p) };
};

/** Each monitor event as one log line: an operator running the role sees alerts without a dashboard. */
export const logMonitor = (log: Logger, e: MonitorEvent): void => {
  const order = { orderId: e.procurement.orderId, bpp: e.procurement.bpp.subscriber_id, marketTime: isoOf(e.at) };
  switch (e.kind) {
    case 'shortfall':
      log.warn({ ...order, source: e.source, ...e.shortfall }, 'delivery shortfall alerted');
      return;
    case 'topped-up':
      log.info(
        { ...order, bought: e.bought.map((x) => ({ bpp: x.bpp.subscriber_id, orderId: x.orderId, kw: x.selectedKw })) },
        'shortfall topped up',
      );
      return;
    case 'no-top-up':
      log.warn({ ...order, reason: e.reason }, 'shortfall not topped up');
      return;
    default: {
      const never: never = e;
      return never;
    }
  }
};

/** The intake's bearer token: read from its file, or made there (0600) on first start. */
const tokenFrom = (file: string): string => {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('hex');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
};

export const composeBap = async (c: BapRunConfig, parts: BapParts = {}): Promise<ComposedBap> => {
  const log = parts.log ?? makeLogger(c.logLevel, { agent: 'grid', id: c.id });
  const wallNow = parts.now ?? Date.now;
  const market = parts.clock ?? makeClock(c.clock);
  const signals = parts.signals ?? makeSignals(c.signals);
  // Read before anything listens or is written: a meter file that cannot be read stops the start.
  const meterView = c.meters && c.meters.length > 0 ? buyerMeterView(c.meters, log) : undefined;
  becknValidator();
  await assertPortFree(c.listen);
  const signer = await makeKeys(c.keys).signer(c.id);
  const store = await openStore(c.store, 'grid-orchestrator');
  // Signed chain heads (issue 17): the audit log holds against someone who can write the database.
  store.signHeadsWith?.(signer, wallNow);
  const journal = await openJournal(c.journal, store, c.store);
  const pool = verifierPool(c.verifyThreads);
  // Signed lookups, and the subscription with its on_subscribe challenge (registry.yaml).
  const registry = new HttpRegistry(
    { url: c.registry.url, now: wallNow, cacheTtlMs: registryCacheMs(c.registry) },
    signer,
  );
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
    ...(meterView ? { meterView } : {}),
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
    // Delivery monitoring (NeedPolicy.monitor, `policy.monitor` in the config): each finding logged.
    onMonitor: (e) => {
      logMonitor(log, e);
      parts.onMonitor?.(e);
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
