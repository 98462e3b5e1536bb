// The simplest honest planner: jobs in earliest-deadline order, each put into the cheapest slots of
// its window that still have room (a non-preemptible job as one contiguous run at full power).
// Batteries are left idle. If the carbon cap is broken it re-plans with rising carbon prices. It
// never claims optimality; its lower bound is the cheapest price in each job's window.
import { decimal } from '../domain/decimal.ts';
import type { JobSpec, PlanningProblem, Schedule, SiteSpec } from '../domain/planning.ts';
import { infeasible } from '../domain/planning.ts';
import { checkSchedule, costFields } from './check.ts';
import { moveGbpAt } from './move-cost.ts';
import { deferOrder, lateGbpPerKwh, mayLeaveUnserved, runEnd, unservedGbpPerKwh } from './soft.ts';
import { capGPerKwh, capWords, usesWithinCap } from './carbon-cap.ts';

export const GREEDY_PLANNER = 'greedy-cheapest-slot/1';

interface SiteRoom {
  readonly site: SiteSpec;
  /** Remaining IT headroom per slot (kW). */
  readonly itRoom: number[];
}

const EPS = 1e-9;

const roomFor = (problem: PlanningProblem, site: SiteSpec): SiteRoom => {
  const itRoom = new Array<number>(problem.slots).fill(0).map((_, t) => {
    let importCap = site.gridImportLimitKw;
    for (const c of problem.commitments)
      if (c.site === site.id && t >= c.fromSlot && t < c.toSlot) importCap = Math.min(importCap, c.maxImportKw);
    return Math.max(0, Math.min(site.itPowerLimitKw, importCap / site.pue));
  });
  return { site, itRoom };
};

/** £ per kWh of IT energy in slot t, with what the carbon cap counts priced at `carbonGbpPerKg`. */
const unitCost = (p: PlanningProblem, site: SiteSpec, t: number, carbonGbpPerKg: number): number =>
  ((site.priceGbpPerMwh[t] ?? 0) / 1000 + (carbonGbpPerKg * capGPerKwh(p, site, t)) / 1000) * site.pue;

type Placement = { readonly cost: number; readonly powerKw: number[] } | undefined;

/** Placement preference: `cheapest` scores by cost; `earliest` is list scheduling (as soon as possible). */
type Mode = 'cheapest' | 'earliest';

const placeContiguous = (
  problem: PlanningProblem,
  job: JobSpec,
  room: SiteRoom,
  lambda: number,
  mode: Mode = 'cheapest',
): Placement => {
  const h = problem.slotMinutes / 60;
  const full = job.energyKwh / (job.maxPowerKw * h);
  const k = Math.max(1, Math.ceil(full - 1e-9));
  const lastKw = job.energyKwh / h - (k - 1) * job.maxPowerKw;
  let best: Placement;
  for (let s = job.releaseSlot; s + k <= runEnd(problem, job); s++) {
    let cost = 0;
    let fits = true;
    for (let i = 0; i < k && fits; i++) {
      const p = i === k - 1 ? lastKw : job.maxPowerKw;
      if ((room.itRoom[s + i] ?? 0) + EPS < p) fits = false;
      cost += (unitCost(problem, room.site, s + i, lambda) + lateGbpPerKwh(problem, job, s + i)) * p * h;
    }
    if (fits && (!best || cost < best.cost - EPS)) {
      const powerKw = new Array<number>(problem.slots).fill(0);
      for (let i = 0; i < k; i++) powerKw[s + i] = i === k - 1 ? lastKw : job.maxPowerKw;
      best = { cost, powerKw };
      if (mode === 'earliest') break;
    }
  }
  if (best && mayLeaveUnserved(problem, job) && best.cost >= job.energyKwh * unservedGbpPerKwh(problem, job))
    return undefined;
  return best;
};

const placeSplit = (
  problem: PlanningProblem,
  job: JobSpec,
  room: SiteRoom,
  lambda: number,
  mode: Mode = 'cheapest',
): Placement => {
  const h = problem.slotMinutes / 60;
  const slots: number[] = [];
  for (let t = job.releaseSlot; t < runEnd(problem, job); t++) slots.push(t);
  const slotCost = (t: number): number => unitCost(problem, room.site, t, lambda) + lateGbpPerKwh(problem, job, t);
  if (mode === 'cheapest') slots.sort((a, b) => slotCost(a) - slotCost(b) || a - b);
  const powerKw = new Array<number>(problem.slots).fill(0);
  // Energy that may wait beyond the horizon goes only where it is cheaper than waiting.
  const ceiling = mayLeaveUnserved(problem, job) ? unservedGbpPerKwh(problem, job) : Number.POSITIVE_INFINITY;
  let left = job.energyKwh;
  let cost = 0;
  for (const t of slots) {
    if (left <= EPS) break;
    if (slotCost(t) >= ceiling) continue;
    const p = Math.min(job.maxPowerKw, room.itRoom[t] ?? 0, left / h);
    if (p <= EPS) continue;
    powerKw[t] = p;
    left -= p * h;
    cost += slotCost(t) * p * h;
  }
  if (left <= 1e-6) return { cost, powerKw };
  // A soft job may leave the rest beyond the horizon, at its unserved cost.
  return mayLeaveUnserved(problem, job) ? { cost: cost + left * unservedGbpPerKwh(problem, job), powerKw } : undefined;
};

