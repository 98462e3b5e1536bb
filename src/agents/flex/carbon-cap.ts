// The FIFO carbon caps (BPP config `carbonCap`; docs/operator-guide.md, "Carbon cap"). Both are
// kept cumulatively, not per plan, from the origin: the start of the first day this BPP capped (at
// most a week back). FIFO's figures are the sites' settlement baselines (the FIFO counterfactual their
// agents compute, asked for as such whatever baseline orders are settled on; a real site, which has
// no twin, answers with its settlement baseline, BL01 over its meter), metered is what the sites imported from the origin to the plan's first slot, and
// every kWh is at the forecast intensity of its half-hour.
//  - "fifo" (the default): FlexLon may emit no more than the same queues would on FIFO. A plan made
//    at time t may emit FIFO's kg from the origin to its horizon end less the metered kg.
//  - "fifo-intensity": no more CO2 per kWh than the same queues on FIFO. A plan keeps
//      metered kg + the plan's kg ≤ I × (metered kWh + the plan's kWh for its IT load),
//      I = FIFO's kg / FIFO's kWh from the origin to the plan's horizon end,
//    which the planner takes as an intensity with an allowance (PlanningProblem.carbonCapGPerKwh = I,
//    carbonCapKg = I × metered kWh − metered kg; src/optimise/carbon-cap.ts). The meter cannot tell a
//    battery's charging from the IT load, so at a battery site the day so far is credited on all it
//    imported; the plan's battery flows earn no room.
//
// Why two. On a full site FIFO's strict order leaves GPUs idle behind a job that does not fit, so a
// budget of FIFO's kg caps the work FlexLon may do; and a simulated site's FIFO twin runs the day's
// jobs before they are submitted, so early in the day its kg over a horizon counts work no plan can
// see yet and the kg cap does not bind (`flexlon demo --jobs 150`, 2023-01-24: the first plan 4,975 kg
// against 6,768). The intensity binds from the first plan instead, and pays for work done in clean
// hours, but it also pays for GPUs left idle in dirty ones, and a cap that binds makes every
// commitment dearer (the plans that price it must keep the cap too). Measured on 2023-01-24 (work done
// in the two days against FIFO; docs/benchmarks.md, "Two FIFO carbon caps"): `--jobs 150` 0.8 % less
// with fifo, 2.4 % less with fifo-intensity; `--jobs 150 --sites 3` 3.9 % and 4.4 %; `--jobs 300
// --sites 3` 4.0 % with fifo and no deal with fifo-intensity. So the default stays fifo. A cap per unit of work (the
// import above the base load) was tried and cannot be met: the plan's horizon ends with base load and
// none of the work still to arrive, which FIFO's twin has. Why cumulative: once FlexLon has deferred
// work that FIFO ran earlier, its remaining work over the next 48 hours is not FIFO's remaining work.
// Read once per horizon (each half hour): one baseline, one meter and one signal read per site,
// however many plans the half hour makes.
import type { FlexibilityReport } from '../../domain/compute.ts';
import { carbonOf, type SignalSeries } from '../../domain/signals.ts';
import { settlementDayStartAfter, settlementDayStartOf } from '../../domain/settlement-day.ts';
import { epochMs, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import type { Logger } from '../../log.ts';

type SlotsRead = (site: string, from: EpochMs, slots: number) => Promise<number[]>;
type Intensity = (region: string, grid: SlotGrid) => Promise<SignalSeries>;

export interface FifoCapReads {
  /** FIFO's import per slot: the site's counterfactual (its settlement baseline where it has none). */
  readonly baseline: SlotsRead;
  readonly meter: SlotsRead;
  /** Forecast intensity for a grid of past and future slots, as known now. */
  readonly intensity: Intensity;
}

const finite = (xs: readonly number[], n: number): boolean => xs.length >= n && xs.slice(0, n).every(Number.isFinite);

/**
 * A baseline with an hour missing here and there taken at the period before each gap: BL01 matches
 * periods by number (docs/settlement.md), so SP49–50 of the autumn clock change's 50-period day have
 * no baseline, and without this the cap was off for every plan whose horizon reached them. A longer
 * gap, or one at the start, is left as it is (no cap: the baseline is not known).
 */
const fillHourGaps = (xs: readonly number[]): number[] => {
  const out = [...xs];
  for (let t = 1; t < out.length; t++) {
    if (Number.isFinite(out[t])) continue;
    let end = t;
    while (end < out.length && !Number.isFinite(out[end])) end++;
    if (end - t > 2) return out;
    for (let k = t; k < end; k++) out[k] = out[t - 1] as number;
    t = end;
  }
  return out;
};

/** The cap a plan keeps: kg emitted ≤ kg (+ gPerKwh × kWh imported / 1000; PlanningProblem.carbonCapGPerKwh). */
export interface FifoCap {
  /**
   * "fifo": FIFO's kg less the kg metered so far. "fifo-intensity": the allowance, I × the kWh
   * metered so far less the kg metered so far (may be below 0).
   */
  readonly kg: number;
  /** "fifo-intensity" only: I, FIFO's mean intensity from the origin to the horizon's end (g per kWh imported). */
  readonly gPerKwh?: number;
}

/** What the FIFO cap holds the plans to: FIFO's kg, or FIFO's kg per kWh (see above). */
export type FifoCapKind = 'kg' | 'intensity';

/** Where a planned site is (FlexibilityReport's site and region). */
export type CapSite = Pick<FlexibilityReport, 'site' | 'region'>;

export class FifoCarbonCap {
  /** The cap by horizon start and the sites planned; undefined where a site had no baseline (then plans are not capped). */
  private readonly byHorizon = new Map<string, { start: number; cap: FifoCap | undefined }>();
  private firstDay: number | undefined;

  constructor(
    private readonly reads: FifoCapReads,
    private readonly log: Logger,
    private readonly kind: FifoCapKind = 'kg',
  ) {}

  /** The plan's cap over `grid`, or undefined when it cannot be measured. */
  async cap(
    grid: SlotGrid,
    sites: readonly CapSite[],
    signals: ReadonlyMap<string, SignalSeries>,
  ): Promise<FifoCap | undefined> {
    // The cap is the planned sites': one more site reporting changes it.
    const key = `${grid.start}|${sites
      .map((s) => s.site)
      .sort()
      .join(',')}`;
    const known = this.byHorizon.get(key);
    if (known) return known.cap;
    const cap = await this.measure(grid, sites, signals);
    // Only the current horizon is asked for again; older ones are dropped.
    for (const [k, v] of this.byHorizon) if (v.start < grid.start) this.byHorizon.delete(k);
    this.byHorizon.set(key, { start: grid.start, cap });
    return cap;
  }

  private async measure(
    grid: SlotGrid,
    sites: readonly CapSite[],
    signals: ReadonlyMap<string, SignalSeries>,
  ): Promise<FifoCap | undefined> {
    const slotMs = grid.slotMinutes * 60_000;
    const h = grid.slotMinutes / 60;
    // From the first horizon this BPP capped (its day's start), at most a week back: a budget reset
    // at each midnight would forget the work FlexLon has deferred and FIFO has already run.
    // Days are settlement days (from UK local midnight), as the market's are.
    this.firstDay ??= settlementDayStartOf(grid.start);
    const origin = epochMs(Math.max(this.firstDay, settlementDayStartAfter(grid.start, -6)));
    const past = Math.round((grid.start - origin) / slotMs);
    // "fifo": one running sum, FIFO's kg added and the metered kg taken off site by site (summed
    // otherwise the budget differs in its last bits, and so do the plans).
    let budgetKg = 0;
    let fifoKg = 0;
    let fifoKwh = 0;
    let meteredKg = 0;
    let meteredKwh = 0;
    for (const site of sites) {
      const series = signals.get(site.region);
      const fifo = fillHourGaps(await this.reads.baseline(site.site, origin, past + grid.slots).catch(() => [NaN]));
      const metered = past > 0 ? await this.reads.meter(site.site, origin, past).catch(() => [NaN]) : [];
      const before =
        past > 0
          ? await this.reads
              .intensity(site.region, { start: origin, slotMinutes: grid.slotMinutes, slots: past })
              .then((s) => carbonOf(s, 'forecast'))
              .catch(() => [NaN])
          : [];
      if (!series || !finite(fifo, past + grid.slots) || !finite(metered, past) || !finite(before, past)) {
        this.log.warn(
          { site: site.site },
          'no FIFO baseline or meter history for the day: plans are not carbon-capped',
        );
        return undefined;
      }
      const ahead = carbonOf(series, 'forecast');
      const g = (t: number): number => (t < past ? (before[t] ?? 0) : (ahead[t - past] ?? 0));
      fifo.slice(0, past + grid.slots).forEach((kw, t) => {
        budgetKg += (kw * h * g(t)) / 1000;
        fifoKg += (kw * h * g(t)) / 1000;
        fifoKwh += kw * h;
      });
      metered.slice(0, past).forEach((kw, t) => {
        budgetKg -= (kw * h * g(t)) / 1000;
        meteredKg += (kw * h * g(t)) / 1000;
        meteredKwh += kw * h;
      });
    }
    if (this.kind === 'kg') return { kg: budgetKg };
    // FIFO imported nothing: there is no intensity to hold the plans to.
    if (!(fifoKwh > 0)) return undefined;
    const gPerKwh = (fifoKg / fifoKwh) * 1000;
    return { kg: (gPerKwh * meteredKwh) / 1000 - meteredKg, gPerKwh };
  }
}
