// The flexibility curve of a site in a window: for each reduction level R, the opportunity cost of
// re-planning with "import ≤ reference − R in every slot of the window" as commitments. The
// reference is a per-slot baseline the buyer settles against; by default the current plan's own
// import. The largest level is the largest the planner could actually deliver (found by
// bisection), never more.
import type { CommitmentSpec, PlanningProblem, Schedule } from '../domain/planning.ts';
import { siteImportKw } from '../domain/planning.ts';
import { CAP_PART_PREFIX } from './cap-parts.ts';

export interface CurvePoint {
  readonly reductionKw: number;
  /** Per-slot import ceilings of the window that deliver this reduction. */
  readonly maxImportKw: readonly number[];
  readonly costGbp: number;
  readonly opportunityCostGbp: number;
  /** Opportunity cost per MWh of reduction (reductionKw × window hours). */
  readonly opportunityCostGbpPerMwh: number;
  /**
   * What the opportunity cost is made of: the change in energy cost (work moved to dearer or cheaper
   * hours), in lateness cost (work pushed past its deadline), in running work slowed by GPU caps, in
   * battery wear and in moving jobs between sites. They add up to opportunityCostGbp.
   */
  readonly components?: CostComponents;
  /** The fleet's emissions with this level binding less without it (kg; negative: less CO2). */
  readonly carbonKg?: number;
}

export interface CostComponents {
  readonly energyGbp: number;
  /** Waiting work pushed past its deadline. */
  readonly latenessGbp: number;
  /** Running work slowed by GPU power caps: the lateness of the jobs' cappable parts (problem.ts). */
  readonly capsGbp: number;
  /** Battery wear (discharge × £/MWh). */
  readonly batteryGbp: number;
  /** Jobs moved between sites: £ per move and per GPU moved (docs/cost-model.md, "Site moves"). */
  readonly movesGbp: number;
}

export const COMPONENT_KEYS = ['energyGbp', 'latenessGbp', 'capsGbp', 'batteryGbp', 'movesGbp'] as const;

/** a − b, part by part. */
export const componentsMinus = (a: CostComponents, b: CostComponents): CostComponents =>
  Object.fromEntries(COMPONENT_KEYS.map((k) => [k, a[k] - b[k]])) as unknown as CostComponents;

/** a + b, part by part. */
export const componentsPlus = (a: CostComponents, b: CostComponents): CostComponents =>
  Object.fromEntries(COMPONENT_KEYS.map((k) => [k, a[k] + b[k]])) as unknown as CostComponents;

/** A schedule's cost split (version 1 schedules are all energy). */
export const costSplit = (s: Schedule): CostComponents => {
  const capsGbp = (s.late ?? []).filter((l) => l.id.startsWith(CAP_PART_PREFIX)).reduce((a, l) => a + l.costGbp, 0);
  const latenessGbp = (s.latenessCostGbp ?? 0) - capsGbp;
  const batteryGbp = s.batteryWearGbp ?? 0;
  const movesGbp = s.moveCostGbp ?? 0;
  return {
    energyGbp: s.energyCostGbp ?? s.costGbp - latenessGbp - capsGbp - batteryGbp - movesGbp,
    latenessGbp,
    capsGbp,
    batteryGbp,
    movesGbp,
  };
};

export interface FlexibilityCurve {
  readonly site: string;
  readonly fromSlot: number;
  readonly toSlot: number;
  /** Per-slot import of the window that reductions are measured from (kW). */
  readonly referenceKw: readonly number[];
  /** The current plan's import in the window (kW), for comparison. */
  readonly plannedKw: readonly number[];
  readonly baseCostGbp: number;
  /** The parts of baseCostGbp (costSplit of the plan the levels are measured from). */
  readonly baseComponents?: CostComponents;
  readonly points: readonly CurvePoint[];
}

export type Plan = (problem: PlanningProblem) => Promise<Schedule>;
/** Plans a problem from a plan of the same jobs with fewer commitments (Solver.planFrom). */
export type PlanFrom = (problem: PlanningProblem, base: Schedule) => Promise<Schedule>;

const withCommitments = (problem: PlanningProblem, cs: readonly CommitmentSpec[]): PlanningProblem => ({
  ...problem,
  commitments: [...problem.commitments, ...cs],
});

