// A proven lower bound on the objective any strategy can reach on a run (issue 15: "a bound that is
// one"). The oracle is meant as the bound, but its rolling 48 h plans are not one on the busy fleet
// (docs/backtest.md, "What keeps the targets out of reach"). This is: each site's run planned as
// problems that see every job of the run from its first possible start (the period start after its
// submission), outturn price + carbon at the carbon price in every period, and lateness priced as the
// metrics price it (sim-job.ts Finished.lateGpuH × £0.25 per GPU-hour: energy in the period holding
// the deadline and after it, × (periods late + 1)). The planner proves a lower bound on each
// problem's LP relaxation (src/optimise/bound.ts), which lets jobs pause and run at part power, so
// no schedule the site can run (whole GPUs, pre-empted only for must-start jobs, FIFO) costs less. The idle and inference
// power are the same under every strategy and are added at the same prices.
//
// A run longer than CHUNK_DAYS days is too large for one problem, so its jobs are split by the day
// they arrive into chunks of CHUNK_DAYS days, each planned from its first day to TAIL_DAYS days past
// its last and past its jobs' deadlines (or to the run's end) as if it had the site to itself. That is a relaxation of the whole
// run, so the chunks' bounds add up to a bound on it:
// - the objective is a sum over jobs, and a chunk's problem drops only rows that bind its jobs with
//   other chunks' jobs (each slot's site limit), so any schedule of the whole run, cut into chunks,
//   is feasible for each and costs the same;
// - energy the run places after a chunk's horizon counts there as left beyond it (docs/planning-
//   problem.md, "Soft deadlines"): late by the horizon's end at least, and bought at the least price
//   + carbon after the horizon (SiteSpec.unservedPriceGbpPerMwh), no more than it costs where it ran.
// Chunks cost sharpness only where two chunks' jobs meet in the days after a chunk's end.
//
// With site moves (moves.ts) a job may run at another site of its node kind, so those sites are
// planned together, each job free to run at any of them and the move's cost left out: a relaxation
// of every strategy, moving or not. Their chunks are shorter (16 days for three sites), which keeps
// a problem's memory in bounds.
//
// It bounds the objective of a strategy that finishes every job within the run (the drain days):
// one that leaves work open is not charged for it (metrics.ts), so it may fall below. A site's
// battery is bounded apart, over the whole run, with its ties to the site dropped (batteryGbp below).
// A year's three busy sites take about 1.5 minutes.
import type { ComputeJob } from '../domain/compute.ts';
import type { JobSpec, PlanningProblem } from '../domain/planning.ts';
import { PERIOD_H, PERIOD_MS, settlementDayStart } from '../domain/settlement-day.ts';
import { exactBinaries } from '../optimise/milp.ts';
import { DEFAULT_PLANNER_OPTIONS } from '../optimise/plan-options.ts';
import { DEFAULT_LATE_GBP_PER_GPU_HOUR } from '../optimise/problem.ts';
import type { Solver } from '../ports.ts';
import type { FleetSite, SiteDay } from './fleet.ts';
import { outturnCarbon, outturnPrice, type GridData } from './signal-view.ts';
import { minEnergyPerWork } from './caps.ts';
import { uncontendedAt } from './capacity-value.ts';

/** Days of arrivals planned in one problem (a month's three sites take about 5 s). */
export const CHUNK_DAYS = 31;
/**
 * Days of arrivals per problem where `sites` sites are planned together (with moves): shorter chunks
 * (16 days for three sites), since three busy sites' 31 days in one problem took the year's peak RSS
 * to 1.69 GB; 10 days (a site's month of jobs per problem) to 753 MB, but gave up £3,699 of the bound
 * at the chunks' edges.
 */
export const chunkDaysFor = (sites: number, chunkDays = CHUNK_DAYS): number =>
  Math.max(1, Math.round((2 * chunkDays) / (sites + 1)));

/**
 * Jobs per problem at most: a chunk ends before CHUNK_DAYS where its next day's arrivals would take it
 * past this (a day is never split). The synthetic fleets' months stay whole (a busy site's 31 days
 * are about 2,200 jobs, three sites planned together about 3,400 in their 16). A site of Alibaba pods
 * gets about a week (lon draws about 510 jobs a day): its months, 16,000 jobs over 1,800 periods in
 * one problem, took the year's bound to 6 minutes and the run's peak RSS to 2.5 GB.
 */
export const CHUNK_MAX_JOBS = 4000;

