// The simulated site's battery behind the meter (issue 13 item 4): the SiteBattery port over an
// exact integration of stored energy. Like the simulated cluster it moves only when told to
// (advanceTo), so it runs the same in live mode and in replay; SimCluster advances the one it owns.
//
// Sign convention (src/ports.ts SiteBattery): power is at the battery's grid-side terminals, kw > 0
// charges (adds to the site's import), kw < 0 discharges (lowers it). Losses are all on charging,
// as in BatteryReport and the planner's BatterySpec: stored energy rises by kw × efficiency × hours
// and falls by |kw| × hours. Not modelled: self-discharge, standby draw, power that tapers near
// full, ramp rates; a setpoint takes effect at the instant it is given.
import { batteryActuationId, type Actuation, type BatteryReport } from '../../domain/compute.ts';
import { epochMs, isoOf, MINUTE_MS, type EpochMs } from '../../domain/time.ts';
import { FlexError } from '../../errors.ts';
import type { SiteBattery } from '../../ports.ts';
import { PowerLog } from './power-log.ts';

const HOUR_MS = 60 * MINUTE_MS;

export interface SimBatteryConfig {
  readonly capacityKwh: number;
  /** Most power drawn from the site's bus while charging (grid side), kW. */
  readonly maxChargeKw: number;
  /** Most power delivered to the site's bus while discharging (grid side), kW. */
  readonly maxDischargeKw: number;
  /** In (0, 1], applied on charging: stored energy = charged energy × efficiency. */
  readonly roundTripEfficiency: number;
  /** Lowest stored energy the battery may reach (default 0). */
  readonly minSocKwh?: number;
  /** Highest stored energy the battery may reach (default capacityKwh). */
  readonly maxSocKwh?: number;
  /** Stored energy at the start; within [minSocKwh, maxSocKwh]. */
  readonly initialSocKwh: number;
  /** Wear cost per MWh discharged, reported to planners (default 0). */
  readonly degradationGbpPerMwh?: number;
}

/** What the battery is asked to do: hold `kw` until `until`, or (null) idle. */
type Setpoint = { readonly kw: number; readonly until: number } | null;

const fail = (field: string, detail: string): never => {
  throw new FlexError('FLX_CONFIG_INVALID', `simulated battery: ${field} ${detail}`, { path: `battery.${field}` });
};

const finite = (field: string, v: number, ok: (v: number) => boolean, rule: string): number =>
  Number.isFinite(v) && ok(v) ? v : fail(field, `must be ${rule}, got ${v}`);

/** Validates a battery's configuration into its report (BatteryReport) and initial stored energy. */
export const resolveBatteryConfig = (c: SimBatteryConfig): { spec: BatteryReport; initialSocKwh: number } => {
  const capacityKwh = finite('capacityKwh', c.capacityKwh, (v) => v > 0, '> 0');
  const maxChargeKw = finite('maxChargeKw', c.maxChargeKw, (v) => v >= 0, '≥ 0');
  const maxDischargeKw = finite('maxDischargeKw', c.maxDischargeKw, (v) => v >= 0, '≥ 0');
  const eff = finite('roundTripEfficiency', c.roundTripEfficiency, (v) => v > 0 && v <= 1, 'in (0, 1]');
  const minSocKwh = finite('minSocKwh', c.minSocKwh ?? 0, (v) => v >= 0 && v <= capacityKwh, `in [0, ${capacityKwh}]`);
  const maxSocKwh = finite(
    'maxSocKwh',
    c.maxSocKwh ?? capacityKwh,
    (v) => v >= minSocKwh && v <= capacityKwh,
    `in [minSocKwh, capacityKwh] = [${minSocKwh}, ${capacityKwh}]`,
  );
  const initialSocKwh = finite(
    'initialSocKwh',
    c.initialSocKwh,
    (v) => v >= minSocKwh && v <= maxSocKwh,
    `in [minSocKwh, maxSocKwh] = [${minSocKwh}, ${maxSocKwh}]`,
  );
  const degradationGbpPerMwh = finite('degradationGbpPerMwh', c.degradationGbpPerMwh ?? 0, (v) => v >= 0, '≥ 0');
  return {
    spec: {
      capacityKwh,
      maxChargeKw,
      maxDischargeKw,
      roundTripEfficiency: eff,
      minSocKwh,
      maxSocKwh,
      degradationGbpPerMwh,
    },
    initialSocKwh,
  };
};

