// `flexlon run agent`: a Compute-Flex agent beside one site's scheduler, as its own process. It
// reports to the Flexibility Orchestrator at start and at every slot boundary (market time) and
// carries out the dispatch it gets back; it answers the orchestrator's meter and baseline reads, and
// GET /health (with when the orchestrator last took a report).
//
// Config: {"id", "listen", "publicUrl"?, "store", "keys", "clock"?, "slotMinutes"?, "horizonSlots"?,
//   "site": {"id", "region"?, "gridImportLimitKw", "pue"?},
//   "orchestrator": {"url", "id", "keyFile" | ("keyId" + "publicKey")},
//   "scheduler": {"kind": "sim", "seed"?, "jobs"?, "trainingNodes"?} | {"kind": "slurm", <SlurmConfig without site>},
//   "pollSeconds"?, "logLevel"?}
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { ComputeAgent } from '../agents/compute/agent.ts';
import { SimCluster } from '../adapters/scheduler-sim/cluster.ts';
import { SlurmScheduler } from '../adapters/scheduler-slurm/scheduler.ts';
import type { SlurmConfig } from '../adapters/scheduler-slurm/config.ts';
import { useRawJsonBody } from '../beckn/raw-body.ts';
import { epochMs, MINUTE_MS, type EpochMs, type SlotGrid } from '../domain/time.ts';
import { asFlexError } from '../errors.ts';
import type { Clock, Meter, Scheduler } from '../ports.ts';
import { generateDay } from '../sim/workload.ts';
import type { ConfigReader } from './config-reader.ts';
import {
  listenOn,
  peerKeyResolver,
  readPeerKey,
  readClock,
  readKeys,
  readListen,
  readLogger,
  readStore,
  type RunningRole,
} from './common.ts';

/** First-report retries back off from 2 s, doubling, to at most a minute (a lasting fault, e.g. a wrong key, is not hammered). */
const FIRST_REPORT_RETRY_MS = 2000;
const FIRST_REPORT_RETRY_MAX_MS = 60_000;

interface Site {
  readonly id: string;
  readonly region: string;
  readonly gridImportLimitKw: number;
  readonly pue: number;
}

interface SchedulerParts {
  readonly scheduler: Scheduler;
  readonly meter: Meter;
  readonly baseLoad: (g: SlotGrid) => number[];
  readonly baseline?: (g: SlotGrid) => Promise<number[]>;
  readonly advance?: (t: EpochMs) => void;
  readonly itPowerLimitKw: number;
  readonly pue: number;
}

/** The simulated site: the day's generated queue, held on arrival, with its FIFO twin as the settlement baseline. */
const simScheduler = (s: ConfigReader, site: Site, market: Clock): SchedulerParts => {
  const seed = s.number('seed', 7, 0, 2 ** 31 - 1, true);
  const jobs = s.number('jobs', 36, 1, 2000, true);
  const trainingNodes = s.number('trainingNodes', 32, 1, 10_000, true);
  s.done();
  const dayStart = epochMs(Math.floor(market.now() / 86_400_000) * 86_400_000);
  const day = generateDay({ seed, site: site.id, dayStart, jobs, gpuMix: 'training' });
  const cfg = {
    site: site.id,
    region: site.region,
    gridImportLimitKw: site.gridImportLimitKw,
    trainingNodes,
    pue: site.pue,
  } as const;
  const cluster = new SimCluster({ ...cfg, admission: 'held' }, dayStart, day.inferenceKw);
  cluster.submit(day.jobs);
  const twin = new SimCluster({ ...cfg, admission: 'immediate' }, dayStart, day.inferenceKw);
  twin.submit(day.jobs);
  return {
    scheduler: cluster,
    meter: cluster,
    baseLoad: (g) => cluster.baseLoadKw(g),
    advance: (t) => cluster.advanceTo(t),
    itPowerLimitKw: cluster.itPowerLimitKw,
    pue: cluster.pue,
    baseline: async (g) => {
      const end = epochMs(g.start + g.slots * g.slotMinutes * MINUTE_MS);
      if (twin.now < end) twin.advanceTo(end);
      return twin.importKw(g);
    },
  };
};

/**
 * Beside real Slurm (the fields are SlurmConfig's, checked by the adapter): no meter or baseline
 * source is configured here yet, so readings are NaN and offers need another baseline source.
 */
const slurmScheduler = (s: ConfigReader, site: Site): SchedulerParts => {
  const rest: Record<string, unknown> = { ...s.value };
  delete rest.kind;
  const scheduler = new SlurmScheduler({ ...(rest as unknown as Omit<SlurmConfig, 'site'>), site: site.id });
  return {
    scheduler,
    meter: { site: site.id, importKw: async (g) => new Array<number>(g.slots).fill(NaN) },
    baseLoad: (g) => new Array<number>(g.slots).fill(0),
    itPowerLimitKw: site.gridImportLimitKw / site.pue,
    pue: site.pue,
  };
};