/** Days a chunk's problem runs past its last day of arrivals, for its late work. */
export const TAIL_DAYS = 7;

export type ObjectiveBound =
  | {
      readonly objectiveGbp: number;
      /**
       * Per site: the bound on the jobs' part and the inflexible power's cost (£). With moves, sites
       * planned together have their jobs' bound on the first of them.
       */
      readonly sites: readonly {
        readonly site: string;
        readonly jobsGbp: number;
        readonly inflexibleGbp: number;
        /** A site with a battery: the least the battery's part of the bill can be (£, negative: a saving). */
        readonly batteryGbp?: number;
        /** With moves: the sites planned together with this one (itself included). */
        readonly plannedWith?: readonly string[];
      }[];
    }
  | { readonly objectiveGbp: null; readonly reason: string };

export interface BoundInput {
  readonly sites: readonly FleetSite[];
  /** Every settlement day simulated (the run's days and its drain days), and how many bring jobs. */
  readonly allDays: readonly string[];
  readonly jobDays: number;
  /** The end of the last simulated day. */
  readonly end: number;
  readonly data: GridData;
  /** Start of the grid data (index 0 of `data`). */
  readonly dataStart: number;
  readonly carbonGbpPerTonne: number;
  readonly workload: (site: FleetSite, dayIndex: number, dayStart: number) => SiteDay;
  readonly solver: Solver;
  /**
   * Whether a strategy may cap GPUs (caps.ts): each job's energy is then its least under any cap
   * (minEnergyPerWork), for work done the same way is then done on less.
   */
  readonly caps?: boolean;
  /**
   * Whether a strategy may move jobs between sites of one node kind (moves.ts): those sites are then
   * planned together, each job free to run at any of them.
   */
  readonly moves?: boolean;
  /** Days of arrivals per problem (CHUNK_DAYS) and days past them (TAIL_DAYS); tests make them smaller. */
  readonly chunkDays?: number;
  /** Jobs per problem at most (CHUNK_MAX_JOBS). */
  readonly maxJobs?: number;
  readonly tailDays?: number;
}

