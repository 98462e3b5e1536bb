// A backtest site's battery behind its meter (the demo's cdf, or a fleet file's) and its controller
// over one settlement period. It holds its stored energy unless a strategy sets it (flexlon and the
// oracle, from their plans); a setpoint is clipped to the battery's power, its state-of-charge
// limits, the site's own import (it never exports) and its grid connection (it never charges the
// site above it), and the grid import is IT × PUE + charged − discharged. The site (site-sim.ts)
// keeps the stored energy and meters the flows; the rule is here, apart from the site's jobs,
// because it reads nothing of them but the period's load.
import type { BatteryReport } from '../domain/compute.ts';
import { PERIOD_H } from '../domain/settlement-day.ts';

/** A site's battery: as an agent reports it (src/domain/compute.ts), with its stored energy at the start. */
export type SiteBattery = BatteryReport & { readonly initialSocKwh: number };

/** What a strategy asks of a site's battery over one period (kW at its grid-side terminals). */
export interface BatterySetpoint {
  readonly chargeKw: number;
  readonly dischargeKw: number;
  /**
   * In a window the site has committed to: the import (kW) to hold the site at or below. The
   * battery's controller follows the meter as a real one does, charging no further than the cap
   * leaves and discharging at least what the period's load puts above it (within its limits).
   */
  readonly importCapKw?: number;
}

/** Energy the battery took from the grid and gave back over a period (kWh), and its wear (£). */
export interface BatteryFlows {
  readonly chargedKwh: number;
  readonly dischargedKwh: number;
  readonly wearGbp: number;
}

/**
 * Runs the battery over the period at the setpoint, within its power, its state-of-charge limits,
 * the site's import before it (`loadKwh`: it never exports), the connection (`connection`, kW;
 * undefined: not stated) and, in a committed window, the import cap (BatterySetpoint.importCapKw),
 * as the planner models it (src/optimise/battery-model.ts: stored = charged × round-trip
 * efficiency, wear per MWh discharged). Without a setpoint it holds its charge. Returns the flows
 * and the energy stored at the period's end.
 */
export const runBattery = (
  b: SiteBattery,
  socKwh: number,
  connection: number | undefined,
  loadKwh: number,
  set: BatterySetpoint | undefined,
): { readonly flows: BatteryFlows; readonly socKwh: number } => {
  let soc = socKwh;
  const room = Math.max(0, b.maxSocKwh - soc) / b.roundTripEfficiency;
  const headroom = connection === undefined ? Infinity : Math.max(0, connection * PERIOD_H - loadKwh);
  const cap = set?.importCapKw === undefined ? Infinity : set.importCapKw * PERIOD_H;
  const chargedKwh = Math.min(
    Math.max(0, set?.chargeKw ?? 0) * PERIOD_H,
    b.maxChargeKw * PERIOD_H,
    room,
    headroom,
    Math.max(0, cap - loadKwh),
  );
  soc += chargedKwh * b.roundTripEfficiency;
  const dischargedKwh = Math.min(
    Math.max(Math.max(0, set?.dischargeKw ?? 0) * PERIOD_H, loadKwh + chargedKwh - cap),
    b.maxDischargeKw * PERIOD_H,
    Math.max(0, soc - b.minSocKwh),
    loadKwh + chargedKwh,
  );
  return {
    flows: { chargedKwh, dischargedKwh, wearGbp: (dischargedKwh * b.degradationGbpPerMwh) / 1000 },
    socKwh: soc - dischargedKwh,
  };
};
