// The flexibility curve of a site in a window: for each reduction level (kW below the current
// plan's lowest import in the window, so every slot is reduced by at least that much), the
// opportunity cost of re-planning with that ceiling as a commitment. The largest level is the
// largest the planner could actually deliver (found by bisection), never more.
import type { CommitmentSpec, PlanningProblem, Schedule } from '../domain/planning.ts';
import { siteImportKw } from '../domain/planning.ts';

export interface CurvePoint {
  readonly reductionKw: number;
  readonly maxImportKw: number;
  readonly costGbp: number;
  readonly opportunityCostGbp: number;
  /** Opportunity cost per MWh of reduction (reductionKw × window hours). */
  readonly opportunityCostGbpPerMwh: number;
}

export interface FlexibilityCurve {
  readonly site: string;
  readonly fromSlot: number;
  readonly toSlot: number;
  /** The current plan's lowest import in the window: the level reductions are measured from. */
  readonly baselineKw: number;
  readonly baseCostGbp: number;
  readonly points: readonly CurvePoint[];
}

export type Plan = (problem: PlanningProblem) => Promise<Schedule>;

const withCommitment = (problem: PlanningProblem, c: CommitmentSpec): PlanningProblem => ({ ...problem, commitments: [...problem.commitments, c] });

export const flexibilityCurve = async (
  plan: Plan, problem: PlanningProblem, site: string, fromSlot: number, toSlot: number, levels = 5,
): Promise<FlexibilityCurve | { readonly infeasible: string }> => {
  if (fromSlot < 0 || toSlot > problem.slots || fromSlot >= toSlot) return { infeasible: `window [${fromSlot}, ${toSlot}) is not inside the horizon of ${problem.slots} slots` };
  const base = await plan(problem);
  if (base.status === 'infeasible') return { infeasible: base.reason ?? 'the problem has no plan even without a commitment' };
  const imports = siteImportKw(problem, base, site).slice(fromSlot, toSlot);
  const baselineKw = Math.min(...imports);
  const hoursInWindow = ((toSlot - fromSlot) * problem.slotMinutes) / 60;
  const tryLevel = async (reductionKw: number): Promise<CurvePoint | undefined> => {
    const maxImportKw = Math.max(0, baselineKw - reductionKw);
    const s = await plan(withCommitment(problem, { site, fromSlot, toSlot, maxImportKw }));
    if (s.status === 'infeasible') return undefined;
    const opportunityCostGbp = s.costGbp - base.costGbp;
    const mwh = (reductionKw * hoursInWindow) / 1000;
    return { reductionKw, maxImportKw, costGbp: s.costGbp, opportunityCostGbp, opportunityCostGbpPerMwh: mwh > 0 ? opportunityCostGbp / mwh : 0 };
  };
  // The largest deliverable reduction, by bisection to 1 % of the baseline (or 1 kW).
  let best = await tryLevel(baselineKw);
  if (!best) {
    const tolerance = Math.max(1, baselineKw * 0.01);
    let lo = 0;
    let hi = baselineKw;
    while (hi - lo > tolerance) {
      const mid = (lo + hi) / 2;
      const p = await tryLevel(mid);
      if (p) { lo = mid; best = p; } else hi = mid;
    }
  }
  const maxReduction = best?.reductionKw ?? 0;
  const points: CurvePoint[] = [];
  for (let i = 1; i <= levels && maxReduction > 0; i++) {
    const level = Math.floor(((maxReduction * i) / levels) * 10) / 10;
    const p = i === levels && best ? best : await tryLevel(level);
    if (p) points.push(p);
  }
  return { site, fromSlot, toSlot, baselineKw, baseCostGbp: base.costGbp, points };
};
