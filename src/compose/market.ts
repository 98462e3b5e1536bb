// The demo's market: every role of a flexibility market in one process on loopback, each built by
// its own composer from a config the demo writes in code — a registry, a gateway (BG), the Grid
// Orchestrator (BAP) with its procurement loop, the Flexibility Orchestrator (BPP) and one
// Compute-Flex agent per simulated site (aggregation: the BPP sells the sites' flexibility
// together, see docs/architecture.md). The roles share one replayed clock; in each slot every site
// reports first and the buyer acts after them, so a seeded run is repeatable. The checks of the
// demo's config are in market-config.ts, each role's config in market-roles.ts, the day's replay in
// market-day.ts; here the roles are started in order and the market handed back.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ComputeAgent } from '../agents/compute/agent.ts';
import type { FlexOrchestrator } from '../agents/flex/orchestrator.ts';
import type { PlanRecord } from '../agents/flex/plan-record.ts';
import type { GridOrchestrator, StatusPush } from '../agents/grid/orchestrator.ts';
import type { ProcurementEvent, ProcurementLoop } from '../agents/grid/procurement-loop.ts';
import type { MonitorEvent, MonitorPolicy } from '../agents/grid/monitor.ts';
import { ReplayClock } from '../adapters/clock/clocks.ts';
import type { SimCluster } from '../adapters/scheduler-sim/cluster.ts';
import type { GridEventStore } from '../adapters/events-openadr/store.ts';
import { CsvSignalSource } from '../adapters/signals-csv/source.ts';
import type { DemoConfig } from '../config.ts';
import { seededIds } from '../domain/ids.ts';
import { settlementDayStart } from '../domain/settlement-day.ts';
import type { EpochMs } from '../domain/time.ts';
import { FlexError } from '../errors.ts';
import { SIM_SITES } from '../sim/sites.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../ports.ts';
import { composeAgent, type ComposedAgent } from './agent.ts';
import { composeBap } from './bap.ts';
import { composeBpp } from './bpp.ts';
import type { KeysConfig, StoreConfig } from './config.ts';
import { composeGateway } from './gateway.ts';
import { checkDemoConfig, ensureDataDir } from './market-config.ts';
import { runDay } from './market-day.ts';
import {
  IDS,
  agentId,
  at,
  buyerConfig,
  gatewayConfig,
  peerOf,
  providerConfig,
  siteAgentConfig,
  type MarketCommon,
} from './market-roles.ts';
import { defaultStoreConfig, dispatchKeyId, freePort, makeKeys, type RunningRole } from './parts.ts';
import { composeRegistry } from './registry.ts';
import { makeDirs } from '../make-dirs.ts';

export { SIM_SITES };

/** One simulated site of the market and its Compute-Flex agent. */
export interface MarketSite {
  readonly id: string;
  readonly name: string;
  readonly agent: ComputeAgent;
  readonly cluster: SimCluster;
  /** The same queue on its own scheduler with no FlexLon decisions: the settlement baseline. */
  readonly businessAsUsual: SimCluster;
  /** The day's deferrable jobs, and the share of the training pool's GPU-hours in 24 h they ask for. */
  readonly jobs: number;
  readonly offeredLoad: number;
  readonly url: string;
  readonly store: Store;
}

