// The demo's market: every role of a flexibility market in one process on loopback, each built by
// its own composer from a config the demo writes in code — a registry, a gateway (BG), the Grid
// Orchestrator (BAP) with its procurement loop, the Flexibility Orchestrator (BPP) and one
// Compute-Flex agent per simulated site (aggregation: the BPP sells the sites' flexibility
// together, see docs/architecture.md). The roles share one replayed clock; in each slot every site
// reports first and the buyer acts after them, so a seeded run is repeatable.
import { existsSync, mkdirSync, rmSync, statSync, accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_PRICING } from '../agents/flex/pricing.ts';
import type { ComputeAgent } from '../agents/compute/agent.ts';
import type { FlexOrchestrator } from '../agents/flex/orchestrator.ts';
import { DEFAULT_NEED_POLICY, type GridOrchestrator, type StatusPush } from '../agents/grid/orchestrator.ts';
import type { ProcurementEvent, ProcurementLoop } from '../agents/grid/procurement-loop.ts';
import type { MonitorEvent, MonitorPolicy } from '../agents/grid/monitor.ts';
import { ReplayClock } from '../adapters/clock/clocks.ts';
import { keyFilePath } from '../adapters/keystore-file/keystore.ts';
import type { SimCluster } from '../adapters/scheduler-sim/cluster.ts';
import type { GridEventStore } from '../adapters/events-openadr/store.ts';
import { CsvSignalSource } from '../adapters/signals-csv/source.ts';
import type { DemoConfig } from '../config.ts';
import { seededIds } from '../domain/ids.ts';
import { epochMs, type EpochMs } from '../domain/time.ts';
import { asFlexError, FlexError } from '../errors.ts';
import { DEFAULT_WORK } from '../optimise/planner.ts';
import { SIM_SITES } from '../sim/sites.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../ports.ts';
import { composeAgent, type ComposedAgent } from './agent.ts';
import { composeBap } from './bap.ts';
import { composeBpp } from './bpp.ts';
import type { KeysConfig, StoreConfig } from './config.ts';
import { composeGateway } from './gateway.ts';
import { defaultStoreConfig, dispatchKeyId, freePort, makeKeys, type RunningRole } from './parts.ts';
import { composeRegistry } from './registry.ts';

export const SLOT_MINUTES = 30;
export const HORIZON_SLOTS = 96;
const HOST = '127.0.0.1';
const DAY_MS = 86_400_000;
const IDS = { bap: 'grid.flexlon.local', bpp: 'dc.flexlon.local', gateway: 'gateway.flexlon.local' } as const;
const agentId = (site: string): string => `agent-${site}.dc.flexlon.local`;

export { SIM_SITES };
export const MAX_SITES = SIM_SITES.length;

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
}

/**
 * The grid side searches earlier the more sites there are: pricing plans every site's flexibility
 * curve and then the portfolio split (about 0.6 s of wall time per extra site), and on the demo's
 * accelerated clock the quotes must be confirmed before the window opens. One site: the default.
 */
const needPolicy = (sites: number) => ({
  ...DEFAULT_NEED_POLICY,
  procureLeadSlots: DEFAULT_NEED_POLICY.procureLeadSlots + 2 * (sites - 1),
});

// Ports come from freePort (parts.ts): agents must know each other's URLs before their routes exist.

const at = (port: number) => ({ host: HOST, port, publicUrl: `http://${HOST}:${port}` });

/**
 * Checks the data directory before anything is written: its nearest existing ancestor must be a
 * writable directory, and it may not live in /proc or /sys (where mkdir can spin forever).
 */
/**
 * Every site reports for slot `t`. A report the BPP does not answer in time (FLX_PEER_UNREACHABLE: a
 * slow plan on a loaded machine) is logged and the slot carries on, as a site's own agent process
 * does (compose/agent.ts): the agent keeps its last dispatch and reports again at the next slot. Any
 * other failure ends the run.
 */
export const tickSites = async (sites: readonly MarketSite[], t: EpochMs, log: Logger): Promise<void> => {
  const out = await Promise.allSettled(sites.map((site) => site.agent.tick(t)));
  out.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    const e = asFlexError(r.reason);
    if (e.code !== 'FLX_PEER_UNREACHABLE') throw r.reason;
    log.warn(
      { site: sites[i]?.id, error: e.message },
      'site report not answered in time; carrying on at the next slot',
    );
  });
};

