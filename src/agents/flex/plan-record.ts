// The stored form of a plan that dispatch followed (Store.savePlan): what it cost, which orders'
// commitments bound it, and the grid import it implies at every site and slot. Enough to show,
// after the fact or after a crash, that the plan honoured every commitment without re-solving.
// Stored with its audit row, in one transaction (storePlan).
import type { CommitmentSpec, PlanningProblem, Schedule } from '../../domain/planning.ts';
import { siteImportKw } from '../../domain/planning.ts';
import { isoOf, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import { CAP_PART_PREFIX } from '../../optimise/cap-parts.ts';
import type { Store } from '../../ports.ts';
import type { PlanKeys } from '../../store/records.ts';
import type { FleetSolution } from './fleet-plan.ts';
import type { MoveChoice } from './site-move.ts';
import type { SiteCapacityValue } from './capacity-value.ts';
import { itImportKwh } from '../../optimise/carbon-cap.ts';

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
  /** The site moves the planner found, their cost, and whether the plan keeps them (site-move.ts). */
  readonly moves?: MoveChoice;
  /** Where a site is contended: the capacity value the operational plan weighed there (capacity-value.ts). */
  readonly capacityValue?: Readonly<Record<string, SiteCapacityValue>>;
  /**
   * The schedule is the plan `FleetPlanning.solve` makes of `problem`: a plan for an offer's pricing
   * (`runningAt`) made with no held offer, no order being checked and no job free to move. Pricing
   * then measures its curves from it rather than solve the same problem a second time.
   */
  readonly solvedAsGiven?: true;
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
  /**
   * Each job's planned IT power, for the jobs the plan runs at less than full power somewhere (a GPU
   * cap): what the dashboard's Gantt draws the caps from. Absent in plans stored before it was kept,
   * and in an infeasible plan.
   */
  readonly jobPowerKw?: readonly PlannedJobPower[];
  /** An infeasible plan's reason: the hard constraint that cannot hold, naming the job, site or cap. */
  readonly infeasibleReason?: string;
}

/**
 * A job's planned IT power (kW) per slot: the schedule's JobSchedule, trimmed to the slots it runs
 * in. A running job the plan may cap is two columns of the problem (its floor and its cappable part,
 * optimise/cap-parts.ts capParts); here they are one job again, as its scheduler sees it.
 */
export interface PlannedJobPower {
  readonly id: string;
  readonly site: string;
  /** The slot powerKw[0] is for; the job has no power before it, nor after the last entry. */
  readonly fromSlot: number;
  /** Rounded to 0.01 kW (POWER_STEP_KW). */
  readonly powerKw: readonly number[];
  /** The job's full IT power (kW): a slot it runs in below this is capped. */
  readonly fullKw: number;
}

/** buildProblem's base-load columns (`base:<site>:<slot>`), one a slot per site: not jobs. */
const BASE_LOAD_ID = /^base:[^:]*:\d+$/;

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Planned job power is kept to 10 W: below the smallest GPU cap step a scheduler applies (1 W per GPU × 8). */
export const POWER_STEP_KW = 0.01;
const roundPower = (x: number): number => Math.round(x * 100) / 100;

/**
 * The slots where `p` runs a job below `fullKw` by more than half a rounding step: its GPU caps. The
 * last slot of its run is not one: a non-preemptible job's last slot carries the remainder of its
 * energy and may be lower (docs/planning-problem.md, "Non-preemptible jobs").
 */
export const cappedSlots = (p: PlannedJobPower): number[] => {
  let last = p.powerKw.length - 1;
  while (last >= 0 && !((p.powerKw[last] ?? 0) > 0)) last--;
  const out: number[] = [];
  for (let i = 0; i < last; i++) {
    const kw = p.powerKw[i] ?? 0;
    if (kw > 0 && kw < p.fullKw - POWER_STEP_KW / 2) out.push(p.fromSlot + i);
  }
  return out;
};

