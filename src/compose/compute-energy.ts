// DEG compute-energy as composed roles (issue 18, docs/beckn-2.md "Compute-energy"): FlexLon's grid
// agent (a BPP selling low-carbon grid windows per grid area) and FlexLon's compute agent (the BAP
// that buys them for the Flexibility Orchestrator's own plan), each with its own key, store, app and
// registry record. Both are native Beckn 2.0 endpoints, so each registers `beckn_version: "2.0.0"`
// with its 2.0 base URL (<url>/v2) as `subscriber_url` (versions.ts: a 2.0 record's URL is its 2.0
// base), and answers the registry's on_subscribe challenge there.
//
// The windows reach the plan through the orchestrator's signal source: the compute agent's
// `signals` (src/agents/flex/grid-windows.ts) is the base source with the windows held laid over
// it, read at each plan; the composition gives it to the BPP (composeBpp's `signals` part) and,
// through `planWith`, has the orchestrator re-plan and dispatch when windows are bought or a grid
// agent changes one (a carbon spike, a workload shift).
//
// Kept and renewed (`renew`, and every `renew.everyMinutes` once `startRenewal` is called): both
// agents keep their windows in their stores and read them back at start; the compute agent buys a
// window in each of its areas where it holds none that has not yet ended (market time), so a restart
// buys nothing it holds, and a lapsed window is replaced by the best one of the next 24 hours. After
// each plan made on the windows it tells each window's grid agent the kWh (and peak kW) the plan puts
// there: the DEG workload shift (update → on_update), sent when that figure changed.
import Fastify, { type FastifyInstance } from 'fastify';
import { HttpRegistry } from '../adapters/registry-http/client.ts';
import { gridWindowSignals, plannedInWindows, type PlanImports } from '../agents/flex/grid-windows.ts';
import { registryKeyResolver } from '../beckn/key-resolver.ts';
import { useRawJsonBody } from '../beckn/raw-body.ts';
import { registerOnSubscribe } from '../beckn/registry/on-subscribe.ts';
import { createComputeBuyer, type ComputeBuyer, type HeldWindow } from '../beckn/v2/compute-buyer.ts';
import { createGridAgent, type GridAgent } from '../beckn/v2/grid-agent.ts';
import { V2_PATH } from '../beckn/v2/receiver.ts';
import { versionOfRecord } from '../beckn/v2/versions.ts';
import { FlexError, asFlexError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SignalSource, Signer, Store, Subscription } from '../ports.ts';
import type { LogLevel } from '../log.ts';
import type { KeysConfig, ListenConfig, StoreConfig } from './config.ts';
import {
  assertPortFree,
  listenOn,
  makeKeys,
  makeLogger,
  openStore,
  subscriptionOf,
  type RunningRole,
} from './parts.ts';

/** The network domain of DEG compute-energy (the DEG examples' context.domain). */
/** A bought window as a log line reads it (UTC times, £/MWh and g/kWh as contracted). */
const windowFacts = (w: HeldWindow) => ({
  area: w.gridArea,
  start: new Date(w.start).toISOString(),
  end: new Date(w.end).toISOString(),
  priceGbpPerMwh: w.priceGbpPerMwh,
  carbonGPerKwh: w.carbonGPerKwh,
});

export const COMPUTE_ENERGY_DOMAIN = 'beckn.one:DEG:compute-energy:1.0';

interface RoleConfig {
  readonly id: string;
  readonly listen: ListenConfig;
  readonly store: StoreConfig;
  readonly keys: KeysConfig;
  readonly registry: { readonly url: string; readonly subscribe: boolean };
  readonly logLevel: LogLevel;
}

export interface GridAgentConfig extends RoleConfig {
  /** The grid areas it sells windows in, each with FlexLon's signal region for it. */
  readonly areas: Readonly<Record<string, string>>;
  readonly windowSlots: number;
  readonly slotMinutes: number;
  readonly capacityKw: number;
  /** The share below the window's mean forecast price it sells at (0 to 1). */
  readonly discount?: number;
}

export interface ComputeAgentConfig extends RoleConfig {
  /** The grid areas the Flexibility Orchestrator's sites are in, each with the sites' signal region. */
  readonly areas: Readonly<Record<string, string>>;
  readonly callbackTimeoutMs?: number;
  /** The orchestrator's sites and their signal regions: whose planned import a workload shift reports. */
  readonly sites?: Readonly<Record<string, string>>;
  /** Buying windows by itself (renew, startRenewal); absent: only when asked (buyWindows). */
  readonly renew?: RenewPolicy;
}