/** One commitment per slot: import at `site` ≤ ceiling[k] in slot fromSlot + k. */
export const slotCommitments = (site: string, fromSlot: number, ceilingsKw: readonly number[]): CommitmentSpec[] =>
  ceilingsKw.map((maxImportKw, k) => ({
    site,
    fromSlot: fromSlot + k,
    toSlot: fromSlot + k + 1,
    maxImportKw: Math.max(0, maxImportKw),
  }));

export interface CurveOptions {
  /** Measure each level from the base plan (Solver.planFrom) instead of planning it afresh. */
  readonly planFrom?: PlanFrom;
  /**
   * The buyer's ceiling less the margin (£/MWh), and the smallest reduction worth offering: when
   * the halving levels jump from one the buyer can afford (or none) to one it cannot, the largest
   * reduction between them within the ceiling is found by bisection and added to the curve. On a
   * full fleet the first kilowatts (GPU caps, a little idle room) are cheap and the next ones (whole
   * training jobs moved hours later) dear, and the halving levels alone can straddle the ceiling.
   */
  readonly affordable?: { readonly gbpPerMwh: number; readonly minKw: number };
  /**
   * The plan of `problem` itself, when the caller has it: every site's curve of one offer is measured
   * from the same problem, whose fresh plan was made once per site (and once more for the portfolio).
   */
  readonly base?: Schedule;
}

const BISECTIONS = 6;

/**
 * A plan that delivers a larger reduction also delivers every smaller one (its ceilings are lower in
 * every slot), so a level costs no more than the cheapest plan found for any larger level: where a
 * smaller level's own re-plan came out dearer (the planner is a heuristic), the larger level's plan
 * is its cost. The curve is then monotone, and each figure is that of a real, checked plan.
 */
const monotone = (points: CurvePoint[], hoursInWindow: number): void => {
  for (let i = points.length - 2; i >= 0; i--) {
    const [p, q] = [points[i]!, points[i + 1]!];
    if (q.costGbp < p.costGbp) {
      const mwh = (p.reductionKw * hoursInWindow) / 1000;
      points[i] = {
        ...p,
        costGbp: q.costGbp,
        opportunityCostGbp: q.opportunityCostGbp,
        opportunityCostGbpPerMwh: mwh > 0 ? q.opportunityCostGbp / mwh : 0,
        ...(q.components ? { components: q.components } : {}),
        ...(q.carbonKg === undefined ? {} : { carbonKg: q.carbonKg }),
      };
    }
  }
};

