// A simulated site as the fleet planner sees it each period (planner-strategy.ts): its
// FlexibilityReport, the same input the Flex Orchestrator plans a real site from.
// - The planner sees the training pool only: IT limit = what every GPU adds above idle; idle and
//   inference power are inflexible and the same under every plan, so leaving them out changes no
//   decision. Jobs are site-bound (the profiles allow one site each), so the fleet plan is the
//   sites' plans side by side.
// - Where the plans do not see arrivals (flexlon; the oracle with `--oracle-arrivals none`), the
//   report holds the jobs running and waiting, with the room kept for must-start arrivals as base load
//   (reserve.ts); where they do (the oracle), also every job drawn so far that is submitted within the
//   horizon, from its release, and no such room.
import type { ComputeJob, FlexibilityReport } from '../domain/compute.ts';
import { PERIOD_MS } from '../domain/settlement-day.ts';
import { epochMs } from '../domain/time.ts';
import { kw, kwh } from '../domain/units.ts';
import { hasNoSlack, MUST_START_LATE_GBP_PER_GPU_HOUR, type NoSlackReserve } from './reserve.ts';
import type { SimJob } from './sim-job.ts';
import type { SiteSim } from './site-sim.ts';

/**
 * A job as it is: the planner plans its run at full power and the last slot of the run holds the
 * part of a period left (slots are average power). The site's scheduler starts the next job when
 * one finishes, mid-period, so a plan that fills a slot with one job's tail and another's start is
 * what happens. An earlier version rounded every run up to whole periods at full power: each
 * run then looked a quarter of a period longer on average, the plan saw the busy pool as full and held work back at
 * a cost in lateness (docs/backtest.md, "Whole periods").
 */
const asComputeJob = (j: SimJob, site: string, state: 'queued' | 'running', releaseAt: number): ComputeJob => ({
  id: j.id,
  name: j.id,
  site,
  slo: 'deferrable',
  gpus: j.gpus,
  powerKw: kw(j.powerKw),
  energyKwh: kwh(j.energyKwh),
  remainingKwh: kwh(j.remainingKwh),
  submittedAt: epochMs(j.submittedAt),
  releaseAt: epochMs(releaseAt),
  deadlineAt: epochMs(j.deadlineAt),
  preemptible: false,
  allowedSites: [site],
  work: j.work,
  workUnit: 'gpu-hours',
  state,
  // A must-start job's SLO is hard: its lateness priced so that no plan trades it for energy (reserve.ts).
  ...(hasNoSlack(j) ? { lateGbpPerGpuHour: MUST_START_LATE_GBP_PER_GPU_HOUR } : {}),
});

/** A job is seen at the first period start at or after its release (jobs start on boundaries). */
const boundaryAfter = (t: number): number => Math.ceil(t / PERIOD_MS) * PERIOD_MS;

/**
 * The site's report at `now` for a plan of `horizon` slots. `seesArrivals` (the oracle's default,
 * planner-strategy.ts): the jobs still to come are in it; otherwise the room `reserve` keeps for
 * must-start arrivals is its base load.
 */
export const report = (
  site: SiteSim,
  now: number,
  horizon: number,
  seesArrivals: boolean,
  reserve: NoSlackReserve,
): FlexibilityReport => {
  const s = site.spec;
  const id = s.id;
  const horizonEnd = now + horizon * PERIOD_MS;
  const jobs: ComputeJob[] = [
    ...site.running.map((j) => asComputeJob(j, id, 'running', j.releaseAt)),
    ...site.waiting.map((j) => asComputeJob(j, id, 'queued', Math.max(j.releaseAt, now))),
    ...(seesArrivals
      ? site.pending
          .filter((j) => j.submittedAt < horizonEnd)
          .map((j) => asComputeJob(j, id, 'queued', boundaryAfter(Math.max(j.releaseAt, j.submittedAt))))
      : []),
  ];
  return {
    site: id,
    region: 'GB',
    at: epochMs(now),
    itPowerLimitKw: kw(s.trainingMaxKw - s.trainingIdleKw),
    pue: s.pue,
    // The site's connection where it states one (a battery site: its charging is held under it);
    // otherwise set where it cannot bind.
    gridImportLimitKw: kw(s.gridImportLimitKw ?? 2 * s.trainingMaxKw * s.pue),
    baseLoadFrom: epochMs(now),
    slotMinutes: 30,
    baseLoadKw: seesArrivals ? [0] : reserve.kw(site, now, horizon),
    jobs,
    ...(s.battery && site.socKwh !== undefined ? { battery: { ...s.battery, socKwh: site.socKwh } } : {}),
  };
};
