// A re-plan from a plan already made (issue 13 items 5 and 8): the same problem with more
// commitments, solved by moving only what the new commitments force out of the plan. Offer pricing
// measures each level of a flexibility curve this way: an opportunity cost is the difference of two
// plans, and on a full fleet two independent heuristic plans differ by more than the cost being
// measured (each is a few per cent from optimal, and the fleet's lateness runs to thousands of £),
// so a 7 kW level could come out dearer than a 28 kW one. From the same starting plan the difference
// is the work the reduction displaces and where it goes: shed from the window, cheapest to delay
// first (repair.ts), placed in the cheapest room left, batteries re-planned, and checked.
import { withWorkMetrics, type BatterySchedule, type PlanningProblem, type Schedule } from '../domain/planning.ts';
import { importCaps } from './site-rows.ts';
import { unitCosts, type Draft } from './disaggregate.ts';
import { draftOf, finish } from './assemble.ts';
import { planWithLp, DEFAULT_PLANNER_OPTIONS, LP_PLANNER, type PlannerOptions, type PlanStats } from './planner.ts';
import type { LpSolve } from './lp.ts';
import { repair } from './repair.ts';
import { loads } from './placement.ts';
import { localSearch } from './local-search.ts';
import { hasOneRun, hasSoftJobs } from './soft.ts';

export const WARM_PLANNER = `${LP_PLANNER}+warm`;

/** IT power allowed per site and slot with the base plan's battery flows kept. */
const itLimitsWith = (p: PlanningProblem, base: Schedule): Float64Array[] => {
  const caps = importCaps(p);
  return p.sites.map((site, s) => {
    const b = base.batteries.find((x) => x.site === site.id);
    const out = new Float64Array(p.slots);
    for (let t = 0; t < p.slots; t++) {
      const net = b ? (b.chargeKw[t] ?? 0) - (b.dischargeKw[t] ?? 0) : 0;
      out[t] = Math.max(0, Math.min(site.itPowerLimitKw, ((caps[s]![t] as number) - net) / site.pue));
    }
    return out;
  });
};

/** The battery LP and the check for a repaired draft: the plan, or why it failed. */
const finishDraft = (
  p: PlanningProblem,
  draft: Parameters<typeof finish>[1],
  lpSolve: LpSolve,
  options: PlannerOptions,
  moved: number,
  bound: number,
  planner: string,
) => {
  const stats: PlanStats = { classes: 0, granularity: 1, columns: 0, rows: 0, lpSeconds: 0, lpSolves: 0, moved };
  const seconds = options.work ? options.work.safetySeconds : Math.max(0.5, options.timeLimitSeconds);
  return finish(p, draft, lpSolve, () => seconds, stats, bound, planner);
};

/**
 * IT power allowed per site and slot when a battery site's ceilings are met from its battery: the
 * given flows (`flows`: the base plan's, or none at all) everywhere but in the slots where the ceiling is
 * below what the draft imports there (a new commitment's slots), where the battery charges nothing
 * and discharges evenly what it holds above its minimum when the first of them starts (at most its
 * power). A reduction at a battery site is mostly the battery's to give; with the base plan's flows
 * (charging there, say) repair had to shed rigid base load, failed, and the plan was made afresh:
 * 1.2–2.3 s each, four times per search on the 4-site demo. Undefined when no battery site has such
 * a slot. The battery LP (finish) then re-plans every flow, or the draft fails as before.
 */
const itLimitsDischarging = (
  p: PlanningProblem,
  draft: Draft,
  flows: readonly BatterySchedule[] | undefined,
): Float64Array[] | undefined => {
  const caps = importCaps(p);
  const h = p.slotMinutes / 60;
  const it = loads(p, draft);
  let any = false;
  const limits = p.sites.map((site, s) => {
    const b = flows?.find((x) => x.site === site.id);
    const net = (t: number) => (b ? (b.chargeKw[t] ?? 0) - (b.dischargeKw[t] ?? 0) : 0);
    const tight: number[] = [];
    for (let t = 0; t < p.slots; t++)
      if (site.battery && (caps[s]![t] as number) < (it[s]![t] as number) * site.pue + net(t) - 1e-6) tight.push(t);
    let dischargeKw = 0;
    if (site.battery && tight.length > 0) {
      const bat = site.battery;
      let soc = bat.initialSocKwh;
      // With no flows given (a carried plan, whose battery flows are planned again), it may charge
      // at full power until then: the battery LP finds out whether the grid has the room.
      for (let t = 0; t < (tight[0] as number); t++)
        soc = flows
          ? soc + (b?.chargeKw[t] ?? 0) * bat.roundTripEfficiency * h - (b?.dischargeKw[t] ?? 0) * h
          : Math.min(bat.capacityKwh, soc + bat.maxChargeKw * bat.roundTripEfficiency * h);
      dischargeKw = Math.min(bat.maxDischargeKw, Math.max(0, soc - bat.minSocKwh) / (tight.length * h));
      any ||= dischargeKw > 0;
    }
    const inTight = new Set(tight);
    const out = new Float64Array(p.slots);
    for (let t = 0; t < p.slots; t++) {
      const flow = inTight.has(t) ? -dischargeKw : net(t);
      out[t] = Math.max(0, Math.min(site.itPowerLimitKw, ((caps[s]![t] as number) - flow) / site.pue));
    }
    return out;
  });
  return any ? limits : undefined;
};

