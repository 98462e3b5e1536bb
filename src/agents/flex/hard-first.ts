// Hard deadlines first, soft only when they cannot all hold: a Solver that plans a problem whose
// deferrable jobs have soft SLOs (problem version 2) as if their deadlines were hard, and falls back
// to the soft problem only when that has no plan. While the fleet can meet every deadline, the plan
// is the one it always was (the planner's exact paths work on hard windows); on a full fleet, or when
// a commitment or an offer being priced leaves too little room, the soft SLOs let work finish late
// at its lateness cost. Both plans are priced on the same objective (a hard plan has no lateness),
// so opportunity costs compare like with like (docs/cost-model.md).
import { withWorkMetrics, type PlanningProblem, type Schedule } from '../../domain/planning.ts';
import type { Solver } from '../../ports.ts';
import { checkSchedule, costFields } from '../../optimise/check.ts';

export const hardFirst = (solver: Solver): Solver => ({
  name: solver.name,
  // From a plan already made the problem's soft SLOs stand as they are: the re-plan moves only what
  // the new commitments force, at the same objective as the plan it starts from.
  ...(solver.planFrom ? { planFrom: solver.planFrom.bind(solver) } : {}),
  ...(solver.planCarried ? { planCarried: solver.planCarried.bind(solver) } : {}),
  ...(solver.background ? { background: () => hardFirst(solver.background!()) } : {}),
  ...(solver.planBatteries ? { planBatteries: solver.planBatteries.bind(solver) } : {}),
  async plan(problem: PlanningProblem): Promise<Schedule> {
    if (!problem.jobs.some((j) => j.slo?.kind === 'soft')) return solver.plan(problem);
    // Version 1 with every deadline hard; the jobs keep their move costs (check.ts charges them in either version).
    const hard = await solver.plan({ ...problem, version: 1, jobs: problem.jobs.map(({ slo: _slo, ...j }) => j) });
    if (hard.status === 'infeasible') return solver.plan(problem);
    // The hard plan is feasible for the soft problem (no job late); its proof of optimality and its
    // bound are the hard problem's, which do not hold for the soft one (lateness may be cheaper than
    // energy somewhere), so it is stated as feasible with no bound claimed. Its version 2 figures are
    // measured on the soft problem: a version 1 cost holds battery wear inside it, which version 2
    // states on its own (batteryWearGbp), so copying the cost into energyCostGbp failed the check
    // whenever a battery discharged (FLX_INTERNAL at an agent's report).
    const measured = checkSchedule(problem, { ...hard, version: 2 }, { reported: false });
    // No bound claimed: 0, or the plan's own cost where that is below 0 (negative prices).
    // Its work figures as version 2 states them (workDone beside work).
    return withWorkMetrics(problem, {
      ...hard,
      ...costFields(problem, measured),
      status: 'feasible',
      lowerBoundGbp: Math.min(0, measured.costGbp),
    });
  },
});
