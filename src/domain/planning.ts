// The planning problem and its schedule: the optimiser's versioned input and output formats
// (docs/planning-problem.md gives the exact semantics). These are JSON file formats, so quantities
// are plain numbers whose unit is in the field name (kW, kWh, £/MWh, gCO2/kWh, kg).

export interface BatterySpec {
  readonly capacityKwh: number;
  readonly maxChargeKw: number;
  readonly maxDischargeKw: number;
  /** Applied on charging: stored energy = charged energy × efficiency. */
  readonly roundTripEfficiency: number;
  readonly initialSocKwh: number;
  readonly minSocKwh: number;
  /** Wear per MWh discharged (£/MWh); absent means 0. Counted in the schedule's batteryWearGbp. */
  readonly degradationGbpPerMwh?: number;
}

/** A battery alone over a run, for a lower bound on what it can take off a bill (src/optimise/battery-model.ts batteryCostBound). */
export interface BatteryBoundInput {
  readonly battery: BatterySpec;
  /** What a kWh of import costs in each slot (£/MWh: energy, carbon at its price). */
  readonly priceGbpPerMwh: readonly number[];
  readonly slotMinutes: number;
  /**
   * £ per kWh of grid energy the stored energy's change over the run stands for at its end: a
   * shortfall Δ is refilled from the grid at Δ / round-trip efficiency, a surplus credited at Δ (the
   * backtest's metrics, src/backtest/battery-end.ts batteryEndOf).
   */
  readonly endGbpPerKwh: number;
}

export interface SiteSpec {
  readonly id: string;
  readonly itPowerLimitKw: number;
  readonly pue: number;
  readonly gridImportLimitKw: number;
  readonly priceGbpPerMwh: readonly number[];
  readonly carbonGPerKwh: readonly number[];
  readonly battery?: BatterySpec;
  /**
   * Version 2: the price (£/MWh) at which energy a soft job leaves beyond the horizon will be
   * bought (docs/planning-problem.md, "Soft deadlines"). Absent: the dearest price in the horizon
   * (at least 0), which makes waiting dearer than any slot. A caller that knows the prices after the
   * horizon states their least, so that a plan's cost stays a lower bound on a longer run's (the
   * backtest's bound over a year in chunks, src/backtest/bound.ts).
   */
  readonly unservedPriceGbpPerMwh?: number;
}

/**
 * A job's service-level objective (version 2). `hard`: it must run within [releaseSlot, deadlineSlot).
 * `soft`: it may finish late at a cost, linear in the energy placed late (docs/planning-problem.md,
 * "Soft deadlines"): energy in slot t ≥ deadlineSlot costs lateGbpPerHour × (t − deadlineSlot + 1) ×
 * slotHours × (energy in t / energyKwh). With maxDelaySlots it must still finish by deadlineSlot +
 * maxDelaySlots; energy may be left beyond the horizon ("unserved") only when that limit is absent or
 * beyond the horizon.
 */
export type JobSlo =
  | { readonly kind: 'hard' }
  | { readonly kind: 'soft'; readonly lateGbpPerHour: number; readonly maxDelaySlots?: number };

export interface JobSpec {
  readonly id: string;
  readonly energyKwh: number;
  readonly maxPowerKw: number;
  /** First slot the job may run in. */
  readonly releaseSlot: number;
  /** The job must have finished by the start of this slot (exclusive). */
  readonly deadlineSlot: number;
  readonly preemptible: boolean;
  readonly sites: readonly string[];
  /** Units of useful work (inferences, tokens, GPU-hours) the job produces; divides £ and gCO2. */
  readonly work?: number;
  /** Version 2: absent means hard. */
  readonly slo?: JobSlo;
  /**
   * Version 2: what it costs (£) to run the job at any of its sites but the first, its home: the
   * transfer of its data and its restart there (docs/cost-model.md, "Site moves"). Charged once,
   * whatever the job runs there. Absent: 0.
   */
  readonly moveCostGbp?: number;
}

/** A confirmed flexibility commitment: grid import at `site` stays ≤ maxImportKw in [fromSlot, toSlot). */
export interface CommitmentSpec {
  readonly site: string;
  readonly fromSlot: number;
  readonly toSlot: number;
  readonly maxImportKw: number;
}

export interface PlanningProblem {
  /** 2 allows `slo` on jobs; version 1 problems read and plan exactly as before. */
  readonly version: 1 | 2;
  /** ISO-8601 UTC instant at which slot 0 starts. */
  readonly start: string;
  readonly slotMinutes: number;
  readonly slots: number;
  readonly sites: readonly SiteSpec[];
  readonly jobs: readonly JobSpec[];
  /**
   * Absent means no cap. With carbonCapGPerKwh the plan may emit this many kg plus
   * carbonCapGPerKwh grams for each kWh it imports (a cap on its mean intensity), and the allowance
   * may be below 0: the plan must then import cleaner than the stated intensity.
   */
  readonly carbonCapKg?: number;
  /** Version 2: grams of CO2 per kWh imported that the cap allows on top of carbonCapKg (carbonCapUseKg). */
  readonly carbonCapGPerKwh?: number;
  readonly commitments: readonly CommitmentSpec[];
}

export type ScheduleStatus = 'optimal' | 'feasible' | 'infeasible';

export interface JobSchedule {
  readonly id: string;
  readonly site: string;
  /** IT power per slot (kW). */
  readonly powerKw: readonly number[];
}

export interface BatterySchedule {
  readonly site: string;
  readonly chargeKw: readonly number[];
  readonly dischargeKw: readonly number[];
}

