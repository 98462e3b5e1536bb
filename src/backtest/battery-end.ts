// What a fleet's batteries hold at the end of a backtest run against the start (run.ts), valued so
// that a battery's strategy gains nothing by ending emptier than it began (metrics.ts counts it).
import type { SiteSim } from './site-sim.ts';

/**
 * What the fleet's batteries hold at the end against the start, and what that is worth. A battery
 * that ends emptier than it began has sold energy it did not buy within the run: it is charged the
 * grid energy to refill it (the deficit ÷ its round-trip efficiency, losses being on charging), and
 * one that ends fuller is credited what it holds above the start (discharge is lossless), both at the
 * run's mean outturn price and carbon (metrics.ts counts them beside the bill).
 */
export interface BatteryEnd {
  /** Σ stored energy at the end − at the start, kWh. */
  readonly storedChangeKwh: number;
  /** Grid energy the change stands for, kWh (positive: to refill). */
  readonly gridKwh: number;
  readonly gbp: number;
  readonly kgCo2: number;
}

export const batteryEndOf = (sims: readonly SiteSim[], meanPrice: number, meanCarbon: number): BatteryEnd => {
  let stored = 0;
  let grid = 0;
  for (const sim of sims) {
    const b = sim.spec.battery;
    if (!b || sim.socKwh === undefined) continue;
    const change = sim.socKwh - b.initialSocKwh;
    stored += change;
    grid += change < 0 ? -change / b.roundTripEfficiency : -change;
  }
  return { storedChangeKwh: stored, gridKwh: grid, gbp: (grid * meanPrice) / 1000, kgCo2: (grid * meanCarbon) / 1000 };
};
