// The backtest's site: a GPU training pool stepped one settlement period at a time. The same rules
// as the simulated cluster (src/adapters/scheduler-sim/cluster.ts), kept lean because a year is
// 17,520 periods and tens of thousands of jobs per strategy (the cluster keeps every job it ever
// saw and scans them at each event):
// - IT power = idle power of the training pool + Σ running jobs' marginal power (src/sim/power.ts)
//   + the inference pool's power; grid import = IT × PUE.
// - A strategy decides which waiting jobs are eligible; the site's scheduler then starts eligible
//   jobs at the period's start in submission order, strict FIFO (the oldest eligible job waits for
//   GPUs and nothing overtakes it, as the cluster does) or with backfill (any eligible job that fits).
//   A planner strategy may also name `early` jobs: started only into GPUs left free after that,
//   any that fits, never holding up another, and none while an eligible job waits for GPUs.
// - `first` jobs (run-day.ts: the must-start jobs, reserve.ts hasNoSlack) are the site's high-priority
//   QoS, for every strategy: each one released starts before that pass, eligible or not (a hard SLO
//   is the site's to keep, not a strategy's to defer); one that does not
//   fit pre-empts running jobs of the queue's own priority, as Kubernetes' priority pre-emption and
//   Slurm's QOS pre-emption (PreemptMode=REQUEUE) do: as few as it can, those with the most slack
//   left first (`preempt`). The jobs pre-empted go back to the queue in their submission place with
//   the work they had done (they checkpoint in their grace period, as elastic training does; no work
//   is lost in this model) and start again as any waiting job. Where even every such job would not
//   free enough GPUs, none is pre-empted and the job keeps its place in the queue.
// - Strategies decide once a period, at its start. Jobs eligible then start at once or, when GPUs are
//   busy, the moment a running job finishes and frees them (within the period too); they run at full
//   power until their energy is used (pre-empted only as above). A job submitted inside a period is
//   seen at the next period's start (the decision cadence), by every strategy alike.
// - A site may have a battery behind its meter (the demo's cdf, or a fleet file's). The site keeps
//   its stored energy and meters it; its controller (site-battery.ts) holds it unless a strategy
//   sets it and clips a setpoint to the battery's and the site's limits. The grid import is
//   IT × PUE + charged − discharged.
// - Where the site's node is known (SiteSpec.node), a strategy may cap the GPUs of jobs running at
//   the period's start for that period (flexlon and the oracle, from their plans; caps.ts): a capped
//   job draws and progresses as the measured sweep says. Work is counted in full-power kWh
//   (remainingKwh), so a capped job's GPU-hours are its progress, not its time.
// The jobs' records (SimJob, Finished) are in sim-job.ts.
import { PERIOD_H, PERIOD_MS } from '../domain/settlement-day.ts';
import type { GpuNodePower } from '../sim/power.ts';
import { cappedRun, type CapRun } from './caps.ts';
import { runBattery, type BatteryFlows, type BatterySetpoint, type SiteBattery } from './site-battery.ts';
import type { Finished, SimJob } from './sim-job.ts';

// The site's callers (run-day.ts, planner-strategy.ts, the strategies) take these from here with the site.

const HOUR_MS = 3_600_000;

export interface SiteSpec {
  readonly id: string;
  readonly gpus: number;
  readonly trainingIdleKw: number;
  /** Most IT power the training pool can draw: idle + every GPU busy. */
  readonly trainingMaxKw: number;
  readonly pue: number;
  readonly battery?: SiteBattery;
  /**
   * The site's grid connection (kW), where it is stated: the battery charges only into what the
   * site's own draw leaves of it (the cluster's draw is never cut).
   */
  readonly gridImportLimitKw?: number;
  /** The training pool's node, where its GPUs can be capped (caps.ts); absent: no caps. */
  readonly node?: GpuNodePower;
}

export interface PeriodMeter {
  /** Grid import over the period, kWh. */
  readonly importKwh: number;
  /** Of which the deferrable jobs' share (their marginal IT power × PUE), kWh. */
  readonly jobsKwh: number;
  /** GPU-hours of work run in the period. */
  readonly gpuHours: number;
  readonly running: number;
  readonly waiting: number;
  readonly started: number;
  /** Running jobs pre-empted for must-start ones in the period (the site's QoS, `first`). */
  readonly preempted: number;
  /** Energy the battery took from the grid and gave back over the period (kWh; absent: no battery). */
  readonly battery?: BatteryFlows;
}

