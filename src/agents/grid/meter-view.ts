// The buyer's own meter view (issue 16): the half-hourly import a DSO or aggregator holds for the
// metering point of each site it buys from (its settlement or smart-meter data, a supplier's export),
// kept apart from anything the provider reports. The statement check (statement-check.ts) recomputes
// delivery from these readings and from the buyer's own baseline where it can make one: the
// product's baseline method (BL01, DFS, ENA; settlement/meter-baselines.ts) over the history the
// meter view holds before the window's day. Without that history, or for a nominated baseline, the
// statement's baseline is used and the check says so.
import { settlementPeriodOf, PERIOD_MS } from '../../domain/settlement-day.ts';
import { asFlexError } from '../../errors.ts';
import { meterDays, type MeterSeries } from '../../formats/meter-csv.ts';
import { eventBaseline } from '../../settlement/meter-baselines.ts';
import type { Procurement } from './split.ts';

export interface BuyerMeterData {
  /** Where the readings come from (file and metering point), named in the check. */
  readonly source: string;
  /** Metered import kW (mean over the period) by period start; a period the buyer has no reading for is absent. */
  readonly meteredKw: ReadonlyMap<number, number>;
  /** The buyer's own baseline kW by period start, when it could make one. */
  readonly baselineKw?: ReadonlyMap<number, number>;
  /** How that baseline was made, or why there is none. */
  readonly baseline: string;
}

export interface MeterView {
  /** The buyer's readings for the site behind `p` over its window; undefined when it holds none for that site. */
  readingsFor(p: Pick<Procurement, 'offer' | 'product'>): Promise<BuyerMeterData | undefined>;
}

/**
 * A meter view over parsed meter files (formats/meter-csv.ts), one per site id. The window's
 * periods are read from the series; the baseline is the product's method over the series' earlier
 * days, when the window lies in one settlement day and the history suffices.
 */
export const meterSeriesView = (bySite: ReadonlyMap<string, MeterSeries>): MeterView => ({
  readingsFor: async (p) => {
    const series = bySite.get(p.offer.site);
    if (!series) return undefined;
    const meteredKw = new Map<number, number>();
    for (let t: number = p.offer.windowStart; t < p.offer.windowEnd; t += PERIOD_MS) {
      const v = series.kw.get(t);
      if (v !== undefined) meteredKw.set(t, v);
    }
    const source = `${series.file}${series.meterId ? ` (meter ${series.meterId})` : ''}`;
    const first = settlementPeriodOf(p.offer.windowStart);
    const last = settlementPeriodOf(p.offer.windowEnd - PERIOD_MS);
    const method = p.product?.baseline ?? 'bl01';
    if (method === 'nominated')
      return { source, meteredKw, baseline: 'the statement’s (a nominated baseline is the provider’s own)' };
    if (first.date !== last.date)
      return { source, meteredKw, baseline: 'the statement’s (the window spans two settlement days)' };
    try {
      const b = eventBaseline(
        method,
        meterDays(series),
        { date: first.date, fromPeriod: first.period, toPeriod: last.period + 1 },
        p.product?.battery ? { battery: true } : {},
      );
      const baselineKw = new Map<number, number>();
      b.baselineKw.forEach((kw, i) => baselineKw.set(p.offer.windowStart + i * PERIOD_MS, kw));
      return { source, meteredKw, baselineKw, baseline: `${b.method}, days ${b.selectedDays.join(', ')}` };
    } catch (e) {
      return {
        source,
        meteredKw,
        baseline: `the statement’s (no ${method} baseline from the meter view: ${asFlexError(e).message})`,
      };
    }
  },
});
