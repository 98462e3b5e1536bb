// GPU-hours and SLO outcomes of the fleet, followed from the sites' reports to the BPP (issue 19,
// fleet KPIs). An agent reports its waiting and running jobs only (agents/compute/agent.ts report),
// and the BPP keeps each site's latest report (the `agent-report` document), so what ran between two
// reports is read off the difference between them:
//  - a job running in both ran for the whole interval;
//  - a job running in the later one only started then (its startedAt) or at the earlier report;
//  - a job running in the earlier one and gone from the later one finished in between: it ran until
//    its remaining energy was done at full power, or until the later report, whichever is first;
//  - a job waiting in the earlier one and gone from the later one (and from every other site) ran
//    and finished in between: its run at full power is placed at the end of the interval.
// GPU-hours are the job's GPUs × the time it ran, counted per slot of market time (the plan's slots: GB settlement periods).
// A job that finished after its deadline, or is still reported unfinished after it, missed its SLO.
// Kept in memory from the dashboard's start: the periods before it are not counted (`from`).
import type { ComputeJob, FlexibilityReport } from '../domain/compute.ts';

const HOUR_MS = 3_600_000;

/** A job whose SLO outcome is known: finished (at `at`), or past its deadline and still unfinished. */
export interface SloOutcome {
  readonly site: string;
  readonly jobId: string;
  readonly deadlineAt: number;
  /** When it finished (market time), or when it was first seen unfinished past its deadline. */
  readonly at: number;
  readonly met: boolean;
}

const waiting = (j: ComputeJob): boolean => j.state === 'queued' || j.state === 'held';
/** Hours the job still needs at full power. */
const hoursLeft = (j: ComputeJob): number => (j.powerKw > 0 ? j.remainingKwh / j.powerKw : 0);

export class GpuLedger {
  readonly #last = new Map<string, FlexibilityReport>();
  readonly #firstAt = new Map<string, number>();
  /** GPU-hours per slot (its start, market time), all sites. */
  readonly #gpuHours = new Map<number, number>();
  readonly #outcomes = new Map<string, SloOutcome>();
  #sampling: Promise<void> = Promise.resolve();

  constructor(
    private readonly sites: readonly string[],
    private readonly read: (site: string) => Promise<FlexibilityReport | undefined>,
    /** The plan's slot (a GB settlement period: 30 minutes). */
    private readonly slotMs = 1_800_000,
  ) {}

  /** Reads each site's latest report and counts what changed since the last one seen (one at a time). */
  sample(): Promise<void> {
    // A failed sample is the caller's to see; the next one starts afresh.
    this.#sampling = this.#sampling
      .catch(() => undefined)
      .then(async () => {
        // Every site's news first, so that a job moved between two sites is seen at its new one.
        const fresh: [FlexibilityReport | undefined, FlexibilityReport][] = [];
        for (const site of this.sites) {
          const r = await this.read(site).catch(() => undefined);
          const prev = this.#last.get(site);
          if (r && !(prev && r.at <= prev.at)) fresh.push([prev, r]);
        }
        for (const [, r] of fresh) this.#last.set(r.site, r);
        for (const [prev, r] of fresh) {
          if (prev) this.#account(prev, r);
          else this.#firstAt.set(r.site, r.at);
          this.#overdue(r);
        }
      });
    return this.#sampling;
  }

  /**
   * Market time from which every reporting site has been followed (the later of their first
   * reports), and up to which (the earlier of their latest): GPU-hours are complete in between.
   */
  coverage(): { from: number; to: number } | undefined {
    if (this.#last.size === 0) return undefined;
    return {
      from: Math.max(...this.#firstAt.values()),
      to: Math.min(...[...this.#last.values()].map((r) => r.at)),
    };
  }

  /** GPU-hours counted in the slot starting at `start`. */
  gpuHoursIn(start: number): number {
    return this.#gpuHours.get(start) ?? 0;
  }

  /** SLO outcomes known in [from, to) of market time. */
  outcomes(from: number, to: number): SloOutcome[] {
    return [...this.#outcomes.values()].filter((o) => o.at >= from && o.at < to);
  }

  #span(from: number, to: number, gpus: number): void {
    for (let a = from; a < to;) {
      const period = Math.floor(a / this.slotMs) * this.slotMs;
      const b = Math.min(to, period + this.slotMs);
      this.#gpuHours.set(period, (this.#gpuHours.get(period) ?? 0) + (gpus * (b - a)) / HOUR_MS);
      a = b;
    }
  }

  #finish(site: string, j: ComputeJob, at: number): void {
    this.#outcomes.set(`${site}|${j.id}`, { site, jobId: j.id, deadlineAt: j.deadlineAt, at, met: at <= j.deadlineAt });
  }

  /** A job still reported unfinished after its deadline has missed it (outcome at the report). */
  #overdue(r: FlexibilityReport): void {
    for (const j of r.jobs)
      if (j.deadlineAt < r.at && !this.#outcomes.has(`${r.site}|${j.id}`))
        this.#outcomes.set(`${r.site}|${j.id}`, {
          site: r.site,
          jobId: j.id,
          deadlineAt: j.deadlineAt,
          at: r.at,
          met: false,
        });
  }

  /** Reported at another site now: moved, not finished. */
  #elsewhere(site: string, id: string): boolean {
    for (const [s, r] of this.#last) if (s !== site && r.jobs.some((j) => j.id === id)) return true;
    return false;
  }

  #account(prev: FlexibilityReport, cur: FlexibilityReport): void {
    const [from, to] = [prev.at, cur.at];
    const now = new Map(cur.jobs.map((j) => [j.id, j]));
    const before = new Map(prev.jobs.map((j) => [j.id, j]));
    for (const p of prev.jobs) {
      const c = now.get(p.id);
      if (c || this.#elsewhere(cur.site, p.id)) continue;
      if (p.state === 'running') {
        const end = Math.min(to, from + hoursLeft(p) * HOUR_MS);
        this.#span(from, end, p.gpus);
        this.#finish(cur.site, p, end);
      } else if (waiting(p)) {
        this.#span(Math.max(from, to - hoursLeft(p) * HOUR_MS), to, p.gpus);
        this.#finish(cur.site, p, to);
      }
    }
    for (const c of cur.jobs) {
      if (c.state !== 'running') continue;
      const p = before.get(c.id);
      const start = p?.state === 'running' ? from : Math.max(from, c.startedAt ?? from);
      this.#span(start, to, c.gpus);
    }
  }
}