export interface Market {
  readonly runDir: string;
  readonly dayStart: EpochMs;
  readonly clock: ReplayClock;
  readonly urls: {
    readonly registry: string;
    readonly gateway: string;
    readonly bap: string;
    readonly bpp: string;
    readonly agent: string;
  };
  readonly bap: GridOrchestrator;
  /** The buyer's procurement loop (stepped by runDay, after every site has reported in the slot). */
  readonly loop: ProcurementLoop;
  readonly bpp: FlexOrchestrator;
  /** Every provider (BPP) and the sites it sells; the first is `bpp` (one for all sites unless per-site). */
  readonly providers: readonly {
    readonly id: string;
    readonly url: string;
    readonly orchestrator: FlexOrchestrator;
    readonly store: Store;
    readonly sites: readonly string[];
  }[];
  /** The first site's agent, cluster and twin (`sites[0]`), kept for single-site callers. */
  readonly agent: ComputeAgent;
  readonly cluster: SimCluster;
  /** The same queue on its own scheduler with no FlexLon decisions, for comparison. */
  readonly businessAsUsual: SimCluster;
  /** Every site behind the BPP, the first being `agent`/`cluster`/`businessAsUsual`. */
  readonly sites: readonly MarketSite[];
  readonly signals: CsvSignalSource;
  /** The Grid Orchestrator's OpenADR-style event intake (POST /openadr/programs, /openadr/events). */
  readonly gridEvents: GridEventStore;
  /** File holding the bearer token for the event intake (0600, in the run folder). */
  readonly openadrTokenFile: string;
  /** `agent` is the first site's store; every site's is also in `sites[].store`. */
  readonly stores: Readonly<Record<'registry' | 'gateway' | 'grid' | 'flex' | 'agent', Store>>;
  /**
   * Replays the day: the market clock starts, and at every slot boundary, with market time held
   * there, each site reports and then the buyer's loop steps. Ends after the day.
   */
  runDay(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

/** What a caller of composeMarket may hear about as it happens. */
export interface MarketHooks {
  /** An on_status the BPP pushed unasked to the grid orchestrator (audited first). */
  readonly onStatusPush?: (push: StatusPush) => void;
  /** What the buyer's procurement loop does. */
  readonly onProcurement?: (e: ProcurementEvent) => void;
  /** Delivery monitoring for the buyer (`demo --monitor`, `--top-up`); absent: none, the demo's default. */
  readonly monitor?: MonitorPolicy;
  /** What delivery monitoring finds: shortfall alerts and top-ups. */
  readonly onMonitor?: (e: MonitorEvent) => void;
  /** Chooses the roles' ports (default: a free one from the OS, parts.ts freePort); a test makes it race. */
  readonly choosePort?: () => Promise<number>;
  /** Each plan a provider (BPP) stores for dispatch, with the provider's id. */
  readonly onPlanRecorded?: (plan: PlanRecord, provider: string) => void;
  /**
   * The configuration (the date against the grid data, the sites, the data folder) is checked and the
   * market is about to start. Called again on each retry (PORT_ATTEMPTS).
   */
  readonly onChecked?: () => void;
}

/** Attempts at composing the market when a port chosen for it is taken before it is bound. */
const PORT_ATTEMPTS = 3;

const portTaken = (e: unknown): boolean =>
  e instanceof FlexError && e.code === 'FLX_CONFIG_INVALID' && /the port is in use/.test(e.message);

/**
 * The market, composed. The agents' ports are chosen before any role starts (each side must know the
 * other's URL), and another process can take a chosen port before it is bound (issue 14 finding 9:
 * "listen EADDRINUSE" with nothing else listening). Every role then stops, its run folder is removed,
 * and the market is composed again on fresh ports, up to PORT_ATTEMPTS times.
 */
export const composeMarket = async (
  c: DemoConfig,
  runId: string,
  log: Logger,
  hooks: MarketHooks = {},
): Promise<Market> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await composeMarketOnce(c, attempt === 1 ? runId : `${runId}-${attempt}`, log, hooks);
    } catch (e) {
      if (attempt >= PORT_ATTEMPTS || !portTaken(e)) throw e;
      log.warn({ attempt, error: (e as Error).message }, 'a port chosen for the market was taken: composing it again');
      rmSync(join(ensureDataDir(c.dataDir), 'runs', attempt === 1 ? runId : `${runId}-${attempt}`), {
        recursive: true,
        force: true,
      });
    }
  }
};

/**
 * The seed of provider k's plan, offer and order ids on the replayed day starting at dayStart: the
 * same for the same run, another for another provider or another day.
 */
export const idSeedOf = (seed: number, provider: number, dayStart: number, variant = 0): number =>
  // The day's index from its settlement day start an hour on: 23:00 UTC (UK local midnight in summer
  // time) counts as the next UTC day, so the day after the spring clock change (which starts at
  // 23:00 UTC on the change's day, itself started at 00:00 UTC) has its own index.
  (seed +
    provider * 104_729 +
    Math.floor((dayStart + 3_600_000) / 86_400_000) * 7_919 +
    Math.imul(variant, 0x9e3779b1)) >>>
  0;

