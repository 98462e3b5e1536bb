// The demo market's roles as typed configs written in code, the same configs the run command reads
// from JSON (src/run/), so every role of the demo is built by its ordinary composer (market.ts). What
// market.ts chooses at start (ports, key ids, stores, which sites a provider sells) comes in; what
// each role is set to for the demo, and why, is here.
import { DEFAULT_PRICING } from '../agents/flex/pricing.ts';
import { DEFAULT_NEED_POLICY } from '../agents/grid/need-detection.ts';
import type { MonitorPolicy } from '../agents/grid/monitor.ts';
import { keyFilePath } from '../adapters/keystore-file/keystore.ts';
import type { DemoConfig } from '../config.ts';
import { DEFAULT_WORK } from '../optimise/planner.ts';
import type { SIM_SITES } from '../sim/sites.ts';
import type {
  AgentConfig,
  BapConfig,
  BppConfig,
  GatewayConfig,
  KeysConfig,
  PeerKeyConfig,
  RegistryRef,
  StoreConfig,
} from './config.ts';

export const SLOT_MINUTES = 30;
export const HORIZON_SLOTS = 96;
const HOST = '127.0.0.1';
export const IDS = { bap: 'grid.flexlon.local', bpp: 'dc.flexlon.local', gateway: 'gateway.flexlon.local' } as const;
export const agentId = (site: string): string => `agent-${site}.dc.flexlon.local`;

/** One of the simulated sites the demo may compose. */
export type SimSite = (typeof SIM_SITES)[number];

// Ports come from freePort (parts.ts): agents must know each other's URLs before their routes exist.

export const at = (port: number) => ({ host: HOST, port, publicUrl: `http://${HOST}:${port}` });

/** What every role of one market shares: the run's config, keys, registry, stores and dashboard token. */
export interface MarketCommon {
  readonly demo: DemoConfig;
  readonly keys: KeysConfig;
  readonly registry: RegistryRef;
  readonly storeOf: (agent: string) => StoreConfig;
  /** The dashboards' operator token (docs/dashboard.md), shared by the demo's BPP and BAP. */
  readonly dashboard: { readonly operatorTokenFile: string };
}

/** A peer trusted by its key file in the market's key folder. */
export const peerOf = (m: MarketCommon, id: string, url: string): PeerKeyConfig => ({
  subscriberId: id,
  url,
  keyFile: keyFilePath(m.keys.dir, id),
});

/**
 * The grid side searches earlier the more sites there are: pricing plans every site's flexibility
 * curve and then the portfolio split (about 0.6 s of wall time per extra site), and on the demo's
 * accelerated clock the quotes must be confirmed before the window opens. One site: the default.
 */
const needPolicy = (sites: number) => ({
  ...DEFAULT_NEED_POLICY,
  procureLeadSlots: DEFAULT_NEED_POLICY.procureLeadSlots + 2 * (sites - 1),
});

/** A provider (BPP) selling the sites of `group`, each reached at `agentUrl(site)`. */
export const providerConfig = (
  m: MarketCommon,
  p: {
    readonly id: string;
    readonly port: number;
    readonly store: string;
    readonly group: readonly SimSite[];
    readonly agentUrl: (site: string) => string;
  },
): BppConfig => ({
  id: p.id,
  name: `FlexLon data centre${p.group.length > 1 ? 's' : ''} (${p.group.map((s) => s.name).join(', ')})`,
  listen: at(p.port),
  store: m.storeOf(p.store),
  logLevel: m.demo.logLevel,
  keys: m.keys,
  registry: m.registry,
  clock: { kind: 'system' },
  signals: { kind: 'shipped' },
  // The BPP re-plans every slot and prices offers by re-planning, so its budget per plan is
  // short; the greedy fallback keeps it answering if HiGHS ever cannot.
  // With the demo's seed, planning is bounded by work, not time: the same flags give the same plans.
  planner: { kind: 'highs', timeLimitSeconds: 5, milpTimeLimitSeconds: 0.25, work: DEFAULT_WORK },
  sites: p.group.map((s) => ({
    id: s.id,
    region: 'GB',
    agentUrl: p.agentUrl(s.id),
    agent: peerOf(m, agentId(s.id), p.agentUrl(s.id)),
  })),
  slotMinutes: SLOT_MINUTES,
  horizonSlots: HORIZON_SLOTS,
  pricing: DEFAULT_PRICING,
  quoteTtlSeconds: 300,
  supportEmail: `flexibility-desk@${IDS.bpp}`,
  baseline: m.demo.baseline,
  carbonCap: m.demo.carbonCap,
  ...(m.demo.capacityValueShare > 0 ? { capacityValueShare: m.demo.capacityValueShare } : {}),
  // The sites report together at each slot boundary (runDay): one plan answers them all.
  gatherReportsMs: 2000,
  incrementalReplans: true,
  outboxEveryMs: 1000,
  journal: 'sqlite-group-commit',
  dashboard: m.dashboard,
});