/**
 * `p` planned from `base`, a checked plan of the same jobs and sites with fewer commitments. Falls
 * back to planning `p` afresh when the base does not fit (other jobs), the repair finds no room (with
 * the base plan's battery flows, then with the batteries discharging in the new commitments' slots),
 * or the result fails the check (e.g. the carbon cap).
 */
export const replanFrom = async (
  p: PlanningProblem,
  base: Schedule,
  lpSolve: LpSolve,
  options: PlannerOptions = DEFAULT_PLANNER_OPTIONS,
  clock: () => number = () => 0,
): Promise<Schedule> => {
  const afresh = () => planWithLp(p, lpSolve, options, clock);
  const ids = new Set(base.jobs.map((j) => j.id));
  if (base.status === 'infeasible' || base.jobs.length !== p.jobs.length || p.jobs.some((j) => !ids.has(j.id)))
    return afresh();
  /** The plan from `limits`, or why not: repair found no room, or the battery LP or the check failed. */
  const from = async (limits: readonly Float64Array[]): Promise<Schedule | 'no room' | 'failed'> => {
    // Under a carbon cap the displaced work is placed with carbon priced, dearer each time the cap
    // breaks (£ per kg), as the planner's priced placement does.
    for (const carbonGbpPerKg of p.carbonCapKg === undefined ? [0] : CARBON_PRICES) {
      const draft = draftOf(p, base);
      const fixed = repair(p, draft, limits, unitCosts(p, carbonGbpPerKg));
      if (!fixed.ok) return 'no room';
      // More commitments only remove plans, so the base problem's proven bound still holds.
      const done = await finishDraft(p, draft, lpSolve, options, fixed.moved, base.lowerBoundGbp, WARM_PLANNER);
      if ('schedule' in done) return withWorkMetrics(p, done.schedule);
      if (!done.carbon) return 'failed';
    }
    return 'failed';
  };
  const kept = await from(itLimitsWith(p, base));
  if (typeof kept !== 'string') return kept;
  // Only where repair found no room: a battery meeting the new ceilings makes room, not carbon.
  const discharging = kept === 'no room' ? itLimitsDischarging(p, draftOf(p, base), base.batteries) : undefined;
  const met = discharging && (await from(discharging));
  return met && typeof met !== 'string' ? met : afresh();
};

/** £/kg tried in turn when the displaced work breaks the carbon cap (0: price alone). */
const CARBON_PRICES = [0, 0.05, 0.2, 1, 5];

/**
 * The previous plan carried into a new problem (issue 13 item 8, incremental re-plans): the rolling
 * plan made `shiftSlots` slots ago, moved to this horizon, gives each job that is still in the
 * problem its placement there (trimmed to the energy it still needs); jobs that are new (arrivals,
 * base load of the new slots) are placed by repair, and what no longer fits is shed and placed again.
 * A plan of a few hundred jobs then costs a repair and a battery LP instead of the class LP, two
 * placements and local search. Falls back to a fresh plan when the carried plan cannot be repaired.
 */