export const objectiveBound = async (i: BoundInput): Promise<ObjectiveBound> => {
  if (i.sites.some((s) => s.spec.battery) && !i.solver.batteryCostBound)
    return { objectiveGbp: null, reason: 'the solver cannot bound a site battery' };
  const start = settlementDayStart(i.allDays[0] as string);
  const starts = i.allDays.map((d) => settlementDayStart(d));
  const end = i.end;
  const slots = (end - start) / PERIOD_MS;
  const first = (start - i.dataStart) / PERIOD_MS;
  const price = Array.from(
    { length: slots },
    (_, t) => outturnPrice(i.data, first + t) + (i.carbonGbpPerTonne * outturnCarbon(i.data, first + t)) / 1000,
  );
  const carbon = Array.from({ length: slots }, (_, t) => outturnCarbon(i.data, first + t));
  // The least price + carbon from each slot to the run's end: what energy run after a chunk costs at least.
  const leastFrom = new Float64Array(slots + 1).fill(Number.POSITIVE_INFINITY);
  for (let t = slots - 1; t >= 0; t--) leastFrom[t] = Math.min(leastFrom[t + 1] as number, price[t] as number);
  const h = PERIOD_H;
  const slotOf = (ms: number): number => (ms - start) / PERIOD_MS;
  // Per site: its days of work, the inflexible power's cost and where a strategy may cap.
  const per = i.sites.map((site) => {
    const s = site.spec;
    let inflexibleGbp = 0;
    const days = i.allDays.map((_, k) => i.workload(site, k, starts[k] as number));
    for (let k = 0; k < days.length; k++) {
      const day = days[k] as SiteDay;
      const next = k + 1 < starts.length ? (starts[k + 1] as number) : end;
      for (let t = slotOf(starts[k] as number), p = 0; t < slotOf(next); t++, p++) {
        const kw = s.trainingIdleKw + (day.inferenceKw[p % day.inferenceKw.length] ?? 0);
        inflexibleGbp += (kw * s.pue * h * (price[t] as number)) / 1000;
      }
    }
    // A job planned at part of its energy does its work in the LP at full power and pays lateness by
    // its share of work done, as the metrics count it, so capping at the least energy per unit of work
    // is within the relaxation: it bounds a strategy that caps too. A strategy caps a job only while
    // its site reads as uncontended (planner-strategy.ts capNode), which the site's arrivals alone
    // decide (the run's days: the drain days bring none), and only before the period holding its
    // deadline (caps.ts capsFor): a job gets the least energy where both can happen together.
    const least = i.caps && s.node ? minEnergyPerWork(s.node) : 1;
    const cappable =
      least < 1
        ? uncontendedAt(
            days.slice(0, i.jobDays).flatMap((d) => d.jobs),
            s.gpus,
            start,
            PERIOD_MS,
            slots,
          )
        : undefined;
    return { site, days, inflexibleGbp, least, cappable, jobsGbp: 0 };
  });
  type Site = (typeof per)[number];
  // Seen at the first period start at or after its submission (site-sim.ts), never before the run.
  const seenAt = (j: ComputeJob): number => Math.max(0, Math.ceil(slotOf(Math.max(j.releaseAt, j.submittedAt))));
  // The least energy per unit of work a job can get at any of the sites it may run at.
  const energyShare = (j: ComputeJob, at: readonly Site[]): number => {
    let share = 1;
    for (const x of at)
      if (x.cappable?.subarray(seenAt(j), Math.max(0, Math.floor(slotOf(j.deadlineAt)))).includes(1))
        share = Math.min(share, x.least);
    return share;
  };
  // With moves, a job may run at any site of its node kind (moves.ts): those sites are planned as one
  // problem whose jobs may run at each of them, which leaves out the moves' cost and so stays a
  // relaxation. Without, each site is its own group.
  const kwPerGpu = (x: Site): number => (x.site.spec.trainingMaxKw - x.site.spec.trainingIdleKw) / x.site.spec.gpus;
  const groups: Site[][] = [];
  for (const x of per) {
    const g = i.moves ? groups.find((y) => Math.abs(kwPerGpu(y[0] as Site) - kwPerGpu(x)) <= 1e-9) : undefined;
    if (g) g.push(x);
    else groups.push([x]);
  }
  for (const group of groups) {
    const ids = group.map((x) => x.site.spec.id);
    const chunk = chunkDaysFor(group.length, i.chunkDays);
    const maxJobs = i.maxJobs ?? CHUNK_MAX_JOBS;
    const jobsOn = (k: number): number => group.reduce((n, x) => n + (x.days[k]?.jobs.length ?? 0), 0);
    for (let k0 = 0, k1 = 0; k0 < i.jobDays; k0 = k1) {
      // Whole days, up to `chunk` of them and while the jobs stay within maxJobs (at least one day).
      let count = jobsOn(k0);
      k1 = k0 + 1;
      while (k1 < Math.min(i.jobDays, k0 + chunk) && count + jobsOn(k1) <= maxJobs) count += jobsOn(k1++);
      // Each job with the site whose workload drew it (its own site).
      const drawn = group.flatMap((x) => x.days.slice(k0, k1).flatMap((d) => d.jobs.map((j) => ({ j, x }))));
      const arrivals = drawn.map((d) => d.j);
      // From the chunk's first day, or earlier where a job arrives before it (a day's jobs may begin
      // before its start: the spring day's).
      const from = arrivals.reduce((m, j) => Math.min(m, seenAt(j)), slotOf(starts[k0] as number));
      // The last chunk runs to the run's end; any other to TAIL_DAYS past its last day, and at least
      // past its jobs' deadlines (a job due after the horizon would be charged lateness for the work
      // it leaves beyond it, which it may run on time), within the run.
      const due = arrivals.reduce((m, j) => Math.max(m, Math.ceil(slotOf(j.deadlineAt))), 0);
      const to =
        k1 >= i.jobDays
          ? slots
          : Math.min(
              slots,
              Math.max(due, slotOf(starts[k1] as number) + ((i.tailDays ?? TAIL_DAYS) * 86_400_000) / PERIOD_MS),
            );
      const n = to - from;
      const jobs: JobSpec[] = drawn.map(({ j, x }) => {
        const release = seenAt(j) - from;
        // The metrics charge energy from the period holding the deadline on (site-sim.ts latePeriods).
        const deadline = Math.max(release + 1, Math.floor(slotOf(j.deadlineAt) - from));
        return {
          id: j.id,
          energyKwh: j.remainingKwh * energyShare(j, i.moves ? group : [x]),
          maxPowerKw: j.powerKw,
          releaseSlot: Math.min(release, n - 1),
          deadlineSlot: Math.min(deadline, n),
          // As the site runs it (a pause, as for a pre-empted job, is within the LP relaxation): see `exact` below.
          preemptible: false,
          sites: i.moves ? ids : [x.site.spec.id],
          slo: { kind: 'soft', lateGbpPerHour: DEFAULT_LATE_GBP_PER_GPU_HOUR * j.gpus },
        };
      });
      if (jobs.length === 0) continue;
      const problem: PlanningProblem = {
        version: 2,
        start: new Date(start + from * PERIOD_MS).toISOString(),
        slotMinutes: PERIOD_MS / 60_000,
        slots: n,
        sites: group.map(({ site: { spec: s } }) => ({
          id: s.id,
          itPowerLimitKw: s.trainingMaxKw - s.trainingIdleKw,
          pue: s.pue,
          gridImportLimitKw: 2 * s.trainingMaxKw * s.pue,
          priceGbpPerMwh: price.slice(from, to),
          carbonGPerKwh: carbon.slice(from, to),
          // Work the run does after this chunk's horizon costs at least the least price after it.
          ...(to < slots ? { unservedPriceGbpPerMwh: leastFrom[to] as number } : {}),
        })),
        jobs,
        commitments: [],
      };
      // The planner's bound is its class LP relaxation, which lets a job pause and run at part
      // power, so a job the site starts mid-period (when GPUs free) is within it. Only the exact
      // MILP, which small problems get, raises it by its own dual bound, over runs of whole periods
      // from a period's start: there the jobs are marked pre-emptible instead, which keeps it a
      // relaxation. (Marked pre-emptible throughout, the year's bound took minutes longer and 2 GB.)
      const exact = exactBinaries(problem) <= DEFAULT_PLANNER_OPTIONS.milpMaxBinaries;
      const schedule = await i.solver.plan(
        exact ? { ...problem, jobs: jobs.map((j) => ({ ...j, preemptible: true })) } : problem,
      );
      if (schedule.status === 'infeasible')
        return { objectiveGbp: null, reason: `site ${ids.join('+')}: ${schedule.reason ?? 'no plan'}` };
      // A group's bound is one figure; it is put on its first site (the sites' sum is the bound).
      (group[0] as Site).jobsGbp += schedule.lowerBoundGbp;
    }
  }
  // A site's battery: the least its part of the bill can be over the run, its ties to the site
  // dropped (src/optimise/battery-model.ts batteryCostBound). The bill is the import at each period's
  // price + carbon, import = IT × PUE + charged − discharged, so the battery's part (with its wear and
  // its end state at the run's mean price + carbon, as the metrics value it: battery-end.ts batteryEndOf) is
  // separate from the jobs' and the inflexible power's, and the sum of the three parts' bounds is one.
  const meanGbpPerKwh = price.reduce((a, x) => a + x, 0) / Math.max(1, slots) / 1000;
  const batteryGbp = new Map<string, number>();
  for (const x of per) {
    const b = x.site.spec.battery;
    if (!b || !i.solver.batteryCostBound) continue;
    const gbp = await i.solver.batteryCostBound({
      battery: {
        capacityKwh: b.maxSocKwh,
        maxChargeKw: b.maxChargeKw,
        maxDischargeKw: b.maxDischargeKw,
        roundTripEfficiency: b.roundTripEfficiency,
        initialSocKwh: b.initialSocKwh,
        minSocKwh: b.minSocKwh,
        degradationGbpPerMwh: b.degradationGbpPerMwh,
      },
      priceGbpPerMwh: price,
      slotMinutes: PERIOD_MS / 60_000,
      endGbpPerKwh: meanGbpPerKwh,
    });
    if (gbp === undefined)
      return { objectiveGbp: null, reason: `site ${x.site.spec.id}: its battery's LP was not solved to optimality` };
    batteryGbp.set(x.site.spec.id, gbp);
  }
  const sites = per.map((x) => {
    const group = groups.find((g) => g.includes(x)) ?? [x];
    const battery = batteryGbp.get(x.site.spec.id);
    return {
      site: x.site.spec.id,
      jobsGbp: x.jobsGbp,
      inflexibleGbp: x.inflexibleGbp,
      ...(battery === undefined ? {} : { batteryGbp: battery }),
      ...(group.length > 1 ? { plannedWith: group.map((y) => y.site.spec.id) } : {}),
    };
  });
  return {
    objectiveGbp: sites.reduce((a, x) => a + x.jobsGbp + x.inflexibleGbp + (x.batteryGbp ?? 0), 0),
    sites,
  };
};