/** A file's text, or its name where it cannot be read (the events loader then says why). */
const contentsOf = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return path.split(/[\\/]/).pop() ?? path;
  }
};

/**
 * What makes one demo's market another's on the same day and seed (FNV-1a of the options that shape
 * its queues, sites, offers and settlement; the shipped data files by name, so two checkouts agree,
 * and an events file by its contents): the ids' seed
 * takes it in, so `npm start` and `flexlon demo --jobs 150` no longer name their different orders
 * alike (a new user read one order id with two sets of terms). The clock's speed, the data folder,
 * logging and the dashboard change nothing in the market, so they are not in it.
 */
export const marketVariantOf = (c: DemoConfig): number => {
  const name = (f: string) => f.split(/[\\/]/).pop() ?? f;
  const shape = JSON.stringify([
    c.siteProfile,
    c.jobs ?? null,
    c.sites,
    c.providers,
    c.baseline,
    c.carbonCap,
    c.capacityValueShare,
    // The events file by what it holds (two files of one name are two markets), by name if unreadable.
    c.events === undefined ? null : contentsOf(c.events),
    c.grid.carbon.map(name),
    c.grid.price.map(name),
    c.grid.regional.map(name),
  ]);
  let h = 0x811c9dc5;
  for (let i = 0; i < shape.length; i++) h = Math.imul(h ^ shape.charCodeAt(i), 0x01000193) >>> 0;
  return h;
};

