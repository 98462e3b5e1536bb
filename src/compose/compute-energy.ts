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
import Fastify, { type FastifyInstance } from 'fastify';
import { HttpRegistry } from '../adapters/registry-http/client.ts';
import { gridWindowSignals } from '../agents/flex/grid-windows.ts';
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
}

export interface RoleParts {
  readonly log?: Logger;
  readonly now?: () => number;
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
  /** Who re-plans when the windows change (the orchestrator's dispatchAll). */
  planWith(replan: (reason: string) => Promise<unknown>): void;
  /**
   * Buys `kw` in the best window of each of its areas within [from, to) from the grid agent
   * registered as `gridAgentId` (which must be a 2.0 record), then has the plan re-made on them.
   */
  buyWindows(
    gridAgentId: string,
    within: { readonly from: number; readonly to: number },
    kw: number,
  ): Promise<HeldWindow[]>;
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
    (app, p) => {
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
        onBackgroundError: (e) => log.error({ error: asFlexError(e).message }, 'grid agent: work after an Ack failed'),
      });
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
  let replan: ((reason: string) => Promise<unknown>) | undefined;
  const again = (reason: string): Promise<void> =>
    (replan?.(reason) ?? Promise.resolve()).then(
      () => undefined,
      (e: unknown) => log.error({ error: asFlexError(e).message, reason }, 're-plan on grid windows failed'),
    );
  let buyer: ComputeBuyer | undefined;
  let registry: HttpRegistry | undefined;
  const role = await startRole(
    c,
    'BAP',
    'compute-energy',
    (app, p) => {
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
      buyer.register(app);
    },
    now,
  );
  const b = buyer as ComputeBuyer;
  const r = registry as HttpRegistry;
  const signals = gridWindowSignals(parts.signals, b, (area) => c.areas[area]);
  log.info({ url: c.listen.publicUrl, areas: Object.keys(c.areas) }, 'compute agent ready');
  return {
    url: c.listen.publicUrl,
    buyer: b,
    store: role.store,
    signals,
    description: `compute agent (2.0 BAP) ${c.id} on ${c.listen.publicUrl}, areas ${Object.keys(c.areas).join(', ')}`,
    stop: role.close,
    planWith(f) {
      replan = f;
    },
    async buyWindows(gridAgentId, within, kw) {
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
        Object.keys(c.areas),
        within,
        kw,
      );
      if (held.length > 0)
        await again(
          `grid windows bought: ${held.map((w) => `${w.gridArea} ${new Date(w.start).toISOString()}`).join(', ')}`,
        );
      return held;
    },
  };
};
