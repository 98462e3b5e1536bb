// A Flexibility Orchestrator and one Compute-Flex agent beside a given scheduler, on loopback with
// real HTTP, real signatures and SQLite stores, in live mode (the wall clock is market time, as it
// must be beside a real scheduler). Used by the end-to-end tests over real Slurm and the Kubernetes
// fake. Grid signals are flat (one price, one carbon intensity): these tests are about the
// scheduler side, and a flat price makes the planner's choices easy to predict.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { ComputeAgent } from '../../src/agents/compute/agent.ts';
import { FlexOrchestrator, type Commitment } from '../../src/agents/flex/orchestrator.ts';
import { DEFAULT_PRICING } from '../../src/agents/flex/pricing.ts';
import type { DispatchInstruction } from '../../src/agents/flex/problem.ts';
import { signedRoute } from '../../src/agents/link.ts';
import { SystemClock } from '../../src/adapters/clock/clocks.ts';
import { FileKeyStore } from '../../src/adapters/keystore-file/keystore.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { BecknClient } from '../../src/beckn/client.ts';
import { staticKeyResolver } from '../../src/beckn/key-resolver.ts';
import { useRawJsonBody } from '../../src/beckn/raw-body.ts';
import { greedySolver } from '../../src/compose/index.ts';
import type { FlexibilityReport } from '../../src/domain/compute.ts';
import type { Order } from '../../src/domain/order.ts';
import type { SignalSeries } from '../../src/domain/signals.ts';
import { epochMs, slotStart, type EpochMs, type SlotGrid } from '../../src/domain/time.ts';
import { gbp, gbpPerMwh, gPerKwh, kw } from '../../src/domain/units.ts';
import { createLogger } from '../../src/log.ts';
import type { Meter, Scheduler, SignalSource, Store } from '../../src/ports.ts';

/** Flat signals: 100 £/MWh and 200 gCO2/kWh in every slot (forecast and outturn alike). */
export const flatSignals: SignalSource = {
  forecast: async (_region: string, grid: SlotGrid): Promise<SignalSeries> => flat(grid),
  outturn: async (_region: string, grid: SlotGrid): Promise<SignalSeries> => flat(grid),
};
const flat = (grid: SlotGrid): SignalSeries => ({
  region: 'GB',
  issuedAt: grid.start,
  slotMinutes: grid.slotMinutes,
  points: Array.from({ length: grid.slots }, (_, i) => ({
    start: slotStart(grid, i),
    carbonForecast: gPerKwh(200),
    carbonActual: gPerKwh(200),
    price: gbpPerMwh(100),
  })),
});

export interface FlexSiteOptions {
  readonly site: string;
  readonly scheduler: Scheduler;
  /** Inflexible IT load (kW), the same in every slot. */
  readonly baseLoadKw: number;
  readonly itPowerLimitKw: number;
  readonly holdNewJobs?: boolean;
}

export interface FlexSite {
  readonly bpp: FlexOrchestrator;
  readonly agent: ComputeAgent;
  readonly flexStore: Store;
  readonly agentStore: Store;
  /** Stores a confirmed order whose commitment caps the site's import in [from, from + slots × 30 min). */
  commit(orderId: string, from: EpochMs, slots: number, maxImportKw: number): Promise<void>;
  cancelOrder(orderId: string): Promise<void>;
  stop(): Promise<void>;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr !== null && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });

const noMeter = (site: string): Meter => ({ site, importKw: async (grid) => new Array<number>(grid.slots).fill(NaN) });

