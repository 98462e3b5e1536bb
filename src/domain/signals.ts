// Grid signals: what the grid tells us per settlement period. Sign convention: prices are what an
// importer pays (£/MWh, may be negative); carbon intensity is the grid average (gCO2/kWh).
import type { EpochMs } from './time.ts';
import type { GramsCo2PerKwh, PoundsPerMwh } from './units.ts';

export interface GridSignalPoint {
  readonly start: EpochMs;
  /** Forecast carbon intensity as it stood when the signal was issued. */
  readonly carbonForecast: GramsCo2PerKwh;
  /** Outturn carbon intensity; absent when not (yet) known. */
  readonly carbonActual?: GramsCo2PerKwh;
  /** Market index price; absent when the period had no trades (zero volume is not a £0 price). */
  readonly price?: PoundsPerMwh;
  /** Imbalance (system) price, outturn only; absent unless the source has system prices. */
  readonly imbalancePrice?: PoundsPerMwh;
}

/** A value the source did not have and filled in, so that nobody mistakes it for data. */
export interface FilledValue {
  readonly start: EpochMs;
  readonly field: 'carbonForecast' | 'price';
  /** How: e.g. "carried forward from 2023-10-20T21:30Z". */
  readonly how: string;
}

/** A day (or any horizon) of signals, one point per slot, as issued at `issuedAt`. */
export interface SignalSeries {
  readonly region: string;
  readonly issuedAt: EpochMs;
  readonly slotMinutes: number;
  readonly points: readonly GridSignalPoint[];
  /** Values filled in for periods the source has no data for (reported, never silent). */
  readonly filled?: readonly FilledValue[];
  /** How the forecast was made, e.g. "synthetic day-ahead vintage (seed 1)"; for audit rows. */
  readonly basis?: string;
}

/** Fills missing prices by carrying the last known price forward (first gap: next known price). */
export const pricesOf = (series: SignalSeries): PoundsPerMwh[] => {
  const out: (PoundsPerMwh | undefined)[] = series.points.map((p) => p.price);
  const firstKnown = out.find((p) => p !== undefined);
  if (firstKnown === undefined) throw new Error('signal series has no price at all');
  let last = firstKnown;
  return out.map((p) => (last = p ?? last));
};

export const carbonOf = (series: SignalSeries, which: 'forecast' | 'actual'): GramsCo2PerKwh[] =>
  series.points.map((p) => (which === 'actual' ? (p.carbonActual ?? p.carbonForecast) : p.carbonForecast));