export const ensureDataDir = (dir: string): string => {
  const bad = (why: string) =>
    new FlexError(
      'FLX_CONFIG_INVALID',
      `data directory ${dir}: ${why} (set --data-dir or FLEXLON_DATA_DIR to a writable folder)`,
      { path: '--data-dir' },
    );
  if (/^\/(proc|sys)(\/|$)/.test(dir)) throw bad('a kernel pseudo-filesystem cannot hold data');
  let probe = dir;
  while (!existsSync(probe)) {
    const parent = dirname(probe);
    if (parent === probe) break;
    probe = parent;
  }
  if (!statSync(probe).isDirectory()) throw bad(`${probe} is a file, not a directory`);
  try {
    accessSync(probe, constants.W_OK);
  } catch {
    throw bad(`${probe} is not writable`);
  }
  return dir;
};

const checkDemoConfig = (c: DemoConfig, signals: CsvSignalSource, dayStart: EpochMs): void => {
  const span = signals.span();
  // The demo plans two days ahead: the day and the next must be covered, to the last half hour.
  if (dayStart < span.from || dayStart + 2 * DAY_MS - SLOT_MINUTES * 60_000 > span.to) {
    const latest = Math.floor((span.to + SLOT_MINUTES * 60_000 - 2 * DAY_MS) / DAY_MS) * DAY_MS;
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `--date: the shipped grid data covers ${new Date(span.from).toISOString().slice(0, 10)} to ${new Date(span.to).toISOString().slice(0, 16)}Z; the demo needs the day and the next one (pick --date from ${new Date(Math.ceil(span.from / DAY_MS) * DAY_MS).toISOString().slice(0, 10)} to ${new Date(latest).toISOString().slice(0, 10)})`,
      { path: '--date' },
    );
  }
  if (!Number.isInteger(c.sites) || c.sites < 1 || c.sites > MAX_SITES)
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `--sites: must be a whole number from 1 to ${MAX_SITES}, got ${c.sites}`,
      {
        path: '--sites',
      },
    );
};

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