export class SimBattery implements SiteBattery {
  readonly site: string;
  readonly spec: BatteryReport;
  readonly start: EpochMs;
  /** Stored energy at `start` (kWh): what a comparison over the run holds its end against. */
  readonly initialSocKwh: number;
  private current: number;
  private soc: number;
  private setpoint: Setpoint = null;
  /** Grid-side power (kW, + charging) over [start, now): what the site's meter adds to the IT load. */
  private log: PowerLog;
  private charged = 0;
  private discharged = 0;

  constructor(site: string, config: SimBatteryConfig, start: EpochMs) {
    if (site.trim() === '') fail('site', 'must not be empty');
    if (!Number.isFinite(start)) throw new RangeError(`simulated battery: start must be a time, got ${start}`);
    const { spec, initialSocKwh } = resolveBatteryConfig(config);
    this.site = site;
    this.spec = spec;
    this.start = start;
    this.current = start;
    this.initialSocKwh = initialSocKwh;
    this.soc = initialSocKwh;
    this.log = new PowerLog(start);
  }

  /** Simulated time: everything before it has happened. */
  get now(): EpochMs {
    return epochMs(this.current);
  }

  /** Energy drawn from the site's bus while charging since `start` (kWh, grid side). */
  get chargedKwh(): number {
    return this.charged;
  }

  /** Energy delivered to the site's bus while discharging since `start` (kWh, grid side). */
  get dischargedKwh(): number {
    return this.discharged;
  }

  stateOfChargeKwh(): Promise<number> {
    return Promise.resolve(this.soc);
  }

  /** The battery as its agent reports it (FlexibilityReport.battery). */
  report(): BatteryReport & { readonly socKwh: number } {
    return { ...this.spec, socKwh: this.soc };
  }

  /**
   * SiteBattery.setPower. Refused (`invalid`, and the earlier setpoint stays in force) where kw is
   * beyond maxChargeKw / maxDischargeKw, `until` is not after now, or the battery is already at the
   * limit the setpoint drives it towards: honouring any of them would mean clipping it silently.
   */
  setPower(kw: number, until: EpochMs): Promise<Actuation> {
    const id = batteryActuationId(this.site);
    const refuse = (reason: string): Promise<Actuation> =>
      Promise.resolve({ ok: false, jobId: id, reason: `battery at ${this.site}: ${reason}`, code: 'invalid' });
    const { maxChargeKw, maxDischargeKw, minSocKwh, maxSocKwh } = this.spec;
    if (!Number.isFinite(kw)) return refuse(`power must be a number of kW, got ${kw}`);
    if (kw > maxChargeKw) return refuse(`charging at ${kw} kW is beyond its ${maxChargeKw} kW limit`);
    if (-kw > maxDischargeKw) return refuse(`discharging at ${-kw} kW is beyond its ${maxDischargeKw} kW limit`);
    if (!(Number.isFinite(until) && until > this.current))
      return refuse(
        `until must be after now (${isoOf(this.current)}), got ${Number.isFinite(until) ? isoOf(until) : until}`,
      );
    if (kw > 0 && this.soc >= maxSocKwh) return refuse(`cannot charge: it is full (${this.soc} kWh of ${maxSocKwh})`);
    if (kw < 0 && this.soc <= minSocKwh) return refuse(`cannot discharge: it is at its ${minSocKwh} kWh minimum`);
    this.setpoint = kw === 0 ? null : { kw, until };
    return Promise.resolve({ ok: true, jobId: id });
  }

