// GPU power caps: how throughput and drawn power follow the cap, from Emerald AI's Phoenix sweep
// (256 × A100-SXM 400 W, caps 100–400 W, eight training and inference workloads), as fitted by
// scripts/fit-traces.ts into src/sim/calibration.ts. Between measured caps the curve is linear;
// caps are taken as fractions of the GPU's TDP so the same curve serves other 400 W-class parts
// (an assumption: the sweep measured only A100s).
import { CALIBRATION } from './calibration.ts';

export type CapCurveKind = 'training' | 'inference';

const SWEEP_TDP_W = 400;
const CAPS = CALIBRATION.powerCap.capW.map((c) => c / SWEEP_TDP_W);
/** The caps the sweep measured, as fractions of TDP: the curves are linear between them. */
export const MEASURED_CAP_FRACTIONS: readonly number[] = CAPS;

/**
 * Below about half of TDP the sweep's energy per unit of work rises again (static power dominates:
 * 1.18–1.47× the uncapped energy at 100 W against 0.68–0.82× at 200 W), so FlexLon never caps
 * below this fraction: deeper caps would cost energy as well as time.
 */
export const MIN_CAP_FRACTION = 0.5;

const interpolate = (xs: readonly number[], ys: readonly number[], x: number): number => {
  const first = xs[0] ?? 0;
  const last = xs[xs.length - 1] ?? 1;
  const cx = Math.min(last, Math.max(first, x));
  for (let i = 1; i < xs.length; i++) {
    const x0 = xs[i - 1] ?? 0;
    const x1 = xs[i] ?? 1;
    if (cx <= x1) {
      const y0 = ys[i - 1] ?? 0;
      const y1 = ys[i] ?? 0;
      return y0 + ((y1 - y0) * (cx - x0)) / (x1 - x0);
    }
  }
  return ys[ys.length - 1] ?? 1;
};

/** Throughput relative to uncapped at a cap of `capFraction` × TDP. */
export const throughputAt = (capFraction: number, kind: CapCurveKind = 'training'): number =>
  interpolate(CAPS, CALIBRATION.powerCap[kind].throughput, capFraction);

/** Drawn board power relative to the uncapped draw, at a cap of `capFraction` × TDP. */
export const drawFractionAt = (capFraction: number, kind: CapCurveKind = 'training'): number => {
  const draw = CALIBRATION.powerCap[kind].drawW;
  return interpolate(CAPS, draw, capFraction) / (draw[draw.length - 1] ?? SWEEP_TDP_W);
};

/** Energy per unit of work relative to uncapped: draw over throughput. */
export const energyPerWorkAt = (capFraction: number, kind: CapCurveKind = 'training'): number =>
  drawFractionAt(capFraction, kind) / throughputAt(capFraction, kind);

/** What one GPU of `p` draws under a cap of `capW` (W): the measured draw fraction of its uncapped draw. */
export const cappedDrawW = (
  p: { readonly gpuPeakW: number; readonly gpuTdpW?: number },
  capW: number,
  kind: CapCurveKind = 'training',
): number => p.gpuPeakW * drawFractionAt(capW / (p.gpuTdpW ?? p.gpuPeakW), kind);

/** The lowest cap FlexLon applies to a GPU of rated power `tdpW` (W). */
export const minCapW = (p: { readonly gpuPeakW: number; readonly gpuTdpW?: number }): number =>
  MIN_CAP_FRACTION * (p.gpuTdpW ?? p.gpuPeakW);
