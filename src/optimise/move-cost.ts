// What running a job away from its home costs (planning problem version 2, `moveCostGbp` on a job;
// docs/planning-problem.md, "Site moves"). A job's home is the first of its sites; at any other it
// pays its move cost once, when it runs there at all (a job left wholly beyond the horizon moves
// nowhere). The one place that says so: the check, the exact MILP, the class LP's bound and the
// heuristics all price a placement with it.
import type { JobSpec, PlanningProblem } from '../domain/planning.ts';

/** The move cost (£) of `job` placed at site `siteId` with some energy there: 0 at its home. */
export const moveGbpAt = (job: JobSpec, siteId: string): number =>
  job.moveCostGbp !== undefined && job.moveCostGbp > 0 && siteId !== job.sites[0] ? job.moveCostGbp : 0;

/** The same, with the site as an index into problem.sites. */
export const moveGbpAtIndex = (p: PlanningProblem, job: JobSpec, s: number): number =>
  job.moveCostGbp ? moveGbpAt(job, p.sites[s]?.id ?? '') : 0;

/** Whether any job of the problem states a move cost and may run away from home. */
export const hasMoveCosts = (p: PlanningProblem): boolean =>
  p.jobs.some((j) => (j.moveCostGbp ?? 0) > 0 && j.sites.length > 1);

/** Σ move costs of the jobs a schedule runs away from their home (£). */
export const movesGbp = (
  p: PlanningProblem,
  jobs: readonly { readonly id: string; readonly site: string; readonly powerKw: readonly number[] }[],
): number => {
  if (!hasMoveCosts(p)) return 0;
  const byId = new Map(p.jobs.map((j) => [j.id, j]));
  let gbp = 0;
  for (const s of jobs) {
    const job = byId.get(s.id);
    if (job && s.powerKw.some((kw) => kw > 1e-9)) gbp += moveGbpAt(job, s.site);
  }
  return gbp;
};
