// From a job draft to a checked schedule: the battery LP for the draft's IT profile, then one
// check of the placement (check.ts), whose verdict fills the schedule's figures. Every stage of the
// planner (placement, polish, the exact MILP, warm re-plans) ends here, so a plan that leaves the
// planner has passed the check.
import type { PlanningProblem, Schedule } from '../domain/planning.ts';
import { planBatteries } from './battery-model.ts';
import { checkSchedule, costFields } from './check.ts';
import type { Draft } from './disaggregate.ts';
import type { LpSolve } from './lp.ts';
import { LP_PLANNER, OPTIMAL_REL_GAP, type PlanStats } from './plan-options.ts';
import { mayLeaveUnserved, UNSERVED_TOL } from './soft.ts';

/**
 * A job's power row as a plain array. Every plan copies every job's row here; `Array.from` on a typed
 * array goes through its iterator and took about eight times as long as this loop.
 */
const rowOf = (pw: Float64Array | undefined, slots: number): number[] => {
  const n = pw ? pw.length : slots;
  const row = new Array<number>(n);
  for (let t = 0; t < n; t++) row[t] = pw ? (pw[t] as number) : 0;
  return row;
};

export const assemble = (
  p: PlanningProblem,
  d: Draft,
  batteries: Schedule['batteries'],
  lowerBoundGbp: number,
  planner = LP_PLANNER,
): Schedule => assembleChecked(p, d, batteries, lowerBoundGbp, planner).schedule;

/**
 * The schedule of a draft, its figures filled from one check of its placement, and that check's
 * verdict on every physical rule (check.ts; the figures match it by construction).
 */
export const assembleChecked = (
  p: PlanningProblem,
  d: Draft,
  batteries: Schedule['batteries'],
  lowerBoundGbp: number,
  planner = LP_PLANNER,
): { schedule: Schedule; verdict: ReturnType<typeof checkSchedule> } => {
  const jobs = p.jobs.map((j, i) => ({
    id: j.id,
    site: p.sites[d.site[i] as number]!.id,
    powerKw: rowOf(d.power[i], p.slots),
  }));
  const draft: Schedule = {
    version: 1,
    status: 'feasible',
    costGbp: 0,
    carbonKg: 0,
    lowerBoundGbp,
    jobs,
    batteries,
    planner,
  };
  const verdict = checkSchedule(p, draft, { reported: false });
  const fields = costFields(p, verdict);
  const costGbp = fields.costGbp;
  const bound = Math.min(lowerBoundGbp, costGbp);
  const status = costGbp - bound <= OPTIMAL_REL_GAP * Math.max(1, Math.abs(costGbp)) ? 'optimal' : 'feasible';
  return { schedule: { ...draft, ...fields, status, lowerBoundGbp: bound }, verdict };
};

export const siteLoads = (p: PlanningProblem, d: Draft): Float64Array[] => {
  const load = p.sites.map(() => new Float64Array(p.slots));
  d.power.forEach((pw, j) => {
    if (pw)
      for (let t = 0; t < p.slots; t++)
        load[d.site[j] as number]![t] = (load[d.site[j] as number]![t] as number) + (pw[t] as number);
  });
  return load;
};

export type Candidate = { readonly schedule: Schedule } | { readonly failed: string; readonly carbon: boolean };

/** Battery LP for a job plan, then the independent check. */
export const finish = async (
  p: PlanningProblem,
  draft: Draft,
  solve: LpSolve,
  deadline: () => number,
  stats: PlanStats,
  bound: number,
  planner: string,
): Promise<Candidate> => {
  const battery = await planBatteries(p, siteLoads(p, draft), solve, deadline());
  stats.lpSolves++;
  if (!battery.ok) return { failed: battery.reason, carbon: battery.carbon };
  const { schedule, verdict } = assembleChecked(p, draft, battery.batteries, bound, planner);
  return verdict.ok
    ? { schedule }
    : { failed: `the plan fails the check: ${verdict.violations.slice(0, 3).join('; ')}`, carbon: false };
};

/** A checked schedule back into a draft, for local search. */
export const draftOf = (p: PlanningProblem, s: Schedule): Draft => {
  const siteIndex = new Map(p.sites.map((x, i) => [x.id, i]));
  const byId = new Map(s.jobs.map((j) => [j.id, j]));
  const h = p.slotMinutes / 60;
  const power = p.jobs.map((j) => Float64Array.from(byId.get(j.id)!.powerKw));
  return {
    site: Int32Array.from(p.jobs, (j) => siteIndex.get(byId.get(j.id)!.site) as number),
    power,
    // Soft jobs may have energy beyond the horizon; local search leaves those as they are.
    deficitKwh: Float64Array.from(p.jobs, (j, i) => {
      if (!mayLeaveUnserved(p, j)) return 0;
      const short = j.energyKwh - power[i]!.reduce((a, x) => a + x * h, 0);
      return short > UNSERVED_TOL * Math.max(1, j.energyKwh) ? short : 0;
    }),
  };
};
