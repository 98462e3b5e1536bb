// What a backtest strategy may know about the grid at a decision time, and nothing later.
//
// GridData holds the recorded half-hourly series over the backtest's span (NESO national carbon:
// the stored forecast column and the actual; Elexon MID as the outturn price). A strategy never
// reads it directly: it gets a ForecastView bound to its decision time, and every value the view
// hands out carries the instant it was issued (or became known). The view refuses — FLX_INTERNAL,
// since only a program fault can ask — to hand out anything issued after the decision time
// (issue 15: "no signal issued after the decision time", enforced in code and tested).
//
// Vintages (docs/backtest.md, "Forecast vintages"):
// - carbon: NESO's stored forecast for a period is its last forecast before the period starts (the
//   API overwrites it until then), so it counts as issued at the period's start. For a period that
//   starts after the decision, the view gives the vintage issued at the decision (rounded down to
//   the half hour, NESO's cadence): the stored value plus seeded noise whose size grows with the
//   lead up to a day ahead, calibrated on 2023 (src/domain/forecast-vintage.ts, docs/signals.md).
//   No archive of NESO's own vintages ships, so this vintage is centred on the later stored value:
//   the one approximation, blurred by noise of the measured size.
// - price: no price forecast ships. The naive forecast is the mean MID of the same half hour on the
//   seven previous days, using only outturns published (period ended) by the decision time; a MID
//   outturn is known from its period's end; plus the carbon term: PRICE_PER_CARBON × how far the
//   carbon forecast for the half hour (the vintage issued by the decision) lies from the stored
//   forecasts of the same days' half hours, since gas sets both GB's price and its intensity at the
//   margin; plus the day's level: the mean error of that forecast over the last two published hours,
//   fading with the lead. Built from outturns and carbon vintages issued by the decision, so no value
//   issued later is read; but the carbon vintage is centred on NESO's stored forecast (see above), so
//   the price forecast inherits that approximation, and part of what the carbon term gains may rest on it.
import {
  DEFAULT_VINTAGE_MODEL,
  NoisePath,
  noiseIndex,
  noiseSeed,
  vintageIssuedAt,
  vintageValue,
  type VintageModel,
} from '../domain/forecast-vintage.ts';
import { NATIONAL_REGION_ID } from '../domain/regions.ts';
import { PERIOD_MS } from '../domain/settlement-day.ts';
import type { SignalHistory } from '../domain/signal-history.ts';
import { FlexError } from '../errors.ts';

/** Days of history the naive price forecast averages (the calibrated causal forecaster). */
export const PRICE_FORECAST_DAYS = 7;
/**
 * The level correction: the mean error of the naive forecast over the last PRICE_LEVEL_PERIODS
 * published half hours is added to each forecast, × e^(−lead / PRICE_LEVEL_HOURS). Two weeks of
 * the idle fleet (docs/backtest.md, "Forecast vintages"): flexlon's £ + carbon £10,440 without it,
 * £10,306 with 3 h, £10,315 with 6 h (oracle £10,290) in January; £9,677, £9,667, £9,658 (£9,539)
 * in June. 6 h: the most lateness saved of the two in January.
 */
export const PRICE_LEVEL_PERIODS = 4;
/**
 * £/MWh of price per gCO2/kWh of carbon forecast above its level on the naive forecast's days. Gas
 * sets GB's price at the margin: a CCGT emits about 370 gCO2/kWh and cleared at about £80–100/MWh in
 * 2023–24, a ratio near 0.24. Calibrated on January–September 2024, out of the 2023 backtests'
 * sample (docs/backtest.md, "Forecast vintages"): deciding every 4 h which 12 of the next 48 half
 * hours are cheapest, the regret (£/MWh above the truly cheapest 12) falls from 8.02 without it to
 * 6.91 at 0.2 (7.24 at 0.1, 6.88 at 0.3); on 2023, 9.80 → 8.41, best between 0.2 and 0.25.
 */
export const PRICE_PER_CARBON = 0.2;
export const PRICE_LEVEL_HOURS = 6;
const DAY_PERIODS = 48;

/** Recorded series, one value per half hour from `start`; gaps filled and counted, never silent. */
export interface GridData {
  readonly start: number;
  readonly periods: number;
  /** NESO stored forecast (gCO2/kWh); gaps carried forward from the last known value. */
  readonly carbonForecast: Float64Array;
  /** NESO actual (gCO2/kWh); NaN where missing (accounting then uses the stored forecast). */
  readonly carbonActual: Float64Array;
  /** MID outturn (£/MWh); NaN where no trades were recorded. */
  readonly price: Float64Array;
  readonly seed: number;
}

export interface DataGaps {
  readonly carbonForecastFilled: number;
  readonly carbonActualMissing: number;
  readonly priceMissing: number;
}

