// The simulated site meter's record: IT power as a piecewise-constant function of time over the
// simulated span [start, end). Keeping the steps (rather than one number per slot) lets the meter
// answer for any slot grid exactly, whatever its slot length or alignment. The site's battery keeps
// one too, of its grid-side power, which is negative while it discharges (battery.ts). The cluster
// keeps a second one of the GPUs at work (engine.ts): the same steps, so its "energy" over a span is
// the GPU-hours of work done in it.

export class PowerLog {
  readonly start: number;
  private ends: number[] = [];
  private kws: number[] = [];

  constructor(start: number) {
    this.start = start;
  }

  /** End of the recorded span. */
  get end(): number {
    return this.ends[this.ends.length - 1] ?? this.start;
  }

  /** Records that the IT power was `itKw` from the current end up to `to`. */
  append(to: number, itKw: number): void {
    if (!(to > this.end)) throw new RangeError(`power log: step must end after ${this.end}, got ${to}`);
    if (!Number.isFinite(itKw)) throw new RangeError(`power log: power must be finite, got ${itKw}`);
    const last = this.kws.length - 1;
    // Merge equal neighbours so a long quiet stretch is one step, not one per event.
    if (last >= 0 && this.kws[last] === itKw) this.ends[last] = to;
    else {
      this.ends.push(to);
      this.kws.push(itKw);
    }
  }

  /** IT energy (kWh) over [from, to); NaN unless the span is fully recorded. */
  energyKwh(from: number, to: number): number {
    if (from < this.start || to > this.end || to < from) return Number.NaN;
    let total = 0;
    let i = this.firstStepEndingAfter(from);
    let stepStart = i === 0 ? this.start : (this.ends[i - 1] ?? this.start);
    for (; i < this.ends.length && stepStart < to; i++) {
      const stepEnd = this.ends[i] ?? to;
      const overlap = Math.min(stepEnd, to) - Math.max(stepStart, from);
      if (overlap > 0) total += (this.kws[i] ?? 0) * (overlap / 3_600_000);
      stepStart = stepEnd;
    }
    return total;
  }

  /** Average IT power (kW) over [from, to); NaN unless the span is fully recorded. */
  averageKw(from: number, to: number): number {
    if (!(to > from)) return Number.NaN;
    return this.energyKwh(from, to) / ((to - from) / 3_600_000);
  }

  clone(): PowerLog {
    const copy = new PowerLog(this.start);
    copy.ends = this.ends.slice();
    copy.kws = this.kws.slice();
    return copy;
  }

  /** Binary search: index of the first step whose end is after t. */
  private firstStepEndingAfter(t: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ends[mid] ?? Infinity) > t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
