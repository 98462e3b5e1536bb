// A Flexibility Orchestrator and one Compute-Flex agent beside each given scheduler, on loopback with
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
import { SimCluster } from '../../src/adapters/scheduler-sim/cluster.ts';
import { composeAgent, composeBpp, dispatchKeyId } from '../../src/compose/index.ts';
import type { Commitment } from '../../src/domain/commitments.ts';
import type { ComputeJob, MoveCost } from '../../src/domain/compute.ts';
import type { Order } from '../../src/domain/order.ts';
import type { SignalSeries } from '../../src/domain/signals.ts';
import { epochMs, slotStart, type EpochMs, type SlotGrid } from '../../src/domain/time.ts';
import { gbp, gbpPerMwh, gPerKwh, kw, kwh } from '../../src/domain/units.ts';
import { FlexError } from '../../src/errors.ts';
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
  /** A settlement baseline (kW, the same in every slot), so offers can be priced there; none by default. */
  readonly baselineKw?: number;
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

/** Several sites behind one Flexibility Orchestrator, each with its own agent beside its scheduler. */
export interface FlexSites {
  readonly bpp: FlexOrchestrator;
  readonly flexStore: Store;
  readonly agents: ReadonlyMap<string, { readonly agent: ComputeAgent; readonly store: Store }>;
  /** As FlexSite.commit, at the site named. */
  commit(orderId: string, site: string, from: EpochMs, slots: number, maxImportKw: number): Promise<void>;
  cancelOrder(orderId: string): Promise<void>;
  stop(): Promise<void>;
}

const noMeter = (site: string): Meter => ({ site, importKw: async (grid) => new Array<number>(grid.slots).fill(NaN) });

export const startFlexSite = async (o: FlexSiteOptions): Promise<FlexSite> => {
  const all = await startFlexSites([o]);
  const own = all.agents.get(o.site)!;
  return {
    bpp: all.bpp,
    agent: own.agent,
    flexStore: all.flexStore,
    agentStore: own.store,
    commit: (orderId, from, slots, maxImportKw) => all.commit(orderId, o.site, from, slots, maxImportKw),
    cancelOrder: (orderId) => all.cancelOrder(orderId),
    stop: () => all.stop(),
  };
};

/** The sites' agents and one BPP planning them all; `moveCost` is the BPP's (docs/cost-model.md, "Site moves"). */
export const startFlexSites = async (
  sites: readonly FlexSiteOptions[],
  o: { readonly moveCost?: MoveCost } = {},
): Promise<FlexSites> => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-site-'));
  const wallNow = () => Date.now();
  // TEST_LOG=warn (or info, debug) shows the roles' logs when a test needs looking into.
  const level = (process.env.TEST_LOG ?? 'silent') as 'silent';
  const log = createLogger(level);
  const keys = { dir: join(dir, 'keys'), generate: true };
  const bppId = 'dc.test.local';
  const agentId = (site: string) => `agent-${site}.test.local`;
  // Each side names the other's key file, so both keys exist before either role starts.
  for (const id of [bppId, ...sites.map((x) => agentId(x.site)), dispatchKeyId(bppId)])
    await new FileKeyStore(keys.dir, true).signer(id);
  // Each side must know the other's URL before its routes exist, so ports are taken free first and
  // bound later; another test process may bind one in between (listen: the port is in use), so a
  // start that loses that race is made again on new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePorts(sites, o, { dir, level, log, keys, bppId, agentId, wallNow });
    } catch (e) {
      if (!(e instanceof FlexError && e.path === 'listen' && /in use/.test(e.message)) || attempt >= 5) throw e;
    }
  }
};

/** What startFlexSites made once, for each try at starting the roles on free ports. */
interface StartContext {
  readonly dir: string;
  readonly level: 'silent';
  readonly log: ReturnType<typeof createLogger>;
  readonly keys: { dir: string; generate: boolean };
  readonly bppId: string;
  readonly agentId: (site: string) => string;
  readonly wallNow: () => number;
}

