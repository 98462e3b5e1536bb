// `npm run bench:plan`: plans seeded fleet instances (src/sim/planning-instance.ts) with the HiGHS
// class-LP planner and prints one JSON line per run: wall time, cost against the proven lower bound,
// carbon against the cap, LP size, and the peak memory of the process (RSS, which includes the
// worker thread's Wasm heap). Usage: node --import tsx bench/plan.ts [sizes=1000,10000,100000] [repeats=3]
// BENCH_WORK=default (or a JSON object of PlannerWork fields over the default) plans work-bounded
// (src/optimise/work.ts) instead of time-limited. BENCH_OVERLOAD=1.25 plans overloaded instances
// instead (offered load 125 % of the sites' capacity, soft deadlines; version 2 problems).
import { createHighsSolver } from '../src/adapters/solver-highs/solver.ts';
import { checkSchedule } from '../src/optimise/check.ts';
import { DEFAULT_WORK, type PlannerWork, type PlanStats } from '../src/optimise/planner.ts';
import { generatePlanningProblem } from '../src/sim/planning-instance.ts';

const sizes = (process.argv[2] ?? '1000,10000,100000').split(',').map(Number);
const repeats = Number(process.argv[3] ?? 3);
const timeLimitSeconds = Number(process.env.BENCH_TIME_LIMIT ?? 60);
const maxColumns = Number(process.env.BENCH_MAX_COLUMNS ?? 0) || undefined;
const overload = Number(process.env.BENCH_OVERLOAD ?? 0) || undefined;
const workEnv = process.env.BENCH_WORK;
const work: PlannerWork | undefined =
  workEnv === undefined || workEnv === ''
    ? undefined
    : { ...DEFAULT_WORK, ...(workEnv === 'default' ? {} : (JSON.parse(workEnv) as Partial<PlannerWork>)) };

let peakRss = 0;
const sample = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 20);
sample.unref();

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

for (const jobs of sizes) {
  const problem = generatePlanningProblem({ jobs, seed: 42, ...(overload ? { overload } : {}) });
  const runs: Record<string, unknown>[] = [];
  for (let r = 0; r < repeats; r++) {
    let stats: PlanStats | undefined;
    const solver = createHighsSolver({
      timeLimitSeconds,
      ...(maxColumns ? { maxColumns } : {}),
      ...(work ? { work } : {}),
      onStats: (s) => {
        stats = s;
      },
    });
    await solver.client.warm();
    peakRss = process.memoryUsage.rss();
    const started = performance.now();
    const s = await solver.plan(problem);
    const seconds = (performance.now() - started) / 1000;
    const verdict = s.status === 'infeasible' ? undefined : checkSchedule(problem, s);
    runs.push({
      seconds: Math.round(seconds * 1000) / 1000,
      status: s.status,
      planner: s.planner,
      checked: verdict?.ok ?? false,
      costGbp: Math.round(s.costGbp * 100) / 100,
      lowerBoundGbp: Math.round(s.lowerBoundGbp * 100) / 100,
      gapPct: s.costGbp > 0 ? Math.round(((s.costGbp - s.lowerBoundGbp) / s.costGbp) * 1e5) / 1e3 : 0,
      ...(s.version === 2
        ? {
            energyCostGbp: Math.round((s.energyCostGbp ?? 0) * 100) / 100,
            latenessCostGbp: Math.round((s.latenessCostGbp ?? 0) * 100) / 100,
            lateJobs: s.late?.length ?? 0,
            unfinishedJobs: s.late?.filter((l) => l.finishSlot === null).length ?? 0,
          }
        : {}),
      carbonKg: Math.round(s.carbonKg),
      carbonCapKg: problem.carbonCapKg,
      capBinds: s.carbonKg >= (problem.carbonCapKg ?? Infinity) * 0.995,
      peakRssMb: Math.round(Math.max(peakRss, process.memoryUsage.rss()) / 2 ** 20),
      wasmHeapMb: Math.round(solver.client.stats.peakHeapBytes / 2 ** 20),
      ...(s.status === 'infeasible' ? { reason: s.reason } : {}),
      stats,
    });
    await solver.close();
  }
  const secs = runs.map((x) => x.seconds as number);
  console.log(
    JSON.stringify({
      jobs,
      slots: problem.slots,
      sites: problem.sites.length,
      ...(overload ? { overload } : {}),
      ...(work ? { work } : {}),
      medianSeconds: median(secs),
      maxPeakRssMb: Math.max(...runs.map((x) => x.peakRssMb as number)),
      runs,
    }),
  );
}
