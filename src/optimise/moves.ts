// Site moves read off the reports and a plan (docs/architecture.md, "Site moves"; docs/cost-model.md,
// "Site moves"): which jobs may move and at what cost, the moves a schedule makes, the same problem
// with every job kept at home, and the moves a plan makes due now. The problem builder (problem.ts)
// lists a movable job's home first among its sites; everything here reads it so.
import { moveCostOf, moveTargets, type FlexibilityReport, type MoveCost } from '../domain/compute.ts';
import type { PlanningProblem, Schedule } from '../domain/planning.ts';
import { MINUTE_MS, slotStart, type EpochMs, type SlotGrid } from '../domain/time.ts';

/** A job a plan may move: its own site (first in its spec's sites) and what a move costs. */
export interface MoveOption {
  readonly home: string;
  readonly gbp: number;
}

/** Every job the reports allow to move (moveTargets), by id, with its home and its move's cost. */
export const moveOptions = (
  reports: readonly FlexibilityReport[],
  cost: MoveCost,
  pinned: ReadonlySet<string> = new Set(),
): Map<string, MoveOption> => {
  const out = new Map<string, MoveOption>();
  for (const r of reports)
    for (const job of r.jobs)
      if (!pinned.has(job.id) && moveTargets(job, reports).length > 0)
        out.set(job.id, { home: job.site, gbp: moveCostOf(job, cost) });
  return out;
};

/** The moves a schedule makes: jobs it runs away from their home, with each move's cost. */
export const movesIn = (
  schedule: Schedule,
  options: ReadonlyMap<string, MoveOption>,
): { jobId: string; from: string; to: string; gbp: number }[] =>
  schedule.jobs.flatMap((j) => {
    const o = options.get(j.id);
    return o && j.site !== o.home && j.powerKw.some((p) => p > 1e-9)
      ? [{ jobId: j.id, from: o.home, to: j.site, gbp: o.gbp }]
      : [];
  });

/** The same problem with every job at its home site only: the plan without moves. */
export const pinnedHome = (problem: PlanningProblem): PlanningProblem => ({
  ...problem,
  jobs: problem.jobs.map((j) => (j.sites.length > 1 ? { ...j, sites: [j.sites[0] as string] } : j)),
});

/** A move due now: a waiting job the plan starts at another site in the current slot (or earlier). */
export interface DueMove {
  readonly jobId: string;
  readonly from: string;
  readonly to: string;
  /** Its planned start there (the slot's start, as dispatchFor gives it). */
  readonly beginAt: EpochMs;
}

/** The moves a schedule makes due now, read off the reports (where each job is) and the schedule (where it runs). */
export const movesFor = (
  reports: readonly FlexibilityReport[],
  schedule: Schedule,
  grid: SlotGrid,
  now: EpochMs,
): DueMove[] => {
  const bySchedule = new Map(schedule.jobs.map((j) => [j.id, j]));
  const nowSlot = Math.floor((now - grid.start) / (grid.slotMinutes * MINUTE_MS));
  const out: DueMove[] = [];
  for (const r of reports)
    for (const job of r.jobs) {
      if ((job.state !== 'queued' && job.state !== 'held') || job.slo !== 'deferrable' || job.heldBy === 'other')
        continue;
      const s = bySchedule.get(job.id);
      const first = s?.powerKw.findIndex((p) => p > 1e-9) ?? -1;
      if (!s || first < 0 || first > nowSlot || s.site === r.site) continue;
      out.push({ jobId: job.id, from: r.site, to: s.site, beginAt: slotStart(grid, first) });
    }
  return out;
};
