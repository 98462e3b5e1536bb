// The built-in simulated cluster: the default Scheduler and Meter when no Slurm or Kubernetes is
// configured. It runs queued GPU jobs on a training pool, strictly first come first served, and
// meters the site's grid import. Time only moves when the caller says so (advanceTo), so the same
// cluster serves live mode (driven by the Clock) and fast replay.
//
// Power follows the convention in src/sim/power.ts: IT power = idle power of the training pool +
// Σ running jobs' powerKw (their marginal power) + the inference pool's power; import = IT × pue
// + the grid-side power of the site's battery, if it has one (battery.ts: + charging, − discharging).
// The battery sits on the site's bus, not behind the cooling, so PUE does not multiply it.
//
// The cluster holds the state and answers the Scheduler and Meter ports; the stepping of time is in
// engine.ts, and a job's record and its power cap in job-record.ts.
import type {
  Actuation,
  ComputeJob,
  FlexibilityReport,
  PortableJob,
  RefusalCode,
  SchedulerCapabilities,
} from '../../domain/compute.ts';
import { epochMs, isoOf, slotAt, slotStart, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import { kw, type Kilowatts } from '../../domain/units.ts';
import type { Meter, Scheduler } from '../../ports.ts';
import { minCapW } from '../../sim/power-cap.ts';
import { SimBattery, type SimBatteryConfig } from './battery.ts';
import {
  checkInferenceProfile,
  resolveConfig,
  type ResolvedSimConfig,
  type SimClusterConfig as ClusterConfig,
} from './config.ts';
import { clockProfile, gpusInUse, inferenceAverageKw, simulate, type EngineSpec } from './engine.ts';
import { applyCap, copyRecord, isWaiting, newRecord, publicJob, type JobRecord } from './job-record.ts';
import { PowerLog } from './power-log.ts';

/** The cluster's configuration (config.ts), and optionally a battery behind the site's meter. */
export interface SimClusterConfig extends ClusterConfig {
  /** Without it the site has no battery (a business-as-usual twin has none unless given one). */
  readonly battery?: SimBatteryConfig;
}

const ok = (jobId: string): Actuation => ({ ok: true, jobId });
const refuse = (jobId: string, reason: string, code: RefusalCode): Actuation => ({ ok: false, jobId, reason, code });

export const SIM_CAPABILITIES: SchedulerCapabilities = { kind: 'sim', beginTimes: true, powerCap: true, move: true };

export class SimCluster implements Scheduler, Meter {
  readonly site: string;
  readonly capabilities = SIM_CAPABILITIES;
  readonly region: string;
  readonly pue: number;
  readonly gridImportLimitKw: Kilowatts;
  /** Maximum IT power of the site: every node of both pools flat out. */
  readonly itPowerLimitKw: Kilowatts;
  readonly start: EpochMs;
  private readonly input: SimClusterConfig;
  private readonly cfg: ResolvedSimConfig;
  /** The start, the slots and pools, and the inference profile (a daily profile repeats daily). */
  private readonly engine: EngineSpec;
  private current: EpochMs;
  /** In FIFO order: submittedAt, then order of submission. */
  private jobs: JobRecord[] = [];
  private nextSeq = 0;
  private log: PowerLog;
  /** GPUs at work over time (full-speed equivalents): its integral is GPU-hours of work done (engine.ts). */
  private workLog: PowerLog;
  private siteBattery: SimBattery | undefined;

  /** Without an inference profile the inference pool sits idle. */
  constructor(config: SimClusterConfig, start: EpochMs, inferenceKw?: readonly number[]) {
    this.input = { ...config, ...(config.power ? { power: { ...config.power } } : {}) };
    this.cfg = resolveConfig(this.input);
    this.site = this.cfg.site;
    this.region = this.cfg.region;
    this.pue = this.cfg.pue;
    this.gridImportLimitKw = kw(this.cfg.gridImportLimitKw);
    this.itPowerLimitKw = kw(this.cfg.itPowerLimitKw);
    if (!Number.isFinite(start)) throw new RangeError(`simulated cluster: start must be a time, got ${start}`);
    this.start = start;
    this.current = start;
    const inference = inferenceKw === undefined ? undefined : checkInferenceProfile(inferenceKw, this.cfg);
    const byClock = inference && clockProfile(inference, start, this.cfg.slotMinutes);
    this.engine = { start, cfg: this.cfg, inference, ...(byClock ? { inferenceByClock: byClock } : {}) };
    this.log = new PowerLog(start);
    this.workLog = new PowerLog(start);
    this.siteBattery = config.battery && new SimBattery(this.site, config.battery, start);
  }

  /** The site's battery behind the meter (the SiteBattery port), which this cluster advances and meters. */
  get battery(): SimBattery | undefined {
    return this.siteBattery;
  }

  /** Simulated time: everything before it has happened. */
  get now(): EpochMs {
    return this.current;
  }

  get totalGpus(): number {
    return this.cfg.totalTrainingGpus;
  }

  get gpusInUse(): number {
    return gpusInUse(this.jobs);
  }

  /** Adds jobs to the queue. An invalid job is a fault in the caller and throws. */
  submit(jobs: readonly ComputeJob[]): void {
    const ids = new Set(this.jobs.map((j) => j.id));
    for (const job of jobs) {
      this.check(job, ids);
      ids.add(job.id);
    }
    for (const job of jobs) {
      // Admission 'held' is FlexLon's own hold (Kueue's suspend-on-create), so FlexLon may lift it.
      const held = this.cfg.admission === 'held' && job.slo === 'deferrable' && job.state === 'queued';
      this.jobs.push(this.record(held ? { ...job, state: 'held', heldBy: 'flexlon' } : job));
    }
    this.jobs.sort((a, b) => a.submittedAt - b.submittedAt || a.seq - b.seq);
  }

  private record(job: ComputeJob): JobRecord {
    return newRecord(job, this.cfg.power, this.nextSeq++);
  }

  /** The queue as a scheduler would show it now: jobs submitted later in the day are not yet visible. */
  listJobs(): Promise<ComputeJob[]> {
    return Promise.resolve(this.jobs.filter((j) => j.submittedAt <= this.current).map(publicJob));
  }

  /** Jobs visible now and waiting to start (queued or held): what an operator's queue view counts. */
  waitingJobs(): number {
    return this.jobs.filter((j) => j.submittedAt <= this.current && (j.state === 'queued' || j.state === 'held'))
      .length;
  }

  /** Sets beginAt. It does not check the deadline: keeping SLOs is the planner's job, as with Slurm --begin. */
  deferUntil(jobId: string, until: EpochMs): Promise<Actuation> {
    return this.act(jobId, 'deferred', (job) => {
      if (!Number.isFinite(until)) return refuse(jobId, `until is not a time: ${until}`, 'invalid');
      job.beginAt = until;
      return ok(jobId);
    });
  }

  /** A held job never starts until released. Holding a held job is a no-op. */
  hold(jobId: string): Promise<Actuation> {
    return this.act(jobId, 'held', (job) => {
      if (job.state !== 'held') job.heldBy = 'flexlon';
      job.state = 'held';
      return ok(jobId);
    });
  }

  /** An operator holds a job at the console (not FlexLon): FlexLon must never release it. */
  holdByHand(jobId: string): Promise<Actuation> {
    return this.act(jobId, 'held', (job) => {
      job.state = 'held';
      job.heldBy = 'other';
      return ok(jobId);
    });
  }

  /** Makes a job FlexLon held eligible again (beginAt, if set, still applies). Releasing a queued job is a no-op. */
  release(jobId: string): Promise<Actuation> {
    return this.act(jobId, 'released', (job) => {
      if (job.state === 'held' && job.heldBy === 'other')
        return refuse(
          jobId,
          `job ${jobId} was held by an operator, not by FlexLon; only they may release it`,
          'held-by-other',
        );
      job.state = 'queued';
      delete job.heldBy;
      return ok(jobId);
    });
  }

  cancel(jobId: string): Promise<Actuation> {
    return this.act(jobId, 'cancelled', (job) => {
      job.state = 'cancelled';
      job.finishedAt = this.current;
      return ok(jobId);
    });
  }

  exportJob(jobId: string): Promise<PortableJob | undefined> {
    const job = this.find(jobId);
    return Promise.resolve(
      job && isWaiting(job) ? { id: job.id, kind: 'sim', job: publicJob(job), spec: null } : undefined,
    );
  }

  /** Queues a job moved here (held by FlexLon, submitted now); it must allow this site. */
  importJob(moved: PortableJob): Promise<Actuation> {
    const { job } = moved;
    if (moved.kind !== 'sim')
      return Promise.resolve(refuse(moved.id, `a ${moved.kind} job cannot run on a simulated cluster`, 'unsupported'));
    if (!job.allowedSites.includes(this.site))
      return Promise.resolve(
        refuse(moved.id, `job ${moved.id} may run only at ${job.allowedSites.join(', ')}`, 'invalid'),
      );
    if (this.find(moved.id))
      return Promise.resolve(refuse(moved.id, `job ${moved.id} is already at site ${this.site}`, 'invalid'));
    const { startedAt: _s, finishedAt: _f, heldBy: _h, ...rest } = job;
    const here: ComputeJob = {
      ...rest,
      site: this.site,
      state: 'queued',
      submittedAt: this.current,
      releaseAt: epochMs(Math.max(job.releaseAt, this.current)),
    };
    try {
      this.check(here, new Set(this.jobs.map((j) => j.id)));
    } catch (e) {
      return Promise.resolve(refuse(moved.id, (e as Error).message, 'invalid'));
    }
    this.jobs.push(this.record({ ...here, state: 'held', heldBy: 'flexlon' }));
    this.jobs.sort((a, b) => a.submittedAt - b.submittedAt || a.seq - b.seq);
    return Promise.resolve(ok(moved.id));
  }

  /**
   * Caps the job's GPUs; it then runs slower and draws less (src/sim/power-cap.ts). Allowed from half
   * TDP up to TDP; `null` lifts the cap (full speed and draw again).
   */
  setPowerCap(jobId: string, wattsPerGpu: number | null): Promise<Actuation> {
    const job = this.find(jobId);
    if (!job) return Promise.resolve(refuse(jobId, `no job ${jobId} at site ${this.site}`, 'not-found'));
    if (job.state === 'completed' || job.state === 'cancelled')
      return Promise.resolve(refuse(jobId, `job ${jobId} is ${job.state}`, 'wrong-state'));
    const p = this.cfg.power;
    if (wattsPerGpu === null) {
      // The cap's own change of speed happens at this instant: what ran before it ran capped.
      applyCap(job, p, p.gpuTdpW ?? p.gpuPeakW);
      delete job.powerCapW;
      return Promise.resolve(ok(jobId));
    }
    const lo = minCapW(p);
    const hi = p.gpuTdpW ?? p.gpuPeakW;
    if (!(wattsPerGpu >= lo && wattsPerGpu <= hi))
      return Promise.resolve(refuse(jobId, `a cap must be ${lo}–${hi} W per GPU, got ${wattsPerGpu}`, 'invalid'));
    applyCap(job, p, wattsPerGpu);
    return Promise.resolve(ok(jobId));
  }

  finishedSince(since: EpochMs): Promise<ComputeJob[]> {
    return Promise.resolve(
      this.jobs
        .filter((j) => (j.state === 'completed' || j.state === 'cancelled') && (j.finishedAt ?? -Infinity) >= since)
        .map(publicJob),
    );
  }

  /** Runs `f` on a job that is still waiting, or refuses. */
  private act(jobId: string, verb: string, f: (job: JobRecord) => Actuation): Promise<Actuation> {
    const job = this.find(jobId);
    if (!job) return Promise.resolve(refuse(jobId, `no job ${jobId} at site ${this.site}`, 'not-found'));
    if (!isWaiting(job))
      return Promise.resolve(
        refuse(jobId, `job ${jobId} is ${job.state}; only queued or held jobs can be ${verb}`, 'wrong-state'),
      );
    return Promise.resolve(f(job));
  }

  /**
   * Simulates up to `t`. Steps break at every slot boundary, job completion and job eligibility, so
   * power is constant within a step. Jobs start at the beginning of a step; jobs that become
   * eligible exactly at `t` start on the next call, so an actuation made at `t` still applies to them.
   */
  advanceTo(t: EpochMs): void {
    if (!Number.isFinite(t)) throw new RangeError(`simulated cluster ${this.site}: cannot advance to ${t}`);
    if (t < this.current) {
      throw new Error(
        `simulated cluster ${this.site}: time cannot move backwards (now ${isoOf(this.current)}, asked for ${isoOf(t)})`,
      );
    }
    this.current = simulate(this.engine, this.jobs, { power: this.log, work: this.workLog }, this.current, t);
    this.siteBattery?.advanceTo(t);
  }

  /** Meter port: average grid import (kW) per slot of `grid`; NaN for slots not fully simulated. */
  importKw(grid: SlotGrid): Promise<number[]> {
    const bat = this.siteBattery;
    return Promise.resolve(
      this.perSlot(grid, (a, b) => this.log.averageKw(a, b) * this.pue + (bat ? bat.averageKw(a, b) : 0)),
    );
  }

  /**
   * GPU-hours of work done per slot of `grid` (NaN for slots not fully simulated): each running
   * job's GPUs × the hours its progress would take at full speed, so a capped job's slower hours
   * count as less work, as they are. What a site ran, as against what it imported.
   */
  workGpuHours(grid: SlotGrid): number[] {
    return this.perSlot(grid, (a, b) => this.workLog.energyKwh(a, b));
  }

  /** Inflexible IT power (kW) per slot of `grid`: the idle training pool plus the inference pool. */
  baseLoadKw(grid: SlotGrid): number[] {
    return this.perSlot(grid, (a, b) => this.cfg.trainingIdleKw + inferenceAverageKw(this.engine, a, b));
  }

  /** What the Compute-Flex agent tells the Flexibility Orchestrator: limits, base load from `at`'s slot, open jobs. */
  report(at: EpochMs, grid: SlotGrid): Promise<FlexibilityReport> {
    return Promise.resolve({
      site: this.site,
      region: this.region,
      at,
      itPowerLimitKw: this.itPowerLimitKw,
      pue: this.pue,
      gridImportLimitKw: this.gridImportLimitKw,
      baseLoadFrom: slotStart(grid, Math.min(slotAt(grid, at), grid.slots)),
      slotMinutes: grid.slotMinutes,
      baseLoadKw: this.baseLoadKw(grid).slice(Math.min(slotAt(grid, at), grid.slots)),
      jobs: this.jobs
        .filter((j) => j.submittedAt <= this.current && (isWaiting(j) || j.state === 'running'))
        .map(publicJob),
      ...(this.siteBattery ? { battery: this.siteBattery.report() } : {}),
    });
  }

  /** An independent deep copy at the same simulated time, for counterfactual runs. */
  clone(): SimCluster {
    const copy = new SimCluster(this.input, this.start, this.engine.inference);
    copy.current = this.current;
    copy.jobs = this.jobs.map(copyRecord);
    copy.nextSeq = this.nextSeq;
    copy.log = this.log.clone();
    copy.workLog = this.workLog.clone();
    copy.siteBattery = this.siteBattery?.clone();
    return copy;
  }

  private find(jobId: string): JobRecord | undefined {
    return this.jobs.find((j) => j.id === jobId);
  }

  private check(job: ComputeJob, ids: ReadonlySet<string>): void {
    const bad = (why: string): never => {
      throw new Error(`simulated cluster ${this.site}: job ${job.id} ${why}`);
    };
    if (job.id === '') bad('has an empty id');
    if (ids.has(job.id)) bad('is already queued (ids must be unique)');
    if (job.site !== this.site || !job.allowedSites.includes(this.site)) bad(`is not for site ${this.site}`);
    if (job.state !== 'queued' && job.state !== 'held')
      bad(`is ${job.state}; only queued or held jobs can be submitted`);
    if (!Number.isInteger(job.gpus) || job.gpus < 1 || job.gpus > this.totalGpus)
      bad(`needs ${job.gpus} GPUs; the cluster has ${this.totalGpus}`);
    if (!(job.powerKw > 0 && Number.isFinite(job.powerKw))) bad(`has powerKw ${job.powerKw}; it must be > 0`);
    if (!(job.remainingKwh > 0 && job.remainingKwh <= job.energyKwh))
      bad(`has remainingKwh ${job.remainingKwh}; it must be in (0, energyKwh]`);
    if (!(job.releaseAt >= job.submittedAt)) bad('is released before it was submitted');
    if (!Number.isFinite(job.deadlineAt) || (job.beginAt !== undefined && !Number.isFinite(job.beginAt)))
      bad('has a time that is not finite');
  }

  private perSlot(grid: SlotGrid, f: (from: number, to: number) => number): number[] {
    return Array.from({ length: grid.slots }, (_, i) => f(slotStart(grid, i), slotStart(grid, i + 1)));
  }
}
