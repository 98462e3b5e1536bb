// Room kept for the work that must start when it arrives (issue 15; docs/backtest.md, "Alibaba
// pods"). flexlon sees a job only once it is submitted, and a job with no slack (a latency-sensitive
// pod: due when its run ends if started at the next decision) is late from the first period it
// waits. A plan that fills the site's next hours with deferrable work at their cheapest leaves those
// jobs waiting: over three days of Alibaba pods at edi (85 % fill), flexlon's site held 8–30 jobs
// where the site's own FIFO held none, and its lateness was 17 times fifo's. So each slot ahead keeps
// room for RESERVE_FACTOR × the expected load of such jobs submitted after now: from the last week's
// (GPUs × the part of each run that would fall before the slot, per hour observed), at most what the
// running jobs leave. The planner strategy gives it as the site's base load. Jobs with slack (every
// synthetic job has 4 h or more) reserve nothing.
import { PERIOD_MS } from '../domain/settlement-day.ts';
import type { SimJob } from './sim-job.ts';
import type { SiteSim } from './site-sim.ts';

/** Slack (hours between release and deadline beyond the run) at or below which a job cannot wait. */
export const NO_SLACK_H = PERIOD_MS / 3_600_000;
/**
 * The expected load of no-slack arrivals and half again, for their bursts. Measured (busy fleet,
 * Alibaba pods, objective against fifo's): 2023-01-01 to 01-14, factor 1 +1.0 %, 1.5 −0.2 %, 2
 * +20.9 % (too little room left for the rest); checked on 2023-06-05 to 06-18, seeds 1 and 2:
 * factor 1 +1.4 % and +0.2 %, 1.5 −0.5 % and −0.6 %.
 */
export const RESERVE_FACTOR = 1.5;

const WEEK_MS = 7 * 24 * 3_600_000;
const H = PERIOD_MS / 3_600_000;

/**
 * What an hour of a must-start job's lateness costs the plans of flexlon and the oracle, per GPU (£):
 * its SLO is hard (metrics.ts, the `must-start` class), so no plan may trade it for cheaper energy.
 * Priced, not a constraint, so that a plan still exists when a burst finds every GPU busy. At the
 * default £0.25 flexlon's plans left 7.9 % of the idle fleet's must-start pods waiting for cheaper
 * hours (fifo none); from £5 up the figures barely move (docs/backtest.md, "Alibaba pods").
 */
export const MUST_START_LATE_GBP_PER_GPU_HOUR = 100;

export const hasNoSlack = (j: SimJob): boolean =>
  (j.deadlineAt - j.releaseAt) / 3_600_000 - j.energyKwh / j.powerKw <= NO_SLACK_H + 1e-9;

/** Per site: the no-slack jobs seen in the last week (id, submission time, GPUs, run hours). */
type Seen = Record<string, [id: string, at: number, gpus: number, runH: number][]>;

export class NoSlackReserve {
  constructor(private seen: Seen = {}) {}

  /** Notes the site's waiting jobs with no slack: every job waits at one period start at least. */
  note(site: SiteSim, now: number): void {
    const since = now - WEEK_MS;
    const id = site.spec.id;
    const list = (this.seen[id] ?? []).filter((e) => e[1] > since);
    const known = new Set(list.map((e) => e[0]));
    for (const j of site.waiting)
      if (hasNoSlack(j) && !known.has(j.id)) list.push([j.id, j.submittedAt, j.gpus, j.energyKwh / j.powerKw]);
    this.seen[id] = list;
  }

  /** IT power (kW) kept in each of `slots` slots from now; [0] where no such job has been seen. */
  kw(site: SiteSim, now: number, slots: number): number[] {
    const list = this.seen[site.spec.id] ?? [];
    if (list.length === 0) return [0];
    const s = site.spec;
    const limit = s.trainingMaxKw - s.trainingIdleKw;
    const kwPerGpu = limit / s.gpus;
    const first = list.reduce((m, e) => Math.min(m, e[1]), now);
    const hours = Math.max(24, Math.min(WEEK_MS, now - first) / 3_600_000);
    const out: number[] = [0];
    // Σ GPUs × min(run, τ) for τ = t × H: runs by length, the ones shorter than τ summed whole.
    const byRun = list.map(([, , g, runH]) => [runH, g] as const).sort((a, b) => a[0] - b[0]);
    let k = 0;
    let shortGpuH = 0;
    let longGpus = byRun.reduce((a, [, g]) => a + g, 0);
    for (let t = 1; t < slots; t++) {
      for (; k < byRun.length && (byRun[k] as readonly [number, number])[0] <= t * H; k++) {
        const [runH, g] = byRun[k] as readonly [number, number];
        shortGpuH += g * runH;
        longGpus -= g;
      }
      const gpus = shortGpuH + longGpus * t * H;
      let running = 0;
      for (const j of site.running)
        running += j.powerKw * Math.min(1, Math.max(0, (j.remainingKwh / j.powerKw - t * H) / H));
      out.push(Math.min(((RESERVE_FACTOR * gpus) / hours) * kwPerGpu, Math.max(0, limit - running)));
    }
    return out;
  }

  /** The state a checkpoint keeps. */
  save(): Seen {
    return this.seen;
  }
}