/** The buyer (BAP), buying for a market of `sites` sites. */
export const buyerConfig = (
  m: MarketCommon,
  p: {
    readonly port: number;
    readonly sites: number;
    readonly monitor: MonitorPolicy | undefined;
    readonly openadrTokenFile: string;
  },
): BapConfig => ({
  id: IDS.bap,
  listen: at(p.port),
  store: m.storeOf('grid-orchestrator'),
  logLevel: m.demo.logLevel,
  keys: m.keys,
  registry: m.registry,
  clock: { kind: 'system' },
  signals: { kind: 'shipped' },
  region: 'GB',
  slotMinutes: SLOT_MINUTES,
  policy: { ...needPolicy(p.sites), ...(p.monitor ? { monitor: p.monitor } : {}) },
  // on_search comes after pricing, which plans every site: wait for it longer the more sites there are.
  // Measured 2026-12-04: pricing a busy site under the FIFO carbon cap takes 6.4–7.0 s of wall
  // time (3.3 s uncapped), 15.6 s for three overloaded sites; at 5 s a site the answer came too
  // late and the default demo made no deal. Market time is held while the buyer waits
  // (ReplayClock.hold), and the wait ends when the answer comes, so a longer window costs nothing
  // when pricing is fast.
  collectMs: 10_000 * p.sites,
  callbackTimeoutMs: 10_000,
  openadr: { tokenFile: p.openadrTokenFile },
  dashboard: m.dashboard,
  journal: 'sqlite-group-commit',
});

export const gatewayConfig = (m: MarketCommon): GatewayConfig => ({
  id: IDS.gateway,
  listen: at(0),
  store: m.storeOf('gateway'),
  logLevel: m.demo.logLevel,
  keys: m.keys,
  registry: m.registry,
  journal: 'sqlite-group-commit',
});

/** The Compute-Flex agent of the `index`th site, dispatched by its provider (trusted by its dispatch key). */
export const siteAgentConfig = (
  m: MarketCommon,
  p: {
    readonly spec: SimSite;
    readonly index: number;
    readonly port: number;
    readonly provider: PeerKeyConfig;
  },
): AgentConfig => {
  const c = m.demo;
  const { spec } = p;
  return {
    id: agentId(spec.id),
    listen: at(p.port),
    store: m.storeOf(`compute-agent-${spec.id}`),
    logLevel: c.logLevel,
    keys: m.keys,
    clock: { kind: 'system' },
    slotMinutes: SLOT_MINUTES,
    horizonSlots: HORIZON_SLOTS,
    site: { id: spec.id, region: 'GB', gridImportLimitKw: spec.gridImportLimitKw, pue: 1.3 },
    // The agent trusts its provider's dispatch key, not its Beckn key.
    orchestrator: p.provider,
    // Each site has its own seeded day; the first keeps the demo's seed, so one site gives the same day as before.
    scheduler: {
      kind: 'sim',
      profile: c.siteProfile,
      seed: c.seed + p.index * 7919,
      ...(c.jobs === undefined ? {} : { jobs: c.jobs }),
      trainingNodes: spec.trainingNodes,
      baseline: c.baseline,
      ...('battery' in spec ? { battery: spec.battery } : {}),
    },
    pollSeconds: 30,
  };
};
