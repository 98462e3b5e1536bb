// Measures the forecast errors that the vintage noise is calibrated to (docs/signals.md, "Forecast
// vintages"), from recorded history only, so the figures in the docs can be re-derived at will:
//   carbon: NESO stored forecast − NESO actual, national, per half hour;
//   price:  a causal day-ahead forecaster − MID outturn, where the forecaster is the mean of the
//           same half hour on the seven previous days (no price forecast archive is public, and
//           GB day-ahead auction prices are licensed data), and, for comparison, the previous day.
import { fitErrors, type ErrorFit } from './forecast-vintage.ts';
import { NATIONAL_REGION_ID } from './regions.ts';
import { PERIOD_MS } from './settlement-day.ts';
import type { SignalHistory } from './signal-history.ts';

const DAY = 48 * PERIOD_MS;

const series = (from: number, to: number, f: (t: number) => number | undefined): (number | undefined)[] => {
  const out: (number | undefined)[] = [];
  for (let t = from; t < to; t += PERIOD_MS) out.push(f(t));
  return out;
};

export interface Calibration {
  readonly from: number;
  readonly to: number;
  /** NESO stored forecast − actual. */
  readonly carbon: ErrorFit;
  /** Seven-day same-half-hour mean − MID outturn (the calibration used). */
  readonly price: ErrorFit;
  /** Previous day's same half hour − MID outturn (for comparison). */
  readonly pricePersistence: ErrorFit;
  /** Previous day's actual − actual (how much better NESO's forecast is than persistence). */
  readonly carbonPersistence: ErrorFit;
}

export const calibrate = (h: SignalHistory, from: number, to: number): Calibration => {
  const rec = (t: number) => h.get(NATIONAL_REGION_ID, t);
  const price = (t: number) => rec(t)?.price;
  const carbon = fitErrors(
    series(from, to, (t) => {
      const r = rec(t);
      return r?.carbonForecast !== undefined && r.carbonActual !== undefined
        ? r.carbonForecast - r.carbonActual
        : undefined;
    }),
  );
  const weekMean = fitErrors(
    series(from, to, (t) => {
      const x = price(t);
      if (x === undefined) return undefined;
      const past = [1, 2, 3, 4, 5, 6, 7].map((d) => price(t - d * DAY)).filter((p): p is number => p !== undefined);
      return past.length ? past.reduce((a, b) => a + b, 0) / past.length - x : undefined;
    }),
  );
  const persistence = fitErrors(
    series(from, to, (t) => {
      const x = price(t);
      const y = price(t - DAY);
      return x !== undefined && y !== undefined ? y - x : undefined;
    }),
  );
  const carbonPersistence = fitErrors(
    series(from, to, (t) => {
      const x = rec(t)?.carbonActual;
      const y = rec(t - DAY)?.carbonActual;
      return x !== undefined && y !== undefined ? y - x : undefined;
    }),
  );
  return { from, to, carbon, price: weekMean, pricePersistence: persistence, carbonPersistence };
};