/** The national series of a history over [start, start + periods half hours). */
export const gridDataOf = (history: SignalHistory, start: number, periods: number, seed: number): GridData => {
  const carbonForecast = new Float64Array(periods);
  const carbonActual = new Float64Array(periods).fill(NaN);
  const price = new Float64Array(periods).fill(NaN);
  let last = NaN;
  const firstKnown: number[] = [];
  for (let i = 0; i < periods; i++) {
    const r = history.get(NATIONAL_REGION_ID, start + i * PERIOD_MS);
    if (r?.carbonForecast !== undefined) last = r.carbonForecast;
    else if (Number.isNaN(last)) firstKnown.push(i);
    carbonForecast[i] = r?.carbonForecast ?? last;
    if (r?.carbonActual !== undefined) carbonActual[i] = r.carbonActual;
    if (r?.price !== undefined) price[i] = r.price;
  }
  if (firstKnown.length === periods || Number.isNaN(carbonForecast[periods - 1] ?? NaN))
    throw new FlexError(
      'FLX_SIGNAL_UNAVAILABLE',
      `the grid data has no national carbon intensity from ${new Date(start).toISOString()} for ${periods} half hours`,
    );
  // A leading gap takes the first known value (reported in the gaps).
  const first = carbonForecast[firstKnown.length] as number;
  for (const i of firstKnown) carbonForecast[i] = first;
  return { start, periods, carbonForecast, carbonActual, price, seed };
};

export const gapsOf = (history: SignalHistory, d: GridData, from: number, to: number): DataGaps => {
  let carbonForecastFilled = 0;
  let carbonActualMissing = 0;
  let priceMissing = 0;
  for (let i = from; i < to; i++) {
    if (history.get(NATIONAL_REGION_ID, d.start + i * PERIOD_MS)?.carbonForecast === undefined) carbonForecastFilled++;
    if (Number.isNaN(d.carbonActual[i] ?? NaN)) carbonActualMissing++;
    if (Number.isNaN(d.price[i] ?? NaN)) priceMissing++;
  }
  return { carbonForecastFilled, carbonActualMissing, priceMissing };
};

/** Outturn price with gaps carried forward from the last earlier price (else the next one). */
export const outturnPrice = (d: GridData, i: number): number => {
  for (let k = i; k >= 0; k--) {
    const p = d.price[k] as number;
    if (!Number.isNaN(p)) return p;
  }
  for (let k = i + 1; k < d.periods; k++) {
    const p = d.price[k] as number;
    if (!Number.isNaN(p)) return p;
  }
  throw new FlexError('FLX_SIGNAL_UNAVAILABLE', 'the grid data has no market index price at all');
};

/** Outturn carbon for accounting: NESO's actual, else its stored forecast (counted in the gaps). */
export const outturnCarbon = (d: GridData, i: number): number => {
  const a = d.carbonActual[i] as number;
  return Number.isNaN(a) ? (d.carbonForecast[i] as number) : a;
};

/** What a view has handed out: for the tests and results.json's look-ahead audit. */
export interface ViewAudit {
  reads: number;
  /** Latest issue time of any value handed out, minus the decision time (≤ 0 when honest). */
  maxLeadMs: number;
}

export const newAudit = (): ViewAudit => ({ reads: 0, maxLeadMs: -Infinity });

/** Signals as a planner sees them at one decision: per period index, a value and its issue time. */
export interface SignalView {
  readonly asOf: number;
  carbon(i: number): number;
  price(i: number): number;
}

/**
 * The forecasts known at `asOf`. Each value's issue time is checked against asOf before it leaves;
 * a later one is a look-ahead fault and throws.
 */
export class ForecastView implements SignalView {
  private readonly model: VintageModel;

  constructor(
    private readonly data: GridData,
    readonly asOf: number,
    private readonly noise: NoisePath,
    private readonly audit: ViewAudit = newAudit(),
    model: VintageModel = { ...DEFAULT_VINTAGE_MODEL, seed: data.seed },
    /** The price forecast's carbon term (£/MWh per gCO2/kWh); 0 leaves the forecast on prices alone. */
    private readonly pricePerCarbon = PRICE_PER_CARBON,
  ) {
    this.model = model;
  }

  private issued<T>(value: T, issuedAt: number, what: string): T {
    if (issuedAt > this.asOf)
      throw new FlexError(
        'FLX_INTERNAL',
        `look-ahead: ${what} was issued at ${new Date(issuedAt).toISOString()}, after the decision at ${new Date(this.asOf).toISOString()}`,
      );
    this.audit.reads++;
    this.audit.maxLeadMs = Math.max(this.audit.maxLeadMs, issuedAt - this.asOf);
    return value;
  }

  private startOf(i: number): number {
    return this.data.start + i * PERIOD_MS;
  }

