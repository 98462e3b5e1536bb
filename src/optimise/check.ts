// Independent verification of a schedule against its problem (docs/planning-problem.md). It knows
// nothing about how the schedule was made; every planner's output passes through it before use.
import type { LateJob, PlanningProblem, Schedule, SiteSpec } from '../domain/planning.ts';
import { lateness, mayLeaveUnserved, runEnd } from './soft.ts';
import { capUseKg, capWords, usesWithinCap } from './carbon-cap.ts';
import { movesGbp } from './move-cost.ts';

export interface CheckResult {
  readonly ok: boolean;
  readonly violations: readonly string[];
  /** Energy cost plus lateness cost (version 2; energy cost alone in version 1, which has no lateness). */
  readonly costGbp: number;
  readonly energyCostGbp: number;
  readonly latenessCostGbp: number;
  /** Battery wear: Σ discharge × degradationGbpPerMwh (£), part of costGbp. */
  readonly batteryWearGbp: number;
  /** Σ move costs of the jobs run away from their home (move-cost.ts), part of costGbp. */
  readonly moveCostGbp: number;
  /** Late or unfinished soft jobs, as the schedule must report them (version 2). */
  readonly late: readonly LateJob[];
  readonly carbonKg: number;
  /** What the carbon cap counts of the plan (carbon-cap.ts capUseKg): carbonKg unless the cap has an intensity. */
  readonly carbonCapUseKg: number;
  /** Grid import per site per slot (kW). */
  readonly importKw: Readonly<Record<string, readonly number[]>>;
}

/** Absolute tolerance on kW/kWh comparisons, scaled up for large magnitudes. */
const TOL = 1e-6;
const within = (value: number, limit: number): boolean => value <= limit + TOL * Math.max(1, Math.abs(limit));
const close = (a: number, b: number): boolean => Math.abs(a - b) <= TOL * Math.max(1, Math.abs(a), Math.abs(b)) * 10;

const checkJobs = (problem: PlanningProblem, schedule: Schedule, itKw: Map<string, number[]>, out: string[]): void => {
  const h = problem.slotMinutes / 60;
  const byId = new Map(schedule.jobs.map((j) => [j.id, j]));
  if (byId.size !== schedule.jobs.length) out.push('a job appears more than once in the schedule');
  for (const job of problem.jobs) {
    const s = byId.get(job.id);
    if (!s) {
      out.push(`job ${job.id}: missing from the schedule`);
      continue;
    }
    if (!job.sites.includes(s.site)) {
      out.push(`job ${job.id}: runs at ${s.site}, not one of its sites (${job.sites.join(', ')})`);
      continue;
    }
    const site = itKw.get(s.site);
    if (!site) {
      out.push(`job ${job.id}: unknown site ${s.site}`);
      continue;
    }
    if (s.powerKw.length !== problem.slots) {
      out.push(`job ${job.id}: powerKw has ${s.powerKw.length} values, expected ${problem.slots}`);
      continue;
    }
    let energy = 0;
    const end = runEnd(problem, job);
    const running: number[] = [];
    s.powerKw.forEach((p, t) => {
      if (!Number.isFinite(p) || p < -TOL)
        out.push(`job ${job.id}: power ${p} kW in slot ${t} is negative or not a number`);
      if (!within(p, job.maxPowerKw))
        out.push(`job ${job.id}: power ${p} kW in slot ${t} exceeds maxPowerKw ${job.maxPowerKw}`);
      if (p > TOL && (t < job.releaseSlot || t >= end))
        out.push(`job ${job.id}: runs in slot ${t}, outside [${job.releaseSlot}, ${end})`);
      if (p > TOL) running.push(t);
      energy += p * h;
      site[t] = (site[t] ?? 0) + p;
    });
    // A soft job may leave energy beyond the horizon (docs/planning-problem.md, "Soft deadlines").
    const partial = mayLeaveUnserved(problem, job) && energy < job.energyKwh;
    if (!close(energy, job.energyKwh) && !partial)
      out.push(`job ${job.id}: gets ${energy.toFixed(3)} kWh, needs ${job.energyKwh} kWh`);
    if (!job.preemptible && running.length > 0) {
      const first = running[0] as number;
      const last = running[running.length - 1] as number;
      if (last - first + 1 !== running.length) out.push(`job ${job.id}: non-preemptible but its run is not contiguous`);
      // A run that continues beyond the horizon is at full power to the horizon's end.
      const cut = partial && !close(energy, job.energyKwh);
      if (cut && last !== problem.slots - 1)
        out.push(`job ${job.id}: non-preemptible and unfinished, but its run stops before the horizon's end`);
      for (const t of cut ? running : running.slice(0, -1)) {
        if (!close(s.powerKw[t] ?? 0, job.maxPowerKw))
          out.push(`job ${job.id}: non-preemptible but runs below maxPowerKw in slot ${t}`);
      }
    }
  }
  const known = new Set(problem.jobs.map((j) => j.id));
  for (const s of schedule.jobs) if (!known.has(s.id)) out.push(`job ${s.id}: in the schedule but not in the problem`);
};

