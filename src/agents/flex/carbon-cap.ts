// The FIFO carbon cap (BPP config `carbonCap: "fifo"`): each plan may emit no more than the same
// queues would on FIFO over the plan's horizon — the sites' settlement baselines (the FIFO
// counterfactual their agents compute) × forecast intensity. Read once per horizon: one baseline
// read per site each half hour, however many plans the half hour makes.
import { carbonOf, type SignalSeries } from '../../domain/signals.ts';
import type { SlotGrid } from '../../domain/time.ts';
import type { Logger } from '../../log.ts';

type BaselineRead = (site: string, from: SlotGrid['start'], slots: number) => Promise<number[]>;

export class FifoCarbonCap {
  /** kg by horizon start; undefined where a site had no baseline (then plans are not capped). */
  private readonly byHorizon = new Map<number, number | undefined>();

  constructor(
    private readonly baseline: BaselineRead,
    private readonly log: Logger,
  ) {}

  async kg(
    grid: SlotGrid,
    sites: readonly { readonly id: string; readonly region: string }[],
    signals: ReadonlyMap<string, SignalSeries>,
  ): Promise<number | undefined> {
    if (this.byHorizon.has(grid.start)) return this.byHorizon.get(grid.start);
    const kg = await this.measure(grid, sites, signals);
    // Only the current horizon is asked for again; older ones are dropped.
    for (const k of this.byHorizon.keys()) if (k < grid.start) this.byHorizon.delete(k);
    this.byHorizon.set(grid.start, kg);
    return kg;
  }

  private async measure(
    grid: SlotGrid,
    sites: readonly { readonly id: string; readonly region: string }[],
    signals: ReadonlyMap<string, SignalSeries>,
  ): Promise<number | undefined> {
    let kg = 0;
    for (const site of sites) {
      const series = signals.get(site.region);
      const baseline = await this.baseline(site.id, grid.start, grid.slots).catch(() => [NaN]);
      if (!series || baseline.length < grid.slots || baseline.some((x) => !Number.isFinite(x))) {
        this.log.warn({ site: site.id }, 'no FIFO baseline for the horizon: plans are not carbon-capped');
        return undefined;
      }
      const g = carbonOf(series, 'forecast');
      baseline.forEach((kw, t) => (kg += (kw * (grid.slotMinutes / 60) * (g[t] ?? 0)) / 1000));
    }
    return kg;
  }
}