export const startFlexSite = async (o: FlexSiteOptions): Promise<FlexSite> => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-site-'));
  const wallNow = () => Date.now();
  const clock = new SystemClock();
  const log = createLogger('silent');
  const keys = new FileKeyStore(join(dir, 'keys'), true);
  const [bppSigner, agentSigner] = [
    await keys.signer('dc.test.local'),
    await keys.signer(`agent-${o.site}.test.local`),
  ];
  const flexStore = await openSqliteStore(join(dir, 'flex.db'));
  const agentStore = await openSqliteStore(join(dir, 'agent.db'));
  const apps: FastifyInstance[] = [];
  const app = () => {
    const a = Fastify({ logger: false });
    useRawJsonBody(a);
    apps.push(a);
    return a;
  };
  const bppApp = app();
  const agentApp = app();
  // Each side must know the other's URL before its routes exist, so take free ports first.
  const [bppPort, agentPort] = [await freePort(), await freePort()];
  const [bppUrl, agentUrl] = [`http://127.0.0.1:${bppPort}`, `http://127.0.0.1:${agentPort}`];
  const bpp = new FlexOrchestrator({
    id: 'dc.test.local',
    uri: bppUrl,
    name: 'test',
    store: flexStore,
    signer: bppSigner,
    market: clock,
    wallNow,
    client: new BecknClient({ signer: bppSigner, store: flexStore, now: wallNow }),
    signals: flatSignals,
    solver: greedySolver,
    sites: [{ id: o.site, region: 'GB', agentUrl }],
    horizonSlots: 48,
    slotMinutes: 30,
    pricing: DEFAULT_PRICING,
    quoteTtlSeconds: 300,
    log,
  });
  const agent = new ComputeAgent({
    id: `agent-${o.site}.test.local`,
    site: { id: o.site, region: 'GB', pue: 1, itPowerLimitKw: o.itPowerLimitKw, gridImportLimitKw: o.itPowerLimitKw },
    scheduler: o.scheduler,
    meter: noMeter(o.site),
    baseLoad: (g) => new Array<number>(g.slots).fill(o.baseLoadKw),
    signer: agentSigner,
    orchestratorUrl: bppUrl,
    orchestratorId: 'dc.test.local',
    resolver: staticKeyResolver([
      {
        subscriberId: 'dc.test.local',
        uniqueKeyId: bppSigner.uniqueKeyId,
        publicKeyBase64: bppSigner.publicKeyBase64,
        url: bppUrl,
      },
    ]),
    store: agentStore,
    market: clock,
    wallNow,
    slotMinutes: 30,
    horizonSlots: 48,
    log,
    ...(o.holdNewJobs ? { holdNewJobs: true } : {}),
  });
  const agentTrust = staticKeyResolver([
    {
      subscriberId: agentSigner.subscriberId,
      uniqueKeyId: agentSigner.uniqueKeyId,
      publicKeyBase64: agentSigner.publicKeyBase64,
      url: agentUrl,
    },
  ]);
  signedRoute(
    bppApp,
    '/internal/agent/report',
    { resolver: agentTrust, now: wallNow, store: flexStore, actor: 'dc.test.local' },
    async (body): Promise<{ dispatch: DispatchInstruction[] }> => bpp.onAgentReport(body as FlexibilityReport),
  );
  agent.register(agentApp);
  await Promise.all([
    bppApp.listen({ host: '127.0.0.1', port: bppPort }),
    agentApp.listen({ host: '127.0.0.1', port: agentPort }),
  ]);
  const orders = new Map<string, Order>();
  return {
    bpp,
    agent,
    flexStore,
    agentStore,
    async commit(orderId, from, slots, maxImportKw) {
      const order: Order = {
        id: orderId,
        transactionId: `tx-${orderId}`,
        bapId: 'grid.test.local',
        bapUri: 'http://127.0.0.1:1',
        offerId: 'offer-1',
        site: o.site,
        windowStart: from,
        windowEnd: epochMs(from + slots * 1_800_000),
        reductionKw: kw(1),
        priceGbp: gbp(1),
        state: 'confirmed',
        updatedAt: epochMs(wallNow()),
      };
      orders.set(orderId, order);
      const commitment: Commitment = {
        orderId,
        site: o.site,
        windowStart: from,
        windowEnd: order.windowEnd,
        slotMinutes: 30,
        maxImportKw: new Array<number>(slots).fill(maxImportKw),
      };
      await flexStore.transaction(async (tx) => {
        await tx.saveOrder(order);
        await tx.saveCommitment(commitment);
      });
    },
    async cancelOrder(orderId) {
      const order = orders.get(orderId);
      if (order) await flexStore.saveOrder({ ...order, state: 'cancelled', updatedAt: epochMs(wallNow()) });
    },
    async stop() {
      await Promise.allSettled(apps.map((a) => a.close()));
      await Promise.allSettled([flexStore.close(), agentStore.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
