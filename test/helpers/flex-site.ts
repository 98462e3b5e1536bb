// A Flexibility Orchestrator and one Compute-Flex agent beside a given scheduler, on loopback with
// real HTTP, real signatures and SQLite stores, in live mode (the wall clock is market time, as it
// must be beside a real scheduler), each built by its composer (src/compose/). Used by the end-to-end tests over real Slurm and the Kubernetes
// fake. Grid signals are flat (one price, one carbon intensity): these tests are about the
// scheduler side, and a flat price makes the planner's choices easy to predict.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComputeAgent } from '../../src/agents/compute/agent.ts';
import type { FlexOrchestrator } from '../../src/agents/flex/orchestrator.ts';
import { DEFAULT_PRICING } from '../../src/agents/flex/pricing.ts';
import { FileKeyStore } from '../../src/adapters/keystore-file/keystore.ts';
import { composeAgent, composeBpp, dispatchKeyId } from '../../src/compose/index.ts';
import type { Commitment } from '../../src/domain/commitments.ts';
import type { Order } from '../../src/domain/order.ts';
import type { SignalSeries } from '../../src/domain/signals.ts';
import { epochMs, slotStart, type EpochMs, type SlotGrid } from '../../src/domain/time.ts';
import { gbp, gbpPerMwh, gPerKwh, kw } from '../../src/domain/units.ts';
import { createLogger } from '../../src/log.ts';
import type { Meter, Scheduler, SignalSource, Store } from '../../src/ports.ts';
import { freePort } from './run-process.ts';

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

const noMeter = (site: string): Meter => ({ site, importKw: async (grid) => new Array<number>(grid.slots).fill(NaN) });

export const startFlexSite = async (o: FlexSiteOptions): Promise<FlexSite> => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-site-'));
  const wallNow = () => Date.now();
  const log = createLogger('silent');
  const keys = { dir: join(dir, 'keys'), generate: true };
  const ids = { bpp: 'dc.test.local', agent: `agent-${o.site}.test.local` };
  // Each side names the other's key file, so both keys exist before either role starts.
  for (const id of [...Object.values(ids), dispatchKeyId(ids.bpp)]) await new FileKeyStore(keys.dir, true).signer(id);
  // Each side must know the other's URL before its routes exist, so take free ports first.
  const [bppPort, agentPort] = [await freePort(), await freePort()];
  const at = (port: number) => ({ host: '127.0.0.1', port, publicUrl: `http://127.0.0.1:${port}` });
  const [bppUrl, agentUrl] = [at(bppPort).publicUrl, at(agentPort).publicUrl];
  const peer = (id: string, url: string) => ({ subscriberId: id, url, keyFile: join(keys.dir, `${id}.json`) });
  const bppRole = await composeBpp(
    {
      id: ids.bpp,
      name: 'test',
      listen: at(bppPort),
      store: { kind: 'sqlite', file: join(dir, 'flex.db') },
      logLevel: 'silent',
      keys,
      // Nobody subscribes: these tests speak to the BPP through its agent link only.
      registry: { url: 'http://127.0.0.1:9', subscribe: false },
      clock: { kind: 'system' },
      signals: { kind: 'shipped' },
      planner: { kind: 'greedy', timeLimitSeconds: 5 },
      sites: [{ id: o.site, region: 'GB', agentUrl, agent: peer(ids.agent, agentUrl) }],
      slotMinutes: 30,
      horizonSlots: 48,
      pricing: DEFAULT_PRICING,
      quoteTtlSeconds: 300,
      supportEmail: `flexibility-desk@${ids.bpp}`,
      baseline: 'fifo',
      outboxEveryMs: 1000,
    },
    { signals: flatSignals, log, now: wallNow },
  );
  const agentRole = await composeAgent(
    {
      id: ids.agent,
      listen: at(agentPort),
      store: { kind: 'sqlite', file: join(dir, 'agent.db') },
      logLevel: 'silent',
      keys,
      clock: { kind: 'system' },
      slotMinutes: 30,
      horizonSlots: 48,
      site: { id: o.site, region: 'GB', gridImportLimitKw: o.itPowerLimitKw, pue: 1 },
      orchestrator: peer(dispatchKeyId(ids.bpp), bppUrl),
      scheduler: { kind: 'given' },
      pollSeconds: 30,
    },
    {
      log,
      now: wallNow,
      drive: 'external',
      ...(o.holdNewJobs ? { holdNewJobs: true } : {}),
      scheduler: {
        scheduler: o.scheduler,
        meter: noMeter(o.site),
        baseLoad: (g) => new Array<number>(g.slots).fill(o.baseLoadKw),
        itPowerLimitKw: o.itPowerLimitKw,
        pue: 1,
      },
    },
  );
  const bpp = bppRole.orchestrator;
  const agent = agentRole.agent;
  const flexStore = bppRole.store;
  const agentStore = agentRole.store;
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
      await Promise.allSettled([agentRole.stop(), bppRole.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
