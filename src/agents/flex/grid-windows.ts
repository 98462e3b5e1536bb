// The grid windows FlexLon holds as a DEG compute-energy compute agent, as the Flexibility
// Orchestrator's planning signals (issue 18). The orchestrator plans on a SignalSource; this one is
// its usual source with the windows held *now* laid over it (contractedSignals: in a window's slots
// and grid area, the window's contracted £/MWh and gCO2/kWh), read at each plan, so a window bought
// or changed by its grid agent (a carbon spike, a workload shift) counts from the next plan on.
// The orchestrator itself is unchanged: the composition (src/compose/compute-energy.ts) gives it this
// source and asks it to re-plan when the windows change.
import { contractedSignals, type GridWindow } from '../../beckn/v2/compute-energy.ts';
import type { SignalSource } from '../../ports.ts';

/** Whatever holds the windows (the compute buyer: compute-buyer.ts `held()`). */
export interface GridWindowHolder {
  held(): readonly GridWindow[];
}

/**
 * `base` with the windows `holder` holds at each call laid over it. `regionOf` names FlexLon's signal
 * region of a grid area (undefined: no site of this orchestrator is in it, the window is ignored).
 * Outturn is the base source's: what the grid actually did, for settlement and reporting.
 */
export const gridWindowSignals = (
  base: SignalSource,
  holder: GridWindowHolder,
  regionOf: (gridArea: string) => string | undefined,
): SignalSource => ({
  forecast: (region, grid, asOf) => contractedSignals(base, holder.held(), regionOf).forecast(region, grid, asOf),
  outturn: (region, grid) => base.outturn(region, grid),
});