export interface RenewPolicy {
  /** The grid agents to buy from, in order: an area none of the first has a window in is asked of the next. */
  readonly gridAgents: readonly string[];
  /** kW bought in each window. */
  readonly kw: number;
  /** How often (wall minutes) it looks for areas whose window has lapsed. */
  readonly everyMinutes: number;
  /** A window asked for starts on a slot boundary of this length (the orchestrator's slots). */
  readonly slotMinutes: number;
}

/** Windows asked for cover the next day from now (DEG compute-energy: a day's windows per area). */
const RENEW_SPAN_MS = 86_400_000;
/** A workload shift is sent again only when the plan's kWh in the window moved by at least this. */
const SHIFT_TOLERANCE_KWH = 1;

export interface RoleParts {
  readonly log?: Logger;
  /** Wall clock (signatures, ttl). */
  readonly now?: () => number;
  /** Market time (default `now`): which windows have lapsed, and from when new ones are asked for. */
  readonly marketNow?: () => number;
}

export interface ComposedGridAgent extends RunningRole {
  readonly agent: GridAgent;
  readonly store: Store;
}

export interface ComposedComputeAgent extends RunningRole {
  readonly buyer: ComputeBuyer;
  readonly store: Store;
  /** The base source with the windows held now laid over it: the orchestrator's signals. */
  readonly signals: SignalSource;
  /**
   * Who re-plans when the windows change (the orchestrator's dispatchAll). When it returns the plan
   * (a PlanRecord), the kWh it puts into each held window is sent to the grid agent (workload shift).
   * `latest` reads the orchestrator's latest plan: at each renewal the shift follows the plans the
   * orchestrator made on its own (a site's report, an order).
   */
  planWith(replan: (reason: string) => Promise<unknown>, latest?: () => Promise<unknown>): void;
  /** A plan the orchestrator made on its own (a site's report, an order): its kWh in each held window told as a workload shift. */
  planned(plan: unknown): void;
  /**
   * Buys `kw` in the best window of each of its areas (or of `areas`) within [from, to) from the
   * grid agent registered as `gridAgentId` (which must be a 2.0 record), then has the plan re-made on
   * them.
   */
  buyWindows(
    gridAgentId: string,
    within: { readonly from: number; readonly to: number },
    kw: number,
    areas?: readonly string[],
  ): Promise<HeldWindow[]>;
  /**
   * Drops lapsed windows and buys one in each area that holds none still to end (config `renew`),
   * from its grid agents in order; a grid agent that fails is logged and the next one asked.
   * Returns the windows bought (none when every area holds one).
   */
  renew(): Promise<HeldWindow[]>;
  /** renew() now and every `renew.everyMinutes` until stop(). */
  startRenewal(): void;
}

/** A role's app, store, signer and registry client, listening, and subscribed as a 2.0 participant. */
const startRole = async (
  c: RoleConfig,
  type: Subscription['type'],
  actor: string,
  mount: (
    app: FastifyInstance,
    p: { signer: Signer; store: Store; registry: HttpRegistry; uri: () => string },
  ) => Promise<void> | void,
  now: () => number,
) => {
  await assertPortFree(c.listen);
  const signer = await makeKeys(c.keys).signer(c.id);
  const store = await openStore(c.store, actor);
  const registry = new HttpRegistry({ url: c.registry.url, now, cacheTtlMs: 30_000 }, signer);
  const app = Fastify({ logger: false });
  useRawJsonBody(app);
  // registry.yaml: the challenge goes to <subscriber_url>/on_subscribe, and the URL registered is the
  // 2.0 base.
  await app.register(async (v2) => registerOnSubscribe(v2, registry), { prefix: V2_PATH });
  await mount(app, { signer, store, registry, uri: () => c.listen.publicUrl });
  // Liveness for an operator's probe, as the other roles answer it.
  app.get('/health', async () => ({ ok: true, role: actor, id: c.id }));
  const close = async () => {
    await app.close();
    await store.close();
  };
  try {
    await listenOn(app, c.listen);
    if (c.registry.subscribe)
      await registry.subscribe({
        ...subscriptionOf(signer, type, `${c.listen.publicUrl.replace(/\/+$/, '')}${V2_PATH}`, now()),
        domain: COMPUTE_ENERGY_DOMAIN,
        beckn_version: '2.0.0',
      });
  } catch (e) {
    await close();
    throw e;
  }
  return { signer, store, registry, close };
};