  /** Simulates up to `t` (t ≥ now): stored energy follows the setpoint, stopping exactly at a limit. */
  advanceTo(t: EpochMs): void {
    if (!Number.isFinite(t)) throw new RangeError(`simulated battery ${this.site}: cannot advance to ${t}`);
    if (t < this.current)
      throw new Error(
        `simulated battery ${this.site}: time cannot move backwards (now ${isoOf(this.current)}, asked for ${isoOf(t)})`,
      );
    while (this.current < t) this.step(t);
  }

  /** Average grid-side power (kW, + charging) over [from, to); NaN unless that span is simulated. */
  averageKw(from: number, to: number): number {
    return this.log.averageKw(from, to);
  }

  /** Grid-side energy (kWh, + charging) over [from, to); NaN unless that span is simulated. */
  energyKwh(from: number, to: number): number {
    return this.log.energyKwh(from, to);
  }

  /** An independent copy in the same state, for counterfactual runs. */
  clone(): SimBattery {
    const { spec } = this;
    const copy = new SimBattery(this.site, { ...spec, initialSocKwh: this.soc }, this.start);
    // The copy is at this one's charge now, but started where this one did.
    (copy as { initialSocKwh: number }).initialSocKwh = this.initialSocKwh;
    copy.current = this.current;
    copy.setpoint = this.setpoint;
    copy.log = this.log.clone();
    copy.charged = this.charged;
    copy.discharged = this.discharged;
    return copy;
  }

  /** One step towards `t` at constant power: to `t`, the setpoint's end, or the instant a limit is reached. */
  private step(t: number): void {
    const from = this.current;
    const sp = this.setpoint;
    if (sp === null || sp.until <= from) {
      this.setpoint = null;
      this.record(t, 0, 0);
      return;
    }
    const charging = sp.kw > 0;
    // Rate of change of stored energy (kWh per hour): losses on charging only (BatteryReport).
    const rate = charging ? sp.kw * this.spec.roundTripEfficiency : sp.kw;
    const headroom = charging ? this.spec.maxSocKwh - this.soc : this.soc - this.spec.minSocKwh;
    const limitAt = from + (headroom / Math.abs(rate)) * HOUR_MS;
    const end = Math.min(t, sp.until);
    if (limitAt <= end) {
      // The limit comes first: run to that instant (not to a slot boundary), land on it exactly and
      // stop. The grid-side energy is what the room took, so ΔSoC = charged × efficiency − discharged
      // holds to rounding. Where that instant is closer to `from` than a double can tell apart
      // (under a microsecond at today's epoch), the energy goes in the next representable instant;
      // its average power is then below |kw|, since the true span is under half that gap.
      const gridKwh = charging ? headroom / this.spec.roundTripEfficiency : -headroom;
      const to = limitAt > from ? limitAt : from + Math.max(Math.abs(from) * Number.EPSILON, Number.MIN_VALUE);
      this.record(to, (gridKwh * HOUR_MS) / (to - from), gridKwh);
      this.soc = charging ? this.spec.maxSocKwh : this.spec.minSocKwh;
      this.setpoint = null;
      return;
    }
    this.record(end, sp.kw, (sp.kw * (end - from)) / HOUR_MS);
    // Clamped only against rounding: limitAt > end means the exact value is strictly inside the limits.
    this.soc = Math.min(this.spec.maxSocKwh, Math.max(this.spec.minSocKwh, this.soc + (rate * (end - from)) / HOUR_MS));
  }

  /** Logs grid-side power `kw` from now to `to` (> now: PowerLog refuses anything else) and counts its energy `gridKwh` (+ charging). */
  private record(to: number, kw: number, gridKwh: number): void {
    this.log.append(to, kw);
    if (gridKwh > 0) this.charged += gridKwh;
    else this.discharged -= gridKwh;
    this.current = to;
  }
}