const planOnce = (problem: PlanningProblem, lambda: number, mode: Mode = 'cheapest'): Schedule | { failed: string } => {
  const rooms = new Map(problem.sites.map((s) => [s.id, roomFor(problem, s)]));
  const h = problem.slotMinutes / 60;
  // Jobs that may wait beyond the horizon count as the most flexible: every job that must be placed goes first.
  const slack = (j: JobSpec): number => runEnd(problem, j) - j.releaseSlot - j.energyKwh / (j.maxPowerKw * h);
  const byId = (a: JobSpec, b: JobSpec): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  // Cheapest mode places the least flexible jobs first; earliest mode is EDF list scheduling, with
  // jobs that have no slack at all (pinned load) first so they always get their slots.
  // Jobs that may wait beyond the horizon go last, the dearest to delay first (soft.ts deferOrder).
  const order = [...problem.jobs].sort(
    mode === 'cheapest'
      ? (a, b) =>
          deferOrder(problem, a, b) ||
          slack(a) - slack(b) ||
          a.deadlineSlot - b.deadlineSlot ||
          b.energyKwh - a.energyKwh ||
          byId(a, b)
      : (a, b) =>
          deferOrder(problem, a, b) ||
          Number(slack(a) > 1e-9) - Number(slack(b) > 1e-9) ||
          a.deadlineSlot - b.deadlineSlot ||
          a.releaseSlot - b.releaseSlot ||
          byId(a, b),
  );
  const jobs: { id: string; site: string; powerKw: number[] }[] = [];
  for (const job of order) {
    let best: { site: string; placement: NonNullable<Placement> } | undefined;
    for (const siteId of job.sites) {
      const room = rooms.get(siteId);
      if (!room) return { failed: `job ${job.id}: allowed site ${siteId} is not in the problem` };
      const placement = job.preemptible
        ? placeSplit(problem, job, room, lambda, mode)
        : placeContiguous(problem, job, room, lambda, mode);
      // Away from home a job that runs pays its move cost too (move-cost.ts).
      const priced =
        placement && placement.powerKw.some((kw) => kw > 1e-9)
          ? { ...placement, cost: placement.cost + moveGbpAt(job, siteId) }
          : placement;
      if (priced && (!best || priced.cost < best.placement.cost - EPS)) best = { site: siteId, placement: priced };
    }
    // A soft job that may wait beyond the horizon waits whole at home where that is cheaper: with no
    // room at all, or where the room it has is away and its move costs more than waiting saves.
    const wait = job.energyKwh * unservedGbpPerKwh(problem, job);
    if (
      mayLeaveUnserved(problem, job) &&
      rooms.has(job.sites[0] ?? '') &&
      (!best || (best.site !== job.sites[0] && wait < best.placement.cost - EPS))
    )
      best = {
        site: job.sites[0]!,
        placement: { cost: wait, powerKw: new Array<number>(problem.slots).fill(0) },
      };
    if (!best)
      return {
        failed: `job ${job.id}: no room for ${job.energyKwh} kWh at ≤ ${job.maxPowerKw} kW in slots [${job.releaseSlot}, ${job.deadlineSlot}) at ${job.sites.join(', ')}`,
      };
    const room = rooms.get(best.site) as SiteRoom;
    best.placement.powerKw.forEach((p, t) => (room.itRoom[t] = (room.itRoom[t] ?? 0) - p));
    jobs.push({ id: job.id, site: best.site, powerKw: best.placement.powerKw });
  }
  jobs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const draft: Schedule = {
    version: 1,
    status: 'feasible',
    costGbp: 0,
    carbonKg: 0,
    lowerBoundGbp: 0,
    jobs,
    batteries: [],
    planner: mode === 'cheapest' ? GREEDY_PLANNER : `${GREEDY_PLANNER}+edf-fallback`,
  };
  const measured = checkSchedule(problem, { ...draft, status: 'feasible' });
  return { ...draft, ...costFields(problem, measured) };
};