/** A soft job that finishes after its deadline or not within the horizon (schedule version 2). */
export interface LateJob {
  readonly id: string;
  readonly deadlineSlot: number;
  /** Slot after the last slot the job runs in (its finish), or null when part of it does not fit in the horizon. */
  readonly finishSlot: number | null;
  /** finish − deadline; for an unfinished job, horizon end − deadline (a lower estimate). */
  readonly lateSlots: number;
  /** Energy not placed within the horizon (carried beyond it), kWh. */
  readonly unservedKwh: number;
  /** Its lateness cost as the objective counts it (£). */
  readonly costGbp: number;
}

export interface Schedule {
  /** 2 when the problem is version 2. */
  readonly version: 1 | 2;
  readonly status: ScheduleStatus;
  /** Why the problem has no plan, when status is infeasible. */
  readonly reason?: string;
  readonly costGbp: number;
  readonly carbonKg: number;
  /** A proven lower bound on the cost of any feasible plan. */
  readonly lowerBoundGbp: number;
  readonly jobs: readonly JobSchedule[];
  readonly batteries: readonly BatterySchedule[];
  /** Units of work in the problem (Σ job.work), when the jobs state it. */
  readonly work?: number;
  /** costGbp / work: £ per unit of work (inference, token, GPU-hour). */
  readonly gbpPerUnitOfWork?: number;
  /**
   * Version 2: the units of work whose energy runs within the horizon, work less each waiting job's
   * share (work × unservedKwh / energyKwh); what gCo2PerUnitOfWork divides by.
   */
  readonly workDone?: number;
  /**
   * carbonKg × 1000 / the work done within the horizon (workDone; version 1: work): gCO2 per unit of
   * work. The carbon of work waiting beyond the horizon is not known, so it is neither in carbonKg nor
   * in the divisor (its energy is in costGbp, at the unserved price, so gbpPerUnitOfWork divides by work).
   */
  readonly gCo2PerUnitOfWork?: number;
  /** Which planner produced the schedule, for the audit trail. */
  readonly planner?: string;
  /** Version 2: every soft job that is late or unfinished, by costGbp, dearest first. */
  readonly late?: readonly LateJob[];
  /** Version 2: Σ price × import (£); costGbp = energyCostGbp + latenessCostGbp (+ batteryWearGbp). */
  readonly energyCostGbp?: number;
  /** Version 2: Σ late[].costGbp (£). */
  readonly latenessCostGbp?: number;
  /** Version 2, where a battery states a degradation cost: Σ discharge × £/MWh (£), part of costGbp. */
  readonly batteryWearGbp?: number;
  /**
   * Version 2, where the plan runs a job with a move cost away from its home: Σ those jobs'
   * moveCostGbp (£), part of costGbp.
   */
  readonly moveCostGbp?: number;
}

/** Adds £ and gCO2 per unit of work when the problem's jobs state their work (docs/planning-problem.md). */
export const withWorkMetrics = (problem: PlanningProblem, schedule: Schedule): Schedule => {
  // Worked out afresh: a schedule passed in again (a plan re-stated at other prices) may carry old ones.
  const { work: _work, workDone: _workDone, gbpPerUnitOfWork: _gbp, gCo2PerUnitOfWork: _gCo2, ...rest } = schedule;
  if (schedule.status === 'infeasible' || !problem.jobs.some((j) => j.work !== undefined)) return rest;
  const work = problem.jobs.reduce((a, j) => a + (j.work ?? 0), 0);
  if (!(work > 0)) return { ...rest, work };
  const jobs = new Map(problem.jobs.map((j) => [j.id, j]));
  const waiting = (schedule.late ?? []).reduce((a, l) => {
    const j = jobs.get(l.id);
    return a + (j && j.energyKwh > 0 ? ((j.work ?? 0) * Math.min(l.unservedKwh, j.energyKwh)) / j.energyKwh : 0);
  }, 0);
  const done = Math.max(0, work - waiting);
  return {
    ...rest,
    work,
    ...(schedule.version === 2 ? { workDone: done } : {}),
    gbpPerUnitOfWork: schedule.costGbp / work,
    ...(done > 0 ? { gCo2PerUnitOfWork: (schedule.carbonKg * 1000) / done } : {}),
  };
};

export const slotHoursOf = (p: Pick<PlanningProblem, 'slotMinutes'>): number => p.slotMinutes / 60;

/** Grid import per slot at one site implied by a schedule (kW): IT × PUE + charge − discharge. */
export const siteImportKw = (problem: PlanningProblem, schedule: Schedule, siteId: string): number[] => {
  const site = problem.sites.find((s) => s.id === siteId);
  if (!site) throw new Error(`unknown site ${siteId}`);
  const out = new Array<number>(problem.slots).fill(0);
  for (const job of schedule.jobs) {
    if (job.site !== siteId) continue;
    job.powerKw.forEach((p, t) => (out[t] = (out[t] ?? 0) + p * site.pue));
  }
  const battery = schedule.batteries.find((b) => b.site === siteId);
  if (battery) {
    for (let t = 0; t < problem.slots; t++)
      out[t] = (out[t] ?? 0) + (battery.chargeKw[t] ?? 0) - (battery.dischargeKw[t] ?? 0);
  }
  return out;
};

export const infeasible = (reason: string, lowerBoundGbp = 0, planner?: string, version: 1 | 2 = 1): Schedule => ({
  version,
  status: 'infeasible',
  reason,
  costGbp: 0,
  carbonKg: 0,
  lowerBoundGbp,
  jobs: [],
  batteries: [],
  ...(planner ? { planner } : {}),
});
