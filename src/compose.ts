// The composition root: the only place that picks adapters and wires the agents together. It starts
// a whole flexibility market on loopback: a Beckn registry, the Grid Orchestrator (BAP), the
// Flexibility Orchestrator (BPP) and one Compute-Flex agent per simulated site (aggregation: the BPP
// sells the sites' flexibility together, see docs/architecture.md).
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { ComputeAgent } from './agents/compute/agent.ts';
import { createBpp } from './agents/flex/bpp.ts';
import { FlexOrchestrator } from './agents/flex/orchestrator.ts';
import { DEFAULT_PRICING } from './agents/flex/pricing.ts';
import { DEFAULT_NEED_POLICY, GridOrchestrator, type StatusPush } from './agents/grid/orchestrator.ts';
import { BecknClient } from './beckn/client.ts';
import { FLEXLON_DOMAIN } from './beckn/context.ts';
import { createGateway } from './beckn/gateway.ts';
import { registryKeyResolver, staticKeyResolver } from './beckn/key-resolver.ts';
import { useRawJsonBody } from './beckn/raw-body.ts';
import { registerReceiver } from './beckn/receiver.ts';
import { createRegistryService } from './beckn/registry/service.ts';
import { ReplayClock } from './adapters/clock/clocks.ts';
import { FileKeyStore } from './adapters/keystore-file/keystore.ts';
import { HttpRegistry } from './adapters/registry-http/client.ts';
import { SimCluster } from './adapters/scheduler-sim/cluster.ts';
import { registerGridEventRoutes } from './adapters/events-openadr/routes.ts';
import { GridEventStore } from './adapters/events-openadr/store.ts';
import { CsvSignalSource } from './adapters/signals-csv/source.ts';
import { openPostgresStore, postgresOptionsFromEnv } from './adapters/store-postgres/index.ts';
import { openSqliteStore } from './adapters/store-sqlite/index.ts';
import { openSqliteJournal } from './adapters/store-sqlite/journal.ts';
import { storeJournal, type InboundJournal } from './beckn/journal.ts';
import { becknValidator } from './beckn/validator.ts';
import { epochMs, type EpochMs } from './domain/time.ts';
import type { DemoConfig } from './config.ts';
import { FlexError } from './errors.ts';
import type { Logger } from './log.ts';
import { greedyPlan, GREEDY_PLANNER } from './optimise/greedy.ts';
import { createHighsSolver, type HighsSolver } from './adapters/solver-highs/solver.ts';
import type { PlannerOptions } from './optimise/planner.ts';
import { createMetrics } from './observability/metrics.ts';
import type { Signer, Solver, Store, Subscription } from './ports.ts';
import { generateDay } from './sim/workload.ts';
import { BL01_METHOD, bl01For, simulatedHistory } from './compose-baseline.ts';

/** Calendar days of simulated history for BL01: they hold its 10 most recent working days. */
const BL01_HISTORY_DAYS = 15;

export const SLOT_MINUTES = 30;
export const HORIZON_SLOTS = 96;
const HOST = '127.0.0.1';
const IDS = { bap: 'grid.flexlon.local', bpp: 'dc.flexlon.local', gateway: 'gateway.flexlon.local' } as const;
const agentId = (site: string): string => `agent-${site}.dc.flexlon.local`;

/**
 * The simulated sites, in the order `--sites N` takes them. The first is the demo's original site;
 * the others are smaller, so a portfolio split is uneven. Sizes are illustrative placeholders.
 */
export const SIM_SITES = [
  { id: 'lon', name: 'London', trainingNodes: 32, gridImportLimitKw: 400 },
  { id: 'man', name: 'Manchester', trainingNodes: 24, gridImportLimitKw: 300 },
  { id: 'edi', name: 'Edinburgh', trainingNodes: 16, gridImportLimitKw: 200 },
  { id: 'cdf', name: 'Cardiff', trainingNodes: 16, gridImportLimitKw: 200 },
] as const;
export const MAX_SITES = SIM_SITES.length;

/** One simulated site of the market and its Compute-Flex agent. */
export interface MarketSite {
  readonly id: string;
  readonly name: string;
  readonly agent: ComputeAgent;
  readonly cluster: SimCluster;
  /** The same queue on its own scheduler with no FlexLon decisions: the settlement baseline. */
  readonly businessAsUsual: SimCluster;
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
  readonly bpp: FlexOrchestrator;
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
  stop(): Promise<void>;
}

