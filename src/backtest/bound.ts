// A proven lower bound on the objective any strategy can reach on a run (issue 15: "a bound that is
// one"). The oracle is meant as the bound, but its rolling 48 h plans are not one on the busy fleet
// (docs/backtest.md, "What keeps the targets out of reach"). This is: each site's whole run planned
// as one problem, with every job of the run known from its first possible start (the period start
// after its submission), outturn price + carbon at the carbon price in every period, and lateness
// priced as the metrics price it (site-sim.ts Finished.lateGpuH × £0.25 per GPU-hour: energy in the
// period holding the deadline and after it, × (periods late + 1)). The planner proves a lower bound
// on that problem's LP relaxation (src/optimise/bound.ts), which lets jobs pause and run at part
// power, so no schedule the site can run (whole GPUs, no pre-emption, FIFO) costs less. The idle and
// inference power are the same under every strategy and are added at the same prices.
//
// It bounds the objective of a strategy that finishes every job within the run (the drain days):
// one that leaves work open is not charged for it (metrics.ts), so it may fall below. It is not made
// for a site with a battery (the bound would have to plan the battery against the whole site's
// draw) nor beyond MAX_BOUND_DAYS days (a month's three sites take about 5 s; a year's problem would
// not fit the planner).
import type { JobSpec, PlanningProblem } from '../domain/planning.ts';
import { PERIOD_MS, settlementDayStart } from '../domain/settlement-day.ts';
import { DEFAULT_LATE_GBP_PER_GPU_HOUR } from '../optimise/problem.ts';
import type { Solver } from '../ports.ts';
import type { FleetSite, SiteDay } from './fleet.ts';
import { outturnCarbon, outturnPrice, type GridData } from './signal-view.ts';

export const MAX_BOUND_DAYS = 31;

export type ObjectiveBound =
  | {
      readonly objectiveGbp: number;
      /** Per site: the bound on the jobs' part and the inflexible power's cost (£). */
      readonly sites: readonly { readonly site: string; readonly jobsGbp: number; readonly inflexibleGbp: number }[];
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
}

export const objectiveBound = async (i: BoundInput): Promise<ObjectiveBound> => {
  if (i.jobDays > MAX_BOUND_DAYS)
    return { objectiveGbp: null, reason: `made for runs of up to ${MAX_BOUND_DAYS} days; this one has ${i.jobDays}` };
  if (i.sites.some((s) => s.spec.battery))
    return { objectiveGbp: null, reason: 'not made for a fleet with a site battery' };
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
  const h = PERIOD_MS / 3_600_000;
  const sites = [];
  for (const site of i.sites) {
    const s = site.spec;
    const jobs: JobSpec[] = [];
    let inflexibleGbp = 0;
    for (let k = 0; k < i.allDays.length; k++) {
      const dayStart = starts[k] as number;
      const day = i.workload(site, k, dayStart);
      const next = k + 1 < starts.length ? (starts[k + 1] as number) : end;
      for (let t = (dayStart - start) / PERIOD_MS, p = 0; t < (next - start) / PERIOD_MS; t++, p++) {
        const kw = s.trainingIdleKw + (day.inferenceKw[p % day.inferenceKw.length] ?? 0);
        inflexibleGbp += (kw * s.pue * h * (price[t] as number)) / 1000;
      }
      if (k >= i.jobDays) continue;
      for (const j of day.jobs) {
        // Seen at the first period start at or after its submission (site-sim.ts), never before the run.
        const release = Math.max(0, Math.ceil((Math.max(j.releaseAt, j.submittedAt) - start) / PERIOD_MS));
        // The metrics charge energy from the period holding the deadline on (site-sim.ts latePeriods).
        const deadline = Math.max(release + 1, Math.floor((j.deadlineAt - start) / PERIOD_MS));
        jobs.push({
          id: j.id,
          energyKwh: j.remainingKwh,
          maxPowerKw: j.powerKw,
          releaseSlot: Math.min(release, slots - 1),
          deadlineSlot: Math.min(deadline, slots),
          preemptible: false,
          sites: [s.id],
          slo: { kind: 'soft', lateGbpPerHour: DEFAULT_LATE_GBP_PER_GPU_HOUR * j.gpus },
        });
      }
    }
    const problem: PlanningProblem = {
      version: 2,
      start: new Date(start).toISOString(),
      slotMinutes: PERIOD_MS / 60_000,
      slots,
      sites: [
        {
          id: s.id,
          itPowerLimitKw: s.trainingMaxKw - s.trainingIdleKw,
          pue: s.pue,
          gridImportLimitKw: 2 * s.trainingMaxKw * s.pue,
          priceGbpPerMwh: price,
          carbonGPerKwh: carbon,
        },
      ],
      jobs,
      commitments: [],
    };
    const schedule = await i.solver.plan(problem);
    if (schedule.status === 'infeasible')
      return { objectiveGbp: null, reason: `site ${s.id}: ${schedule.reason ?? 'no plan'}` };
    sites.push({ site: s.id, jobsGbp: schedule.lowerBoundGbp, inflexibleGbp });
  }
  return { objectiveGbp: sites.reduce((a, x) => a + x.jobsGbp + x.inflexibleGbp, 0), sites };
};
