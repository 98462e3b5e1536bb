// `npm run bench:plan-repeat -- [FILES|DIR] [repeats=2]`: plans each planning problem (JSON files in the
// form `flexlon plan` reads, or `{problem}` wrappers) with the demo BPP's time-limited planner and
// with the work-bounded one (src/optimise/work.ts), each `repeats` times with a fresh solver, and
// prints one JSON line per mode: wall time, summed cost, how many problems gave a different
// schedule between repeats, and the largest work one solve used (to calibrate the limits).
// Without files it plans the fixtures in test/optimise/fixtures. BENCH_WORK='{"mipNodes":…}'
// overrides the work limits; BENCH_MODES=time,work picks the modes.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HighsClient } from '../src/adapters/solver-highs/client.ts';
import type { PlanningProblem } from '../src/domain/planning.ts';
import type { LpSolve } from '../src/optimise/lp.ts';
import { DEFAULT_PLANNER_OPTIONS, DEFAULT_WORK, planWithLp, type PlannerOptions } from '../src/optimise/planner.ts';

const args = process.argv.slice(2);
const repeats = Number(args.find((a) => /^\d+$/.test(a)) ?? 2);
const paths = args.filter((a) => !/^\d+$/.test(a));
const files = (paths.length > 0 ? paths : ['test/optimise/fixtures']).flatMap((p) =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => join(p, f))
    : [p],
);
const problems: PlanningProblem[] = files.flatMap((f) => {
  const raw = JSON.parse(readFileSync(f, 'utf8')) as unknown;
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((x) => ((x as { problem?: PlanningProblem }).problem ?? x) as PlanningProblem);
});

const work = { ...DEFAULT_WORK, ...(JSON.parse(process.env.BENCH_WORK ?? '{}') as object) };
// The demo's BPP planner (src/compose.ts BPP_PLANNER).
const demo: PlannerOptions = { ...DEFAULT_PLANNER_OPTIONS, timeLimitSeconds: 5, milpTimeLimitSeconds: 0.25 };
const modes: Record<string, PlannerOptions> = { time: demo, work: { ...demo, work } };
const chosen = (process.env.BENCH_MODES ?? 'time,work').split(',');

for (const mode of chosen) {
  const options = modes[mode];
  if (!options) throw new Error(`unknown mode ${mode}`);
  const runs: string[][] = [];
  const costs: number[] = [];
  let seconds = 0;
  const most = { iterations: 0, nodes: 0, solveSeconds: 0, milpSeconds: 0, safetyCapHits: 0 };
  for (let r = 0; r < repeats; r++) {
    const client = new HighsClient();
    await client.warm();
    const solve: LpSolve = async (model, o) => {
      const out = await client.solve(model, o);
      if (out.status === 'optimal' || out.status === 'limit') {
        most.iterations = Math.max(most.iterations, out.iterations ?? 0);
        most.nodes = Math.max(most.nodes, out.nodes ?? 0);
      }
      most.solveSeconds = Math.max(most.solveSeconds, out.seconds);
      if (model.integrality) most.milpSeconds = Math.max(most.milpSeconds, out.seconds);
      return out;
    };
    const plans: string[] = [];
    let cost = 0;
    for (const p of problems) {
      const started = performance.now();
      const s = await planWithLp(p, solve, {
        ...options,
        onStats: (st) => {
          most.safetyCapHits += st.safetyCapHits ?? 0;
        },
      });
      seconds += (performance.now() - started) / 1000;
      cost += s.costGbp;
      plans.push(JSON.stringify(s));
    }
    await client.close();
    runs.push(plans);
    costs.push(Math.round(cost * 100) / 100);
  }
  const differing = problems.filter((_, i) => runs.some((plans) => plans[i] !== runs[0]![i])).length;
  console.log(
    JSON.stringify({
      mode,
      problems: problems.length,
      repeats,
      secondsPerRun: Math.round((seconds / repeats) * 1000) / 1000,
      costGbpPerRun: costs,
      differing,
      ...most,
      ...(mode === 'work' ? { work } : {}),
    }),
  );
}
