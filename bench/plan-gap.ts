// Where the overloaded benchmark's gap lies: the heuristic planner (class LP, placement, local search
// and exchanges; no exact MILP) against the exact MILP solved to optimality on the same seeded
// overloaded instance (src/sim/planning-instance.ts, 125 % offered load), with the class LP's proven
// bound beside both. Prints one JSON line. Only small instances solve: 300 jobs took about 150 s.
// Usage: node --import tsx bench/plan-gap.ts [jobs=300] [milpSeconds=300] [seed=42]
import { createHighsSolver } from '../src/adapters/solver-highs/solver.ts';
import type { Schedule } from '../src/domain/planning.ts';
import { checkSchedule } from '../src/optimise/check.ts';
import { generatePlanningProblem } from '../src/sim/planning-instance.ts';

const jobs = Number(process.argv[2] ?? 300);
const seconds = Number(process.argv[3] ?? 300);
const seed = Number(process.argv[4] ?? 42);
const problem = generatePlanningProblem({ jobs, seed, overload: 1.25 });

const plan = async (milpMaxBinaries: number): Promise<{ schedule: Schedule; seconds: number }> => {
  const solver = createHighsSolver({ timeLimitSeconds: seconds, milpMaxBinaries, milpTimeLimitSeconds: seconds });
  await solver.client.warm();
  const started = performance.now();
  const schedule = await solver.plan(problem);
  const took = (performance.now() - started) / 1000;
  await solver.close();
  return { schedule, seconds: took };
};

const figures = (r: { schedule: Schedule; seconds: number }) => ({
  planner: r.schedule.planner,
  status: r.schedule.status,
  checked: r.schedule.status !== 'infeasible' && checkSchedule(problem, r.schedule).ok,
  seconds: Math.round(r.seconds * 100) / 100,
  costGbp: Math.round(r.schedule.costGbp * 100) / 100,
  energyCostGbp: Math.round((r.schedule.energyCostGbp ?? 0) * 100) / 100,
  latenessCostGbp: Math.round((r.schedule.latenessCostGbp ?? 0) * 100) / 100,
  lowerBoundGbp: Math.round(r.schedule.lowerBoundGbp * 100) / 100,
  lateJobs: r.schedule.late?.length ?? 0,
});

const heuristic = figures(await plan(-1));
const exact = figures(await plan(1_000_000));
const pct = (a: number, b: number) => Math.round(((a - b) / b) * 1e5) / 1e3;
console.log(
  JSON.stringify({
    jobs,
    seed,
    heuristic,
    exact,
    // Over the exact plan's cost (the optimum when its status is optimal).
    heuristicAboveExactPct: pct(heuristic.costGbp, exact.costGbp),
    exactAboveClassBoundPct: pct(exact.costGbp, heuristic.lowerBoundGbp),
  }),
);
