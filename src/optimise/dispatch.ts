// The optimiser's schedule read back into what a site does (docs/architecture.md, "One dispatch
// message"): start times for its waiting deferrable jobs, and for the current slot each cappable
// running job's GPU power and the battery's setpoint. DispatchInstruction, PowerCapInstruction and
// BatteryInstruction are what the provider–agent link carries (src/agents/link-protocol.ts).
// startsThrough reads the same starts for offer pricing (ProblemInput.startsAt, problem.ts).
import type { FlexibilityReport } from '../domain/compute.ts';
import type { Schedule } from '../domain/planning.ts';
import { MINUTE_MS, slotStart, type EpochMs, type SlotGrid } from '../domain/time.ts';
import { capPartId } from './cap-parts.ts';

export interface DispatchInstruction {
  readonly jobId: string;
  /** The job may start from this instant (market time). */
  readonly beginAt: EpochMs;
}

/**
 * A running job's GPU power for the current slot (issue 13 item 2): the IT power the plan gives it
 * (between its lowest-cap power and full power), or null to lift FlexLon's cap. The agent turns
 * the power into watts per GPU within the range its scheduler reports (ComputeJob.powerCapRangeW).
 */
export interface PowerCapInstruction {
  readonly jobId: string;
  readonly powerKw: number | null;
  /** The end of the slot the target is for (market time): the agent's cap is renewed or lifted then. */
  readonly until: EpochMs;
}

/** The site battery's setpoint for the current slot: > 0 charges, < 0 discharges (kW at the meter). */
export interface BatteryInstruction {
  readonly kw: number;
  readonly until: EpochMs;
}

const slotMs = (grid: SlotGrid): number => grid.slotMinutes * MINUTE_MS;

/**
 * Start times for the queued, deferrable jobs of one site, read off a schedule. A job the plan runs
 * at another site is moved when its start there is due (movesFor). Until then a job FlexLon holds
 * gets no start time here (one would release it), and a queued one is deferred to that start, so it
 * does not start here before its move is due.
 */
export const dispatchFor = (
  report: FlexibilityReport,
  schedule: Schedule,
  grid: SlotGrid,
  _now: EpochMs,
): DispatchInstruction[] => {
  const bySchedule = new Map(schedule.jobs.map((j) => [j.id, j]));
  const out: DispatchInstruction[] = [];
  for (const job of report.jobs) {
    if ((job.state !== 'queued' && job.state !== 'held') || job.slo !== 'deferrable' || job.heldBy === 'other')
      continue;
    const s = bySchedule.get(job.id);
    const first = s?.powerKw.findIndex((p) => p > 1e-9) ?? -1;
    if (first < 0) continue;
    if (s && s.site !== report.site && job.state === 'held') continue;
    const at = slotStart(grid, first);
    // Always the slot's start, even when it is already past (the job may then start at once): a start
    // time taken from the wall clock would make replays differ run to run.
    out.push({ jobId: job.id, beginAt: at });
  }
  return out;
};

const POWER_TOL_KW = 1e-3;

/**
 * GPU power for the site's cappable running jobs in the current slot, read off a schedule: the
 * floor plus what the plan gives the cappable part there. A job the plan runs at full power gets no
 * instruction unless FlexLon capped it before (then null lifts the cap).
 */
export const powerCapsFor = (
  report: FlexibilityReport,
  schedule: Schedule,
  grid: SlotGrid,
  now: EpochMs,
): PowerCapInstruction[] => {
  const t = Math.max(0, Math.floor((now - grid.start) / slotMs(grid)));
  if (t >= grid.slots) return [];
  const until = slotStart(grid, t + 1);
  const bySchedule = new Map(schedule.jobs.map((j) => [j.id, j]));
  const out: PowerCapInstruction[] = [];
  for (const job of report.jobs) {
    if (job.state !== 'running') continue;
    const part = bySchedule.get(capPartId(job.id));
    const floor = bySchedule.get(job.id);
    if (!part || !floor) {
      if (job.powerCapW !== undefined) out.push({ jobId: job.id, powerKw: null, until });
      continue;
    }
    const kw = (floor.powerKw[t] ?? 0) + (part.powerKw[t] ?? 0);
    if (kw >= job.powerKw - POWER_TOL_KW) {
      if (job.powerCapW !== undefined) out.push({ jobId: job.id, powerKw: null, until });
      continue;
    }
    out.push({ jobId: job.id, powerKw: Math.max(job.minPowerKw ?? 0, kw), until });
  }
  return out;
};

/** The site battery's setpoint for the current slot (charge − discharge), if the site has one. */
export const batteryFor = (
  site: string,
  schedule: Schedule,
  grid: SlotGrid,
  now: EpochMs,
): BatteryInstruction | undefined => {
  const b = schedule.batteries.find((x) => x.site === site);
  const t = Math.max(0, Math.floor((now - grid.start) / slotMs(grid)));
  if (!b || t >= grid.slots) return undefined;
  const kw = (b.chargeKw[t] ?? 0) - (b.dischargeKw[t] ?? 0);
  return { kw: Math.abs(kw) < POWER_TOL_KW ? 0 : kw, until: slotStart(grid, t + 1) };
};

/**
 * The waiting deferrable jobs a schedule starts at or before `at` and still runs at `at`, with the
 * slot each starts in (for ProblemInput.startsAt).
 */
export const startsThrough = (
  reports: readonly FlexibilityReport[],
  schedule: Schedule,
  grid: SlotGrid,
  at: EpochMs,
): Map<string, number> => {
  const atSlot = Math.floor((at - grid.start) / slotMs(grid));
  const bySchedule = new Map(schedule.jobs.map((j) => [j.id, j]));
  const out = new Map<string, number>();
  for (const r of reports)
    for (const job of r.jobs) {
      if ((job.state !== 'queued' && job.state !== 'held') || job.slo !== 'deferrable' || job.heldBy === 'other')
        continue;
      const pw = bySchedule.get(job.id)?.powerKw;
      const first = pw?.findIndex((p) => p > 1e-9) ?? -1;
      if (!pw || first < 0 || first > atSlot || !((pw[atSlot] ?? 0) > 1e-9)) continue;
      out.set(job.id, first);
    }
  return out;
};
