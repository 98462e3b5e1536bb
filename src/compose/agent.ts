// A Compute-Flex agent as a role, beside one site's scheduler: the simulated GPU site (with its FIFO
// twin, or BL01 over simulated history, as the settlement baseline) or real Slurm. It reports to the
// Flexibility Orchestrator at start and at every slot boundary (market time) and carries out the
// dispatch it gets back; it answers the orchestrator's meter and baseline reads, and GET /health.
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { ComputeAgent } from '../agents/compute/agent.ts';
import { GpuMeter } from '../adapters/meter-gpu/meter.ts';
import { dcgmSource, nvidiaSmiSource, type GpuPowerSource } from '../adapters/meter-gpu/sources.ts';
import { SimCluster } from '../adapters/scheduler-sim/cluster.ts';
import type { SlurmConfig } from '../adapters/scheduler-slurm/config.ts';
import { SlurmScheduler } from '../adapters/scheduler-slurm/scheduler.ts';
import { useRawJsonBody } from '../beckn/raw-body.ts';
import type { ComputeJob } from '../domain/compute.ts';
import { settlementDayStartOf } from '../domain/settlement-day.ts';
import { epochMs, MINUTE_MS, type EpochMs, type SlotGrid } from '../domain/time.ts';
import { asFlexError, FlexError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Clock, Meter, Scheduler, SiteBattery, Store } from '../ports.ts';
import { offeredLoad, profilePower, siteDay } from '../sim/site-profile.ts';
import { bl01For, bl01FromMeter, SIM_HISTORY_DAYS, simulatedHistory } from './baseline.ts';
import type { AgentConfig, MeterConfig, SchedulerConfig } from './config.ts';
import type { SharedParts } from './bpp.ts';
import {
  assertPortFree,
  listenOn,
  makeClock,
  makeKeys,
  makeLogger,
  openStore,
  keyFilesNotYetThere,
  notYetTrusted,
  peerKeyResolver,
  type RunningRole,
} from './parts.ts';

/** First-report retries back off from 2 s, doubling, to at most a minute (a lasting fault, e.g. a wrong key, is not hammered). */
const FIRST_REPORT_RETRY_MS = 2000;
const FIRST_REPORT_RETRY_MAX_MS = 60_000;

export interface SchedulerParts {
  readonly scheduler: Scheduler;
  readonly meter: Meter;
  readonly baseLoad: (g: SlotGrid) => number[];
  readonly baseline?: (g: SlotGrid) => Promise<number[]>;
  /** A simulated site's FIFO twin, where the settlement baseline is something else (BL01). */
  readonly counterfactual?: (g: SlotGrid) => Promise<number[]>;
  readonly advance?: (t: EpochMs) => void;
  readonly itPowerLimitKw: number;
  readonly pue: number;
  /** The site's battery behind the meter, where it has one. */
  readonly battery?: SiteBattery;
  /**
   * The simulated site and its business-as-usual twin, when the scheduler is simulated, with the
   * day's jobs and how much of the training pool's GPU-hours they ask for (src/sim/site-profile.ts).
   */
  readonly sim?: {
    readonly cluster: SimCluster;
    readonly twin: SimCluster;
    readonly jobs: readonly ComputeJob[];
    readonly offeredLoad: number;
  };
}