export const replanCarried = async (
  p: PlanningProblem,
  previous: Schedule,
  shiftSlots: number,
  lpSolve: LpSolve,
  options: PlannerOptions = DEFAULT_PLANNER_OPTIONS,
  clock: () => number = () => 0,
): Promise<Schedule> => {
  const afresh = () => planWithLp(p, lpSolve, options, clock);
  if (previous.status === 'infeasible' || shiftSlots < 0) return afresh();
  const h = p.slotMinutes / 60;
  const siteIndex = new Map(p.sites.map((s, i) => [s.id, i]));
  const prev = new Map(previous.jobs.map((j) => [j.id, j]));
  const site = new Int32Array(p.jobs.length).fill(-1);
  const power: (Float64Array | undefined)[] = new Array(p.jobs.length);
  const deficitKwh = new Float64Array(p.jobs.length);
  p.jobs.forEach((job, i) => {
    const before = prev.get(job.id);
    const s = before ? siteIndex.get(before.site) : undefined;
    if (!before || s === undefined || !job.sites.includes(before.site)) {
      deficitKwh[i] = job.energyKwh;
      return;
    }
    const pw = new Float64Array(p.slots);
    let placed = 0;
    for (let t = 0; t < p.slots; t++) {
      const kw = Math.min(before.powerKw[t + shiftSlots] ?? 0, job.maxPowerKw);
      const outside = t < job.releaseSlot;
      const room = Math.max(0, job.energyKwh - placed) / h;
      const take = outside ? 0 : Math.min(kw, room);
      pw[t] = take;
      placed += take * h;
    }
    if (placed <= 1e-9) {
      deficitKwh[i] = job.energyKwh;
      return;
    }
    site[i] = s;
    power[i] = pw;
    const short = job.energyKwh - placed;
    deficitKwh[i] = short > 1e-7 * Math.max(1, job.energyKwh) ? short : 0;
  });
  let draft: Draft = { site, power, deficitKwh };
  // Limits with no battery flow: the battery LP re-plans the batteries for the repaired load.
  const none: Schedule = { ...previous, batteries: [] };
  const limits = itLimitsWith(p, none);
  makeWayForRigid(p, draft, limits);
  // Where a new ceiling at a battery site is below the carried load and repair finds no room, the
  // battery is taken to meet it (itLimitsDischarging): the rigid base load there cannot go elsewhere.
  const discharging = itLimitsDischarging(p, draft, undefined);
  const copy = discharging && copyDraft(draft);
  let fixed = repair(p, draft, limits, unitCosts(p, 0));
  if (!fixed.ok && discharging && copy) {
    fixed = repair(p, copy, discharging, unitCosts(p, 0));
    draft = copy;
  }
  if (!fixed.ok) return afresh();
  // One local search over the repaired draft (no battery flows, as repaired): arrivals placed by
  // repair at their cheapest room and carried jobs that room has opened up for move where it pays.
  // Measured on the backtest's busy fleet (two weeks): £26,088 → £25,871 of £ + carbon + lateness,
  // for a few milliseconds a plan.
  localSearch(p, draft, [], 0, 4, hasSoftJobs(p) ? 0.05 : 0);
  const done = await finishDraft(p, draft, lpSolve, options, fixed.moved, 0, CARRIED_PLANNER);
  return 'schedule' in done ? withWorkMetrics(p, done.schedule) : afresh();
};

const copyDraft = (d: Draft): Draft => ({
  site: Int32Array.from(d.site),
  power: d.power.map((pw) => pw && Float64Array.from(pw)),
  deficitKwh: Float64Array.from(d.deficitKwh),
});

export const CARRIED_PLANNER = `${LP_PLANNER}+carried`;

/** A job with one placement only: not pre-emptible, and its window is exactly its run (a running job, base load). */
const isRigid = (p: PlanningProblem, j: PlanningProblem['jobs'][number]): boolean => !j.preemptible && hasOneRun(p, j);

/**
 * Rigid jobs placed first, at their one placement, and carried placements that no longer fit beside
 * them dropped (to be placed again by repair). A running job's energy left is not the carried plan's
 * when it started part-way through a period (the site starts a job when GPUs come free), so its run
 * grows by a sliver; a job the site started that the plan had not started yet holds its GPUs now.
 * Repair cannot move a rigid job, and the carried jobs in its way would otherwise make it fail and
 * the whole plan be made afresh.
 */
const makeWayForRigid = (
  p: PlanningProblem,
  d: { site: Int32Array; power: (Float64Array | undefined)[]; deficitKwh: Float64Array },
  limits: readonly Float64Array[],
): void => {
  const h = p.slotMinutes / 60;
  const siteIndex = new Map(p.sites.map((s, i) => [s.id, i]));
  const load = p.sites.map(() => new Float64Array(p.slots));
  let grown = false;
  p.jobs.forEach((job, i) => {
    if (!isRigid(p, job) || job.sites.length !== 1) return;
    const s = siteIndex.get(job.sites[0] as string) as number;
    const pw = new Float64Array(p.slots);
    let left = job.energyKwh;
    for (let t = job.releaseSlot; t < Math.min(p.slots, job.deadlineSlot) && left > 1e-9; t++) {
      pw[t] = Math.min(job.maxPowerKw, left / h);
      left -= (pw[t] as number) * h;
      load[s]![t] = (load[s]![t] as number) + (pw[t] as number);
    }
    const before = d.power[i];
    if (!before || d.site[i] !== s || before.some((kw, t) => Math.abs(kw - (pw[t] as number)) > 1e-9)) grown = true;
    d.site[i] = s;
    d.power[i] = pw;
    d.deficitKwh[i] = Math.max(0, left);
  });
  if (!grown) return;
  p.jobs.forEach((job, i) => {
    const pw = d.power[i];
    const s = d.site[i] as number;
    if (!pw || s < 0 || (isRigid(p, job) && job.sites.length === 1)) return;
    const fits = pw.every((kw, t) => kw <= 1e-12 || (load[s]![t] as number) + kw <= (limits[s]![t] as number) + 1e-6);
    if (fits) {
      for (let t = 0; t < p.slots; t++) load[s]![t] = (load[s]![t] as number) + (pw[t] as number);
      return;
    }
    d.power[i] = undefined;
    d.site[i] = -1;
    d.deficitKwh[i] = job.energyKwh;
  });
};
