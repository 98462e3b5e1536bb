// The shape of a day's prices, for the backtest's causal price forecast (signal-view.ts,
// ForecastView.price): per UK local clock half hour, the mean offset of the MID (and of the stored
// carbon forecast) from its day's mean over recent whole local days of the same kind, weekday or
// weekend. Days are local settlement days (46, 48 or 50 periods), so a shape does not depend on
// where a run's data starts. Only whole days published by a decision count; the caller passes the
// last such day, so nothing here can look ahead.
import { londonOffsetMs, PERIOD_MS } from '../domain/settlement-day.ts';

/** The recorded series a shape reads (signal-view.ts GridData is one); never changed once made. */
export interface ShapeSeries {
  readonly start: number;
  readonly periods: number;
  readonly price: Float64Array;
  readonly carbonForecast: Float64Array;
}

/**
 * The price forecast's shape: each local clock half hour's mean offset from its day's mean over the
 * last PRICE_SHAPE_DAYS fully published local days of the same kind (weekday or weekend), looking
 * back at most PRICE_HISTORY_DAYS (so 28 weekdays, but the 20 weekend days those days hold).
 * Calibrated on January–September 2024, out of the 2023 backtests' sample (docs/backtest.md,
 * "Forecast vintages"): deciding every 4 h which 12 of the next 48 half hours are cheapest, the
 * regret (£/MWh above the truly cheapest 12, on the noisy carbon vintages) is 6.85 with the naive
 * forecast that came before it (the mean of the same half hour on the 7 days before), 6.44 with 10
 * days of the same kind, 6.04 with a 28-day shape; on 2023, 8.90, 8.31 and 7.84 (a scratch scorer;
 * days then blocks of 48 half hours from the data's start, since 2026-12-07 local days).
 */
export const PRICE_SHAPE_DAYS = 28;
/** Days of published history the price forecast may read (the backtest loads this many before its first day). */
export const PRICE_HISTORY_DAYS = 70;
const DAY_PERIODS = 48;
const DAY_MS = 86_400_000;

/** The UK local day (days since 1970-01-01) of instant t. */
const localDay = (t: number): number => Math.floor((t + londonOffsetMs(t)) / DAY_MS);

/** The local day of instant t, counted from the data's first (its start is a settlement day's). */
export const localDayIndex = (d: ShapeSeries, t: number): number => localDay(t) - localDay(d.start);

interface Shape {
  /** Per local clock half hour: mean offset of the MID from its day's mean, and of the stored carbon forecast. */
  readonly price: Float64Array;
  readonly carbon: Float64Array;
  /** Days that had a price in that half hour. */
  readonly n: Uint8Array;
  /** When the last day used was published (its end). */
  readonly latest: number;
}

/**
 * Per grid data, worked out once: each period's local day (days since 1970) and local clock half
 * hour (0–47: a spring clock-change day has no 2 and 3, an autumn one has them twice), and per
 * local day (counted from the data's first) its weekend flag, mean MID and carbon (NaN with no
 * price), first period and end; and the shapes. The price shape follows the clock people live by,
 * so days are the local settlement days (46, 48 or 50 periods), wherever the data starts.
 * GridData's arrays are never changed after gridDataOf, so the cache stays true.
 */
interface DayCache {
  readonly firstDay: number;
  readonly day: Int32Array;
  readonly slot: Uint8Array;
  readonly weekend: Uint8Array;
  readonly means: Float64Array;
  readonly carbons: Float64Array;
  readonly firsts: Int32Array;
  readonly ends: Float64Array;
  readonly shapes: Map<number, Shape | null>;
}
const dayCache = new WeakMap<ShapeSeries, DayCache>();