const checkBattery = (
  problem: PlanningProblem,
  site: SiteSpec,
  schedule: Schedule,
  out: string[],
): { charge: number[]; discharge: number[] } => {
  const b = schedule.batteries.find((x) => x.site === site.id);
  const zeros = new Array<number>(problem.slots).fill(0);
  if (!site.battery) {
    if (b && [...b.chargeKw, ...b.dischargeKw].some((x) => Math.abs(x) > TOL))
      out.push(`site ${site.id}: has no battery but the schedule uses one`);
    return { charge: zeros, discharge: zeros };
  }
  const bat = site.battery;
  const charge = b ? [...b.chargeKw] : zeros;
  const discharge = b ? [...b.dischargeKw] : zeros;
  if (charge.length !== problem.slots || discharge.length !== problem.slots) {
    out.push(`site ${site.id}: battery schedule must have ${problem.slots} values`);
    return { charge: zeros, discharge: zeros };
  }
  const h = problem.slotMinutes / 60;
  let soc = bat.initialSocKwh;
  for (let t = 0; t < problem.slots; t++) {
    const c = charge[t] ?? 0;
    const d = discharge[t] ?? 0;
    if (c < -TOL || !within(c, bat.maxChargeKw))
      out.push(`site ${site.id}: battery charge ${c} kW in slot ${t} outside [0, ${bat.maxChargeKw}]`);
    if (d < -TOL || !within(d, bat.maxDischargeKw))
      out.push(`site ${site.id}: battery discharge ${d} kW in slot ${t} outside [0, ${bat.maxDischargeKw}]`);
    soc += c * h * bat.roundTripEfficiency - d * h;
    if (!within(bat.minSocKwh, soc) || !within(soc, bat.capacityKwh))
      out.push(
        `site ${site.id}: battery state of charge ${soc.toFixed(3)} kWh after slot ${t} outside [${bat.minSocKwh}, ${bat.capacityKwh}]`,
      );
  }
  if (!within(bat.initialSocKwh, soc))
    out.push(`site ${site.id}: battery ends at ${soc.toFixed(3)} kWh, below its initial ${bat.initialSocKwh} kWh`);
  return { charge, discharge };
};

/**
 * Checks a schedule against its problem: every physical rule (windows, limits, caps, batteries, the
 * carbon cap), then, unless `reported` is false, that its reported figures match the recomputed ones.
 * The planner measures a draft with `reported: false` and fills its figures from the result, so a
 * second full check of the same placement could only repeat the first.
 */
