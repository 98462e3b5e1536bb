// How the Flexibility Orchestrator solves one fleet problem (`solveFleet`): the order of attempts
// and what each fallback gives up, kept apart from the orchestrator's state and dispatch.
//  1. Carried from the last rolling plan where one may be (incrementalReplans: a fresh full plan
//     every FULL_PLAN_EVERY slots, and whenever the commitments changed), else afresh. With
//     `refreshInBackground` the fresh plan is made beside the carried one instead of in its place:
//     the slot is answered with the carried plan at once (repaired around a new commitment, as the
//     offer was priced: warm.ts), and the fresh plan is returned as a promise for the orchestrator
//     to carry from REFRESH_LAG slots later. An order's check (`check`) is carried whatever changed,
//     and no fresh plan is made beside it: a plan of it is never dispatched.
//  2. No plan with the held offers on top of the firm commitments: without them (an offer held is a
//     best effort, a confirmed commitment is not).
//  3. No plan under the FIFO carbon cap: without it, logged FLX_CARBON_CAP_MISSED. The FIFO cap is a
//     target measured from the sites' history, not a promise to anyone; a cap stated in kg stays hard.
//  4. Every plan passes the independent check, or the planner is at fault (FLX_INTERNAL).
//  5. Site moves (`moveCost`): each movable job carries its move cost in the problem, so the planner
//     weighs it; a plan that runs waiting jobs away from their site is still kept only if, moves
//     included, it costs less than the plan with every job at home (site-move.ts).
//  6. Offer pricing (`runningAt`): the waiting jobs the plan starts before the window and runs
//     through it are planned again as running, so a GPU cap can reach them in the window; not the
//     jobs that may move, which are priced as waiting (moved at their cost, or late).
// `RollingPlans` (rolling-plans.ts) keeps the orchestrator's rolling plan and the fresh plan made in the background.
import type { MoveCost } from '../../domain/compute.ts';
import { withWorkMetrics, type CommitmentSpec, type PlanningProblem, type Schedule } from '../../domain/planning.ts';
import { MINUTE_MS, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import { FlexError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { checkSchedule, costFields } from '../../optimise/check.ts';
import { withCapacityValue } from '../../optimise/capacity-value.ts';
import { startsThrough } from '../../optimise/dispatch.ts';
import { moveOptions } from '../../optimise/moves.ts';
import { buildProblem, type ProblemInput } from '../../optimise/problem.ts';
import { CARRIED_PLANNER } from '../../optimise/warm.ts';
import type { Solver } from '../../ports.ts';
import { chooseMoves, type MoveChoice } from './site-move.ts';

/** With incremental re-plans, a fresh full plan every this many slots (2 h of half-hours). */
export const FULL_PLAN_EVERY = 4;

/**
 * With a background refresh, the fresh plan made at a refresh slot becomes the rolling plan this many
 * slots later, awaited there if it is not done: a fixed slot, not "when it finishes", so a replay with
 * the same inputs makes the same plans whatever the machine's speed.
 */
export const REFRESH_LAG = 2;

/** A commitment's import ceiling at one site in one slot, by the slot's start: comparable across grids. */
type Ceiling = readonly [site: string, at: number, maxImportKw: number];

/** The last rolling plan, carried into the next one (incrementalReplans). */
export interface RollingPlan {
  readonly gridStart: EpochMs;
  readonly slotMinutes: number;
  readonly schedule: Schedule;
  /** End (exclusive) of the horizon it was planned over. */
  readonly gridEnd: number;
  /** The commitments it was planned with, per slot by start time: when they change, the next plan is a fresh one. */
  readonly ceilings: readonly Ceiling[];
}

/**
 * A problem's commitments by slot start time. The problem's own are slot indices of its grid, so
 * comparing them as they are made every commitment look new each slot (the window moves one slot
 * nearer), and every plan was made afresh while any commitment was in the horizon.
 */
const ceilingsOf = (grid: SlotGrid, commitments: readonly CommitmentSpec[]): Ceiling[] => {
  const slotMs = grid.slotMinutes * MINUTE_MS;
  const out: Ceiling[] = [];
  for (const c of commitments)
    for (let t = c.fromSlot; t < c.toSlot; t++) out.push([c.site, grid.start + t * slotMs, c.maxImportKw]);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1] || a[2] - b[2]));
};