export const cacheOf = (d: ShapeSeries): DayCache => {
  const known = dayCache.get(d);
  if (known) return known;
  const firstDay = localDay(d.start);
  const day = new Int32Array(d.periods);
  const slot = new Uint8Array(d.periods);
  for (let k = 0; k < d.periods; k++) {
    const t = d.start + k * PERIOD_MS;
    const local = t + londonOffsetMs(t);
    day[k] = Math.floor(local / DAY_MS);
    slot[k] = Math.floor((local - (day[k] as number) * DAY_MS) / PERIOD_MS);
  }
  const days = (day[d.periods - 1] as number) - firstDay + 1;
  const sums = new Float64Array(days);
  const carbonSums = new Float64Array(days);
  const counts = new Int32Array(days);
  const firsts = new Int32Array(days).fill(-1);
  const ends = new Float64Array(days);
  for (let k = 0; k < d.periods; k++) {
    const b = (day[k] as number) - firstDay;
    if ((firsts[b] as number) < 0) firsts[b] = k;
    ends[b] = d.start + (k + 1) * PERIOD_MS;
    const v = d.price[k] as number;
    if (Number.isNaN(v)) continue;
    sums[b] = (sums[b] as number) + v;
    carbonSums[b] = (carbonSums[b] as number) + (d.carbonForecast[k] as number);
    counts[b] = (counts[b] as number) + 1;
  }
  const means = sums.map((x, b) => ((counts[b] as number) > 0 ? x / (counts[b] as number) : NaN));
  const carbons = carbonSums.map((x, b) => ((counts[b] as number) > 0 ? x / (counts[b] as number) : NaN));
  const weekend = Uint8Array.from({ length: days }, (_, b) => {
    const dow = new Date((firstDay + b) * DAY_MS).getUTCDay();
    return dow === 0 || dow === 6 ? 1 : 0;
  });
  const c = { firstDay, day, slot, weekend, means, carbons, firsts, ends, shapes: new Map<number, Shape | null>() };
  dayCache.set(d, c);
  return c;
};

/**
 * The shape of weekdays or weekends as known once local day `lastFull` (counted from the data's
 * first) is published: the mean offset of each clock half hour from its day's mean over the last
 * PRICE_SHAPE_DAYS such days up to lastFull, within PRICE_HISTORY_DAYS (which hold 50 weekdays but
 * only 20 weekend days). Only whole published days count, so it depends on lastFull and the kind of
 * day alone, and is worked out once per run for each.
 */
export const shapeOf = (d: ShapeSeries, lastFull: number, weekend: boolean): Shape | undefined => {
  const c = cacheOf(d);
  const key = lastFull * 2 + (weekend ? 1 : 0);
  const memo = c.shapes.get(key);
  if (memo !== undefined) return memo ?? undefined;
  const price = new Float64Array(DAY_PERIODS);
  const carbon = new Float64Array(DAY_PERIODS);
  const n = new Uint8Array(DAY_PERIODS);
  let days = 0;
  let latest = -Infinity;
  const top = Math.min(lastFull, c.means.length - 1);
  for (let b = top; b >= 0 && b > lastFull - PRICE_HISTORY_DAYS && days < PRICE_SHAPE_DAYS; b--) {
    const mean = c.means[b] as number;
    if ((c.weekend[b] === 1) !== weekend || Number.isNaN(mean)) continue;
    for (let k = c.firsts[b] as number; k >= 0 && k < d.periods && (c.day[k] as number) - c.firstDay === b; k++) {
      const v = d.price[k] as number;
      if (Number.isNaN(v)) continue;
      const hh = c.slot[k] as number;
      price[hh] = (price[hh] as number) + v - mean;
      carbon[hh] = (carbon[hh] as number) + (d.carbonForecast[k] as number) - (c.carbons[b] as number);
      n[hh] = (n[hh] as number) + 1;
    }
    days++;
    latest = Math.max(latest, c.ends[b] as number);
  }
  for (let hh = 0; hh < DAY_PERIODS; hh++) {
    const m = n[hh] as number;
    if (m > 0) [price[hh], carbon[hh]] = [(price[hh] as number) / m, (carbon[hh] as number) / m];
  }
  const shape = days > 0 ? { price, carbon, n, latest } : null;
  c.shapes.set(key, shape);
  return shape ?? undefined;
};
