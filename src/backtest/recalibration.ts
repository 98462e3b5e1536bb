// Post-fulfilment learning in the backtest (issue 15): after each delivered window the site's power
// model is corrected from its metered readings, so the next commitment is made from the corrected
// prediction. product-settlement.ts (settleOffers) fits it on the windows delivered before each notice.

/** A power model correction: metered ≈ offset + gain × predicted (kW), fitted on delivered windows. */
export interface PowerFit {
  readonly offsetKw: number;
  readonly gain: number;
  readonly points: number;
}

export const IDENTITY_FIT: PowerFit = { offsetKw: 0, gain: 1, points: 0 };
/** Pairs kept per site (the most recent): about ten windows. */
export const FIT_WINDOW = 48;
/** Fewer pairs than this: only the mean bias is corrected, not the gain. */
export const FIT_MIN_GAIN_POINTS = 8;

/**
 * Least squares of metered on predicted import over a site's recent delivered periods. With few
 * points, or predictions that hardly vary, only the mean bias (metered − predicted) is corrected;
 * the gain is bounded to [0.5, 1.5] so one odd window cannot turn the model over.
 */
export const fitPower = (pairs: readonly { predictedKw: number; meteredKw: number }[]): PowerFit => {
  const xs = pairs.slice(-FIT_WINDOW);
  const n = xs.length;
  if (n === 0) return IDENTITY_FIT;
  const mx = xs.reduce((a, p) => a + p.predictedKw, 0) / n;
  const my = xs.reduce((a, p) => a + p.meteredKw, 0) / n;
  const sxx = xs.reduce((a, p) => a + (p.predictedKw - mx) ** 2, 0);
  const sxy = xs.reduce((a, p) => a + (p.predictedKw - mx) * (p.meteredKw - my), 0);
  if (n < FIT_MIN_GAIN_POINTS || sxx < n * 1) return { offsetKw: my - mx, gain: 1, points: n };
  const gain = Math.min(1.5, Math.max(0.5, sxy / sxx));
  return { offsetKw: my - gain * mx, gain, points: n };
};

export const applyFit = (f: PowerFit, kw: number): number => f.offsetKw + f.gain * kw;