/** Whether two plans were made with the same commitments over the time both horizons cover. */
const sameCommitments = (a: RollingPlan, b: RollingPlan): boolean => {
  const from = Math.max(a.gridStart, b.gridStart);
  const to = Math.min(a.gridEnd, b.gridEnd);
  const seen = (r: RollingPlan) => JSON.stringify(r.ceilings.filter(([, at]) => at >= from && at < to));
  return seen(a) === seen(b);
};

export const rollingPlanOf = (grid: SlotGrid, problem: PlanningProblem, schedule: Schedule): RollingPlan => ({
  gridStart: grid.start,
  slotMinutes: grid.slotMinutes,
  schedule,
  gridEnd: grid.start + grid.slots * grid.slotMinutes * MINUTE_MS,
  ceilings: ceilingsOf(grid, problem.commitments),
});

/** A slot whose plan is (or, with a background refresh, is accompanied by) a fresh full plan. */
export const isRefreshSlot = (grid: SlotGrid): boolean =>
  Math.round(grid.start / (grid.slotMinutes * 60_000)) % FULL_PLAN_EVERY === 0;

/**
 * Slots since the rolling plan to carry, or undefined for a fresh plan in its place, and whether the
 * commitments changed since it was made (then a fresh plan is due: in place, or in the background).
 */
const carryShift = (
  carry: RollingPlan,
  grid: SlotGrid,
  problem: PlanningProblem,
  mode: { readonly background: boolean; readonly check: boolean },
): { readonly shift: number; readonly changed: boolean } | undefined => {
  const slotMs = grid.slotMinutes * 60_000;
  const shift = (grid.start - carry.gridStart) / slotMs;
  if (carry.slotMinutes !== grid.slotMinutes || !Number.isInteger(shift) || shift < 0 || shift >= grid.slots)
    return undefined;
  if (!mode.background && !mode.check && isRefreshSlot(grid) && shift > 0) return undefined;
  // Over the time both horizons cover; a window that only now comes into view is repaired into the
  // carried plan like an arrival.
  const changed = !sameCommitments(carry, rollingPlanOf(grid, problem, carry.schedule));
  if (changed && !mode.background && !mode.check) return undefined;
  return { shift, changed };
};

export interface FleetSolve {
  readonly solver: Solver;
  readonly log: Logger;
  /** The problem's inputs but its commitments and carbon cap. */
  readonly input: Omit<ProblemInput, 'commitments' | 'carbonCapKg'>;
  readonly firm: readonly CommitmentSpec[];
  /** The held offers' commitments, each on top of the firm ones. */
  readonly held: readonly CommitmentSpec[];
  readonly carbonCapKg?: number;
  /** The cap is the FIFO target (may be missed), not one the operator stated in kg. */
  readonly capIsTarget: boolean;
  readonly carry?: RollingPlan;
  /** At a refresh slot, answer with the carried plan and make the fresh one beside it (`refresh`). */
  readonly refreshInBackground?: boolean;
  /** An order's check (PlanOptions.check): carried whatever changed, nothing made beside it. */
  readonly check?: boolean;
  /**
   * A fresh plan is already being made in the background (RollingPlans.refreshPending): no second
   * one. Starting one at each change overwrote the last, so while commitments changed every slot
   * (a search, a hold expiring) none ever became the rolling plan.
   */
  readonly refreshPending?: boolean;
  readonly runningAt?: EpochMs;
  /** What a site move costs; without it the plan's moves are taken as they come (free). */
  readonly moveCost?: MoveCost;
  /**
   * The operational plan's capacity value per site (£/MWh per hour ahead; src/optimise/capacity-value.ts):
   * the plan is made with each slot priced up by it, so a full site does not leave GPUs idle now for
   * room later that the jobs still to come will want. Offers and order checks are priced without it.
   */
  readonly capacityValue?: ReadonlyMap<string, number>;
}