/** The simulated site: the day's generated queue (its profile's), held on arrival, with its FIFO twin. */
const simScheduler = async (
  s: Extract<SchedulerConfig, { kind: 'sim' }>,
  site: AgentConfig['site'],
  dayStart: EpochMs,
): Promise<SchedulerParts> => {
  const day = siteDay({
    profile: s.profile,
    seed: s.seed,
    site: site.id,
    dayStart,
    trainingNodes: s.trainingNodes,
    jobs: s.jobs,
  });
  const cfg = {
    site: site.id,
    region: site.region,
    gridImportLimitKw: site.gridImportLimitKw,
    trainingNodes: s.trainingNodes,
    pue: site.pue,
    // The cluster's nodes are the ones the jobs' powerKw was drawn for (src/sim/power.ts).
    power: profilePower(s.profile),
  } as const;
  const cluster = new SimCluster(
    { ...cfg, admission: 'held', ...(s.battery ? { battery: s.battery } : {}) },
    dayStart,
    day.inferenceKw,
  );
  cluster.submit(day.jobs);
  const twin = new SimCluster({ ...cfg, admission: 'immediate' }, dayStart, day.inferenceKw);
  twin.submit(day.jobs);
  const history =
    s.baseline === 'bl01'
      ? await simulatedHistory({
          site: site.id,
          profile: s.profile,
          seed: s.seed,
          jobs: s.jobs,
          trainingNodes: s.trainingNodes,
          gridImportLimitKw: site.gridImportLimitKw,
          dayStart,
          days: SIM_HISTORY_DAYS,
        })
      : undefined;
  const fifoTwin = async (g: SlotGrid): Promise<number[]> => {
    // The twin runs ahead to the end of the grid: it is the counterfactual, not a forecast.
    const end = epochMs(g.start + g.slots * g.slotMinutes * MINUTE_MS);
    if (twin.now < end) twin.advanceTo(end);
    return twin.importKw(g);
  };
  return {
    scheduler: cluster,
    meter: cluster,
    baseLoad: (g) => cluster.baseLoadKw(g),
    advance: (t) => cluster.advanceTo(t),
    itPowerLimitKw: cluster.itPowerLimitKw,
    pue: cluster.pue,
    ...(cluster.battery ? { battery: cluster.battery } : {}),
    sim: { cluster, twin, jobs: day.jobs, offeredLoad: offeredLoad(day.jobs, cluster.totalGpus, dayStart) },
    baseline: history ? async (g) => bl01For(history, g) : fifoTwin,
    // The FIFO carbon cap reads the twin whatever the settlement baseline is.
    ...(history ? { counterfactual: fifoTwin } : {}),
  };
};

/**
 * Beside real Slurm (the fields are SlurmConfig's, checked by the adapter). Its meter is the agent
 * config's `meter` (gpuMeter below), and its settlement baseline BL01 over that meter's history;
 * without a meter, readings are NaN and there is no baseline, so the site makes no offers.
 */
const slurmScheduler = (s: Record<string, unknown>, site: AgentConfig['site']): SchedulerParts => {
  const scheduler = new SlurmScheduler({ ...(s as unknown as Omit<SlurmConfig, 'site'>), site: site.id });
  return {
    scheduler,
    meter: { site: site.id, importKw: async (g) => new Array<number>(g.slots).fill(NaN) },
    baseLoad: (g) => new Array<number>(g.slots).fill(0),
    itPowerLimitKw: site.gridImportLimitKw / site.pue,
    pue: site.pue,
  };
};

/** The GPU meter of a real site (docs/meters.md), saving its settlement periods in the agent's store. */
const gpuMeter = (m: MeterConfig, c: AgentConfig, store: Store, log: Logger, now: () => number): GpuMeter => {
  const timeoutMs = m.timeoutSeconds * 1000;
  let source: GpuPowerSource;
  switch (m.kind) {
    case 'nvidia-smi':
      source = nvidiaSmiSource({ command: m.command, timeoutMs });
      break;
    case 'dcgm':
      source = dcgmSource({ url: m.url, timeoutMs, hostLabel: m.hostLabel });
      break;
    default: {
      const never: never = m;
      return never;
    }
  }
  return new GpuMeter({
    site: c.site.id,
    nodes: m.nodes,
    source,
    intervalMs: m.intervalSeconds * 1000,
    periodMinutes: c.slotMinutes,
    nonGpuKwPerNode: m.nonGpuKwPerNode,
    pue: m.pue ?? c.site.pue,
    store,
    now,
    log: log.child({ meter: m.kind }),
  });
};

const schedulerOf = async (c: AgentConfig, parts: AgentParts, dayStart: EpochMs): Promise<SchedulerParts> => {
  switch (c.scheduler.kind) {
    case 'sim':
      return simScheduler(c.scheduler, c.site, dayStart);
    case 'slurm':
      return slurmScheduler(c.scheduler.slurm, c.site);
    case 'given':
      if (!parts.scheduler)
        throw new FlexError('FLX_CONFIG_INVALID', 'scheduler: "given" needs the scheduler handed over', {
          path: 'scheduler',
        });
      return parts.scheduler;
    default: {
      const never: never = c.scheduler;
      return never;
    }
  }
};

export interface ComposedAgent extends RunningRole {
  readonly agent: ComputeAgent;
  readonly store: Store;
  readonly sim?: SchedulerParts['sim'];
  /** The site's GPU meter, when the config names one (`meter`). */
  readonly gpuMeter?: GpuMeter;
}