export const startAgent = async (c: ConfigReader): Promise<RunningRole> => {
  const id = c.string('id');
  const listen = readListen(c);
  const openStore = readStore(c, `compute-agent`);
  const keys = readKeys(c);
  const market = readClock(c);
  const slotMinutes = c.number('slotMinutes', 30, 5, 60, true);
  const horizonSlots = c.number('horizonSlots', 96, 2, 2000, true);
  const log = readLogger(c, { agent: 'compute', id });
  const s = c.object('site');
  const site: Site = {
    id: s.string('id'),
    region: s.string('region', 'GB'),
    gridImportLimitKw: s.number('gridImportLimitKw', undefined, 1, 1e7),
    pue: s.number('pue', 1.3, 1, 3),
  };
  s.done();
  const o = c.object('orchestrator');
  const orchestratorUrl = o.url('url');
  const trust = readPeerKey(o, o.string('id'), orchestratorUrl, '');
  o.done();
  const sch = c.object('scheduler');
  const kind = sch.oneOf('kind', ['sim', 'slurm'] as const);
  const parts = kind === 'sim' ? simScheduler(sch, site, market) : slurmScheduler(sch, site);
  const pollSeconds = c.number('pollSeconds', 30, 1, 3600);
  c.optionalString('role');
  c.done();

  const signer = await keys.signer(id);
  const store = await openStore();
  const wallNow = () => Date.now();
  const agent = new ComputeAgent({
    id,
    site: {
      id: site.id,
      region: site.region,
      pue: parts.pue,
      itPowerLimitKw: parts.itPowerLimitKw,
      gridImportLimitKw: site.gridImportLimitKw,
    },
    scheduler: parts.scheduler,
    meter: parts.meter,
    baseLoad: parts.baseLoad,
    ...(parts.baseline ? { baseline: parts.baseline } : {}),
    ...(parts.advance ? { advance: parts.advance } : {}),
    signer,
    orchestratorUrl,
    orchestratorId: trust.subscriberId,
    resolver: peerKeyResolver([trust]),
    store,
    market,
    wallNow,
    slotMinutes,
    horizonSlots,
    log,
    ...(kind === 'slurm' ? { holdNewJobs: true } : {}),
  });
  // What GET /health shows: when the orchestrator last took a report (market and wall time), and why the last one failed.
  const reports = {
    ok: 0,
    lastMarketTime: undefined as string | undefined,
    lastAt: undefined as string | undefined,
    lastError: undefined as string | undefined,
  };
  const reported = (t: EpochMs) => {
    reports.ok++;
    reports.lastMarketTime = new Date(t).toISOString();
    reports.lastAt = new Date(wallNow()).toISOString();
    reports.lastError = undefined;
  };
  const app = Fastify({ logger: false });
  useRawJsonBody(app);
  agent.register(app);
  app.get('/health', async () => ({
    ok: true,
    role: 'agent',
    id,
    site: site.id,
    scheduler: kind,
    orchestrator: orchestratorUrl,
    store: store.location,
    reports,
  }));
  await listenOn(app, listen);
  const stop = new AbortController();
  // Report now (so the orchestrator can plan), retried every few seconds until the orchestrator
  // answers, so the agent and the orchestrator may start in either order; then at every slot boundary.
  const loop = (async () => {
    for (let wait = FIRST_REPORT_RETRY_MS; ; wait = Math.min(wait * 2, FIRST_REPORT_RETRY_MAX_MS)) {
      const t = market.now();
      try {
        await agent.tick(t);
        reported(t);
        break;
      } catch (e) {
        reports.lastError = asFlexError(e).message;
        log.warn({ error: reports.lastError }, `first report failed; retrying in ${wait / 1000} s`);
      }
      try {
        await sleep(wait, undefined, { signal: stop.signal });
      } catch {
        return;
      }
    }
    for (;;) {
      try {
        await agent.run(epochMs(8.64e15), stop.signal, reported);
      } catch (e) {
        if ((e as Error).name === 'AbortError' || stop.signal.aborted) return;
        reports.lastError = asFlexError(e).message;
        log.error({ error: reports.lastError }, 'report failed; carrying on at the next slot');
      }
    }
  })();
  const watch = kind === 'slurm' ? agent.watch(pollSeconds * 1000, stop.signal) : Promise.resolve();
  log.info({ url: listen.publicUrl, site: site.id, scheduler: kind }, 'agent ready');
  return {
    url: listen.publicUrl,
    description: `compute-flex agent ${id} for site ${site.id} (${kind}) on ${listen.publicUrl}`,
    async stop() {
      stop.abort();
      await Promise.allSettled([loop, watch]);
      await app.close();
      await store.close();
    },
  };
};
