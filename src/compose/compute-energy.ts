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
//
// The parts: compute-energy-role.ts (what both roles share: key, store, app, 2.0 registration),
// compute-energy-shift.ts (the workload shift), compute-energy-renew.ts (the renewal); the roles
// themselves are composed here.
import type { HttpRegistry } from '../adapters/registry-http/client.ts';
import { gridWindowSignals } from '../agents/flex/grid-windows.ts';
import { registryKeyResolver } from '../beckn/key-resolver.ts';
import { createComputeBuyer, type ComputeBuyer, type HeldWindow } from '../beckn/v2/compute-buyer.ts';
import { createGridAgent, type GridAgent } from '../beckn/v2/grid-agent.ts';
import { versionOfRecord } from '../beckn/v2/versions.ts';
import { FlexError, asFlexError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SignalSource, Store } from '../ports.ts';
import { startRole, type RoleConfig } from './compute-energy-role.ts';
import { renewal, type RenewPolicy } from './compute-energy-renew.ts';
import { shiftInto, shiftQueue, type ShiftParts } from './compute-energy-shift.ts';
import { makeLogger, type RunningRole } from './parts.ts';

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
  let buyer: ComputeBuyer | undefined;
  let registry: HttpRegistry | undefined;
  const shift: ShiftParts = { buyer: () => buyer, areas: c.areas, sites: c.sites, marketNow, log };
  const queueShift = shiftQueue(shift);
  const again = (reason: string): Promise<void> =>
    (replan?.(reason) ?? Promise.resolve()).then(
      (plan) => queueShift(plan),
      (e: unknown) => log.error({ error: asFlexError(e).message, reason }, 're-plan on grid windows failed'),
    );
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
  const signals = gridWindowSignals(parts.signals, b, (area) => c.areas[area]);
  const buyWindows = windowBuyer(registry as HttpRegistry, b, c.areas, again);
  const renewals = renewal(c.renew, {
    buyer: b,
    areas: c.areas,
    marketNow,
    log,
    buyWindows,
    shiftLatest: async () => {
      if (latestPlan) await shiftInto(shift, await latestPlan());
    },
  });
  log.info({ url: c.listen.publicUrl, areas: Object.keys(c.areas), held: b.held().length }, 'compute agent ready');
  return {
    url: c.listen.publicUrl,
    buyer: b,
    store: role.store,
    signals,
    description: `compute agent (2.0 BAP) ${c.id} on ${c.listen.publicUrl}, areas ${Object.keys(c.areas).join(', ')}`,
    async stop() {
      await renewals.stop();
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
    renew: renewals.renew,
    startRenewal: renewals.start,
  };
};

/**
 * The compute agent's buyWindows: the grid agent looked up in the registry (not subscribed, or not a
 * 2.0 record: FLX_PROVIDER_NOT_FOUND), its windows bought, and the plan re-made on them (`again`).
 */
const windowBuyer =
  (
    r: HttpRegistry,
    b: ComputeBuyer,
    allAreas: Readonly<Record<string, string>>,
    again: (reason: string) => Promise<void>,
  ): ComposedComputeAgent['buyWindows'] =>
  async (gridAgentId, within, kw, areas) => {
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
      areas ?? Object.keys(allAreas),
      within,
      kw,
    );
    if (held.length > 0)
      await again(
        `grid windows bought: ${held.map((w) => `${w.gridArea} ${new Date(w.start).toISOString()}`).join(', ')}`,
      );
    return held;
  };
