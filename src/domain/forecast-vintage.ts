// Forecast vintages without look-ahead. The shipped history holds one forecast per period — NESO's
// *latest* (the API overwrites it up to the period itself) — and no price forecast at all. A planner
// deciding at time t must not see either. A vintage is the forecast as it stood when issued; for
// periods whose stored value was only known later, the vintage is the stored value plus seeded
// noise whose size grows with the lead time and is calibrated to measured forecast errors
// (docs/signals.md, "Forecast vintages"). Pure: the noise is a deterministic function of the seed
// and the period, never of the data.
import { PERIOD_MS } from './settlement-day.ts';
import { seeded, type Random } from './random.ts';

/** Error statistics of a forecast-minus-outturn series, and the AR(1) fit used for noise. */
export interface ErrorFit {
  readonly n: number;
  readonly mae: number;
  readonly rmse: number;
  readonly bias: number;
  /** Lag-1 autocorrelation between consecutive half hours. */
  readonly phi: number;
}

/** Fits MAE, RMSE, bias and lag-1 autocorrelation; undefined entries (missing data) are skipped. */
export const fitErrors = (errors: readonly (number | undefined)[]): ErrorFit => {
  let n = 0;
  let sum = 0;
  let abs = 0;
  let sq = 0;
  for (const e of errors)
    if (e !== undefined) {
      n++;
      sum += e;
      abs += Math.abs(e);
      sq += e * e;
    }
  if (n < 2) throw new RangeError('at least two error values are needed to fit');
  const bias = sum / n;
  let num = 0;
  let den = 0;
  for (let i = 1; i < errors.length; i++) {
    const a = errors[i - 1];
    const b = errors[i];
    if (a === undefined || b === undefined) continue;
    num += (a - bias) * (b - bias);
    den += (a - bias) ** 2;
  }
  return { n, mae: abs / n, rmse: Math.sqrt(sq / n), bias, phi: den > 0 ? num / den : 0 };
};

/** What the noise for one signal looks like at full (day-ahead) lead. */
export interface NoiseSpec {
  /** Mean absolute error of the added noise (Laplace scale b; its RMSE is b·√2). */
  readonly mae: number;
  /** Lag-1 autocorrelation of the underlying AR(1) path. */
  readonly phi: number;
}

export interface VintageModel {
  readonly seed: number;
  readonly carbon: NoiseSpec;
  readonly price: NoiseSpec;
  /** Lead time at which the full error applies; shorter leads get √(lead/full) of it. */
  readonly fullErrorLeadMs: number;
  /** How often vintages are issued (NESO re-forecasts every half hour). */
  readonly issueEveryMs: number;
}

// Measured on the shipped data with `flexlon signals calibrate` (docs/signals.md has the table):
// carbon = NESO stored forecast − NESO actual, 2023; price = (mean of the same half hour on the
// seven previous days) − MID outturn, 2023, the error of a simple causal day-ahead forecaster.
export const CALIBRATION_2023 = {
  carbon: { mae: 9.86, phi: 0.735 },
  price: { mae: 21.32, phi: 0.927 },
} as const satisfies Record<string, NoiseSpec>;

export const DEFAULT_VINTAGE_MODEL: VintageModel = {
  seed: 1,
  carbon: CALIBRATION_2023.carbon,
  price: CALIBRATION_2023.price,
  fullErrorLeadMs: 24 * 3_600_000,
  issueEveryMs: PERIOD_MS,
};

/** Noise paths are indexed by half hours since this instant, so they do not depend on the data. */
export const NOISE_ORIGIN = Date.UTC(2000, 0, 1);

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 for erf; absolute error < 1.5e-7). */
const normalCdf = (x: number): number => {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
};

/** Laplace(0, b) quantile. Forecast errors here have MAE/RMSE ≈ 0.70, as a Laplace does (1/√2). */
const laplaceQuantile = (u: number, b: number): number => {
  const v = Math.min(Math.max(u, 1e-12), 1 - 1e-12);
  return v < 0.5 ? b * Math.log(2 * v) : -b * Math.log(2 * (1 - v));
};

const gaussian = (rnd: Random): number => {
  const u = Math.max(rnd(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
};

/**
 * A stationary AR(1) Gaussian path over half hours, mapped to Laplace marginals with the spec's MAE.
 * Extended lazily; value k depends only on the seed and k.
 */
export class NoisePath {
  private readonly gauss: number[] = [];
  private readonly rnd: Random;

  constructor(
    seed: number,
    private readonly spec: NoiseSpec,
  ) {
    this.rnd = seeded(seed);
  }

  at(index: number): number {
    if (!Number.isInteger(index) || index < 0)
      throw new RangeError(`noise index ${index} is before ${new Date(NOISE_ORIGIN).toISOString()}`);
    const phi = Math.max(-0.999, Math.min(0.999, this.spec.phi));
    const innovation = Math.sqrt(1 - phi * phi);
    while (this.gauss.length <= index) {
      const prev = this.gauss[this.gauss.length - 1];
      this.gauss.push(prev === undefined ? gaussian(this.rnd) : phi * prev + innovation * gaussian(this.rnd));
    }
    return laplaceQuantile(normalCdf(this.gauss[index] as number), this.spec.mae);
  }
}

export const noiseIndex = (periodStart: number): number => Math.round((periodStart - NOISE_ORIGIN) / PERIOD_MS);

/** Share of the full error at a lead time: 0 when the value was already known, 1 at full lead. */
export const leadFactor = (leadMs: number, fullErrorLeadMs: number): number =>
  leadMs <= 0 ? 0 : Math.sqrt(Math.min(1, leadMs / fullErrorLeadMs));

/** The issue time of the newest vintage at or before `asOf`. */
export const vintageIssuedAt = (asOf: number, model: VintageModel): number =>
  Math.floor(asOf / model.issueEveryMs) * model.issueEveryMs;

/**
 * The value a vintage issued at `issuedAt` holds for a period, given the recorded value and when
 * that value became known (`knownAt`). Known by then: the recorded value. Otherwise: recorded +
 * noise scaled by the lead between issue and knownAt.
 */
export const vintageValue = (
  recorded: number,
  knownAt: number,
  issuedAt: number,
  noise: number,
  fullErrorLeadMs: number,
): number => recorded + leadFactor(knownAt - issuedAt, fullErrorLeadMs) * noise;

/** Independent seeds per signal and region, derived from the model seed. */
export const noiseSeed = (seed: number, signal: 'carbon' | 'price', region: number): number =>
  (Math.imul(seed ^ 0x5bd1e995, 2654435761) +
    (signal === 'carbon' ? 0 : 0x68e31da4) +
    Math.imul(region, 0x27d4eb2f)) >>>
  0;
