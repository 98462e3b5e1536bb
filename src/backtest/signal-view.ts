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
// - price: no price forecast ships. The profile forecast of a half hour is the base (the mean MID
//   of the last 48 published half hours) + that clock half hour's mean offset from its day's mean on
//   the last PRICE_SHAPE_DAYS fully published local days of the same kind, weekday or weekend (the
//   shape); plus the carbon term: pricePerCarbonAt(lead) × how far the carbon forecast for the half
//   hour (the vintage issued by the decision) lies from the same base + shape of the stored carbon
//   forecasts, since gas sets both GB's price and its intensity at the margin; plus the day's level:
//   the error of that forecast on the last published half hour, fading with the lead. A MID
//   outturn is known from its period's end. Built from outturns and carbon vintages issued by the
//   decision, so no value issued later is read; but the carbon vintage is centred on NESO's stored
//   forecast (see above), so the price forecast inherits that approximation, and part of what the
//   carbon term gains may rest on it.
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
import { cacheOf, localDayIndex, shapeOf } from './price-shape.ts';

export { PRICE_HISTORY_DAYS, PRICE_SHAPE_DAYS } from './price-shape.ts';

/** The forecast's base: the mean MID of the last PRICE_RECENT_PERIODS published half hours (a day). */
export const PRICE_RECENT_PERIODS = 48;
/**
 * The level correction: the mean error of the forecast over the last PRICE_LEVEL_PERIODS
 * published half hours is added to each forecast, × e^(−lead / PRICE_LEVEL_HOURS). The fade was
 * chosen with the naive 7-day forecast on two weeks of the idle fleet (docs/backtest.md, "Forecast
 * vintages"): flexlon's £ + carbon £10,440 without it,
 * £10,306 with 3 h, £10,315 with 6 h (oracle £10,290) in January; £9,677, £9,667, £9,658 (£9,539)
 * in June. 6 h: the most lateness saved of the two in January.
 * One half hour, not the four used until ed7048e: the latest error says most about the next hours.
 * Scored on January–September 2024 (out of the 2023 backtests' sample), deciding every hour, the
 * mean absolute error at lead 0 is £5.17/MWh with 1, £5.52 with 2, £6.53 with 4 and £8.46 with 8
 * half hours, and at leads of 0.5–2 h £7.82, £8.31, £9.13 and £10.46; the idle fleet's
 * January–September 2024 backtest captured 94.2 % of the oracle's £ + carbon saving with 1, 93.5 %
 * with 4 (docs/backtest.md, "The last half hour's error").
 */
export const PRICE_LEVEL_PERIODS = 1;
/** How far back (half hours) the level looks for PRICE_LEVEL_PERIODS priced half hours. */
export const PRICE_LEVEL_LOOKBACK = 4;
/**
 * £/MWh of price per gCO2/kWh of carbon forecast above its level and shape. Gas sets GB's price at
 * the margin: a CCGT emits about 370 gCO2/kWh and cleared at about £80–100/MWh in 2023–24, a ratio
 * near 0.24. Calibrated on January–September 2024 with the profile forecast (the regret above): 6.04
 * at 0.2, 5.97 at 0.25, 6.11 at 0.3; on 2023 7.84, 7.79, 7.87. (With the naive forecast before it,
 * scored on the stored carbon forecasts rather than the vintages: 8.02 without the term, 6.91 at 0.2.)
 */
export const PRICE_PER_CARBON = 0.25;
export const PRICE_LEVEL_HOURS = 6;
/**
 * The carbon term is weaker in the next hours: PRICE_PER_CARBON × (1 − (1 − PRICE_CARBON_NOW_SHARE)
 * × e^(−lead / PRICE_CARBON_HOURS)) (pricePerCarbonAt), £0.10/MWh per gCO2/kWh for the half hour
 * starting at the decision, £0.19 at 4 h, £0.25 a day ahead. Near the decision the day's level, the
 * last half hour's error, already holds most of what the intensity says. A least-squares fit on
 * January–September 2024, deciding every hour (the outturn less the forecast without any carbon
 * term, against the term's regressor as used here), gave slopes of 0.11 at lead 0, 0.13 at
 * 0.5–2 h, 0.16 at 2–4 h, 0.19 at 4–8 h and 0.20 beyond (2023: 0.15 rising to 0.23–0.26). With this
 * weight the mean absolute error fell at every lead in both years (2024: £5.17 → £5.08/MWh at lead
 * 0, £7.82 → £7.67 at 0.5–2 h; 2023: £8.33 → £8.29, £11.53 → £11.51). Time constants of 2 h and
 * 8 h scored within noise of 4 h, which had the best regret of the cheapest 4 of 16 half hours on
 * 2024; a day-ahead 0.20 (the fit) had the lower error beyond 8 h but the worse regret, so the
 * day-ahead weight stays 0.25 (docs/backtest.md, "A weaker carbon term in the next hours").
 */
export const PRICE_CARBON_NOW_SHARE = 0.4;
export const PRICE_CARBON_HOURS = 4;

/** The carbon term's £/MWh per gCO2/kWh at `leadH` hours ahead, for a term of `perCarbon` a day ahead. */
export const pricePerCarbonAt = (leadH: number, perCarbon = PRICE_PER_CARBON): number =>
  perCarbon * (1 - (1 - PRICE_CARBON_NOW_SHARE) * Math.exp(-Math.max(0, leadH) / PRICE_CARBON_HOURS));