export const greedySolver: Solver = { name: GREEDY_PLANNER, plan: async (p) => greedyPlan(p) };

/** The planner every command and agent uses: the class-LP planner on HiGHS in a worker thread. */
export const createPlanningSolver = (options: Partial<PlannerOptions> = {}): HighsSolver => createHighsSolver(options);

// The BPP re-plans every slot and prices offers by re-planning, so its budget per plan is short;
// the greedy fallback keeps it answering if HiGHS ever cannot.
const BPP_PLANNER: Partial<PlannerOptions> = { timeLimitSeconds: 5, milpTimeLimitSeconds: 0.25 };

/**
 * The grid side searches earlier the more sites there are: pricing plans every site's flexibility
 * curve and then the portfolio split (about 0.6 s of wall time per extra site), and on the demo's
 * accelerated clock the quotes must be confirmed before the window opens. One site: the default.
 */
const needPolicy = (sites: number) => ({
  ...DEFAULT_NEED_POLICY,
  procureLeadSlots: DEFAULT_NEED_POLICY.procureLeadSlots + 2 * (sites - 1),
});

/** A port the OS says is free now. Agents must know each other's URLs before their routes exist. */
const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      srv.close(() => (addr !== null && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });

const listen = async (app: FastifyInstance, port = 0): Promise<string> => {
  await app.listen({ host: HOST, port });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new FlexError('FLX_INTERNAL', 'server has no TCP address');
  return `http://${HOST}:${addr.port}`;
};

const subscription = (signer: Signer, type: Subscription['type'], url: string, now: number): Subscription => ({
  subscriber_id: signer.subscriberId,
  subscriber_url: url,
  type,
  domain: FLEXLON_DOMAIN,
  unique_key_id: signer.uniqueKeyId,
  signing_public_key: signer.publicKeyBase64,
  valid_from: new Date(now - 60_000).toISOString(),
  valid_until: new Date(now + 365 * 86_400_000).toISOString(),
  status: 'SUBSCRIBED',
});

/**
 * How each agent's store is opened: a SQLite file in the run directory (default), or with
 * FLEXLON_STORE=postgres a schema per agent and run in the database at FLEXLON_PG_URL.
 */
export const storeOpener = (
  runDir: string,
  runId: string,
  env: NodeJS.ProcessEnv = process.env,
): ((agent: string) => Promise<Store>) => {
  const kind = env.FLEXLON_STORE ?? 'sqlite';
  if (kind === 'sqlite') return (agent) => openSqliteStore(join(runDir, `${agent}.db`));
  if (kind !== 'postgres')
    throw new FlexError('FLX_CONFIG_INVALID', `FLEXLON_STORE: must be sqlite or postgres, got "${kind}"`, {
      path: 'FLEXLON_STORE',
    });
  const run = runId
    .replace(/[^a-z0-9]/gi, '')
    .slice(-8)
    .toLowerCase();
  postgresOptionsFromEnv(env, 'flexlon'); // fail fast on a bad URL, before any store is opened
  return (agent) => openPostgresStore(postgresOptionsFromEnv(env, `flexlon_${run}_${agent.replace(/-/g, '_')}`, agent));
};

/**
 * Checks the data directory before anything is written: its nearest existing ancestor must be a
 * writable directory, and it may not live in /proc or /sys (where mkdir can spin forever).
 */
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

/** What a caller of composeMarket may hear about as it happens. */
export interface MarketHooks {
  /** An on_status the BPP pushed unasked to the grid orchestrator (audited first). */
  readonly onStatusPush?: (push: StatusPush) => void;
}

