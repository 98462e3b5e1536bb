// The moves a planner strategy (planner-strategy.ts) asks for each period: its sites' waiting jobs
// and last plans read into the site-move rule (moves.ts movesFor), with what the period's decision
// already holds (the jobs it starts, the sites it capped) kept out.
import { offeredAt, type OfferedLoad } from './capacity-value.ts';
import { movesFor, runningPlan, type SiteMove } from './moves.ts';
import type { Carry } from './planner-options.ts';
import type { DecideContext } from './strategies.ts';

/**
 * The late waiting jobs moved to another site this period (moves.ts movesFor), read off each site's
 * last plan; none that starts here now or early, nor one released FIFO after a failed plan. The
 * carried plan of a site a job leaves keeps its placement until its next plan, which no longer sees
 * it; the site it joins plans it next period. No job moves into a site that capped a job this
 * period (the cap took room the plan had) or whose waiting jobs no plan holds.
 */
export const plannedMoves = (
  ctx: DecideContext,
  starting: ReadonlySet<string>,
  capped: ReadonlySet<string>,
  carries: ReadonlyMap<string, Carry>,
  offered: OfferedLoad,
  horizon: number,
): SiteMove[] => {
  const sites = ctx.sites.map((x) => {
    // Each site's offered load counts the jobs submitted there before any leaves (planner-strategy.ts
    // capNode reads it), as the bound's reading of the site's own arrivals does (capacity-value.ts
    // uncontendedAt).
    offeredAt(offered, x, ctx.now);
    const c = carries.get(x.spec.id);
    // A site with no plan and no job waiting (none has waited there yet, or its queue emptied since
    // a failed plan) has room wherever its running jobs leave it.
    const plan = c
      ? { jobs: c.schedule.jobs, slots: horizon, slot: ctx.period - c.period }
      : x.waiting.length === 0
        ? runningPlan(x.spec.id, x.running, horizon)
        : undefined;
    return {
      id: x.spec.id,
      gpus: x.spec.gpus,
      limitKw: x.spec.trainingMaxKw - x.spec.trainingIdleKw,
      kwPerGpu: (x.spec.trainingMaxKw - x.spec.trainingIdleKw) / x.spec.gpus,
      waiting: x.waiting.filter((j) => !starting.has(j.id)),
      ...(plan ? { plan } : {}),
      accepts: !capped.has(x.spec.id),
    };
  });
  return movesFor({ sites, now: ctx.now });
};