/**
 * A valid lower bound on cost: every job's IT energy × PUE bought at the cheapest price in its window
 * at any allowed site, or left beyond the horizon where that is cheaper and allowed. With batteries, energy can be bought anywhere in the horizon (and, at
 * negative prices, extra energy can be bought and lost in the battery), so the bound widens.
 */
export const simpleLowerBound = (problem: PlanningProblem): number => {
  const h = problem.slotMinutes / 60;
  const anyBattery = problem.sites.some((s) => s.battery);
  let bound = 0;
  for (const job of problem.jobs) {
    let cheapest = Infinity;
    for (const id of job.sites) {
      const site = problem.sites.find((s) => s.id === id);
      if (!site) continue;
      const from = anyBattery ? 0 : job.releaseSlot;
      const to = anyBattery ? problem.slots : runEnd(problem, job);
      for (let t = from; t < to; t++) cheapest = Math.min(cheapest, ((site.priceGbpPerMwh[t] ?? 0) / 1000) * site.pue);
    }
    // Energy left beyond the horizon costs its own price per kWh, which a site may state below any
    // slot's (SiteSpec.unservedPriceGbpPerMwh): the bound takes the cheaper.
    if (mayLeaveUnserved(problem, job)) cheapest = Math.min(cheapest, unservedGbpPerKwh(problem, job));
    if (Number.isFinite(cheapest)) bound += cheapest * job.energyKwh;
  }
  for (const site of problem.sites) {
    if (!site.battery) continue;
    const minPrice = Math.min(...site.priceGbpPerMwh);
    if (minPrice < 0) bound += (minPrice / 1000) * site.battery.maxChargeKw * h * problem.slots;
  }
  return bound;
};

/** Carbon prices (£/kg) tried in turn until the cap holds. */
const CARBON_PRICES = [0, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 20, 100, 1000];

export const provablyInfeasible = (problem: PlanningProblem): string | undefined => {
  const h = problem.slotMinutes / 60;
  for (const j of problem.jobs) {
    if (mayLeaveUnserved(problem, j)) continue;
    const window = Math.max(0, runEnd(problem, j) - j.releaseSlot);
    if (j.maxPowerKw * window * h + 1e-9 < j.energyKwh)
      return `job ${j.id}: needs ${j.energyKwh} kWh but can run at most ${j.maxPowerKw} kW for ${window} slots (${decimal(j.maxPowerKw * window * h, 3)} kWh in slots [${j.releaseSlot}, ${runEnd(problem, j)}) at ${j.sites.join(', ')})`;
  }
  return undefined;
};

export const greedyPlan = (problem: PlanningProblem): Schedule => {
  const lowerBoundGbp = simpleLowerBound(problem);
  const proof = provablyInfeasible(problem);
  if (proof) return infeasible(proof, lowerBoundGbp, GREEDY_PLANNER, problem.version);
  let lastCarbon = Infinity;
  let failure: string | undefined;
  const accept = (result: Schedule): Schedule | undefined => {
    const schedule = { ...result, lowerBoundGbp: Math.min(lowerBoundGbp, result.costGbp) };
    const verdict = checkSchedule(problem, schedule);
    if (problem.carbonCapKg !== undefined && !usesWithinCap(problem, verdict.carbonCapUseKg, verdict.carbonKg)) {
      lastCarbon = Math.min(lastCarbon, verdict.carbonCapUseKg);
      return undefined;
    }
    if (!verdict.ok)
      throw new Error(`greedy planner produced an invalid plan: ${verdict.violations.slice(0, 3).join('; ')}`);
    return schedule;
  };
  for (const lambda of CARBON_PRICES) {
    const result = planOnce(problem, lambda);
    if ('failed' in result) {
      failure = result.failed;
      break;
    }
    const ok = accept(result);
    if (ok) return ok;
  }
  // Cheapest-slot placement can fragment the capacity; earliest-deadline-first list scheduling is the
  // fallback that finds a plan whenever running everything as early as possible does.
  const fallback = planOnce(problem, 0, 'earliest');
  if (!('failed' in fallback)) {
    const ok = accept(fallback);
    if (ok) return ok;
  }
  if (failure !== undefined || 'failed' in fallback) {
    return infeasible(
      `${'failed' in fallback ? fallback.failed : (failure ?? '')} (the greedy planner found no room; this is not a proof that no plan exists)`,
      lowerBoundGbp,
      GREEDY_PLANNER,
      problem.version,
    );
  }
  return infeasible(
    `carbon counting ${lastCarbon.toFixed(1)} kg against the cap is the least the greedy planner found, above the cap of ${capWords(problem)} (not a proof that no plan exists)`,
    lowerBoundGbp,
    GREEDY_PLANNER,
    problem.version,
  );
};