export const checkSchedule = (
  problem: PlanningProblem,
  schedule: Schedule,
  options: { readonly reported?: boolean } = {},
): CheckResult => {
  const out: string[] = [];
  const h = problem.slotMinutes / 60;
  const itKw = new Map(problem.sites.map((s) => [s.id, new Array<number>(problem.slots).fill(0)]));
  if (schedule.status === 'infeasible') {
    return {
      ok: false,
      violations: [`the schedule is marked infeasible: ${schedule.reason ?? 'no reason given'}`],
      costGbp: 0,
      energyCostGbp: 0,
      latenessCostGbp: 0,
      batteryWearGbp: 0,
      moveCostGbp: 0,
      late: [],
      carbonKg: 0,
      carbonCapUseKg: 0,
      importKw: {},
    };
  }
  checkJobs(problem, schedule, itKw, out);
  let cost = 0;
  let wear = 0;
  let carbon = 0;
  let itImportKwh = 0;
  const importKw: Record<string, number[]> = {};
  for (const site of problem.sites) {
    const it = itKw.get(site.id) ?? [];
    const { charge, discharge } = checkBattery(problem, site, schedule, out);
    const wearPerKwh = (site.battery?.degradationGbpPerMwh ?? 0) / 1000;
    for (const d of discharge) wear += d * h * wearPerKwh;
    const imp = it.map((p, t) => p * site.pue + (charge[t] ?? 0) - (discharge[t] ?? 0));
    importKw[site.id] = imp;
    imp.forEach((x, t) => {
      if (!within(it[t] ?? 0, site.itPowerLimitKw))
        out.push(
          `site ${site.id}: IT power ${(it[t] ?? 0).toFixed(3)} kW in slot ${t} exceeds itPowerLimitKw ${site.itPowerLimitKw}`,
        );
      if (x < -TOL)
        out.push(`site ${site.id}: negative grid import ${x.toFixed(3)} kW in slot ${t} (export is not allowed)`);
      if (!within(x, site.gridImportLimitKw))
        out.push(
          `site ${site.id}: grid import ${x.toFixed(3)} kW in slot ${t} exceeds gridImportLimitKw ${site.gridImportLimitKw}`,
        );
      cost += ((site.priceGbpPerMwh[t] ?? 0) * x * h) / 1000;
      carbon += ((site.carbonGPerKwh[t] ?? 0) * x * h) / 1000;
      itImportKwh += (it[t] ?? 0) * site.pue * h;
    });
  }
  for (const c of problem.commitments) {
    const imp = importKw[c.site];
    if (!imp) {
      out.push(`commitment at unknown site ${c.site}`);
      continue;
    }
    for (let t = c.fromSlot; t < c.toSlot; t++) {
      if (!within(imp[t] ?? 0, c.maxImportKw))
        out.push(
          `site ${c.site}: import ${(imp[t] ?? 0).toFixed(3)} kW in slot ${t} breaks the commitment of at most ${c.maxImportKw} kW`,
        );
    }
  }
  const capUse = capUseKg(problem, carbon, itImportKwh);
  if (!usesWithinCap(problem, capUse, carbon, TOL))
    out.push(
      problem.carbonCapGPerKwh === undefined
        ? `carbon ${carbon.toFixed(3)} kg exceeds the cap of ${problem.carbonCapKg} kg`
        : `carbon ${carbon.toFixed(3)} kg with ${itImportKwh.toFixed(1)} kWh imported for IT counts ${capUse.toFixed(3)} kg against the cap of ${capWords(problem)}`,
    );
  const energyCost = cost;
  const late = lateness(problem, schedule.jobs);
  const moves = movesGbp(problem, schedule.jobs);
  const total = energyCost + late.costGbp + wear + moves;
  if (options.reported !== false) checkReported(schedule, { energyCost, late, wear, moves, total, carbon }, out);
  return {
    ok: out.length === 0,
    violations: out,
    costGbp: total,
    energyCostGbp: energyCost,
    latenessCostGbp: late.costGbp,
    batteryWearGbp: wear,
    moveCostGbp: moves,
    late: late.late,
    carbonKg: carbon,
    carbonCapUseKg: capUse,
    importKw,
  };
};

