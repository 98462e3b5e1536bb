// The stored form of a plan that dispatch followed (Store.savePlan): what it cost, which orders'
// commitments bound it, and the grid import it implies at every site and slot. Enough to show,
// after the fact or after a crash, that the plan honoured every commitment without re-solving.
import type { CommitmentSpec, PlanningProblem, Schedule } from '../../domain/planning.ts';
import { siteImportKw } from '../../domain/planning.ts';
import { isoOf, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import type { PlanKeys } from '../../store/records.ts';
import type { FleetSolution } from './fleet-plan.ts';

/** A plan of the fleet as made (FlexOrchestrator.plan), before it is stored. */
export interface PlanResult {
  readonly grid: SlotGrid;
  readonly problem: PlanningProblem;
  readonly schedule: Schedule;
  /** The orders whose commitments were hard constraints. */
  readonly orders: readonly string[];
  readonly solveMs: number;
  /** When each region's forecast used was issued (market time): no plan sees a later one. */
  readonly signalsIssuedAt: Readonly<Record<string, EpochMs>>;
  /** The FIFO carbon cap (kg) the plan could not keep, so was made without (FLX_CARBON_CAP_MISSED). */
  readonly carbonCapMissedKg?: number;
  /** The fresh plan of the same inputs being made beside this carried one (refreshInBackground). */
  readonly refresh?: Promise<FleetSolution>;
}

export interface PlanRecord extends PlanKeys {
  readonly reason: string;
  readonly planner: string;
  readonly costGbp: number;
  readonly carbonKg: number;
  readonly slotMinutes: number;
  readonly slots: number;
  /** Orders whose commitments were hard constraints. */
  readonly orders: readonly string[];
  /** Every commitment constraint of the problem (held offers included). */
  readonly commitments: readonly CommitmentSpec[];
  /** Grid import per slot at each site (kW), as planned; empty for an infeasible plan. */
  readonly siteImportKw: Readonly<Record<string, readonly number[]>>;
  /**
   * The grid signals the plan was made on, per site and slot (£/MWh, gCO2/kWh), and when each
   * region's forecast was issued: with them a plan can be re-derived and explained after the fact.
   */
  readonly signals: Readonly<
    Record<string, { readonly priceGbpPerMwh: readonly number[]; readonly carbonGPerKwh: readonly number[] }>
  >;
  readonly signalsIssuedAt: Readonly<Record<string, string>>;
  readonly solveMs: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export const planRecord = (id: string, createdAt: number, r: PlanResult, reason: string): PlanRecord => {
  const feasible = r.schedule.status !== 'infeasible';
  const siteImport: Record<string, number[]> = {};
  if (feasible)
    for (const s of r.problem.sites) siteImport[s.id] = siteImportKw(r.problem, r.schedule, s.id).map(round3);
  return {
    id,
    createdAt,
    horizonStart: r.grid.start,
    status: r.schedule.status,
    reason,
    planner: r.schedule.planner ?? 'unknown',
    costGbp: r.schedule.costGbp,
    carbonKg: r.schedule.carbonKg,
    slotMinutes: r.grid.slotMinutes,
    slots: r.grid.slots,
    orders: r.orders,
    commitments: r.problem.commitments,
    siteImportKw: siteImport,
    signals: Object.fromEntries(
      r.problem.sites.map((s) => [s.id, { priceGbpPerMwh: s.priceGbpPerMwh, carbonGPerKwh: s.carbonGPerKwh }]),
    ),
    signalsIssuedAt: Object.fromEntries(Object.entries(r.signalsIssuedAt).map(([region, at]) => [region, isoOf(at)])),
    solveMs: Math.round(r.solveMs),
  };
};

/** The commitment constraints a plan breaks (import above the ceiling by more than `toleranceKw`), as text. */
export const brokenCommitments = (p: PlanRecord, toleranceKw = 1e-6): string[] => {
  const out: string[] = [];
  for (const c of p.commitments) {
    const imp = p.siteImportKw[c.site] ?? [];
    for (let t = c.fromSlot; t < c.toSlot; t++) {
      if ((imp[t] ?? 0) > c.maxImportKw + toleranceKw)
        out.push(
          `${c.site} slot ${t} (${isoOf(p.horizonStart + t * p.slotMinutes * 60_000)}): ${imp[t]} kW > ${c.maxImportKw} kW`,
        );
    }
  }
  return out;
};

/** What a plan record says of late work: the energy and lateness cost, and the late jobs (dearest first, ten at most). */
export const latenessOf = (s: Schedule): Record<string, unknown> =>
  s.late && s.late.length > 0
    ? {
        energyCostGbp: s.energyCostGbp,
        latenessCostGbp: s.latenessCostGbp,
        lateJobs: s.late.length,
        late: s.late
          .slice(0, 10)
          .map((j) => ({ id: j.id, lateSlots: j.lateSlots, unservedKwh: j.unservedKwh, costGbp: j.costGbp })),
      }
    : {};