export const composeMarket = async (
  c: DemoConfig,
  runId: string,
  log: Logger,
  hooks: MarketHooks = {},
): Promise<Market> => {
  const wallNow = () => Date.now();
  const dayStart = epochMs(Date.parse(`${c.date}T00:00:00Z`));
  const signals = new CsvSignalSource(c.grid);
  const span = signals.span();
  const DAY = 86_400_000;
  // The demo plans two days ahead: the day and the next must be covered, to the last half hour.
  if (dayStart < span.from || dayStart + 2 * DAY - SLOT_MINUTES * 60_000 > span.to) {
    const latest = Math.floor((span.to + SLOT_MINUTES * 60_000 - 2 * DAY) / DAY) * DAY;
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `--date: the shipped grid data covers ${new Date(span.from).toISOString().slice(0, 10)} to ${new Date(span.to).toISOString().slice(0, 16)}Z; the demo needs the day and the next one (pick --date from ${new Date(Math.ceil(span.from / DAY) * DAY).toISOString().slice(0, 10)} to ${new Date(latest).toISOString().slice(0, 10)})`,
      { path: '--date' },
    );
  }
  if (!Number.isInteger(c.sites) || c.sites < 1 || c.sites > MAX_SITES)
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `--sites: must be a whole number from 1 to ${MAX_SITES}, got ${c.sites}`,
      { path: '--sites' },
    );
  // Only now, with the configuration checked, does the run get a folder.
  const runDir = join(ensureDataDir(c.dataDir), 'runs', runId);
  mkdirSync(runDir, { recursive: true });
  const clock = new ReplayClock(dayStart, 86_400 / c.secondsPerDay);
  const keys = new FileKeyStore(join(c.dataDir, 'keys'), true);
  const specs = SIM_SITES.slice(0, c.sites);
  const [bapSigner, bppSigner, gatewaySigner] = await Promise.all([
    keys.signer(IDS.bap),
    keys.signer(IDS.bpp),
    keys.signer(IDS.gateway),
  ]);
  const agentSigners = await Promise.all(specs.map((s) => keys.signer(agentId(s.id))));
  becknValidator(); // compile every message schema now, not on the first request
  const openStore = storeOpener(runDir, runId);
  const agentStores: Store[] = [];
  for (const s of specs) agentStores.push(await openStore(`compute-agent-${s.id}`));
  const stores = {
    registry: await openStore('registry'),
    gateway: await openStore('gateway'),
    grid: await openStore('grid-orchestrator'),
    flex: await openStore('flex-orchestrator'),
    agent: agentStores[0] as Store,
  };
  // Group commit of inbound claims and audit rows (src/adapters/store-sqlite/journal.ts) on SQLite
  // files; on PostgreSQL the journal goes through the Store port.
  const journalFor = async (store: Store): Promise<InboundJournal & { close(): Promise<void> }> =>
    (process.env.FLEXLON_STORE ?? 'sqlite') === 'sqlite'
      ? openSqliteJournal(store.location)
      : { ...storeJournal(store), close: async () => {} };
  const journals = {
    gateway: await journalFor(stores.gateway),
    grid: await journalFor(stores.grid),
    flex: await journalFor(stores.flex),
  };
  const apps: FastifyInstance[] = [];
  const app = () => {
    const a = Fastify({ logger: false });
    useRawJsonBody(a);
    apps.push(a);
    return a;
  };

  const registryService = await createRegistryService({ store: stores.registry, now: wallNow });
  apps.push(registryService.app);
  const registryUrl = await listen(registryService.app);
  const registry = new HttpRegistry({ url: registryUrl, now: wallNow, cacheTtlMs: 30_000 });
  const resolver = registryKeyResolver(registry);

  // Each simulated site: a GPU training pool and an inference pool behind one grid connection,
  // running a training-size job mix, with its own seeded day (the first site keeps the demo's seed,
  // so one site gives the same day as before). Each has a twin on a plain scheduler (business as usual).
  const simSites = await Promise.all(
    specs.map(async (spec, i) => {
      const day = generateDay({ seed: c.seed + i * 7919, site: spec.id, dayStart, jobs: c.jobs, gpuMix: 'training' });
      const site = {
        site: spec.id,
        region: 'GB',
        gridImportLimitKw: spec.gridImportLimitKw,
        trainingNodes: spec.trainingNodes,
      } as const;
      const cluster = new SimCluster({ ...site, admission: 'held' }, dayStart, day.inferenceKw);
      cluster.submit(day.jobs);
      const businessAsUsual = new SimCluster({ ...site, admission: 'immediate' }, dayStart, day.inferenceKw);
      businessAsUsual.submit(day.jobs);
      const history =
        c.baseline === 'bl01'
          ? await simulatedHistory({
              site: spec.id,
              seed: c.seed + i * 7919,
              jobs: c.jobs,
              trainingNodes: spec.trainingNodes,
              gridImportLimitKw: spec.gridImportLimitKw,
              dayStart,
              days: BL01_HISTORY_DAYS,
            })
          : undefined;
      return { spec, cluster, businessAsUsual, history };
    }),
  );

  const bapApp = app();
  const bppApp = app();
  const agentApps = specs.map(() => app());
  const [bapPort, bppPort] = [await freePort(), await freePort()];
  const agentPorts: number[] = [];
  for (let i = 0; i < specs.length; i++) agentPorts.push(await freePort());
  const [bapUrl, bppUrl] = [bapPort, bppPort].map((p) => `http://${HOST}:${p}`) as [string, string];
  const agentUrls = agentPorts.map((p) => `http://${HOST}:${p}`);

  const solver = createPlanningSolver(BPP_PLANNER);
  await solver.client.warm();
  const metrics = createMetrics({ orders: () => stores.flex.listOrders(), processMetrics: true });
  const bpp = new FlexOrchestrator({
    id: IDS.bpp,
    uri: bppUrl,
    name: `FlexLon data centre${specs.length > 1 ? 's' : ''} (${specs.map((s) => s.name).join(', ')})`,
    store: stores.flex,
    signer: bppSigner,
    market: clock,
    wallNow,
    client: new BecknClient({ signer: bppSigner, store: stores.flex, now: wallNow, ackResolver: resolver }),
    signals,
    solver,
    sites: specs.map((s, i) => ({ id: s.id, region: 'GB', agentUrl: agentUrls[i] as string })),
    horizonSlots: HORIZON_SLOTS,
    slotMinutes: SLOT_MINUTES,
    pricing: DEFAULT_PRICING,
    quoteTtlSeconds: 300,
    support: { email: `flexibility-desk@${IDS.bpp}` },
    log: log.child({ agent: 'flex' }),
    metrics,
    ...(c.baseline === 'bl01' ? { baselineMethod: BL01_METHOD } : {}),
  });
  const gridEvents = new GridEventStore(stores.grid, IDS.bap, wallNow);
  const openadrTokenFile = join(runDir, 'openadr.token');
  const openadrToken = randomBytes(24).toString('hex');
  writeFileSync(openadrTokenFile, `${openadrToken}\n`, { mode: 0o600 });
  const bap = new GridOrchestrator({
    id: IDS.bap,
    events: gridEvents,
    uri: bapUrl,
    store: stores.grid,
    client: new BecknClient({ signer: bapSigner, store: stores.grid, now: wallNow, ackResolver: resolver }),
    registry,
    market: clock,
    wallNow,
    // on_search comes after pricing, which plans every site: wait for it longer the more sites there are.
    signals,
    region: 'GB',
    policy: needPolicy(specs.length),
    collectMs: 5000 * specs.length,
    callbackTimeoutMs: 10_000,
    log: log.child({ agent: 'grid' }),
    ...(hooks.onStatusPush ? { onStatusPush: hooks.onStatusPush } : {}),
  });
  const bppTrust = staticKeyResolver([
    {
      subscriberId: IDS.bpp,
      uniqueKeyId: bppSigner.uniqueKeyId,
      publicKeyBase64: bppSigner.publicKeyBase64,
      url: bppUrl,
    },
  ]);
  const sites: MarketSite[] = simSites.map(({ spec, cluster, businessAsUsual, history }, i) => {
    const agent = new ComputeAgent({
      id: agentId(spec.id),
      site: {
        id: spec.id,
        region: 'GB',
        pue: cluster.pue,
        itPowerLimitKw: cluster.itPowerLimitKw,
        gridImportLimitKw: cluster.gridImportLimitKw,
      },
      scheduler: cluster,
      meter: cluster,
      baseLoad: (g) => cluster.baseLoadKw(g),
      advance: (t) => cluster.advanceTo(t),
      signer: agentSigners[i] as Signer,
      baseline: history
        ? async (g) => bl01For(history, g)
        : async (g) => {
            // The twin runs ahead to the end of the grid: it is the counterfactual, not a forecast.
            const end = epochMs(g.start + g.slots * g.slotMinutes * 60_000);
            if (businessAsUsual.now < end) businessAsUsual.advanceTo(end);
            return businessAsUsual.importKw(g);
          },
      orchestratorUrl: bppUrl,
      orchestratorId: IDS.bpp,
      resolver: bppTrust,
      store: agentStores[i] as Store,
      market: clock,
      wallNow,
      slotMinutes: SLOT_MINUTES,
      horizonSlots: HORIZON_SLOTS,
      log: log.child({ agent: 'compute', site: spec.id }),
    });
    return {
      id: spec.id,
      name: spec.name,
      agent,
      cluster,
      businessAsUsual,
      url: agentUrls[i] as string,
      store: agentStores[i] as Store,
    };
  });
  const first = sites[0] as MarketSite;

  const onBackgroundError = (
    e: unknown,
    inbound: { action: string; msg: { context: { transaction_id: string; message_id: string } } },
  ) =>
    log.error(
      {
        action: inbound.action,
        transaction_id: inbound.msg.context.transaction_id,
        message_id: inbound.msg.context.message_id,
        error: (e as Error).message,
      },
      'callback failed',
    );
  registerGridEventRoutes(bapApp, { events: gridEvents, token: openadrToken });
  registerReceiver(bapApp, {
    subscriberId: IDS.bap,
    role: 'BAP',
    resolver,
    store: stores.grid,
    journal: journals.grid,
    ackSigner: bapSigner,
    now: wallNow,
    handlers: bap.handlers(),
    onBackgroundError,
  });
  const gateway = createGateway({
    signer: gatewaySigner,
    registry,
    resolver,
    ackResolver: resolver,
    store: stores.gateway,
    journal: journals.gateway,
    now: wallNow,
    onForwardError: (e, to, msg) =>
      log.error(
        {
          to,
          transaction_id: msg.context.transaction_id,
          message_id: msg.context.message_id,
          error: (e as Error).message,
        },
        'gateway: forwarding the search failed',
      ),
  });
  useRawJsonBody(gateway.app);
  apps.push(gateway.app);
  // The BPP takes reports only from its own sites' agents, each under its own key.
  const agentTrust = staticKeyResolver(
    sites.map((s, i) => {
      const signer = agentSigners[i] as Signer;
      return {
        subscriberId: signer.subscriberId,
        uniqueKeyId: signer.uniqueKeyId,
        publicKeyBase64: signer.publicKeyBase64,
        url: s.url,
      };
    }),
  );
  const bppNode = createBpp({
    orchestrator: bpp,
    resolver,
    agentTrust,
    ackSigner: bppSigner,
    journal: journals.flex,
    metrics,
  });
  bppNode.register(bppApp);
  sites.forEach((s, i) => s.agent.register(agentApps[i] as FastifyInstance));
  const [gatewayUrl] = await Promise.all([
    listen(gateway.app),
    listen(bapApp, bapPort),
    listen(bppApp, bppPort),
    ...sites.map((_, i) => listen(agentApps[i] as FastifyInstance, agentPorts[i])),
  ]);

  for (const [signer, type, url] of [
    [bapSigner, 'BAP', bapUrl],
    [bppSigner, 'BPP', bppUrl],
    [gatewaySigner, 'BG', gatewayUrl],
  ] as const) {
    await new HttpRegistry({ url: registryUrl, now: wallNow }, signer).subscribe(
      subscription(signer, type, url, wallNow()),
    );
  }
  await bppNode.start();

  return {
    runDir,
    dayStart,
    clock,
    urls: { registry: registryUrl, gateway: gatewayUrl, bap: bapUrl, bpp: bppUrl, agent: first.url },
    bap,
    bpp,
    agent: first.agent,
    cluster: first.cluster,
    businessAsUsual: first.businessAsUsual,
    sites,
    signals,
    gridEvents,
    openadrTokenFile,
    stores,
    async stop() {
      bap.stop();
      await bppNode.stop();
      await Promise.allSettled(apps.map((a) => a.close()));
      await Promise.allSettled(Object.values(journals).map((j) => j.close()));
      await Promise.allSettled([...Object.values(stores), ...agentStores.slice(1)].map((s) => s.close()));
      await solver.close();
    },
  };
};
