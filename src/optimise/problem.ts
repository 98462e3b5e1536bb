// Turns what the Compute-Flex agents report into the optimiser's planning problem (docs/planning-problem.md).
// Inflexible load (idle nodes, inference, jobs already running) enters the problem as jobs pinned to
// their slots; a running job that can be capped enters as two parts (cap-parts.ts). Reading a plan
// back is elsewhere: dispatch.ts (start times, GPU caps, battery setpoints) and moves.ts (site moves).
import { moveCostOf, moveTargets, type ComputeJob, type FlexibilityReport, type MoveCost } from '../domain/compute.ts';
import type { BatterySpec, CommitmentSpec, JobSpec, PlanningProblem } from '../domain/planning.ts';
import { pricesOf, carbonOf, type SignalSeries } from '../domain/signals.ts';
import { MINUTE_MS, isoOf, type EpochMs, type SlotGrid } from '../domain/time.ts';
import { capParts } from './cap-parts.ts';

const slotMs = (grid: SlotGrid): number => grid.slotMinutes * MINUTE_MS;

/**
 * The lateness cost of deferrable work whose job states none (£ per GPU-hour late). A placeholder an
 * operator should set per job class (Slurm partition or QoS, Kubernetes label): what an hour's delay
 * of a GPU's work costs them (here about a sixth of an A100's hourly rental). At £0.25, a 32-GPU job an hour late costs £8, several times the
 * energy it would save by waiting, so the planner delays work only when the fleet is full or a
 * commitment asks it to (docs/planning-problem.md, "Soft deadlines").
 */
export const DEFAULT_LATE_GBP_PER_GPU_HOUR = 0.25;

/** Slots a job needs at full power, and the energy it still needs. */
const runSlots = (job: ComputeJob, grid: SlotGrid): number =>
  Math.max(1, Math.ceil(job.remainingKwh / (job.powerKw * (grid.slotMinutes / 60)) - 1e-9));

/**
 * A running job as it is now, `ageMs` after the report that described it: it has kept running at
 * full power. Without this a late report (the agent was waiting for an earlier plan) would pin the
 * job for longer than it will really run, and a commitment it does not threaten would look broken.
 */
const aged = (job: ComputeJob, ageMs: number): ComputeJob =>
  job.state !== 'running' || ageMs <= 0
    ? job
    : {
        ...job,
        remainingKwh: Math.max(0, job.remainingKwh - (job.powerKw * ageMs) / 3_600_000) as ComputeJob['remainingKwh'],
      };

/** What every job's spec shares: its energy still to run at full power, at its own site. */
const specBase = (job: ComputeJob) => ({
  id: job.id,
  energyKwh: job.remainingKwh,
  maxPowerKw: job.powerKw,
  preemptible: false,
  sites: [job.site],
  work: job.work,
});

/** A job pinned to run from `slot` at full power until done (a running job, or one planned as running). */
const pinnedAt = (job: ComputeJob, grid: SlotGrid, slot: number): JobSpec => ({
  ...specBase(job),
  releaseSlot: slot,
  deadlineSlot: Math.min(grid.slots, slot + runSlots(job, grid)),
});

export const jobSpecOf = (
  reported: ComputeJob,
  grid: SlotGrid,
  nowSlot: number,
  ageMs = 0,
  defaultLateGbpPerGpuHour = DEFAULT_LATE_GBP_PER_GPU_HOUR,
): JobSpec | undefined => {
  const job = aged(reported, ageMs);
  if (job.state === 'completed' || job.state === 'cancelled' || job.remainingKwh <= 1e-9 || job.powerKw <= 0)
    return undefined;
  // Held by an operator: it will not run until they release it, and FlexLon may not.
  if (job.state === 'held' && job.heldBy === 'other') return undefined;
  const k = runSlots(job, grid);
  const base = specBase(job);
  // Running and inflexible jobs cannot move: pin them to start now (or at release).
  if (job.state === 'running') return pinnedAt(job, grid, nowSlot);
  // A job released part-way through a slot may start in that slot (floor, not ceil): beside a live
  // scheduler, rounding up would hold every new job until the next slot boundary.
  const release = Math.max(nowSlot, Math.floor((job.releaseAt - grid.start) / slotMs(grid)));
  if (job.slo === 'inflexible')
    return { ...base, releaseSlot: release, deadlineSlot: Math.min(grid.slots, release + k) };
  const deadline = Math.min(grid.slots, Math.floor((job.deadlineAt - grid.start) / slotMs(grid)));
  // Waiting deferrable work has a soft SLO: on a full fleet it may finish late, at its lateness cost
  // (so overload is planned, not refused). A job that can no longer meet its deadline counts its
  // lateness from the earliest finish it still has: what is already lost does not change a decision.
  const releaseSlot = Math.min(release, grid.slots - 1);
  return {
    ...base,
    releaseSlot,
    deadlineSlot: Math.min(grid.slots, Math.max(deadline, releaseSlot + k)),
    slo: { kind: 'soft', lateGbpPerHour: (job.lateGbpPerGpuHour ?? defaultLateGbpPerGpuHour) * job.gpus },
  };
};