export const composeGridAgent = async (
  c: GridAgentConfig,
  parts: RoleParts & { readonly signals: SignalSource },
): Promise<ComposedGridAgent> => {
  const log = parts.log ?? makeLogger(c.logLevel, { agent: 'grid-agent', id: c.id });
  const now = parts.now ?? Date.now;
  let agent: GridAgent | undefined;
  const role = await startRole(
    c,
    'BPP',
    'grid-agent',
    async (app, p) => {
      agent = createGridAgent({
        id: c.id,
        uri: p.uri(),
        signer: p.signer,
        store: p.store,
        now,
        resolver: registryKeyResolver(p.registry),
        signals: parts.signals,
        areas: c.areas,
        windowSlots: c.windowSlots,
        slotMinutes: c.slotMinutes,
        capacityKw: c.capacityKw,
        ...(c.discount === undefined ? {} : { discount: c.discount }),
        ...(parts.marketNow ? { marketNow: parts.marketNow } : {}),
        onBackgroundError: (e) => log.error({ error: asFlexError(e).message }, 'grid agent: work after an Ack failed'),
      });
      // The windows sold before a restart: their updates and grid events still reach their buyers.
      await agent.restore();
      agent.register(app);
    },
    now,
  );
  log.info({ url: c.listen.publicUrl, areas: Object.keys(c.areas) }, 'grid agent ready');
  return {
    url: c.listen.publicUrl,
    agent: agent as GridAgent,
    store: role.store,
    description: `grid agent (2.0 BPP) ${c.id} on ${c.listen.publicUrl}, areas ${Object.keys(c.areas).join(', ')}`,
    stop: role.close,
  };
};

