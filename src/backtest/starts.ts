// The jobs a planner strategy's site starts beyond what its plan starts now, into GPUs left free
// (site-sim.ts `early`): early starts of the plan's next-period starts, and at a site where caps
// apply, capped starts of jobs the plan runs later (caps.ts cappedStarts). planner-strategy.ts asks
// once per site and period, with the plan just made.
import type { PlanningProblem, Schedule } from '../domain/planning.ts';
import { PERIOD_MS } from '../domain/settlement-day.ts';
import type { GpuNodePower } from '../sim/power.ts';
import { cappedStarts, type WaitingJob } from './caps.ts';

/**
 * Jobs the plan starts in the next period that may start now when GPUs are free: the plan starts
 * jobs on period boundaries, so GPUs a job frees mid-period (or that the plan's slot-average power
 * leaves over) stay idle in it until the next period, while the site's own scheduler would start
 * the next job at once. Starting early shifts a run by under a
 * period: it gains the current slot and gives up (part of) its last one, so it is allowed where the
 * current slot's price (energy, carbon and product windows, as planned) is no dearer than that last
 * slot's, or where the plan finishes the job after its deadline (each period earlier then saves
 * lateness at £0.25 × its GPUs per half hour, hundreds of £/MWh, far above any price difference).
 * Measured over two weeks on both fleets (docs/backtest.md, "Early starts"): lower £+carbon, less
 * lateness and more deadlines met than the plan's starts alone; with runs no longer rounded up to
 * whole periods they still bring the busy fleet's objective from £25,617 to £24,996.
 */
export const earlyStarts = (
  schedule: Schedule,
  problem: PlanningProblem,
  now: number,
  deadlines: ReadonlyMap<string, number>,
): Set<string> => {
  const out = new Set<string>();
  const price = new Map(problem.sites.map((s) => [s.id, s.priceGbpPerMwh]));
  for (const j of schedule.jobs) {
    const p = j.powerKw;
    if ((p[0] ?? 0) > 1e-9 || !((p[1] ?? 0) > 1e-9)) continue;
    let last = 1;
    while ((p[last + 1] ?? 0) > 1e-9) last++;
    const p0 = price.get(j.site)?.[0];
    const pl = price.get(j.site)?.[last];
    const late = now + (last + 1) * PERIOD_MS > (deadlines.get(j.id) ?? Infinity);
    if (late || (p0 !== undefined && pl !== undefined && p0 <= pl + 1e-9)) out.add(j.id);
  }
  return out;
};

export interface StartsInput {
  readonly schedule: Schedule;
  readonly problem: PlanningProblem;
  readonly site: string;
  /** The site's waiting jobs, in submission order. */
  readonly waiting: readonly WaitingJob[];
  /** GPUs free at the site now. */
  readonly freeGpus: number;
  /** The site's IT limit for its jobs (kW): every GPU busy. */
  readonly limitKw: number;
  readonly now: number;
  /** The jobs the plan starts now (they take GPUs first). */
  readonly starting: ReadonlySet<string>;
  /** The site's node where its jobs may be capped now (planner-strategy.ts capNode), else undefined. */
  readonly node: GpuNodePower | undefined;
}

/**
 * The site's early starts, then its capped starts into the GPUs the plan's starts and early starts
 * leave (the site starts them in that order), and the IT power per slot from now the capped starts
 * add to the plan, for capsFor's room in the same period (absent without any).
 */
export const startsBeyondPlan = (i: StartsInput): { early: Set<string>; addedKw?: number[] } => {
  const deadlines = new Map(i.waiting.map((j) => [j.id, j.deadlineAt]));
  const early = earlyStarts(i.schedule, i.problem, i.now, deadlines);
  const prices = i.problem.sites.find((x) => x.id === i.site)?.priceGbpPerMwh;
  if (!i.node || !prices) return { early };
  const taken = i.waiting.filter((j) => i.starting.has(j.id) || early.has(j.id)).reduce((n, j) => n + j.gpus, 0);
  const capped = cappedStarts({
    node: i.node,
    waiting: i.waiting.filter((j) => !early.has(j.id)),
    plan: i.schedule.jobs,
    limitKw: i.limitKw,
    now: i.now,
    prices,
    freeGpus: i.freeGpus - taken,
  });
  for (const j of capped.ids) early.add(j);
  return capped.ids.size ? { early, addedKw: capped.addedKw } : { early };
};