const composeMarketOnce = async (c: DemoConfig, runId: string, log: Logger, hooks: MarketHooks): Promise<Market> => {
  const dayStart = epochMs(Date.parse(`${c.date}T00:00:00Z`));
  const signals = new CsvSignalSource(c.grid);
  checkDemoConfig(c, signals, dayStart);
  // Only now, with the configuration checked, does the run get a folder.
  const runDir = join(ensureDataDir(c.dataDir), 'runs', runId);
  mkdirSync(runDir, { recursive: true });
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
  const peer = (id: string, url: string) => ({ subscriberId: id, url, keyFile: keyFilePath(keys.dir, id) });
  const shared = { clock, signals, logLevel: c.logLevel };
  // The dashboards' operator token (docs/dashboard.md), shared by the demo's BPP and BAP.
  const dashboard = { operatorTokenFile: join(runDir, 'operator.token') };
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
    const registryRef = { url: registry.url, subscribe: true };
    const port = hooks.choosePort ?? freePort;
    const bapPort = await port();
    const bppPorts: number[] = [];
    for (let k = 0; k < groups.length; k++) bppPorts.push(await port());
    const agentPorts: number[] = [];
    for (let i = 0; i < specs.length; i++) agentPorts.push(await port());
    const providerOf = (siteId: string): number => groups.findIndex((g) => g.some((x) => x.id === siteId));
    const providers = [];
    for (const [k, group] of groups.entries()) {
      const bpp = started(
        await composeBpp(
          {
            id: providerId(k),
            name: `FlexLon data centre${group.length > 1 ? 's' : ''} (${group.map((s) => s.name).join(', ')})`,
            listen: at(bppPorts[k] as number),
            store: storeOf(k === 0 ? 'flex-orchestrator' : `flex-orchestrator-${(group[0] as { id: string }).id}`),
            logLevel: c.logLevel,
            keys,
            registry: registryRef,
            clock: { kind: 'system' },
            signals: { kind: 'shipped' },
            // The BPP re-plans every slot and prices offers by re-planning, so its budget per plan is
            // short; the greedy fallback keeps it answering if HiGHS ever cannot.
            // With the demo's seed, planning is bounded by work, not time: the same flags give the same plans.
            planner: { kind: 'highs', timeLimitSeconds: 5, milpTimeLimitSeconds: 0.25, work: DEFAULT_WORK },
            sites: group.map((s) => {
              const i = specs.indexOf(s);
              return {
                id: s.id,
                region: 'GB',
                agentUrl: at(agentPorts[i] as number).publicUrl,
                agent: peer(agentId(s.id), at(agentPorts[i] as number).publicUrl),
              };
            }),
            slotMinutes: SLOT_MINUTES,
            horizonSlots: HORIZON_SLOTS,
            pricing: DEFAULT_PRICING,
            quoteTtlSeconds: 300,
            supportEmail: `flexibility-desk@${IDS.bpp}`,
            baseline: c.baseline,
            carbonCap: c.carbonCap,
            // The sites report together at each slot boundary (runDay): one plan answers them all.
            gatherReportsMs: 2000,
            incrementalReplans: true,
            outboxEveryMs: 1000,
            journal: 'sqlite-group-commit',
            dashboard,
          },
          // The provider's plan, offer and order ids come from the seed, so a run's plans and orders
          // are named alike each time (the buyer's transaction ids stay random: each run is a new deal).
          // Another provider's ids come from another seed: two providers never name an order alike.
          {
            ...shared,
            log: log.child({ agent: 'flex', provider: providerId(k) }),
            ids: seededIds(c.seed + k * 104_729),
          },
        ),
      );
      providers.push({ id: providerId(k), sites: group.map((x) => x.id), ...bpp });
    }
    const bpp = providers[0] as (typeof providers)[number];
    const openadrTokenFile = join(runDir, 'openadr.token');
    const bap = started(
      await composeBap(
        {
          id: IDS.bap,
          listen: at(bapPort),
          store: storeOf('grid-orchestrator'),
          logLevel: c.logLevel,
          keys,
          registry: registryRef,
          clock: { kind: 'system' },
          signals: { kind: 'shipped' },
          region: 'GB',
          slotMinutes: SLOT_MINUTES,
          policy: { ...needPolicy(specs.length), ...(hooks.monitor ? { monitor: hooks.monitor } : {}) },
          // on_search comes after pricing, which plans every site: wait for it longer the more sites there are.
          // Measured 2026-12-04: pricing a busy site under the FIFO carbon cap takes 6.4–7.0 s of wall
          // time (3.3 s uncapped), 15.6 s for three overloaded sites; at 5 s a site the answer came too
          // late and the default demo made no deal. Market time is held while the buyer waits
          // (ReplayClock.hold), and the wait ends when the answer comes, so a longer window costs nothing
          // when pricing is fast.
          collectMs: 10_000 * specs.length,
          callbackTimeoutMs: 10_000,
          openadr: { tokenFile: openadrTokenFile },
          dashboard,
          journal: 'sqlite-group-commit',
        },
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
    const gateway = started(
      await composeGateway(
        {
          id: IDS.gateway,
          listen: at(0),
          store: storeOf('gateway'),
          logLevel: c.logLevel,
          keys,
          registry: registryRef,
          journal: 'sqlite-group-commit',
        },
        { log },
      ),
    );
    const agents: ComposedAgent[] = [];
    for (const [i, spec] of specs.entries()) {
      agents.push(
        started(
          await composeAgent(
            {
              id: agentId(spec.id),
              listen: at(agentPorts[i] as number),
              store: storeOf(`compute-agent-${spec.id}`),
              logLevel: c.logLevel,
              keys,
              clock: { kind: 'system' },
              slotMinutes: SLOT_MINUTES,
              horizonSlots: HORIZON_SLOTS,
              site: { id: spec.id, region: 'GB', gridImportLimitKw: spec.gridImportLimitKw, pue: 1.3 },
              // The agent trusts its provider's dispatch key, not its Beckn key.
              orchestrator: peer(
                dispatchKeyId(providerId(providerOf(spec.id))),
                at(bppPorts[providerOf(spec.id)] as number).publicUrl,
              ),
              // Each site has its own seeded day; the first keeps the demo's seed, so one site gives the same day as before.
              scheduler: {
                kind: 'sim',
                profile: c.siteProfile,
                seed: c.seed + i * 7919,
                ...(c.jobs === undefined ? {} : { jobs: c.jobs }),
                trainingNodes: spec.trainingNodes,
                baseline: c.baseline,
                ...('battery' in spec ? { battery: spec.battery } : {}),
              },
              pollSeconds: 30,
            },
            { ...shared, log: log.child({ agent: 'compute', site: spec.id }), drive: 'external' },
          ),
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
      async runDay(signal) {
        await bap.loop.plan(dayStart);
        const slot = SLOT_MINUTES * 60_000;
        const end = epochMs(dayStart + DAY_MS);
        clock.start();
        for (let t = epochMs(Math.ceil(clock.now() / slot) * slot); t <= end; t = epochMs(t + slot)) {
          await clock.waitUntil(t, signal);
          // The slot's work happens at its boundary (ReplayClock.hold): every site reports, then
          // the buyer steps; the last tick is the next day's midnight, when the buyer's day is over.
          clock.hold(t);
          try {
            await tickSites(sites, t, log);
            if (t < end) await bap.loop.step(t);
          } finally {
            clock.release();
          }
        }
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
};
