// The composition root: the only place that picks adapters and wires the agents together. It starts
// a whole flexibility market on loopback: a Beckn registry, the Grid Orchestrator (BAP), the
// Flexibility Orchestrator (BPP) and a Compute-Flex agent over the simulated cluster.
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { ComputeAgent } from './agents/compute/agent.ts';
import { flexHandlers } from './agents/flex/lifecycle.ts';
import { FlexOrchestrator } from './agents/flex/orchestrator.ts';
import { DEFAULT_PRICING } from './agents/flex/pricing.ts';
import type { DispatchInstruction } from './agents/flex/problem.ts';
import { DEFAULT_NEED_POLICY, GridOrchestrator } from './agents/grid/orchestrator.ts';
import { signedRoute } from './agents/link.ts';
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
import { CsvSignalSource } from './adapters/signals-csv/source.ts';
import { openSqliteStore } from './adapters/store-sqlite/index.ts';
import { openSqliteJournal, type SqliteJournal } from './adapters/store-sqlite/journal.ts';
import { becknValidator } from './beckn/validator.ts';
import type { FlexibilityReport } from './domain/compute.ts';
import { epochMs, type EpochMs } from './domain/time.ts';
import type { DemoConfig } from './config.ts';
import { FlexError } from './errors.ts';
import type { Logger } from './log.ts';
import { greedyPlan, GREEDY_PLANNER } from './optimise/greedy.ts';
import type { Signer, Solver, Store, Subscription } from './ports.ts';
import { generateDay } from './sim/workload.ts';

export const SLOT_MINUTES = 30;
export const HORIZON_SLOTS = 96;
const HOST = '127.0.0.1';
const IDS = { bap: 'grid.flexlon.local', bpp: 'dc.flexlon.local', agent: 'agent-lon.dc.flexlon.local', gateway: 'gateway.flexlon.local' } as const;

export interface Market {
  readonly runDir: string;
  readonly dayStart: EpochMs;
  readonly clock: ReplayClock;
  readonly urls: { readonly registry: string; readonly gateway: string; readonly bap: string; readonly bpp: string; readonly agent: string };
  readonly bap: GridOrchestrator;
  readonly bpp: FlexOrchestrator;
  readonly agent: ComputeAgent;
  readonly cluster: SimCluster;
  /** The same queue on its own scheduler with no FlexLon decisions, for comparison. */
  readonly businessAsUsual: SimCluster;
  readonly signals: CsvSignalSource;
  readonly stores: Readonly<Record<'registry' | 'gateway' | 'grid' | 'flex' | 'agent', Store>>;
  stop(): Promise<void>;
}

export const greedySolver: Solver = { name: GREEDY_PLANNER, plan: async (p) => greedyPlan(p) };

/** A port the OS says is free now. Agents must know each other's URLs before their routes exist. */
const freePort = (): Promise<number> => new Promise((resolve, reject) => {
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
  subscriber_id: signer.subscriberId, subscriber_url: url, type, domain: FLEXLON_DOMAIN, unique_key_id: signer.uniqueKeyId,
  signing_public_key: signer.publicKeyBase64, valid_from: new Date(now - 60_000).toISOString(), valid_until: new Date(now + 365 * 86_400_000).toISOString(), status: 'SUBSCRIBED',
});