/** The schedule's reported figures against the recomputed ones. */
const checkReported = (
  schedule: Schedule,
  m: {
    energyCost: number;
    late: { late: readonly LateJob[]; costGbp: number };
    wear: number;
    moves: number;
    total: number;
    carbon: number;
  },
  out: string[],
): void => {
  const { energyCost, late, wear, moves, total, carbon } = m;
  checkLateness(schedule, energyCost, late, out);
  if (
    wear > 0 &&
    (schedule.version !== 2 || schedule.batteryWearGbp === undefined || !close(schedule.batteryWearGbp, wear))
  )
    out.push(`reported battery wear £${schedule.batteryWearGbp} differs from the recomputed £${wear.toFixed(4)}`);
  // Move costs are a version 2 field of a problem file; a version 1 problem made from a version 2 one
  // (hard-first.ts) keeps them, and its schedules state them too.
  if ((moves > 0 || schedule.moveCostGbp !== undefined) && !close(schedule.moveCostGbp ?? 0, moves))
    out.push(`reported move cost £${schedule.moveCostGbp} differs from the recomputed £${moves.toFixed(4)}`);
  if (!close(schedule.costGbp, total))
    out.push(`reported cost £${schedule.costGbp} differs from the recomputed £${total.toFixed(4)}`);
  if (!close(schedule.carbonKg, carbon))
    out.push(`reported carbon ${schedule.carbonKg} kg differs from the recomputed ${carbon.toFixed(4)} kg`);
  if (schedule.lowerBoundGbp > total + TOL * Math.max(1, Math.abs(total)) * 10)
    out.push(`lower bound £${schedule.lowerBoundGbp} is above the plan's cost £${total.toFixed(4)}`);
};

/** A version 2 schedule's energy and lateness figures and late list must match what is recomputed. */
const checkLateness = (
  schedule: Schedule,
  energyCost: number,
  late: { late: readonly LateJob[]; costGbp: number },
  out: string[],
): void => {
  if (schedule.version !== 2) {
    if (late.late.length > 0)
      out.push(`${late.late.length} soft jobs are late, which only a version 2 schedule can report`);
    return;
  }
  if (schedule.energyCostGbp === undefined || !close(schedule.energyCostGbp, energyCost))
    out.push(`reported energy cost £${schedule.energyCostGbp} differs from the recomputed £${energyCost.toFixed(4)}`);
  if (schedule.latenessCostGbp === undefined || !close(schedule.latenessCostGbp, late.costGbp))
    out.push(
      `reported lateness cost £${schedule.latenessCostGbp} differs from the recomputed £${late.costGbp.toFixed(4)}`,
    );
  const reported = new Map((schedule.late ?? []).map((l) => [l.id, l]));
  if (reported.size !== (schedule.late ?? []).length) out.push('a job appears more than once in the late list');
  for (const l of late.late) {
    const r = reported.get(l.id);
    if (!r) {
      const how =
        l.unservedKwh > 1e-9
          ? `${l.unservedKwh.toFixed(1)} kWh not done within the horizon${l.lateSlots > 0 ? `, late by ${l.lateSlots} slots` : ''}`
          : `late by ${l.lateSlots} slots`;
      out.push(`job ${l.id}: ${how} (£${l.costGbp.toFixed(4)}) but not in the late list`);
      continue;
    }
    reported.delete(l.id);
    if (
      r.finishSlot !== l.finishSlot ||
      r.lateSlots !== l.lateSlots ||
      r.deadlineSlot !== l.deadlineSlot ||
      !close(r.unservedKwh, l.unservedKwh) ||
      !close(r.costGbp, l.costGbp)
    )
      out.push(`job ${l.id}: late list says ${JSON.stringify(r)}, recomputed ${JSON.stringify(l)}`);
  }
  for (const id of reported.keys()) out.push(`job ${id}: in the late list but not late`);
};

/** The cost fields a planner writes for its plan, from the check's figures (version 2 adds lateness). */
export const costFields = (
  problem: PlanningProblem,
  measured: CheckResult,
): Pick<
  Schedule,
  'version' | 'costGbp' | 'carbonKg' | 'late' | 'energyCostGbp' | 'latenessCostGbp' | 'batteryWearGbp' | 'moveCostGbp'
> =>
  problem.version === 2
    ? {
        version: 2,
        costGbp: measured.costGbp,
        carbonKg: measured.carbonKg,
        energyCostGbp: measured.energyCostGbp,
        latenessCostGbp: measured.latenessCostGbp,
        ...(measured.batteryWearGbp > 0 ? { batteryWearGbp: measured.batteryWearGbp } : {}),
        ...(measured.moveCostGbp > 0 ? { moveCostGbp: measured.moveCostGbp } : {}),
        late: measured.late,
      }
    : {
        version: 1,
        costGbp: measured.costGbp,
        carbonKg: measured.carbonKg,
        ...(measured.moveCostGbp > 0 ? { moveCostGbp: measured.moveCostGbp } : {}),
      };