/**
 * Each job's planned power, the cap parts folded into their jobs, kept for the jobs the plan caps.
 * The base load (buildProblem's one-slot `base:` columns per site) is not a job. A job the plan runs
 * at full power throughout is left out: its bar is its dispatch's start and its energy at full power,
 * which the dashboard has already, and the demo stores a plan a slot (docs/dashboard.md, "Schedule").
 */
const plannedJobPower = (problem: PlanningProblem, schedule: Schedule): PlannedJobPower[] => {
  const full = new Map<string, number>();
  for (const j of problem.jobs) {
    const id = j.id.startsWith(CAP_PART_PREFIX) ? j.id.slice(CAP_PART_PREFIX.length) : j.id;
    full.set(id, (full.get(id) ?? 0) + j.maxPowerKw);
  }
  const byJob = new Map<string, { site: string; kw: number[] }>();
  for (const j of schedule.jobs) {
    if (BASE_LOAD_ID.test(j.id)) continue;
    const id = j.id.startsWith(CAP_PART_PREFIX) ? j.id.slice(CAP_PART_PREFIX.length) : j.id;
    const kw = byJob.get(id)?.kw ?? [];
    j.powerKw.forEach((p, t) => (kw[t] = (kw[t] ?? 0) + p));
    byJob.set(id, { site: j.site, kw });
  }
  const out: PlannedJobPower[] = [];
  for (const [id, { site, kw }] of byJob) {
    const rounded = Array.from(kw, (p) => roundPower(p ?? 0));
    const from = rounded.findIndex((p) => p > 0);
    if (from < 0) continue;
    let to = rounded.length;
    while (!((rounded[to - 1] ?? 0) > 0)) to--;
    const p: PlannedJobPower = {
      id,
      site,
      fromSlot: from,
      powerKw: rounded.slice(from, to),
      fullKw: roundPower(full.get(id) ?? 0),
    };
    if (cappedSlots(p).length > 0) out.push(p);
  }
  return out;
};

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
    ...(feasible ? { jobPowerKw: plannedJobPower(r.problem, r.schedule) } : {}),
    ...(!feasible && r.schedule.reason ? { infeasibleReason: r.schedule.reason } : {}),
  };
};

/**
 * Stores a plan that dispatch follows (immutable) with its audit row, in one transaction; `audit`
 * adds what the route that made the plan knows (the site, the levers, the order, the lateness).
 */
export const storePlan = async (
  store: Pick<Store, 'transaction'>,
  actor: string,
  rec: PlanRecord,
  result: PlanResult,
  audit: Record<string, unknown>,
): Promise<void> => {
  await store.transaction(async (tx) => {
    await tx.savePlan(rec);
    await tx.appendAudit({
      kind: 'plan',
      at: rec.createdAt,
      actor,
      payload: {
        planId: rec.id,
        reason: rec.reason,
        status: rec.status,
        planner: rec.planner,
        costGbp: rec.costGbp,
        carbonKg: rec.carbonKg,
        ...(result.problem.carbonCapKg === undefined ? {} : { carbonCapKg: result.problem.carbonCapKg }),
        // With an intensity the cap is kg + g per kWh imported for IT (src/optimise/carbon-cap.ts): those kWh say how it stands.
        ...(result.problem.carbonCapGPerKwh === undefined
          ? {}
          : {
              carbonCapGPerKwh: result.problem.carbonCapGPerKwh,
              itImportKwh: result.schedule.status === 'infeasible' ? 0 : itImportKwh(result.problem, result.schedule),
            }),
        ...(result.carbonCapMissedKg === undefined ? {} : { carbonCapMissedKg: result.carbonCapMissedKg }),
        lowerBoundGbp: result.schedule.lowerBoundGbp,
        horizonStart: rec.horizonStart,
        orders: rec.orders,
        signalsIssuedAt: rec.signalsIssuedAt,
        ...(result.moves ? { moves: result.moves } : {}),
        ...(result.capacityValue ? { capacityValue: result.capacityValue } : {}),
        ...audit,
      },
    });
  });
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