export const composeMarket = async (c: DemoConfig, runId: string, log: Logger): Promise<Market> => {
  const runDir = join(c.dataDir, 'runs', runId);
  mkdirSync(runDir, { recursive: true });
  const wallNow = () => Date.now();
  const dayStart = epochMs(Date.parse(`${c.date}T00:00:00Z`));
  const signals = new CsvSignalSource(c.grid);
  const span = signals.span();
  if (dayStart < span.from || dayStart + 2 * 86_400_000 - SLOT_MINUTES * 60_000 > span.to) {
    throw new FlexError('FLX_CONFIG_INVALID', `--date: the shipped grid data covers ${new Date(span.from).toISOString().slice(0, 10)} to ${new Date(span.to).toISOString().slice(0, 10)}; the demo needs the day and the next one (pick --date up to ${new Date(span.to - 86_400_000).toISOString().slice(0, 10)})`, { path: '--date' });
  }
  const clock = new ReplayClock(dayStart, 86_400 / c.secondsPerDay);
  const keys = new FileKeyStore(join(c.dataDir, 'keys'), true);
  const [bapSigner, bppSigner, agentSigner, gatewaySigner] = await Promise.all([keys.signer(IDS.bap), keys.signer(IDS.bpp), keys.signer(IDS.agent), keys.signer(IDS.gateway)]);
  becknValidator(); // compile every message schema now, not on the first request
  const stores = {
    registry: await openSqliteStore(join(runDir, 'registry.db')), gateway: await openSqliteStore(join(runDir, 'gateway.db')), grid: await openSqliteStore(join(runDir, 'grid-orchestrator.db')),
    flex: await openSqliteStore(join(runDir, 'flex-orchestrator.db')), agent: await openSqliteStore(join(runDir, 'compute-agent-lon.db')),
  };
  // Group commit of inbound claims and audit rows (src/adapters/store-sqlite/journal.ts).
  const journals: Record<'gateway' | 'grid' | 'flex', SqliteJournal> = {
    gateway: await openSqliteJournal(stores.gateway.location), grid: await openSqliteJournal(stores.grid.location), flex: await openSqliteJournal(stores.flex.location),
  };
  const apps: FastifyInstance[] = [];
  const app = () => { const a = Fastify({ logger: false }); useRawJsonBody(a); apps.push(a); return a; };

  const registryService = await createRegistryService({ store: stores.registry, now: wallNow });
  apps.push(registryService.app);
  const registryUrl = await listen(registryService.app);
  const registry = new HttpRegistry({ url: registryUrl, now: wallNow, cacheTtlMs: 30_000 });
  const resolver = registryKeyResolver(registry);

  // The simulated site: a GPU training pool and an inference pool behind one grid connection.
  // 32 training nodes (256 GPUs) running a training-size job mix, 4 inference nodes.
  const day = generateDay({ seed: c.seed, site: 'lon', dayStart, jobs: c.jobs, gpuMix: 'training' });
  const site = { site: 'lon', region: 'GB', gridImportLimitKw: 400, trainingNodes: 32 } as const;
  const cluster = new SimCluster({ ...site, admission: 'held' }, dayStart, day.inferenceKw);
  cluster.submit(day.jobs);
  const businessAsUsual = new SimCluster({ ...site, admission: 'immediate' }, dayStart, day.inferenceKw);
  businessAsUsual.submit(day.jobs);

  const bapApp = app(); const bppApp = app(); const agentApp = app();
  const [bapPort, bppPort, agentPort] = [await freePort(), await freePort(), await freePort()];
  const [bapUrl, bppUrl, agentUrl] = [bapPort, bppPort, agentPort].map((p) => `http://${HOST}:${p}`) as [string, string, string];

  const bpp = new FlexOrchestrator({
    id: IDS.bpp, uri: bppUrl, name: 'FlexLon data centre (London)', store: stores.flex, signer: bppSigner, market: clock, wallNow,
    client: new BecknClient({ signer: bppSigner, store: stores.flex, now: wallNow, ackResolver: resolver }), signals, solver: greedySolver,
    sites: [{ id: 'lon', region: 'GB', agentUrl }], horizonSlots: HORIZON_SLOTS, slotMinutes: SLOT_MINUTES, pricing: DEFAULT_PRICING, quoteTtlSeconds: 300,
    support: { email: `flexibility-desk@${IDS.bpp}` }, log: log.child({ agent: 'flex' }),
  });
  const bap = new GridOrchestrator({
    id: IDS.bap, uri: bapUrl, store: stores.grid, client: new BecknClient({ signer: bapSigner, store: stores.grid, now: wallNow, ackResolver: resolver }), registry, market: clock, wallNow,
    signals, region: 'GB', policy: DEFAULT_NEED_POLICY, collectMs: 5000, callbackTimeoutMs: 10_000, log: log.child({ agent: 'grid' }),
  });
  const agent = new ComputeAgent({
    id: IDS.agent, site: { id: 'lon', region: 'GB', pue: cluster.pue, itPowerLimitKw: cluster.itPowerLimitKw, gridImportLimitKw: cluster.gridImportLimitKw },
    scheduler: cluster, meter: cluster, baseLoad: (g) => cluster.baseLoadKw(g), advance: (t) => cluster.advanceTo(t), signer: agentSigner,
    baseline: async (g) => {
      // The twin runs ahead to the end of the grid: it is the counterfactual, not a forecast.
      const end = epochMs(g.start + g.slots * g.slotMinutes * 60_000);
      if (businessAsUsual.now < end) businessAsUsual.advanceTo(end);
      return businessAsUsual.importKw(g);
    },
    orchestratorUrl: bppUrl, orchestratorId: IDS.bpp, resolver: staticKeyResolver([{ subscriberId: IDS.bpp, uniqueKeyId: bppSigner.uniqueKeyId, publicKeyBase64: bppSigner.publicKeyBase64, url: bppUrl }]),
    store: stores.agent, market: clock, wallNow, slotMinutes: SLOT_MINUTES, horizonSlots: HORIZON_SLOTS, log: log.child({ agent: 'compute' }),
  });

  const onBackgroundError = (e: unknown, inbound: { action: string; msg: { context: { transaction_id: string; message_id: string } } }) =>
    log.error({ action: inbound.action, transaction_id: inbound.msg.context.transaction_id, message_id: inbound.msg.context.message_id, error: (e as Error).message }, 'callback failed');
  registerReceiver(bppApp, { subscriberId: IDS.bpp, role: 'BPP', resolver, store: stores.flex, journal: journals.flex, ackSigner: bppSigner, now: wallNow, handlers: flexHandlers(bpp), onBackgroundError });
  registerReceiver(bapApp, { subscriberId: IDS.bap, role: 'BAP', resolver, store: stores.grid, journal: journals.grid, ackSigner: bapSigner, now: wallNow, handlers: bap.handlers(), onBackgroundError });
  const gateway = createGateway({
    signer: gatewaySigner, registry, resolver, ackResolver: resolver, store: stores.gateway, journal: journals.gateway, now: wallNow,
    onForwardError: (e, to, msg) => log.error({ to, transaction_id: msg.context.transaction_id, message_id: msg.context.message_id, error: (e as Error).message }, 'gateway: forwarding the search failed'),
  });
  useRawJsonBody(gateway.app);
  apps.push(gateway.app);
  const agentTrust = staticKeyResolver([{ subscriberId: IDS.agent, uniqueKeyId: agentSigner.uniqueKeyId, publicKeyBase64: agentSigner.publicKeyBase64, url: agentUrl }]);
  signedRoute(bppApp, '/internal/agent/report', { resolver: agentTrust, now: wallNow, store: stores.flex, actor: IDS.bpp }, async (body): Promise<{ dispatch: DispatchInstruction[] }> => bpp.onAgentReport(body as FlexibilityReport));
  agent.register(agentApp);
  const [gatewayUrl] = await Promise.all([listen(gateway.app), listen(bapApp, bapPort), listen(bppApp, bppPort), listen(agentApp, agentPort)]);

  for (const [signer, type, url] of [[bapSigner, 'BAP', bapUrl], [bppSigner, 'BPP', bppUrl], [gatewaySigner, 'BG', gatewayUrl]] as const) {
    await new HttpRegistry({ url: registryUrl, now: wallNow }, signer).subscribe(subscription(signer, type, url, wallNow()));
  }

  return {
    runDir, dayStart, clock, urls: { registry: registryUrl, gateway: gatewayUrl, bap: bapUrl, bpp: bppUrl, agent: agentUrl }, bap, bpp, agent, cluster, businessAsUsual, signals, stores,
    async stop() {
      bap.stop();
      await Promise.allSettled(apps.map((a) => a.close()));
      await Promise.allSettled(Object.values(journals).map((j) => j.close()));
      await Promise.allSettled(Object.values(stores).map((s) => s.close()));
    },
  };
};