export interface FleetSolution {
  readonly problem: PlanningProblem;
  readonly schedule: Schedule;
  readonly carbonCapMissedKg?: number;
  /** The moves the planner found, their cost, and whether the plan keeps them. */
  readonly moves?: MoveChoice;
  /** The fresh plan of the same inputs, being made (refreshInBackground at a refresh slot). */
  readonly refresh?: Promise<FleetSolution>;
  /** `schedule` is the solver's own plan of `problem` (Solver.plan), not carried, priced up or moved. */
  readonly plain?: true;
}

/**
 * The same solve without the rolling plan: a fresh plan of the same inputs, on the solver's
 * background queue where it has one (an offer priced meanwhile does not wait behind it).
 */
const fresh = (f: FleetSolve): FleetSolve => {
  const { carry: _carry, refreshInBackground: _background, check: _check, refreshPending: _pending, ...rest } = f;
  return { ...rest, solver: f.solver.background?.() ?? f.solver };
};

/**
 * A plan made on the problem with its slots priced up by the sites' capacity values
 * (src/optimise/capacity-value.ts), stated on the problem itself. The raised prices are for the
 * jobs only: a battery would chase the ramp (charge now, discharge later) for a saving no bill has,
 * so the batteries are planned again at the signals' prices with the jobs held (Solver.planBatteries,
 * as the backtest does), where the solver can and the cap and commitments allow; where it cannot,
 * a battery site weighs no capacity value. Its costs are measured at the signals' prices, and as the
 * priced-up problem's proof and bound do not hold for them, it is a feasible plan with no bound
 * claimed (as hard-first.ts states its plans).
 */
const onPricedUp = async (
  problem: PlanningProblem,
  values: ReadonlyMap<string, number> | undefined,
  solver: Pick<Solver, 'planBatteries'>,
  plan: (p: PlanningProblem) => Promise<Schedule>,
): Promise<Schedule> => {
  const battery = new Set(problem.sites.filter((s) => s.battery).map((s) => s.id));
  const valued = new Map(
    [...(values ?? [])].filter(([site, v]) => v > 0 && (!battery.has(site) || solver.planBatteries)),
  );
  if (valued.size === 0) return plan(problem);
  let s = await plan(withCapacityValue(problem, valued));
  if (s.status === 'infeasible') return s;
  if (battery.size > 0 && solver.planBatteries) {
    const batteries = await solver.planBatteries(problem, s.jobs);
    if (batteries) s = { ...s, batteries: [...batteries] };
  }
  const measured = checkSchedule(problem, s, { reported: false });
  return withWorkMetrics(problem, {
    ...s,
    ...costFields(problem, measured),
    status: 'feasible',
    lowerBoundGbp: Math.min(0, measured.costGbp),
  });
};