/**
 * Recorded series, one value per half hour from `start`; gaps filled and counted, never silent.
 * Never changed after gridDataOf: the price forecast caches what it works out from them.
 */
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
    /** The price forecast's carbon term a day ahead (£/MWh per gCO2/kWh; pricePerCarbonAt); 0 leaves the forecast on prices alone. */
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

  /** The base: the last PRICE_RECENT_PERIODS published half hours' mean MID and mean stored carbon forecast. */
  private baseMemo?: { price: number; carbon: number; latest: number } | null;
  private base(): { price: number; carbon: number; latest: number } | undefined {
    if (this.baseMemo !== undefined) return this.baseMemo ?? undefined;
    let price = 0;
    let carbon = 0;
    let n = 0;
    let latest = -Infinity;
    const last = Math.floor((this.asOf - this.data.start) / PERIOD_MS) - 1;
    for (let k = last; k > last - PRICE_RECENT_PERIODS && k >= 0; k--) {
      const p = this.data.price[k] as number;
      if (Number.isNaN(p)) continue;
      price += p;
      carbon += this.data.carbonForecast[k] as number;
      n++;
      latest = Math.max(latest, this.startOf(k) + PERIOD_MS);
    }
    this.baseMemo = n > 0 ? { price: price / n, carbon: carbon / n, latest } : null;
    return this.baseMemo ?? undefined;
  }

  /**
   * The forecast of period i without the day's level or the carbon term, for a half hour whose
   * carbon forecast is `carbon`: the base (the last 48 published half hours) + the shape of whole
   * local days before i's own, at i's local clock half hour; and `carbonOff`, how far `carbon` lies
   * from the same base + shape of the stored carbon forecasts (the carbon term is that × its £/MWh
   * per gCO2/kWh at the lead, which the caller knows).
   */
  private profile(i: number, carbon: number): { value: number; carbonOff: number; latest: number } | undefined {
    const base = this.base();
    if (!base) return undefined;
    const c = cacheOf(this.data);
    const day = (c.day[i] as number) - c.firstDay;
    const lastFull = Math.min(localDayIndex(this.data, this.asOf) - 1, day - 1);
    const shape = shapeOf(this.data, lastFull, c.weekend[day] === 1);
    if (!shape) return undefined;
    // A clock half hour no day of the shape had (01:00–02:00 local, were every such day a spring
    // clock change) takes no offset rather than another forecast.
    const slot = c.slot[i] as number;
    const has = (shape.n[slot] as number) > 0;
    const [dp, dc] = has ? [shape.price[slot] as number, shape.carbon[slot] as number] : [0, 0];
    return {
      value: base.price + dp,
      carbonOff: carbon - base.carbon - dc,
      latest: Math.max(base.latest, shape.latest),
    };
  }

  /**
   * The day's level: the mean error of the profile forecast over the last PRICE_LEVEL_PERIODS
   * published half hours that have a price; a missing MID (5 periods of 2023, and 15 of zero
   * volume) is passed over, up to PRICE_LEVEL_LOOKBACK half hours back, rather than leaving the
   * level at 0. Kept as the error without the carbon term and the carbon offset apart, since the
   * term's weight depends on the lead of the half hour it corrects (pricePerCarbonAt). It depends on
   * asOf only, so each view works it out once (it was worked out again for each of the 96 periods a
   * plan reads).
   */
  private levelMemo?: { error: number; carbonOff: number; latest: number };
  private level(): { error: number; carbonOff: number; latest: number } {
    if (this.levelMemo) return this.levelMemo;
    let err = 0;
    let off = 0;
    let m = 0;
    let latest = -Infinity;
    const last = Math.floor((this.asOf - this.data.start) / PERIOD_MS) - 1;
    for (let k = last; m < PRICE_LEVEL_PERIODS && k > last - PRICE_LEVEL_LOOKBACK && k >= 0; k--) {
      const p = this.data.price[k] as number;
      // A published half hour: its stored carbon forecast was known from its start.
      const f = this.profile(k, this.data.carbonForecast[k] as number);
      if (Number.isNaN(p) || !f) continue;
      err += p - f.value;
      off += f.carbonOff;
      m++;
      latest = Math.max(latest, f.latest, this.startOf(k) + PERIOD_MS);
    }
    this.levelMemo = m > 0 ? { error: err / m, carbonOff: off / m, latest } : { error: 0, carbonOff: 0, latest };
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
    // The carbon forecast as this view hands it out: the vintage issued by the decision.
    const f = this.profile(i, this.carbon(i));
    if (f) {
      // The carbon term at this lead; the day's level: how far the last published outturns ran
      // above or below their own forecasts (with the same term), carried into the next hours and
      // fading (PRICE_LEVEL_HOURS).
      const level = this.level();
      const leadH = Math.max(0, start - this.asOf) / 3_600_000;
      const perCarbon = pricePerCarbonAt(leadH, this.pricePerCarbon);
      const levelError = level.error - perCarbon * level.carbonOff;
      const value = f.value + perCarbon * f.carbonOff + levelError * Math.exp(-leadH / PRICE_LEVEL_HOURS);
      return this.issued(value, Math.max(f.latest, level.latest), `the price forecast for ${iso(start)}`);
    }
    // No whole day published before: the last outturn published by the decision.
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