export const flexibilityCurve = async (
  plan: Plan,
  problem: PlanningProblem,
  site: string,
  fromSlot: number,
  toSlot: number,
  levels = 5,
  reference?: readonly number[],
  options: CurveOptions = {},
): Promise<FlexibilityCurve | { readonly infeasible: string }> => {
  const { planFrom, affordable } = options;
  if (fromSlot < 0 || toSlot > problem.slots || fromSlot >= toSlot)
    return { infeasible: `window [${fromSlot}, ${toSlot}) is not inside the horizon of ${problem.slots} slots` };
  const base = options.base ?? (await plan(problem));
  if (base.status === 'infeasible')
    return { infeasible: base.reason ?? 'the problem has no plan even without a commitment' };
  const plannedKw = siteImportKw(problem, base, site).slice(fromSlot, toSlot);
  const referenceKw = reference ?? plannedKw;
  if (referenceKw.length !== toSlot - fromSlot)
    return { infeasible: `the reference has ${referenceKw.length} values for a window of ${toSlot - fromSlot} slots` };
  const ceilingKw = Math.min(...referenceKw);
  const hoursInWindow = ((toSlot - fromSlot) * problem.slotMinutes) / 60;
  const tryLevel = async (reductionKw: number): Promise<CurvePoint | undefined> => {
    const maxImportKw = referenceKw.map((r) => Math.max(0, r - reductionKw));
    // From the base plan where the solver can: the level's cost is then what the reduction displaces.
    const constrained = withCommitments(problem, slotCommitments(site, fromSlot, maxImportKw));
    const s = await (planFrom ? planFrom(constrained, base) : plan(constrained));
    if (s.status === 'infeasible') return undefined;
    const opportunityCostGbp = s.costGbp - base.costGbp;
    const mwh = (reductionKw * hoursInWindow) / 1000;
    const [a, b] = [costSplit(s), costSplit(base)];
    return {
      reductionKw,
      maxImportKw,
      costGbp: s.costGbp,
      opportunityCostGbp,
      opportunityCostGbpPerMwh: mwh > 0 ? opportunityCostGbp / mwh : 0,
      components: componentsMinus(a, b),
      carbonKg: s.carbonKg - base.carbonKg,
    };
  };
  // The largest deliverable reduction, by bisection to 1 % of the baseline (or 1 kW).
  let best = await tryLevel(ceilingKw);
  if (!best) {
    const tolerance = Math.max(1, ceilingKw * 0.01);
    let lo = 0;
    let hi = ceilingKw;
    while (hi - lo > tolerance) {
      const mid = (lo + hi) / 2;
      const p = await tryLevel(mid);
      if (p) {
        lo = mid;
        best = p;
      } else hi = mid;
    }
  }
  const maxReduction = best?.reductionKw ?? 0;
  const points: CurvePoint[] = [];
  for (let i = 1; i <= levels && maxReduction > 0; i++) {
    // Levels halve from the largest down (1/16, 1/8, 1/4, 1/2, 1 of it with five levels): on a full
    // fleet the first kilowatts are the cheapest and the last the dearest, so a buyer with a price
    // ceiling finds a small level it can afford, which evenly spaced levels would skip.
    const level = Math.floor(maxReduction * 2 ** (i - levels) * 10) / 10;
    const p = i === levels && best ? best : await tryLevel(level);
    if (p) points.push(p);
  }
  monotone(points, hoursInWindow);
  if (affordable) {
    const ok = (p: CurvePoint) => p.opportunityCostGbpPerMwh <= affordable.gbpPerMwh;
    const within = points.filter((p) => ok(p) && p.reductionKw >= affordable.minKw).at(-1);
    const above = points.find((p) => p.reductionKw > (within?.reductionKw ?? 0) && !ok(p));
    let lo = Math.max(within?.reductionKw ?? 0, affordable.minKw);
    let hi = above?.reductionKw ?? lo;
    let found: CurvePoint | undefined;
    for (let k = 0; k < BISECTIONS && hi - lo > Math.max(0.5, hi * 0.02); k++) {
      const mid = Math.floor(((lo + hi) / 2) * 10) / 10;
      const p = await tryLevel(mid);
      if (p && ok(p)) {
        found = p;
        lo = mid;
      } else hi = mid;
    }
    if (found) points.splice(points.filter((p) => p.reductionKw < found.reductionKw).length, 0, found);
  }
  monotone(points, hoursInWindow);
  // Every plan made with a reduction binding is also a plan without it, so the cheapest of them all
  // is the better estimate of the fleet's cost without the reduction. The planner is a heuristic:
  // on a full fleet a re-plan can come out cheaper than the plan it was measured from, which would
  // read as a negative opportunity cost (the reduction "saving" money) when it is the base plan that
  // was poor. Measured from the cheapest, no level costs less than nothing.
  const cheapest = points.reduce<CurvePoint | undefined>((a, p) => (!a || p.costGbp < a.costGbp ? p : a), undefined);
  const window = { site, fromSlot, toSlot, referenceKw, plannedKw };
  if (!cheapest || cheapest.costGbp >= base.costGbp)
    return { ...window, baseCostGbp: base.costGbp, baseComponents: costSplit(base), points };
  const shift = cheapest.costGbp - base.costGbp;
  const parts = cheapest.components ?? { energyGbp: shift, latenessGbp: 0, capsGbp: 0, batteryGbp: 0, movesGbp: 0 };
  const rebased = points.map((p) => {
    const opportunityCostGbp = p.opportunityCostGbp - shift;
    const mwh = (p.reductionKw * hoursInWindow) / 1000;
    return {
      ...p,
      opportunityCostGbp,
      opportunityCostGbpPerMwh: mwh > 0 ? opportunityCostGbp / mwh : 0,
      ...(p.components ? { components: componentsMinus(p.components, parts) } : {}),
    };
  });
  return {
    ...window,
    baseCostGbp: cheapest.costGbp,
    baseComponents: componentsPlus(costSplit(base), parts),
    points: rebased,
  };
};