export const composeComputeAgent = async (
  c: ComputeAgentConfig,
  parts: RoleParts & { readonly signals: SignalSource },
): Promise<ComposedComputeAgent> => {
  const log = parts.log ?? makeLogger(c.logLevel, { agent: 'compute-energy', id: c.id });
  const now = parts.now ?? Date.now;
  const marketNow = parts.marketNow ?? now;
  let replan: ((reason: string) => Promise<unknown>) | undefined;
  let latestPlan: (() => Promise<unknown>) | undefined;
  let shifting: Promise<void> = Promise.resolve();
  let buyer: ComputeBuyer | undefined;
  let registry: HttpRegistry | undefined;
  // One shift at a time, in plan order: a later plan's figures are never overtaken by an earlier one's.
  const queueShift = (plan: unknown): Promise<void> =>
    (shifting = shifting.then(() => shiftInto(plan)).catch(() => undefined));
  const again = (reason: string): Promise<void> =>
    (replan?.(reason) ?? Promise.resolve()).then(
      (plan) => queueShift(plan),
      (e: unknown) => log.error({ error: asFlexError(e).message, reason }, 're-plan on grid windows failed'),
    );
  /** The workload shift: each held window's planned kWh told to its grid agent, when it changed. */
  const shiftInto = async (plan: unknown): Promise<void> => {
    if (!isPlan(plan) || !buyer || !c.sites) return;
    const sites = c.sites;
    const b = buyer;
    const held = b.held().filter((w) => w.end > marketNow());
    for (const p of plannedInWindows(
      plan,
      held,
      (a) => c.areas[a],
      (s) => sites[s],
    )) {
      const w = held.find((x) => x.contractId === p.contractId);
      if (!w || (w.plannedKwh !== undefined && Math.abs(w.plannedKwh - p.kwh) < SHIFT_TOLERANCE_KWH)) continue;
      // The grid agent takes a kW above zero: a window the plan leaves empty keeps the kW bought.
      const kw = p.peakKw > 0 ? Math.ceil(p.peakKw * 10) / 10 : w.kw;
      try {
        await b.shiftWorkload(w.contractId, { kw, plannedKwh: p.kwh, reason: 'plan' });
        log.info(
          { contract: w.contractId, gridArea: w.gridArea, plannedKwh: Math.round(p.kwh * 10) / 10, kw },
          'workload shift told to the grid agent',
        );
      } catch (e) {
        log.warn(
          { contract: w.contractId, gridArea: w.gridArea, error: asFlexError(e).message },
          'workload shift refused or not delivered',
        );
      }
    }
  };
  const role = await startRole(
    c,
    'BAP',
    'compute-energy',
    async (app, p) => {
      registry = p.registry;
      buyer = createComputeBuyer({
        id: c.id,
        uri: p.uri(),
        signer: p.signer,
        store: p.store,
        now,
        resolver: registryKeyResolver(p.registry),
        ...(c.callbackTimeoutMs === undefined ? {} : { callbackTimeoutMs: c.callbackTimeoutMs }),
        onBackgroundError: (e) =>
          log.error({ error: asFlexError(e).message }, 'compute agent: work after an Ack failed'),
        // A grid event on a held window (DEG "carbon intensity spike"): plan again on it.
        onWindowChanged: (w) => void again(`grid window ${w.contractId} (${w.gridArea}) changed by ${w.grid.id}`),
      });
      // The windows bought before a restart: planned on again, not bought again.
      await buyer.restore();
      buyer.register(app);
    },
    now,
  );
  const b = buyer as ComputeBuyer;
  const r = registry as HttpRegistry;
  const signals = gridWindowSignals(parts.signals, b, (area) => c.areas[area]);
  const buyWindows: ComposedComputeAgent['buyWindows'] = async (gridAgentId, within, kw, areas) => {
    const record = (await r.lookup({ subscriber_id: gridAgentId })).find((s) => s.status === 'SUBSCRIBED');
    if (!record)
      throw new FlexError('FLX_PROVIDER_NOT_FOUND', `grid agent ${gridAgentId} is not subscribed in the registry`);
    if (versionOfRecord(record) !== '2.0')
      throw new FlexError(
        'FLX_PROVIDER_NOT_FOUND',
        `grid agent ${gridAgentId} is registered as Beckn ${record.beckn_version ?? '1.1.1'}: compute-energy is Beckn 2.0 only`,
      );
    const held = await b.buyWindows(
      { id: gridAgentId, uri: record.subscriber_url },
      areas ?? Object.keys(c.areas),
      within,
      kw,
    );
    if (held.length > 0)
      await again(
        `grid windows bought: ${held.map((w) => `${w.gridArea} ${new Date(w.start).toISOString()}`).join(', ')}`,
      );
    return held;
  };
  let renewing: Promise<HeldWindow[]> | undefined;
  const renewOnce = async (policy: RenewPolicy): Promise<HeldWindow[]> => {
    const t = marketNow();
    await b.forget(t);
    const covered = new Set(b.held().map((w) => w.gridArea));
    let wanted = Object.keys(c.areas).filter((a) => !covered.has(a));
    // From the next slot boundary, so a window's slots are the plan's.
    const slotMs = policy.slotMinutes * 60_000;
    const from = Math.ceil(t / slotMs) * slotMs;
    const bought: HeldWindow[] = [];
    for (const g of policy.gridAgents) {
      if (wanted.length === 0) break;
      try {
        const got = await buyWindows(g, { from, to: from + RENEW_SPAN_MS }, policy.kw, wanted);
        for (const w of got)
          log.info({ gridAgent: g, ...windowFacts(w), kw: w.kw, contractId: w.contractId }, 'grid window bought');
        bought.push(...got);
        wanted = wanted.filter((a) => !got.some((w) => w.gridArea === a));
      } catch (e) {
        log.warn({ gridAgent: g, areas: wanted, error: asFlexError(e).message }, 'grid windows not bought');
      }
    }
    if (wanted.length > 0) log.warn({ areas: wanted }, 'no grid window held in these areas');
    if (bought.length === 0 && latestPlan) await shiftInto(await latestPlan());
    return bought;
  };
  const renew = (): Promise<HeldWindow[]> => {
    if (!c.renew) return Promise.resolve([]);
    // One renewal at a time: a timer firing during a slow one joins it instead of buying twice.
    renewing ??= renewOnce(c.renew).finally(() => {
      renewing = undefined;
    });
    return renewing;
  };
  let timer: ReturnType<typeof setInterval> | undefined;
  log.info({ url: c.listen.publicUrl, areas: Object.keys(c.areas), held: b.held().length }, 'compute agent ready');
  return {
    url: c.listen.publicUrl,
    buyer: b,
    store: role.store,
    signals,
    description: `compute agent (2.0 BAP) ${c.id} on ${c.listen.publicUrl}, areas ${Object.keys(c.areas).join(', ')}`,
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      // A renewal under way is given a moment to finish its writes; one waiting on a grid agent's
      // callbacks is not waited for (what it would still write is logged as failed).
      if (renewing)
        await Promise.race([renewing.catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
      await role.close();
    },
    planWith(f, latest) {
      replan = f;
      latestPlan = latest;
    },
    planned(plan) {
      void queueShift(plan);
    },
    buyWindows,
    renew,
    startRenewal() {
      if (!c.renew || timer) return;
      const tick = () =>
        void renew().catch((e: unknown) => log.error({ error: asFlexError(e).message }, 'renewal failed'));
      timer = setInterval(tick, c.renew.everyMinutes * 60_000);
      timer.unref();
      tick();
    },
  };
};

/** A plan as the orchestrator's dispatchAll returns it (PlanRecord), with the import per site and slot. */
const isPlan = (x: unknown): x is PlanImports =>
  typeof x === 'object' &&
  x !== null &&
  typeof (x as PlanImports).horizonStart === 'number' &&
  typeof (x as PlanImports).slotMinutes === 'number' &&
  typeof (x as PlanImports).siteImportKw === 'object';