export interface AgentParts extends SharedParts {
  /**
   * Who drives the reports: the agent itself (at start, then at every slot boundary; `flexlon run
   * agent`), or the composition (the demo, which orders every site's report within a slot).
   */
  readonly drive?: 'self' | 'external';
  /** Hold new jobs on sight (a scheduler that does not hold them itself; always so for Slurm). */
  readonly holdNewJobs?: boolean;
  /** The site's scheduler, meter and loads, when the config's scheduler is `given`. */
  readonly scheduler?: Omit<SchedulerParts, 'sim'>;
}

export const composeAgent = async (c: AgentConfig, parts: AgentParts = {}): Promise<ComposedAgent> => {
  const market: Clock = parts.clock ?? makeClock(c.clock);
  const log = parts.log ?? makeLogger(c.logLevel, { agent: 'compute', id: c.id });
  const wallNow = parts.now ?? Date.now;
  const kind = c.scheduler.kind;
  if (c.meter && kind === 'sim')
    throw new FlexError('FLX_CONFIG_INVALID', 'meter: a simulated site meters itself; meter is for real sites', {
      path: 'meter',
    });
  // A simulated site's day is the settlement day it starts in (UK local midnight).
  const dayStart = settlementDayStartOf(market.now());
  const sch = await schedulerOf(c, parts, dayStart);
  await assertPortFree(c.listen);
  const signer = await makeKeys(c.keys).signer(c.id);
  const store = await openStore(c.store, 'compute-agent');
  // Signed chain heads (issue 17): the audit log holds against someone who can write the database.
  store.signHeadsWith?.(signer, wallNow);
  const meter = c.meter ? gpuMeter(c.meter, c, store, log, wallNow) : undefined;
  const agent = new ComputeAgent({
    id: c.id,
    site: {
      id: c.site.id,
      region: c.site.region,
      pue: sch.pue,
      itPowerLimitKw: sch.itPowerLimitKw,
      gridImportLimitKw: c.site.gridImportLimitKw,
    },
    scheduler: sch.scheduler,
    meter: meter ?? sch.meter,
    baseLoad: sch.baseLoad,
    // A real site with a GPU meter: BL01 over the meter history it keeps in the agent's store.
    ...(sch.baseline
      ? { baseline: sch.baseline }
      : meter
        ? { baseline: bl01FromMeter((from, to) => store.meterReadings({ site: c.site.id, from, to })) }
        : {}),
    ...(sch.counterfactual ? { counterfactual: sch.counterfactual } : {}),
    ...(sch.advance ? { advance: sch.advance } : {}),
    ...(sch.battery ? { battery: sch.battery } : {}),
    signer,
    orchestratorUrl: c.orchestrator.url,
    orchestratorId: c.orchestrator.subscriberId,
    resolver: peerKeyResolver([c.orchestrator]),
    store,
    market,
    wallNow,
    slotMinutes: c.slotMinutes,
    horizonSlots: c.horizonSlots,
    log,
    ...(kind === 'slurm' || parts.holdNewJobs ? { holdNewJobs: true } : {}),
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
    id: c.id,
    site: c.site.id,
    scheduler: kind,
    orchestrator: c.orchestrator.url,
    store: store.location,
    reports,
    ...(meter ? { meter: meter.status() } : {}),
  }));
  let url: string;
  try {
    url = await listenOn(app, c.listen);
  } catch (e) {
    await store.close();
    throw e;
  }
  meter?.start();
  const stop = new AbortController();
  // Report now (so the orchestrator can plan), retried every few seconds until the orchestrator
  // answers, so the agent and the orchestrator may start in either order; then at every slot boundary.
  const loop =
    parts.drive === 'external'
      ? Promise.resolve()
      : (async () => {
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
  const watch = kind === 'slurm' ? agent.watch(c.pollSeconds * 1000, stop.signal) : Promise.resolve();
  const waiting = keyFilesNotYetThere([c.orchestrator]);
  log.info({ url, site: c.site.id, scheduler: kind, keyFilesNotYetThere: waiting }, 'agent ready');
  return {
    url,
    agent,
    store,
    ...(sch.sim ? { sim: sch.sim } : {}),
    ...(meter ? { gpuMeter: meter } : {}),
    description: `compute-flex agent ${c.id} for site ${c.site.id} (${kind}) on ${url}`,
    notes: notYetTrusted(waiting),
    async stop() {
      stop.abort();
      await Promise.allSettled([loop, watch, meter?.stop()]);
      await app.close();
      await store.close();
    },
  };
};