const startOnFreePorts = async (
  sites: readonly FlexSiteOptions[],
  o: { readonly moveCost?: MoveCost },
  { dir, level, log, keys, bppId, agentId, wallNow }: StartContext,
): Promise<FlexSites> => {
  const bppPort = await freePort();
  const agentPorts: number[] = [];
  for (let i = 0; i < sites.length; i++) agentPorts.push(await freePort());
  const at = (port: number) => ({ host: '127.0.0.1', port, publicUrl: `http://127.0.0.1:${port}` });
  const bppUrl = at(bppPort).publicUrl;
  const peer = (id: string, url: string) => ({ subscriberId: id, url, keyFile: join(keys.dir, `${id}.json`) });
  const bppRole = await composeBpp(
    {
      id: bppId,
      name: 'test',
      listen: at(bppPort),
      store: { kind: 'sqlite', file: join(dir, 'flex.db') },
      logLevel: level,
      keys,
      // Nobody subscribes: these tests speak to the BPP through its agent link only.
      registry: { url: 'http://127.0.0.1:9', subscribe: false },
      clock: { kind: 'system' },
      signals: { kind: 'shipped' },
      planner: { kind: 'greedy', timeLimitSeconds: 5 },
      sites: sites.map((x, i) => {
        const url = at(agentPorts[i]!).publicUrl;
        return { id: x.site, region: 'GB', agentUrl: url, agent: peer(agentId(x.site), url) };
      }),
      slotMinutes: 30,
      horizonSlots: 48,
      pricing: DEFAULT_PRICING,
      quoteTtlSeconds: 300,
      supportEmail: `flexibility-desk@${bppId}`,
      baseline: 'fifo',
      outboxEveryMs: 1000,
      ...(o.moveCost ? { moveCost: o.moveCost } : {}),
    },
    { signals: flatSignals, log, now: wallNow },
  );
  const agentRoles: Awaited<ReturnType<typeof composeAgent>>[] = [];
  const agents = new Map<string, { agent: ComputeAgent; store: Store }>();
  try {
    for (const [i, x] of sites.entries()) {
      const role = await composeAgent(
        {
          id: agentId(x.site),
          listen: at(agentPorts[i]!),
          store: { kind: 'sqlite', file: join(dir, `agent-${x.site}.db`) },
          logLevel: level,
          keys,
          clock: { kind: 'system' },
          slotMinutes: 30,
          horizonSlots: 48,
          site: { id: x.site, region: 'GB', gridImportLimitKw: x.itPowerLimitKw, pue: 1 },
          orchestrator: peer(dispatchKeyId(bppId), bppUrl),
          scheduler: { kind: 'given' },
          pollSeconds: 30,
        },
        {
          log,
          now: wallNow,
          drive: 'external',
          ...(x.holdNewJobs ? { holdNewJobs: true } : {}),
          scheduler: {
            scheduler: x.scheduler,
            meter: noMeter(x.site),
            baseLoad: (g) => new Array<number>(g.slots).fill(x.baseLoadKw),
            ...(x.baselineKw === undefined
              ? {}
              : { baseline: async (g: SlotGrid) => new Array<number>(g.slots).fill(x.baselineKw as number) }),
            itPowerLimitKw: x.itPowerLimitKw,
            pue: 1,
          },
        },
      );
      agentRoles.push(role);
      agents.set(x.site, { agent: role.agent, store: role.store });
    }
  } catch (e) {
    // What started before the failure is stopped, so a retry (below) finds its ports and files free.
    await Promise.allSettled([...agentRoles.map((r) => r.stop()), bppRole.stop()]);
    throw e;
  }
  const flexStore = bppRole.store;
  const orders = new Map<string, Order>();
  return {
    bpp: bppRole.orchestrator,
    flexStore,
    agents,
    async commit(orderId, site, from, slots, maxImportKw) {
      const order: Order = {
        id: orderId,
        transactionId: `tx-${orderId}`,
        bapId: 'grid.test.local',
        bapUri: 'http://127.0.0.1:1',
        offerId: 'offer-1',
        site,
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
        site,
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
      await Promise.allSettled([...agentRoles.map((r) => r.stop()), bppRole.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/**
 * A queued 8-GPU job at one site of a DGX-like 6.5 kW, submitted two minutes before `now`: `hours` of
 * work, due `deadlineHours` after `now`.
 */
export const queuedGpuJob = (id: string, site: string, now: number, hours = 1, deadlineHours = 12): ComputeJob => ({
  id,
  name: id,
  site,
  slo: 'deferrable',
  gpus: 8,
  powerKw: kw(6.5),
  energyKwh: kwh(6.5 * hours),
  remainingKwh: kwh(6.5 * hours),
  submittedAt: epochMs(now - 120_000),
  releaseAt: epochMs(now - 120_000),
  deadlineAt: epochMs(now + deadlineHours * 3_600_000),
  preemptible: false,
  allowedSites: [site],
  work: 8 * hours,
  workUnit: 'gpu-hours',
  state: 'queued',
});

/**
 * Sites `a` and `b`, each a simulated 4-node cluster holding the jobs `jobsOf` gives it, behind one
 * BPP on loopback: what the offer-pricing tests share (every job held on sight, 2 kW of base load,
 * a 20 kW baseline). `itPowerLimitKw` is each site's IT limit.
 */
export const startTwoQueuedSites = (
  now: number,
  jobsOf: (site: string) => ComputeJob[],
  itPowerLimitKw: number,
): Promise<FlexSites> =>
  startFlexSites(
    ['a', 'b'].map((site) => {
      const scheduler = new SimCluster(
        { site, region: 'GB', gridImportLimitKw: 100, trainingNodes: 4, inferenceNodes: 0 },
        epochMs(now - 120_000),
      );
      scheduler.submit(jobsOf(site));
      return { site, scheduler, baseLoadKw: 2, itPowerLimitKw, holdNewJobs: true, baselineKw: 20 };
    }),
  );