export type StartOrder = 'fifo' | 'backfill';

/** A site's state in a checkpoint. */
export interface SiteState {
  pending: SimJob[];
  waiting: SimJob[];
  running: SimJob[];
  socKwh?: number;
}

export class SiteSim {
  /** Not yet submitted, by submission time. */
  pending: SimJob[] = [];
  /** Submitted and waiting, in submission order. */
  waiting: SimJob[] = [];
  running: SimJob[] = [];
  finished: Finished[] = [];
  /** The battery's stored energy (kWh), where the site has one. */
  socKwh: number | undefined;

  constructor(readonly spec: SiteSpec) {
    this.socKwh = spec.battery?.initialSocKwh;
  }

  get freeGpus(): number {
    return this.spec.gpus - this.running.reduce((n, j) => n + j.gpus, 0);
  }

  /**
   * Queues jobs to be submitted at their submission times. Each day's jobs come in submission order,
   * but two days' may overlap (the busy day's arrivals begin 6 h before it, so on the 23-hour spring
   * day the next day's first hour of arrivals falls within this day's last): a job earlier than the
   * last queued one is put in its place, after any submitted at the same time, so none waits for a
   * later one to arrive.
   */
  add(jobs: readonly SimJob[]): void {
    for (const j of jobs) {
      if (j.gpus > this.spec.gpus)
        throw new RangeError(`job ${j.id} needs ${j.gpus} GPUs; site ${this.spec.id} has ${this.spec.gpus}`);
      const last = this.pending[this.pending.length - 1];
      if (!last || last.submittedAt <= j.submittedAt) {
        this.pending.push(j);
        continue;
      }
      let lo = 0;
      let hi = this.pending.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((this.pending[mid] as SimJob).submittedAt <= j.submittedAt) lo = mid + 1;
        else hi = mid;
      }
      this.pending.splice(lo, 0, j);
    }
  }

  /** Moves jobs submitted by `now` into the queue. */
  arrive(now: number): SimJob[] {
    let k = 0;
    while (k < this.pending.length && (this.pending[k] as SimJob).submittedAt <= now) k++;
    const came = this.pending.splice(0, k);
    this.waiting.push(...came);
    return came;
  }

  /** Takes a waiting job out of the queue (a move to another site, moves.ts); undefined if it is not waiting. */
  take(id: string): SimJob | undefined {
    const k = this.waiting.findIndex((j) => j.id === id);
    return k < 0 ? undefined : this.waiting.splice(k, 1)[0];
  }

  /**
   * Queues a job moved here from `from`: in submission order among the waiting jobs, as the site's
   * scheduler orders its queue, so strict FIFO treats it as it treats the site's own.
   */
  receive(j: SimJob, from: string): void {
    if (j.gpus > this.spec.gpus)
      throw new RangeError(`job ${j.id} needs ${j.gpus} GPUs; site ${this.spec.id} has ${this.spec.gpus}`);
    j.movedFrom = from;
    let k = this.waiting.length;
    while (k > 0 && (this.waiting[k - 1] as SimJob).submittedAt > j.submittedAt) k--;
    this.waiting.splice(k, 0, j);
  }

  /**
   * Starts eligible waiting jobs at `t` in the given order, as far as GPUs allow, then `early` jobs
   * into the GPUs still free (any that fits, never blocking another); returns how many.
   */
  private start(
    t: number,
    eligible: (j: SimJob) => boolean,
    order: StartOrder,
    early?: (j: SimJob) => boolean,
    first?: (j: SimJob) => boolean,
  ): number {
    let free = this.freeGpus;
    let started = 0;
    let blocked = false;
    // Starts every waiting job that passes `may` and fits the GPUs still free, in submission order;
    // a job that does not fit holds up nobody.
    const anyThatFits = (may: (j: SimJob) => boolean): void => {
      const rest: SimJob[] = [];
      for (const j of this.waiting) {
        if (j.gpus <= free && may(j) && Math.max(j.releaseAt, j.beginAt ?? -Infinity) <= t) {
          j.startedAt ??= t;
          free -= j.gpus;
          this.running.push(j);
          started++;
        } else rest.push(j);
      }
      this.waiting = rest;
    };
    // Jobs with priority (a QoS above the queue's, as a cluster gives its latency-sensitive work)
    // start first, ahead of the rest, pre-empting running jobs where they do not fit.
    if (first) {
      // Whatever the strategy decided: a hard SLO is the site's to keep, not a strategy's to defer.
      const urgent = (j: SimJob) => first(j) && j.releaseAt <= t;
      anyThatFits(urgent);
      for (const j of this.waiting.filter(urgent)) {
        free += this.preempt(t, j.gpus - free, first);
        if (j.gpus > free) continue;
        this.waiting.splice(this.waiting.indexOf(j), 1);
        j.startedAt ??= t;
        free -= j.gpus;
        this.running.push(j);
        started++;
      }
    }
    const still: SimJob[] = [];
    for (const j of this.waiting) {
      const can = !blocked && eligible(j) && Math.max(j.releaseAt, j.beginAt ?? -Infinity) <= t;
      if (can && j.gpus <= free) {
        j.startedAt ??= t;
        free -= j.gpus;
        this.running.push(j);
        started++;
        continue;
      }
      // Strict FIFO: an eligible job that does not fit blocks every later one.
      if (can && order === 'fifo') blocked = true;
      still.push(j);
    }
    this.waiting = still;
    // Not while an eligible job waits for GPUs: an early start would overtake it.
    if (early && free > 0 && !blocked) anyThatFits(early);
    return started;
  }

  /** Jobs pre-empted since the counter was last read (step reads it once a period). */
  private preemptedNow = 0;

  /**
   * Pre-empts running jobs that are not `first` to free `need` GPUs, as few as it can: one job that
   * frees enough where there is one (of those, the one with the most slack left: deadline less the
   * run still to do, from `t`), else the jobs with the most slack until enough, less any the others
   * then free enough without; none where all of them together would not free enough. Returns the GPUs
   * freed. Each goes back to the queue in its submission place, with its work done kept and its first
   * start kept for the wait figures.
   */
  private preempt(t: number, need: number, first: (j: SimJob) => boolean): number {
    if (need <= 0) return 0;
    const slack = (j: SimJob) => j.deadlineAt - t - (j.remainingKwh / j.powerKw) * HOUR_MS;
    const victims = this.running.filter((j) => !first(j)).sort((a, b) => slack(b) - slack(a));
    if (victims.reduce((n, j) => n + j.gpus, 0) < need) return 0;
    const one = victims.find((j) => j.gpus >= need);
    let freed = 0;
    const out = new Set<SimJob>();
    for (const j of one ? [one] : victims) {
      if (freed >= need) break;
      out.add(j);
      freed += j.gpus;
    }
    // The last taken has the least slack; drop, from there back, any the rest free enough without.
    for (const j of [...out].reverse())
      if (out.size > 1 && freed - j.gpus >= need) {
        out.delete(j);
        freed -= j.gpus;
      }
    this.running = this.running.filter((j) => !out.has(j));
    for (const j of out) {
      let k = this.waiting.length;
      while (k > 0 && (this.waiting[k - 1] as SimJob).submittedAt > j.submittedAt) k--;
      this.waiting.splice(k, 0, j);
    }
    this.preemptedNow += out.size;
    return freed;
  }

  /**
   * Runs the period [now, now + 30 min): starts eligible jobs in the given order, runs every job,
   * and starts eligible jobs again whenever one finishes and frees GPUs (as the site's scheduler
   * does); meters the site. `inferenceKw` is the inference pool's IT power over the period. `caps`:
   * the power (kW) a strategy plans for jobs running now, where it is below full power, applied as a
   * GPU cap for the period (caps.ts) where the site's node is known.
   */
  step(
    now: number,
    eligible: (j: SimJob) => boolean,
    order: StartOrder,
    inferenceKw: number,
    early?: (j: SimJob) => boolean,
    battery?: BatterySetpoint,
    caps?: ReadonlyMap<string, number>,
    first?: (j: SimJob) => boolean,
  ): PeriodMeter {
    const end = now + PERIOD_MS;
    const latePeriods = (j: SimJob) => Math.floor(now / PERIOD_MS) - Math.floor(j.deadlineAt / PERIOD_MS) + 1;
    const capped = this.capped(caps);
    this.preemptedNow = 0;
    let started = this.start(now, eligible, order, early, first);
    // Full-power kWh of work a job does per hour.
    const rate = (j: SimJob) => capped?.get(j)?.rateKw ?? j.powerKw;
    let jobsKwh = 0;
    let gpuHours = 0;
    let t = now;
    while (t < end && this.running.length > 0) {
      // The next finish inside the period, if any: power is constant until then.
      let until = end;
      for (const j of this.running) until = Math.min(until, t + (j.remainingKwh / rate(j)) * HOUR_MS);
      const h = (until - t) / HOUR_MS;
      const next: SimJob[] = [];
      for (const j of this.running) {
        const done = t + (j.remainingKwh / rate(j)) * HOUR_MS <= until;
        // kWh of work done (full-power kWh); a capped job draws its cap's power meanwhile.
        const kwh = done ? j.remainingKwh : Math.min(j.remainingKwh, rate(j) * h);
        const cap = capped?.get(j);
        jobsKwh += cap ? (kwh * cap.drawKw) / cap.rateKw : kwh;
        gpuHours += (j.gpus * kwh) / j.powerKw;
        j.remainingKwh = done ? 0 : j.remainingKwh - kwh;
        const late = latePeriods(j);
        if (late > 0) j.lateKwhPeriods = (j.lateKwhPeriods ?? 0) + late * kwh;
        if (!done) {
          next.push(j);
          continue;
        }
        this.finished.push({
          id: j.id,
          gpus: j.gpus,
          waitH: ((j.startedAt ?? now) - j.submittedAt) / HOUR_MS,
          lateH: (until - j.deadlineAt) / HOUR_MS,
          lateGpuH: (j.gpus * (j.lateKwhPeriods ?? 0) * PERIOD_H) / j.energyKwh,
          work: j.work,
          slackH: (j.deadlineAt - j.releaseAt) / HOUR_MS - j.energyKwh / j.powerKw,
        });
      }
      this.running = next;
      t = until;
      if (t < end) started += this.start(t, eligible, order, early, first);
    }
    const itKwh = (this.spec.trainingIdleKw + inferenceKw) * PERIOD_H + jobsKwh;
    const flows = this.battery(itKwh * this.spec.pue, battery);
    return {
      importKwh: itKwh * this.spec.pue + (flows ? flows.chargedKwh - flows.dischargedKwh : 0),
      jobsKwh: jobsKwh * this.spec.pue,
      gpuHours,
      running: this.running.length,
      waiting: this.waiting.length,
      started,
      preempted: this.preemptedNow,
      ...(flows ? { battery: flows } : {}),
    };
  }

  /** The jobs running now that `caps` caps this period, with how each then runs (caps.ts). */
  private capped(caps: ReadonlyMap<string, number> | undefined): Map<SimJob, CapRun> | undefined {
    const node = this.spec.node;
    if (!node || !caps?.size) return undefined;
    const out = new Map<SimJob, CapRun>();
    for (const j of this.running) {
      const kw = caps.get(j.id);
      const run = kw === undefined ? undefined : cappedRun(node, j.powerKw, kw);
      if (run) out.set(j, run);
    }
    return out;
  }

  /** Runs the battery over the period at the setpoint (site-battery.ts) and keeps what it stores. */
  private battery(loadKwh: number, set: BatterySetpoint | undefined): PeriodMeter['battery'] {
    const b = this.spec.battery;
    if (!b || this.socKwh === undefined) return undefined;
    const { flows, socKwh } = runBattery(b, this.socKwh, this.spec.gridImportLimitKw, loadKwh, set);
    this.socKwh = socKwh;
    return flows;
  }

  /** Jobs not finished (pending, waiting or running). */
  get open(): number {
    return this.pending.length + this.waiting.length + this.running.length;
  }

  /** The state, for a checkpoint (finished jobs are drained by the caller first). */
  snapshot(): SiteState {
    return {
      pending: this.pending,
      waiting: this.waiting,
      running: this.running,
      ...(this.socKwh === undefined ? {} : { socKwh: this.socKwh }),
    };
  }

  restore(s: SiteState): void {
    this.pending = s.pending;
    this.waiting = s.waiting;
    this.running = s.running;
    if (s.socKwh !== undefined) this.socKwh = s.socKwh;
  }
}
