// Turns what the Compute-Flex agents report into the optimiser's planning problem, and the
// optimiser's schedule back into dispatch instructions (job start times). Inflexible load (idle
// nodes, inference, jobs already running) enters the problem as jobs pinned to their slots.
// DispatchInstruction is what the provider–agent link carries (src/agents/link-protocol.ts).
import { moveCostOf, moveTargets, type ComputeJob, type FlexibilityReport, type MoveCost } from '../domain/compute.ts';
import type { BatterySpec, CommitmentSpec, JobSpec, PlanningProblem, Schedule } from '../domain/planning.ts';
import { pricesOf, carbonOf, type SignalSeries } from '../domain/signals.ts';
import { MINUTE_MS, isoOf, slotStart, type EpochMs, type SlotGrid } from '../domain/time.ts';

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

/**
 * A running job that its scheduler can cap enters the problem as two parts (issue 13 item 2, the
 * cap as a continuous lever): its floor, pinned like any running job at its lowest-cap power, and
 * this part — the power between the floor and full power — preemptible and soft over the same slots.
 * Leaving part of it out of a slot is capping the job there; the energy then runs later, and the
 * time lost is costed as lateness at the job's own £ per GPU-hour (docs/cost-model.md, "GPU power
 * caps"). The energy is kept whole (a cap saves energy per unit of work on the measured curves, so
 * this overstates the cost slightly rather than understating it).
 */
export const CAP_PART_PREFIX = 'cap:';
export const capPartId = (jobId: string): string => `${CAP_PART_PREFIX}${jobId}`;

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
  /** £ per GPU-hour late for deferrable jobs that state no lateness cost (DEFAULT_LATE_GBP_PER_GPU_HOUR). */
  readonly lateGbpPerGpuHour?: number;
  /**
   * Waiting jobs planned as if already running from the given slot (pinned there, and cappable like
   * a running job). Offer pricing uses it for the jobs a plan starts before a window and runs through
   * it: by the window they will be running, so a GPU cap can reach them then.
   */
  readonly startsAt?: ReadonlyMap<string, number>;
  /**
   * Waiting jobs that may not move (a move of theirs was refused): planned at their own site only.
   * Every other waiting deferrable job may be planned at the sites moveTargets gives.
   */
  readonly pinned?: ReadonlySet<string>;
}

/** A waiting job pinned to start in `slot` and run at full power, like a running job. */
const startingAt = (job: ComputeJob, grid: SlotGrid, slot: number): JobSpec | undefined => {
  if (job.remainingKwh <= 1e-9 || job.powerKw <= 0 || slot >= grid.slots) return undefined;
  return pinnedAt(job, grid, slot);
};

/** A running job that can be capped, as its floor and its cappable part (CAP_PART_PREFIX); any other job as it is. */
const capParts = (job: ComputeJob, spec: JobSpec, lateGbpPerGpuHour?: number): JobSpec[] => {
  const floorKw = job.minPowerKw ?? spec.maxPowerKw;
  if (job.state !== 'running' || !(floorKw < spec.maxPowerKw - 1e-6) || floorKw <= 0) return [spec];
  const share = floorKw / spec.maxPowerKw;
  // The cappable part carries the share of the job's work that the lowest cap gives up (1 − its
  // speed there), so its lateness is that share of the job's: on the measured A100 curve a cap at
  // half TDP keeps 70 % of the speed for 54 % of the GPU power, so a kWh shed by capping delays less
  // work than a kWh of a waiting job deferred.
  const speed = Math.min(1, Math.max(share, job.minCapThroughput ?? share));
  const late = (job.lateGbpPerGpuHour ?? lateGbpPerGpuHour ?? DEFAULT_LATE_GBP_PER_GPU_HOUR) * job.gpus * (1 - speed);
  if (!(late > 0)) return [spec];
  // The work is the floor's: the cappable part carries energy and lateness, not extra units.
  const { work: _work, ...rest } = spec;
  return [
    { ...spec, energyKwh: spec.energyKwh * share, maxPowerKw: floorKw },
    {
      ...rest,
      id: capPartId(spec.id),
      energyKwh: spec.energyKwh * (1 - share),
      maxPowerKw: spec.maxPowerKw - floorKw,
      preemptible: true,
      slo: { kind: 'soft', lateGbpPerHour: late },
    },
  ];
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
      // Home first: sites[0] is where the job is now (movesIn, pinnedHome read it so).
      const others = asRunning || i.pinned?.has(job.id) ? [] : moveTargets(job, i.reports);
      const spec = found && others.length > 0 ? { ...found, sites: [job.site, ...others] } : found;
      if (spec) jobs.push(...capParts(asRunning ? { ...job, state: 'running' } : job, spec, i.lateGbpPerGpuHour));
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
  };
};

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
  const nowSlot = Math.floor((now - grid.start) / slotMs(grid));
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
