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

/** What a plan puts into a held window: the energy (kWh) and the highest power (kW) in it. */
export interface PlannedInWindow {
  readonly contractId: string;
  readonly kwh: number;
  readonly peakKw: number;
}

/** The parts of a plan (PlanRecord) read here: when it starts, its slots, each site's import per slot. */
export interface PlanImports {
  readonly horizonStart: number;
  readonly slotMinutes: number;
  readonly siteImportKw: Readonly<Record<string, readonly number[]>>;
}

/**
 * The kWh and peak kW a plan imports in each window, over the sites in the window's grid area (the
 * sites whose signal region is the area's): what the compute agent tells the grid agent in its
 * workload shift (DEG compute-energy update, docs/beckn-2.md "Compute-energy"). Only the slots of
 * the window inside the plan's horizon count; a window the horizon does not reach is left out.
 */
export const plannedInWindows = (
  plan: PlanImports,
  windows: readonly (GridWindow & { readonly contractId: string })[],
  regionOfArea: (gridArea: string) => string | undefined,
  regionOfSite: (site: string) => string | undefined,
): PlannedInWindow[] => {
  const slotMs = plan.slotMinutes * 60_000;
  const hours = plan.slotMinutes / 60;
  const out: PlannedInWindow[] = [];
  for (const w of windows) {
    const region = regionOfArea(w.gridArea);
    if (region === undefined) continue;
    const sites = Object.keys(plan.siteImportKw).filter((s) => regionOfSite(s) === region);
    const slots = Math.max(...sites.map((s) => plan.siteImportKw[s]?.length ?? 0), 0);
    const first = Math.max(0, Math.ceil((w.start - plan.horizonStart) / slotMs));
    const last = Math.min(slots, Math.ceil((w.end - plan.horizonStart) / slotMs));
    if (sites.length === 0 || first >= last) continue;
    let kwh = 0;
    let peakKw = 0;
    for (let k = first; k < last; k++) {
      const kw = sites.reduce((a, s) => a + (plan.siteImportKw[s]?.[k] ?? 0), 0);
      kwh += kw * hours;
      peakKw = Math.max(peakKw, kw);
    }
    out.push({ contractId: w.contractId, kwh, peakKw });
  }
  return out;
};