export interface ProblemInput {
  readonly grid: SlotGrid;
  readonly now: EpochMs;
  readonly reports: readonly FlexibilityReport[];
  readonly signals: ReadonlyMap<string, SignalSeries>;
  readonly commitments: readonly CommitmentSpec[];
  readonly carbonCapKg?: number;
  /** With carbonCapKg: grams per kWh imported the cap allows on top of it (PlanningProblem.carbonCapGPerKwh). */
  readonly carbonCapGPerKwh?: number;
  /** £ per GPU-hour late for deferrable jobs that state no lateness cost (DEFAULT_LATE_GBP_PER_GPU_HOUR). */
  readonly lateGbpPerGpuHour?: number;
  /**
   * Waiting jobs planned as if already running from the given slot (pinned there, and cappable like
   * a running job). Offer pricing uses it for the jobs a plan starts before a window and runs through
   * it: by the window they will be running, so a GPU cap can reach them then (dispatch.ts startsThrough).
   */
  readonly startsAt?: ReadonlyMap<string, number>;
  /**
   * Waiting jobs that may not move (a move of theirs was refused): planned at their own site only.
   * Every other waiting deferrable job may be planned at the sites moveTargets gives.
   */
  readonly pinned?: ReadonlySet<string>;
  /**
   * What a move costs (the operator's `moveCost`): each job that may move carries its cost in the
   * problem (JobSpec.moveCostGbp), so the planner weighs it (src/optimise/move-cost.ts). Absent: moves
   * are free to the planner.
   */
  readonly moveCost?: MoveCost;
  /**
   * The start of a window an offer is being priced for: a running job whose run reaches it may be
   * capped even where its site's GPUs are all wanted (mayCap), since the power down in that window
   * is what the offer sells.
   */
  readonly sellingAt?: EpochMs;
}

/**
 * Whether capping a running job could push its run into a commitment's window at its site that its
 * uncapped run ends before: then it is planned uncapped (no cappable part). The cap model lets a
 * capped job's cappable energy run later, as if the job could pause, but keeps its floor at the
 * full-power run; a capped job really runs longer, floor included, at least its floor power until
 * done. Capped to its floor in every slot, a run of n slots lasts n / share slots (share = floor /
 * full power, as energy per unit of work is kept whole), so a window within that reach could meet a
 * floor no plan had put there: traced on a 4-site demo whose jobs may move, where a job capped
 * for an hour at 13:00 then needed its floor through the window sold for 18:00, and every plan at
 * its site was infeasible until the window (docs/architecture.md, "Site moves"). A job that runs
 * through a window already keeps its cap: that is the lever for the window itself.
 */
const capsReachWindow = (job: ComputeJob, spec: JobSpec, commitments: readonly CommitmentSpec[]): boolean => {
  if (job.state !== 'running' || job.minPowerKw === undefined || !(job.minPowerKw < spec.maxPowerKw)) return false;
  const end = spec.deadlineSlot;
  const stretched =
    spec.releaseSlot + Math.ceil((end - spec.releaseSlot) / Math.max(1e-9, job.minPowerKw / spec.maxPowerKw));
  return commitments.some((c) => c.site === job.site && c.fromSlot >= end && c.fromSlot < stretched);
};

/**
 * Whether a site's GPUs are all wanted now: its waiting deferrable jobs ask for more power than the
 * running jobs (at full power) and its base load leave. A cap frees power, not GPUs: the capped job
 * keeps them. The planner's site limit is in kW (every GPU at full power), so on such a site it would
 * give a cap's freed power to a waiting job that has no GPU to run on, and the cap only slows the
 * work. Measured on the busy demo day (`flexlon demo --jobs 150`, 2023-01-24): over the two days the
 * site's GPUs stood idle or slowed for 1,018 GPU-hours, 344 of them from caps, and it ran 305
 * GPU-hours less than FIFO. The base load is the reported profile's highest, not the current
 * slot's: the limit counts the inference pool at full power, and its headroom now is no room for
 * training jobs. Where the limit is not the GPUs' power (a Slurm site reports its connection ÷ PUE
 * and no base load) this reads room in kW only.
 */
const gpusAllWanted = (r: FlexibilityReport): boolean => {
  let room = r.itPowerLimitKw - Math.max(0, ...r.baseLoadKw);
  let waiting = 0;
  for (const j of r.jobs) {
    if (j.state === 'running') room -= j.powerKw;
    else if ((j.state === 'queued' || j.state === 'held') && j.slo === 'deferrable' && j.heldBy !== 'other')
      waiting += j.powerKw;
  }
  return waiting > room + 1e-6;
};

/**
 * Whether a running job may be capped in the plan (cap-parts.ts): where its site's GPUs are not all
 * wanted (gpusAllWanted), or where a commitment at its site falls within its run, which is what a
 * cap sells: the power down in the window.
 */
const mayCap = (
  spec: JobSpec,
  site: string,
  allWanted: boolean,
  commitments: readonly CommitmentSpec[],
  sellingSlot: number | undefined,
): boolean =>
  !allWanted ||
  (sellingSlot !== undefined && spec.releaseSlot <= sellingSlot && sellingSlot < spec.deadlineSlot) ||
  commitments.some((c) => c.site === site && c.fromSlot < spec.deadlineSlot && c.toSlot > spec.releaseSlot);