  /**
   * The mean MID of period i's half hour on the PRICE_FORECAST_DAYS days before, as published by
   * asOf, and the mean stored carbon forecast of the same half hours (known from their start).
   */
  private naive(i: number): { value: number; carbon: number; latest: number } | undefined {
    let sum = 0;
    let carbon = 0;
    let n = 0;
    let latest = -Infinity;
    for (let d = 1; d <= PRICE_FORECAST_DAYS; d++) {
      const k = i - d * DAY_PERIODS;
      const end = this.startOf(k) + PERIOD_MS;
      if (k < 0 || end > this.asOf) continue;
      const p = this.data.price[k] as number;
      if (Number.isNaN(p)) continue;
      sum += p;
      carbon += this.data.carbonForecast[k] as number;
      n++;
      latest = Math.max(latest, end);
    }
    return n > 0 ? { value: sum / n, carbon: carbon / n, latest } : undefined;
  }

  /** The naive forecast with its carbon term, for a half hour whose carbon forecast is `carbon`. */
  private withCarbon(naive: { value: number; carbon: number }, carbon: number): number {
    return naive.value + this.pricePerCarbon * (carbon - naive.carbon);
  }

  /**
   * The day's level: the mean error of the naive forecast over the last PRICE_LEVEL_PERIODS
   * published half hours. It depends on asOf only, so each view works it out once (it was worked
   * out again for each of the 96 periods a plan reads).
   */
  private levelMemo?: { error: number; latest: number };
  private level(): { error: number; latest: number } {
    if (this.levelMemo) return this.levelMemo;
    let err = 0;
    let m = 0;
    let latest = -Infinity;
    const last = Math.floor((this.asOf - this.data.start) / PERIOD_MS) - 1;
    for (let k = last; k > last - PRICE_LEVEL_PERIODS && k >= 0; k--) {
      const p = this.data.price[k] as number;
      const f = this.naive(k);
      if (Number.isNaN(p) || !f) continue;
      // A published half hour: its stored carbon forecast was known from its start.
      err += p - this.withCarbon(f, this.data.carbonForecast[k] as number);
      m++;
      latest = Math.max(latest, f.latest, this.startOf(k) + PERIOD_MS);
    }
    this.levelMemo = { error: m > 0 ? err / m : 0, latest };
    return this.levelMemo;
  }

  carbon(i: number): number {
    const start = this.startOf(i);
    const stored = this.data.carbonForecast[i];
    if (stored === undefined) throw new RangeError(`period ${i} is outside the grid data`);
    // Known from the period's start: NESO stops revising it then.
    if (start <= this.asOf) return this.issued(stored, start, `the carbon forecast for ${iso(start)}`);
    const issuedAt = vintageIssuedAt(this.asOf, this.model);
    const v = vintageValue(stored, start, issuedAt, this.noise.at(noiseIndex(start)), this.model.fullErrorLeadMs);
    // Grid-average intensity cannot be negative, whatever the noise says.
    return this.issued(Math.max(0, v), issuedAt, `the carbon vintage for ${iso(start)}`);
  }

  price(i: number): number {
    const start = this.startOf(i);
    const own = this.data.price[i];
    if (own === undefined) throw new RangeError(`period ${i} is outside the grid data`);
    if (start + PERIOD_MS <= this.asOf && !Number.isNaN(own))
      return this.issued(own, start + PERIOD_MS, `the MID outturn for ${iso(start)}`);
    const naive = this.naive(i);
    if (naive) {
      // The day's level: how far the last published outturns ran above or below their own naive
      // forecasts, carried into the next hours and fading (PRICE_LEVEL_HOURS).
      const level = this.level();
      const leadH = Math.max(0, start - this.asOf) / 3_600_000;
      // The carbon forecast as this view hands it out: the vintage issued by the decision.
      const value = this.withCarbon(naive, this.carbon(i)) + level.error * Math.exp(-leadH / PRICE_LEVEL_HOURS);
      return this.issued(value, Math.max(naive.latest, level.latest), `the naive price forecast for ${iso(start)}`);
    }
    // Nothing on those days: the last outturn published by the decision.
    for (let k = Math.min(i, Math.floor((this.asOf - this.data.start) / PERIOD_MS) - 1); k >= 0; k--) {
      const p = this.data.price[k] as number;
      if (!Number.isNaN(p)) return this.issued(p, this.startOf(k) + PERIOD_MS, `the last MID outturn`);
    }
    // Before the first outturn of the data (its first half hour) no price is known at all: a flat
    // £0 lets carbon and lateness decide, which is all a planner could know.
    return this.issued(0, this.data.start, 'no price known yet (flat)');
  }
}

/** Perfect foresight, for the oracle only: the outturn of every period, whenever it happens. */
export class OutturnView implements SignalView {
  constructor(
    private readonly data: GridData,
    readonly asOf: number,
  ) {}

  carbon(i: number): number {
    return outturnCarbon(this.data, i);
  }

  price(i: number): number {
    return outturnPrice(this.data, i);
  }
}

/** The carbon noise path of a backtest: one per run, a function of the seed and the period only. */
export const carbonNoise = (seed: number): NoisePath =>
  new NoisePath(noiseSeed(seed, 'carbon', NATIONAL_REGION_ID), DEFAULT_VINTAGE_MODEL.carbon);

const iso = (t: number): string => new Date(t).toISOString().slice(0, 16) + 'Z';
