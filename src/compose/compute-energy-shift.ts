// The DEG workload shift (update → on_update) from the compute agent (compute-energy.ts): after each
// plan made on the grid windows held, each window's grid agent is told the kWh (and peak kW) the plan
// puts there, when that figure changed. Shifts go one at a time, in plan order.
import { plannedInWindows, type PlanImports } from '../agents/flex/grid-windows.ts';
import type { ComputeBuyer } from '../beckn/v2/compute-buyer.ts';
import { asFlexError } from '../errors.ts';
import type { Logger } from '../log.ts';

/** A workload shift is sent again only when the plan's kWh in the window moved by at least this. */
const SHIFT_TOLERANCE_KWH = 1;

export interface ShiftParts {
  /** The compute agent's buyer, once the role has made it. */
  readonly buyer: () => ComputeBuyer | undefined;
  /** Grid area → signal region, and site → signal region: whose planned import falls in a window. */
  readonly areas: Readonly<Record<string, string>>;
  readonly sites: Readonly<Record<string, string>> | undefined;
  /** Market time: a window that has ended is not shifted into. */
  readonly marketNow: () => number;
  readonly log: Logger;
}

/** The workload shift: each held window's planned kWh told to its grid agent, when it changed. */
export const shiftInto = async (o: ShiftParts, plan: unknown): Promise<void> => {
  const b = o.buyer();
  if (!isPlan(plan) || !b || !o.sites) return;
  const sites = o.sites;
  const held = b.held().filter((w) => w.end > o.marketNow());
  for (const p of plannedInWindows(
    plan,
    held,
    (a) => o.areas[a],
    (s) => sites[s],
  )) {
    const w = held.find((x) => x.contractId === p.contractId);
    if (!w || (w.plannedKwh !== undefined && Math.abs(w.plannedKwh - p.kwh) < SHIFT_TOLERANCE_KWH)) continue;
    // The grid agent takes a kW above zero: a window the plan leaves empty keeps the kW bought.
    const kw = p.peakKw > 0 ? Math.ceil(p.peakKw * 10) / 10 : w.kw;
    try {
      await b.shiftWorkload(w.contractId, { kw, plannedKwh: p.kwh, reason: 'plan' });
      o.log.info(
        { contract: w.contractId, gridArea: w.gridArea, plannedKwh: Math.round(p.kwh * 10) / 10, kw },
        'workload shift told to the grid agent',
      );
    } catch (e) {
      o.log.warn(
        { contract: w.contractId, gridArea: w.gridArea, error: asFlexError(e).message },
        'workload shift refused or not delivered',
      );
    }
  }
};

/** One shift at a time, in plan order: a later plan's figures are never overtaken by an earlier one's. */
export const shiftQueue = (o: ShiftParts): ((plan: unknown) => Promise<void>) => {
  let shifting: Promise<void> = Promise.resolve();
  return (plan) => (shifting = shifting.then(() => shiftInto(o, plan)).catch(() => undefined));
};

/** A plan as the orchestrator's dispatchAll returns it (PlanRecord), with the import per site and slot. */
const isPlan = (x: unknown): x is PlanImports =>
  typeof x === 'object' &&
  x !== null &&
  typeof (x as PlanImports).horizonStart === 'number' &&
  typeof (x as PlanImports).slotMinutes === 'number' &&
  typeof (x as PlanImports).siteImportKw === 'object';
