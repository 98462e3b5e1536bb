// The FIFO carbon cap (BPP config `carbonCap: "fifo"`, the default of the demo): FlexLon may emit no
// more than the same queues would on FIFO. It is kept cumulatively, not per plan: a plan made at
// time t may emit
//   budget = FIFO's emissions from the origin to the plan's horizon end
//          − what the sites have emitted (metered) from the origin to the plan's first slot,
// where the origin is the start of the first day this BPP capped (at most a week back),
// with FIFO's emissions from the sites' settlement baselines (the FIFO counterfactual their agents
// compute) and every kWh at the forecast intensity of its half-hour. A cap on each 48-hour horizon
// alone cannot hold on a busy site: once FlexLon has deferred work that FIFO ran earlier, its
// remaining work emits more over the next 48 hours than FIFO's remaining work does, and every
// later plan would be infeasible. Read once per horizon (each half hour): one baseline, one meter
// and one signal read per site, however many plans the half hour makes.
import { carbonOf, type SignalSeries } from '../../domain/signals.ts';
import { epochMs, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import type { Logger } from '../../log.ts';

type SlotsRead = (site: string, from: EpochMs, slots: number) => Promise<number[]>;
type Intensity = (region: string, grid: SlotGrid) => Promise<SignalSeries>;

const DAY_MS = 86_400_000;

export interface FifoCapReads {
  readonly baseline: SlotsRead;
  readonly meter: SlotsRead;
  /** Forecast intensity for a grid of past and future slots, as known now. */
  readonly intensity: Intensity;
}

const finite = (xs: readonly number[], n: number): boolean => xs.length >= n && xs.slice(0, n).every(Number.isFinite);

export class FifoCarbonCap {
  /** kg by horizon start and the sites planned; undefined where a site had no baseline (then plans are not capped). */
  private readonly byHorizon = new Map<string, { start: number; kg: number | undefined }>();
  private firstDay: number | undefined;

  constructor(
    private readonly reads: FifoCapReads,
    private readonly log: Logger,
  ) {}

  /** The plan's carbon budget (kg) over `grid`, or undefined when it cannot be measured. */
  async kg(
    grid: SlotGrid,
    sites: readonly { readonly id: string; readonly region: string }[],
    signals: ReadonlyMap<string, SignalSeries>,
  ): Promise<number | undefined> {
    // The budget is the planned sites': one more site reporting changes it.
    const key = `${grid.start}|${sites
      .map((s) => s.id)
      .sort()
      .join(',')}`;
    const known = this.byHorizon.get(key);
    if (known) return known.kg;
    const kg = await this.measure(grid, sites, signals);
    // Only the current horizon is asked for again; older ones are dropped.
    for (const [k, v] of this.byHorizon) if (v.start < grid.start) this.byHorizon.delete(k);
    this.byHorizon.set(key, { start: grid.start, kg });
    return kg;
  }

  private async measure(
    grid: SlotGrid,
    sites: readonly { readonly id: string; readonly region: string }[],
    signals: ReadonlyMap<string, SignalSeries>,
  ): Promise<number | undefined> {
    const slotMs = grid.slotMinutes * 60_000;
    const h = grid.slotMinutes / 60;
    // From the first horizon this BPP capped (its day's start), at most a week back: a budget reset
    // at each midnight would forget the work FlexLon has deferred and FIFO has already run.
    this.firstDay ??= Math.floor(grid.start / DAY_MS) * DAY_MS;
    const origin = epochMs(Math.max(this.firstDay, Math.floor(grid.start / DAY_MS) * DAY_MS - 6 * DAY_MS));
    const past = Math.round((grid.start - origin) / slotMs);
    let kg = 0;
    for (const site of sites) {
      const series = signals.get(site.region);
      const fifo = await this.reads.baseline(site.id, origin, past + grid.slots).catch(() => [NaN]);
      const metered = past > 0 ? await this.reads.meter(site.id, origin, past).catch(() => [NaN]) : [];
      const before =
        past > 0
          ? await this.reads
              .intensity(site.region, { start: origin, slotMinutes: grid.slotMinutes, slots: past })
              .then((s) => carbonOf(s, 'forecast'))
              .catch(() => [NaN])
          : [];
      if (!series || !finite(fifo, past + grid.slots) || !finite(metered, past) || !finite(before, past)) {
        this.log.warn({ site: site.id }, 'no FIFO baseline or meter history for the day: plans are not carbon-capped');
        return undefined;
      }
      const ahead = carbonOf(series, 'forecast');
      const g = (t: number): number => (t < past ? (before[t] ?? 0) : (ahead[t - past] ?? 0));
      fifo.slice(0, past + grid.slots).forEach((kw, t) => (kg += (kw * h * g(t)) / 1000));
      metered.slice(0, past).forEach((kw, t) => (kg -= (kw * h * g(t)) / 1000));
    }
    return kg;
  }
}