export const solveFleet = async (f: FleetSolve): Promise<FleetSolution> => {
  // `capped` false drops the cap (and its intensity, ProblemInput.carbonCapGPerKwh, which needs it).
  const build = (commitments: readonly CommitmentSpec[], capped = true, startsAt?: Map<string, number>) =>
    buildProblem({
      ...f.input,
      commitments,
      ...(capped && f.carbonCapKg !== undefined ? { carbonCapKg: f.carbonCapKg } : {}),
      ...(startsAt ? { startsAt } : {}),
      ...(f.runningAt === undefined ? {} : { sellingAt: f.runningAt }),
      ...(f.moveCost ? { moveCost: f.moveCost } : {}),
    });
  let problem = build([...f.firm, ...f.held]);
  const background = f.refreshInBackground === true && f.check !== true;
  const carried = f.carry
    ? carryShift(f.carry, f.input.grid, problem, { background, check: f.check === true })
    : undefined;
  const shift = carried?.shift;

  let schedule = await onPricedUp(problem, f.capacityValue, f.solver, (p) =>
    f.carry && shift !== undefined && f.solver.planCarried
      ? f.solver.planCarried(p, f.carry.schedule, shift)
      : f.solver.plan(p),
  );
  // A carried plan whose repair failed was made afresh (warm.ts): then nothing is due beside it.
  const wasCarried = schedule.planner === CARRIED_PLANNER;
  let plain = shift === undefined && f.capacityValue === undefined;
  if (schedule.status === 'infeasible' && f.held.length > 0) {
    problem = build(f.firm);
    schedule = await onPricedUp(problem, f.capacityValue, f.solver, (p) => f.solver.plan(p));
    plain = f.capacityValue === undefined;
  }
  let carbonCapMissedKg: number | undefined;
  if (schedule.status === 'infeasible' && problem.carbonCapKg !== undefined && f.capIsTarget) {
    f.log.warn(
      {
        code: 'FLX_CARBON_CAP_MISSED',
        carbonCapKg: problem.carbonCapKg,
        ...(problem.carbonCapGPerKwh === undefined ? {} : { carbonCapGPerKwh: problem.carbonCapGPerKwh }),
        reason: schedule.reason,
      },
      'the FIFO carbon cap cannot hold for this plan: planning without it',
    );
    carbonCapMissedKg = problem.carbonCapKg;
    problem = build(f.firm, false);
    schedule = await onPricedUp(problem, f.capacityValue, f.solver, (p) => f.solver.plan(p));
    plain = f.capacityValue === undefined;
  }
  if (schedule.status !== 'infeasible') {
    const verdict = checkSchedule(problem, schedule);
    if (!verdict.ok)
      throw new FlexError(
        'FLX_INTERNAL',
        `planner ${schedule.planner ?? f.solver.name} returned a plan that fails the check: ${verdict.violations.slice(0, 3).join('; ')}`,
      );
  }
  let moves: MoveChoice | undefined;
  // The movable jobs, read once: the move rule and the offer-pricing pins below both need them.
  const options = f.moveCost ? moveOptions(f.input.reports, f.moveCost, f.input.pinned) : undefined;
  if (options && schedule.status !== 'infeasible') {
    // The plans it weighs the moves against are made as this one was (with the capacity value, if any).
    const chosen = await chooseMoves(problem, schedule, options, (p) =>
      onPricedUp(p, f.capacityValue, f.solver, (q) => f.solver.plan(q)),
    );
    schedule = chosen.schedule;
    moves = chosen.choice;
    if (options.size > 0) plain = false;
  }
  if (f.runningAt !== undefined && schedule.status !== 'infeasible') {
    const startsAt = startsThrough(f.input.reports, schedule, f.input.grid, f.runningAt);
    // A job that may move is priced as waiting: free to move at its cost (or to wait), which is what
    // a plan with the commitment will weigh, rather than as running at home where only a cap reaches it.
    for (const id of options?.keys() ?? []) startsAt.delete(id);
    if (startsAt.size > 0) {
      const pinned = build(problem.commitments, problem.carbonCapKg !== undefined, startsAt);
      const s = await f.solver.plan(pinned);
      if (s.status !== 'infeasible' && checkSchedule(pinned, s).ok) {
        [problem, schedule] = [pinned, s];
        plain = true;
      }
    }
  }
  // Started once the carried plan is made, so that the slot's answer never waits behind the fresh
  // plan's LPs on the solver; it has REFRESH_LAG slots to finish. Not awaited here: a failure is the
  // orchestrator's to log when it comes to carry the plan.
  const due = carried !== undefined && (carried.changed || (carried.shift > 0 && isRefreshSlot(f.input.grid)));
  const refresh = background && due && wasCarried && f.refreshPending !== true ? solveFleet(fresh(f)) : undefined;
  refresh?.catch(() => undefined);
  return {
    problem,
    schedule,
    ...(carbonCapMissedKg === undefined ? {} : { carbonCapMissedKg }),
    ...(moves ? { moves } : {}),
    ...(refresh ? { refresh } : {}),
    ...(plain ? { plain } : {}),
  };
};