/** A waiting job pinned to start in `slot` and run at full power, like a running job. */
const startingAt = (job: ComputeJob, grid: SlotGrid, slot: number): JobSpec | undefined => {
  if (job.remainingKwh <= 1e-9 || job.powerKw <= 0 || slot >= grid.slots) return undefined;
  return pinnedAt(job, grid, slot);
};

/** A site's battery as the planner takes it: its reported stored energy now, inside its limits. */
const batteryOf = (b: NonNullable<FlexibilityReport['battery']>): BatterySpec => {
  return {
    capacityKwh: b.maxSocKwh,
    maxChargeKw: b.maxChargeKw,
    maxDischargeKw: b.maxDischargeKw,
    roundTripEfficiency: b.roundTripEfficiency,
    minSocKwh: b.minSocKwh,
    initialSocKwh: Math.min(b.maxSocKwh, Math.max(b.minSocKwh, b.socKwh)),
    ...(b.degradationGbpPerMwh > 0 ? { degradationGbpPerMwh: b.degradationGbpPerMwh } : {}),
  };
};

export const buildProblem = (i: ProblemInput): PlanningProblem => {
  const nowSlot = Math.max(0, Math.floor((i.now - i.grid.start) / slotMs(i.grid)));
  const h = i.grid.slotMinutes / 60;
  const sellingSlot = i.sellingAt === undefined ? undefined : Math.floor((i.sellingAt - i.grid.start) / slotMs(i.grid));
  const sites = i.reports.map((r) => {
    const s = i.signals.get(r.region);
    if (!s) throw new Error(`no signals for region ${r.region}`);
    return {
      id: r.site,
      itPowerLimitKw: r.itPowerLimitKw,
      pue: r.pue,
      gridImportLimitKw: r.gridImportLimitKw,
      priceGbpPerMwh: pricesOf(s),
      carbonGPerKwh: carbonOf(s, 'forecast'),
      ...(r.battery ? { battery: batteryOf(r.battery) } : {}),
    };
  });
  const jobs: JobSpec[] = [];
  for (const r of i.reports) {
    if (r.slotMinutes !== i.grid.slotMinutes)
      throw new Error(`site ${r.site} reports ${r.slotMinutes}-minute slots; the planner uses ${i.grid.slotMinutes}`);
    const offset = Math.round((r.baseLoadFrom - i.grid.start) / slotMs(i.grid));
    const allWanted = gpusAllWanted(r);
    for (let t = 0; t < i.grid.slots; t++) {
      // Beyond what the agent reported, assume its last reported base load continues.
      const kwBase = r.baseLoadKw[Math.min(Math.max(0, t - offset), r.baseLoadKw.length - 1)] ?? 0;
      if (kwBase > 1e-9)
        jobs.push({
          id: `base:${r.site}:${t}`,
          energyKwh: kwBase * h,
          maxPowerKw: kwBase,
          releaseSlot: t,
          deadlineSlot: t + 1,
          preemptible: false,
          sites: [r.site],
        });
    }
    for (const job of r.jobs) {
      const start = i.startsAt?.get(job.id);
      // A waiting job given a start is planned as if running from then (see ProblemInput.startsAt).
      const asRunning = start !== undefined && (job.state === 'queued' || job.state === 'held');
      const found = asRunning
        ? startingAt(job, i.grid, Math.max(nowSlot, start))
        : jobSpecOf(job, i.grid, nowSlot, i.now - r.at, i.lateGbpPerGpuHour);
      // Home first: sites[0] is where the job is now (moves.ts movesIn, pinnedHome read it so).
      const others = asRunning || i.pinned?.has(job.id) ? [] : moveTargets(job, i.reports);
      const spec =
        found && others.length > 0
          ? {
              ...found,
              sites: [job.site, ...others],
              ...(i.moveCost ? { moveCostGbp: moveCostOf(job, i.moveCost) } : {}),
            }
          : found;
      if (!spec) continue;
      const running: ComputeJob = asRunning ? { ...job, state: 'running' } : job;
      jobs.push(
        ...(capsReachWindow(running, spec, i.commitments) ||
        !mayCap(spec, job.site, allWanted, i.commitments, sellingSlot)
          ? [spec]
          : capParts(running, spec, i.lateGbpPerGpuHour ?? DEFAULT_LATE_GBP_PER_GPU_HOUR)),
      );
    }
  }
  return {
    // Version 2: waiting deferrable jobs have soft SLOs (running, inflexible and base load are hard).
    version: 2,
    start: isoOf(i.grid.start),
    slotMinutes: i.grid.slotMinutes,
    slots: i.grid.slots,
    sites,
    jobs,
    commitments: i.commitments,
    ...(i.carbonCapKg === undefined ? {} : { carbonCapKg: i.carbonCapKg }),
    ...(i.carbonCapKg === undefined || i.carbonCapGPerKwh === undefined
      ? {}
      : { carbonCapGPerKwh: i.carbonCapGPerKwh }),
  };
};