const composeMarketOnce = async (c: DemoConfig, runId: string, log: Logger, hooks: MarketHooks): Promise<Market> => {
  // The replayed day is the GB settlement day: from UK local midnight (23:00 UTC the evening before
  // in summer time), 46 or 50 periods on the days the clocks change (BSC Section X-1).
  const dayStart = settlementDayStart(c.date);
  const signals = new CsvSignalSource(c.grid);
  checkDemoConfig(c, signals, dayStart);
  // Only now, with the configuration checked, does the run get a folder.
  const dataDir = ensureDataDir(c.dataDir);
  hooks.onChecked?.();
  const runDir = join(dataDir, 'runs', runId);
  makeDirs(runDir);
  const storeOf: (agent: string) => StoreConfig = defaultStoreConfig(runDir, runId);
  const clock = new ReplayClock(dayStart, 86_400 / c.secondsPerDay);
  const keys: KeysConfig = { dir: join(c.dataDir, 'keys'), generate: true };
  const specs = SIM_SITES.slice(0, c.sites);
  // Every key exists before any role starts, so each side can name the other's key file.
  const keyStore = makeKeys(keys);
  // Providers: one BPP selling every site (the default), or one per site (`--providers per-site`),
  // each with its own key, store and registry entry; the first keeps the single provider's id.
  const groups = c.providers === 'per-site' ? specs.map((s) => [s]) : [specs];
  const providerId = (k: number): string =>
    k === 0 ? IDS.bpp : `dc-${(groups[k]?.[0] as { id: string }).id}.flexlon.local`;
  for (const id of [
    IDS.bap,
    ...groups.map((_, k) => providerId(k)),
    ...groups.map((_, k) => dispatchKeyId(providerId(k))),
    IDS.gateway,
    ...specs.map((s) => agentId(s.id)),
  ])
    await keyStore.signer(id);
  const shared = { clock, signals, logLevel: c.logLevel };
  const roles: RunningRole[] = [];
  const started = <T extends RunningRole>(r: T): T => {
    roles.push(r);
    return r;
  };
  const stopAll = async () => {
    for (const r of [...roles].reverse()) await r.stop().catch(() => undefined);
  };
  try {
    const registry = started(
      await composeRegistry({ listen: at(0), store: storeOf('registry'), logLevel: c.logLevel }),
    );
    const m: MarketCommon = {
      demo: c,
      keys,
      registry: { url: registry.url, subscribe: true },
      storeOf,
      dashboard: { operatorTokenFile: join(runDir, 'operator.token') },
    };
    const port = hooks.choosePort ?? freePort;
    const bapPort = await port();
    const bppPorts: number[] = [];
    for (let k = 0; k < groups.length; k++) bppPorts.push(await port());
    const agentPorts: number[] = [];
    for (let i = 0; i < specs.length; i++) agentPorts.push(await port());
    const providerOf = (siteId: string): number => groups.findIndex((g) => g.some((x) => x.id === siteId));
    const agentUrl = (siteId: string): string =>
      at(agentPorts[specs.findIndex((s) => s.id === siteId)] as number).publicUrl;
    const providers = [];
    for (const [k, group] of groups.entries()) {
      const store = k === 0 ? 'flex-orchestrator' : `flex-orchestrator-${(group[0] as { id: string }).id}`;
      const bpp = started(
        await composeBpp(
          providerConfig(m, { id: providerId(k), port: bppPorts[k] as number, store, group, agentUrl }),
          // The provider's plan, offer and order ids come from the seed, so a run's plans and orders
          // are named alike each time (the buyer's transaction ids stay random: each run is a new deal).
          // Another provider's ids come from another seed: two providers never name an order alike;
          // nor do two replayed days (a DSO engineer read one order id on two dates as one order).
          {
            ...shared,
            log: log.child({ agent: 'flex', provider: providerId(k) }),
            ...(hooks.onPlanRecorded
              ? { onPlanRecorded: (plan: PlanRecord) => hooks.onPlanRecorded?.(plan, providerId(k)) }
              : {}),
            ids: seededIds(idSeedOf(c.seed, k, dayStart, marketVariantOf(c))),
          },
        ),
      );
      providers.push({ id: providerId(k), sites: group.map((x) => x.id), ...bpp });
    }
    const bpp = providers[0] as (typeof providers)[number];
    const openadrTokenFile = join(runDir, 'openadr.token');
    const bap = started(
      await composeBap(
        buyerConfig(m, { port: bapPort, sites: specs.length, monitor: hooks.monitor, openadrTokenFile }),
        {
          ...shared,
          log: log.child({ agent: 'grid' }),
          drive: 'external',
          ...(hooks.onStatusPush ? { onStatusPush: hooks.onStatusPush } : {}),
          ...(hooks.onProcurement ? { onEvent: hooks.onProcurement } : {}),
          ...(hooks.onMonitor ? { onMonitor: hooks.onMonitor } : {}),
        },
      ),
    );
    const gateway = started(await composeGateway(gatewayConfig(m), { log }));
    const agents: ComposedAgent[] = [];
    for (const [index, spec] of specs.entries()) {
      const k = providerOf(spec.id);
      const provider = peerOf(m, dispatchKeyId(providerId(k)), at(bppPorts[k] as number).publicUrl);
      agents.push(
        started(
          await composeAgent(siteAgentConfig(m, { spec, index, port: agentPorts[index] as number, provider }), {
            ...shared,
            log: log.child({ agent: 'compute', site: spec.id }),
            drive: 'external',
          }),
        ),
      );
    }
    const sites: MarketSite[] = agents.map((a, i) => {
      const spec = specs[i] as (typeof specs)[number];
      if (!a.sim) throw new FlexError('FLX_INTERNAL', `site ${spec.id} is not simulated`);
      return {
        id: spec.id,
        name: spec.name,
        agent: a.agent,
        cluster: a.sim.cluster,
        businessAsUsual: a.sim.twin,
        jobs: a.sim.jobs.length,
        offeredLoad: a.sim.offeredLoad,
        url: a.url,
        store: a.store,
      };
    });
    const first = sites[0] as MarketSite;
    return {
      runDir,
      dayStart,
      clock,
      urls: { registry: registry.url, gateway: gateway.url, bap: bap.url, bpp: bpp.url, agent: first.url },
      bap: bap.bap,
      loop: bap.loop,
      bpp: bpp.orchestrator,
      providers: providers.map((x) => ({
        id: x.id,
        url: x.url,
        orchestrator: x.orchestrator,
        store: x.store,
        sites: x.sites,
      })),
      agent: first.agent,
      cluster: first.cluster,
      businessAsUsual: first.businessAsUsual,
      sites,
      signals,
      gridEvents: bap.events,
      openadrTokenFile,
      stores: {
        registry: registry.store,
        gateway: gateway.store,
        grid: bap.store,
        flex: bpp.store,
        agent: first.store,
      },
      runDay: (signal) => runDay({ dayStart, clock, sites, loop: bap.loop, log }, signal),
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
};
