// `npm run bench:backtest -- [days...]`: times the backtest (src/backtest) of the three busy sites
// with every strategy on the shipped data, from 2023-02-01, for each length given in days (default
// 7 and 30), and prints one JSON line per length: wall seconds, seconds per simulated day (the drain
// days included), CPU seconds, peak RSS, the load while it ran, and the year extrapolated from it
// (365 days + 2 drain days at the same rate). BENCH_FROM, BENCH_FLEET (busy|idle) and
// BENCH_FULL_PLAN_EVERY (default 48) override the defaults; BENCH_STRATEGIES and BENCH_PRODUCTS
// (flexibility products, default none) are comma lists.
// The extrapolation assumes each day costs what the sample's days cost. Where a strategy's queue
// grows (jobs still open after the drain days), later days' plans hold more jobs and cost more:
// `extrapolationLow` is then true. On the calibrated busy fleet January extrapolated 256 s of CPU
// for a year that took 532 s at 5231460 (docs/benchmarks.md), flexlon and the oracle keeping up less
// and less.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPlanningSolver } from '../src/compose/solver.ts';
import { recordedSource } from '../src/compose/signals.ts';
import type { Fleet } from '../src/backtest/fleet.ts';
import type { ProductName } from '../src/backtest/product-calendar.ts';
import { writeOutputs } from '../src/backtest/report.ts';
import { BACKTEST_PLANNER } from '../src/backtest/run-options.ts';
import { datesBetween, DRAIN_DAYS, runBacktest } from '../src/backtest/run.ts';
import { STRATEGIES, type StrategyName } from '../src/backtest/strategies.ts';

const lengths = process.argv.slice(2).map(Number);
const from = process.env.BENCH_FROM ?? '2023-02-01';
const fleet = (process.env.BENCH_FLEET ?? 'busy') as Fleet;
const fullPlanEvery = Number(process.env.BENCH_FULL_PLAN_EVERY ?? 48);
const strategies = (process.env.BENCH_STRATEGIES?.split(',') ?? [...STRATEGIES]) as StrategyName[];
const products = (process.env.BENCH_PRODUCTS?.split(',') ?? []) as ProductName[];
const { history } = recordedSource({ kind: 'shipped' });

for (const days of lengths.length > 0 ? lengths : [7, 30]) {
  const to = datesBetween(from, from, days - 1).at(-1) as string;
  const out = mkdtempSync(join(tmpdir(), 'flexlon-bench-backtest-'));
  const solver = createPlanningSolver(BACKTEST_PLANNER);
  const load0 = loadavg()[0] as number;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const options = {
    from,
    to,
    sites: ['lon', 'man', 'edi'],
    fleet,
    strategies,
    products,
    seed: 1,
    out,
    history,
    solver,
    fullPlanEvery,
  };
  const run = await runBacktest(options);
  const results = writeOutputs(options, run) as {
    strategies: Record<
      string,
      {
        energyGbp: number;
        tCo2: number;
        gpuHours: number;
        gbpPerGpuHour: number;
        gCo2PerGpuHour: number;
        latenessGbp: number;
        objectiveGbp: number;
        captureShare?: number | null;
        slo: { jobsFinished: number; jobsOpenAtEnd: number; deadlinesMetShare: number };
      }
    >;
    targets: unknown;
  };
  const seconds = (performance.now() - t0) / 1000;
  // CPU time of this process, all threads (the HiGHS worker too): less sensitive than wall time to
  // what else the shared machine runs.
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await solver.close();
  rmSync(out, { recursive: true, force: true });
  const simulated = days + DRAIN_DAYS;
  console.log(
    JSON.stringify({
      bench: 'backtest',
      from,
      to,
      fleet,
      fullPlanEvery,
      sites: 3,
      strategies,
      days,
      seconds: Math.round(seconds * 10) / 10,
      secondsPerDay: Math.round((seconds / simulated) * 100) / 100,
      cpuSeconds: Math.round(cpuSeconds * 10) / 10,
      yearCpuSecondsExtrapolated: Math.round((cpuSeconds / simulated) * (365 + DRAIN_DAYS)),
      yearSecondsExtrapolated: Math.round((seconds / simulated) * (365 + DRAIN_DAYS)),
      extrapolationLow: Object.values(results.strategies).some((s) => s.slo.jobsOpenAtEnd > 0),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      loadavg1mBefore: Math.round(load0 * 100) / 100,
      loadavg1mAfter: Math.round((loadavg()[0] as number) * 100) / 100,
      summary: Object.fromEntries(
        Object.entries(results.strategies).map(([n, s]) => [
          n,
          {
            energyGbp: Math.round(s.energyGbp),
            tCo2: Math.round(s.tCo2 * 100) / 100,
            gpuHours: Math.round(s.gpuHours),
            gbpPerGpuHour: Math.round(s.gbpPerGpuHour * 10000) / 10000,
            gCo2PerGpuHour: Math.round(s.gCo2PerGpuHour * 10) / 10,
            latenessGbp: Math.round(s.latenessGbp),
            jobsFinished: s.slo.jobsFinished,
            jobsOpenAtEnd: s.slo.jobsOpenAtEnd,
            deadlinesMet: Math.round(s.slo.deadlinesMetShare * 1000) / 1000,
            objectiveGbp: Math.round(s.objectiveGbp),
            captureShare: s.captureShare,
          },
        ]),
      ),
      targets: results.targets,
    }),
  );
}
