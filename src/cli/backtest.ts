// `flexlon backtest`: the rolling-horizon backtest on the shipped GB data (issue 15; src/backtest,
// docs/backtest.md). Bad arguments are FLX_CLI_USAGE with what would be accepted; progress goes to
// stderr (one line redrawn on a terminal, plain lines otherwise); a stop keeps the checkpoints.
import { existsSync } from 'node:fs';
import { createPlanningSolver } from '../compose/solver.ts';
import { recordedSource } from '../compose/signals.ts';
import { NATIONAL_REGION_ID } from '../domain/regions.ts';
import { isSettlementDate, PERIOD_MS, settlementDayStart } from '../domain/settlement-day.ts';
import { FlexError } from '../errors.ts';
import { alibabaWorkload, FLEETS, SITE_CHOICES, SITE_IDS, type Fleet } from '../backtest/fleet.ts';
import { readAlibabaTrace } from '../sim/alibaba-pods.ts';
import { readFleetFile } from '../backtest/fleet-file.ts';
import { PRODUCTS, type ProductName } from '../backtest/product-calendar.ts';
import { againstFifo } from '../backtest/report-format.ts';
import { writeOutputs } from '../backtest/report.ts';
import { BACKTEST_PLANNER, DEFAULTS, type Progress } from '../backtest/run-options.ts';
import { datesBetween, DRAIN_DAYS, runBacktest } from '../backtest/run.ts';
import type { StrategySummary } from '../backtest/metrics.ts';
import { STRATEGIES, type StrategyName } from '../backtest/strategies.ts';
import { CAPTURE_TARGET, type Targets } from '../backtest/targets.ts';
import { parseFlags, type Command, type Output } from './command.ts';
import { makeDirs } from '../make-dirs.ts';

const USAGE = `Usage: flexlon backtest --from YYYY-MM-DD --to YYYY-MM-DD --out DIR [options]

Replays the shipped GB grid data (NESO national carbon intensity, Elexon market index price) day by
day and settlement period by settlement period, with each strategy deciding only on what was known
at each decision, and writes results.json, one CSV per strategy, report.html and SVG plots to DIR.
Stopped (Ctrl-C), it resumes from the checkpoints in DIR when run again with the same arguments.

Options:
  --from, --to DATE      settlement days to replay (inclusive; the shipped data covers 2022-11-25
                         to 2024-09-30, so --to is at most 2024-09-26: two drain days and the 48 h
                         horizon need data after it)
  --sites LIST           simulated sites, from ${SITE_CHOICES.join(',')} (default ${SITE_IDS.join(',')};
                         cdf has a 400 kWh, 200 kW battery behind its meter)
  --fleet busy|idle|FILE site profile: busy (each day's jobs drawn to 85 % of the pool's GPU-hours,
                         86.7 % offered) or idle (36 jobs a day for lon's 32 nodes, scaled by nodes), or
                         a JSON fleet file of your own sites with the busy profile's jobs (then no
                         --sites; docs/backtest.md, "Your own fleet")
  --workload synthetic|alibaba:PATH
                         the sites' jobs: synthetic (default: the fleet profile's) or drawn from the
                         pods of an Alibaba GPU 2023 (openb) pod list at PATH, the CSV or its folder,
                         sized to the fleet's fill (docs/backtest.md, "Alibaba pods")
  --strategies LIST      from ${STRATEGIES.join(',')} (default all)
  --products LIST        flexibility products flexlon and the oracle offer, from ${PRODUCTS.join(',')}
                         (default none): DFS live events, DSO peak reduction, P415 deviation
  --seed N               workload and forecast-noise seed (default 1)
  --carbon-price GBP     £ per tonne of CO2 in the objective (default ${DEFAULTS.carbonGbpPerTonne})
  --full-plan-every N    flexlon: a fresh plan every N periods, carried in between (default
                         ${DEFAULTS.fullPlanEvery}; the oracle daily, every 6 h at an uncontended site)
  --caps on|off          flexlon and the oracle cap running jobs' GPUs at sites that are not
                         contended (default on; docs/backtest.md, "GPU power caps")
  --moves on|off         flexlon and the oracle move late waiting jobs to another site of the same
                         node kind with room for them, at £1 + £0.10 per GPU a move (default off;
                         docs/backtest.md, "Site moves")
  --oracle-arrivals horizon|none
                         what the oracle foresees of arrivals (default horizon: every job submitted
                         within its 48 h horizon; none: only those submitted so far, so it foresees
                         the outturn signals alone, which on the idle year plans better;
                         docs/backtest.md, "The oracle without arrivals")
  --capacity-value SHARE flexlon's value of later room on a contended site, as a share of the
                         lateness price (default ${DEFAULTS.capacityValueShare}; 0: none; docs/backtest.md, "Capacity value")
  --out DIR              output folder (created; holds the checkpoints)`;

const usage = (msg: string): never => {
  throw new FlexError('FLX_CLI_USAGE', `${msg}\n\n${USAGE}`);
};

const listOf = <T extends string>(raw: string | undefined, allowed: readonly T[], what: string): T[] => {
  if (raw === undefined) return [...allowed];
  const items = raw.split(',').map((s) => s.trim());
  for (const s of items) if (!allowed.includes(s as T)) usage(`--${what}: "${s}" is not one of ${allowed.join(', ')}`);
  if (new Set(items).size !== items.length || items.length === 0) usage(`--${what}: list each once`);
  return items as T[];
};

const intOf = (raw: string | undefined, flag: string, dflt: number, min: number): number => {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) usage(`${flag} must be a whole number ≥ ${min}, got "${raw}"`);
  return n;
};

const progressLine = (p: Progress, startedMs: number, nowMs: number): string => {
  const done = p.periodsDone / p.periods;
  const simulated = p.day - p.resumedDays;
  const perDay = simulated > 0 ? (nowMs - startedMs) / simulated : 0;
  const eta = Math.round((perDay * (p.days - p.day)) / 1000);
  return `backtest ${p.date}: day ${p.day}/${p.days}, period ${p.periodsDone}/${p.periods} (${(done * 100).toFixed(1)} %), jobs ${p.jobsFinished} finished, ${p.jobsOpen} open; ETA ${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s`;
};

const gbp = (x: number): string => `£${Math.round(x).toLocaleString('en-GB')}`;

/**
 * The terminal's summary: each strategy's £, carbon, lateness and objective (what report.html's
 * first table gives), then flexlon against fifo in words, so a run where flexlon lost reads so.
 */
export const summaryLines = (s: Readonly<Record<string, StrategySummary>>): string[] => {
  const rows = Object.entries(s).map(([name, x]) => [
    name,
    gbp(x.energyGbp),
    x.tCo2.toFixed(1),
    `£${x.gbpPerGpuHour.toFixed(4)}`,
    x.gCo2PerGpuHour.toFixed(1),
    `${(x.slo.deadlinesMetShare * 100).toFixed(1)} %`,
    gbp(x.latenessGbp),
    gbp(x.objectiveGbp),
  ]);
  const head = ['strategy', '£ energy', 'tCO2', '£/GPU-h', 'gCO2/GPU-h', 'deadlines met', 'lateness', 'objective'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), ...rows.map(line)];
  const [fl, fifo] = [s.flexlon, s.fifo];
  if (fl && fifo) out.push(`${againstFifo(fl, fifo)}, report.html says more`);
  // Flexibility revenue is reported beside the bill, not netted into it (docs/backtest.md,
  // "Flexibility products"), so it has its own line; only strategies that offered have any.
  const pounds = (x: number) =>
    `${x < 0 ? '−' : ''}£${Math.abs(x).toLocaleString('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  const earned = Object.entries(s).flatMap(([name, x]) => {
    const f = (x as FlexibilityOf).flexibility;
    // fifo, run-now and gsf-best-window make no offers (products.ts): no line of zeros for them.
    if (!f || !Object.values(f.byProduct).some((r) => r.offers > 0)) return [];
    const parts = Object.entries(f.byProduct).map(([p, r]) => `${p} ${pounds(r.revenueGbp)}`);
    return [`${name} ${pounds(f.revenueGbp)} (${parts.join(', ')})`];
  });
  if (earned.length > 0) out.push(`flexibility revenue, beside the bill (not in £ energy): ${earned.join('; ')}`);
  // What was delivered of what was committed, beside the revenue: a week's run delivered 34 % of its
  // commitments while the terminal showed only £ (a new user found it in results.json). Offers made
  // on a BL01 of fewer days than it wants (the run's first days) are counted, since they often miss.
  for (const [name, x] of Object.entries(s)) {
    const f = (x as FlexibilityOf).flexibility;
    const a = f?.offerAccuracy?.withRecalibration;
    if (!f || !a || a.offers === 0) continue;
    const thin = (f.offers ?? []).filter(
      (o) => o.committedKw.recalibrated > 0 && o.baselineDays.used < o.baselineDays.wanted,
    ).length;
    out.push(
      `${name} delivered ${a.deliveredMwh.toFixed(3)} MWh of ${a.committedMwh.toFixed(3)} MWh committed in ${a.offers} offers (${a.committedMwh > 0 ? ((a.deliveredMwh / a.committedMwh) * 100).toFixed(0) : '0'} %); ${Math.round((a.deliveredAtLeast95Share ?? 0) * a.offers)} of them delivered at least 95 %${thin > 0 ? `; ${thin} made on a BL01 of fewer days than it wants (10 working, 4 non-working: a run's first weeks), which reads the site's usual import less well` : ''}`,
    );
  }
  return out;
};

/** What the products add to a strategy's summary in results.json (report-products.ts). */
interface FlexibilityOf {
  readonly flexibility?: {
    readonly revenueGbp: number;
    readonly byProduct: Record<string, { readonly revenueGbp: number; readonly offers: number }>;
    readonly offerAccuracy?: {
      readonly withRecalibration: {
        readonly offers: number;
        readonly committedMwh: number;
        readonly deliveredMwh: number;
        readonly deliveredAtLeast95Share: number | null;
      };
    };
    readonly offers?: readonly {
      /** As results.json has it (report-products.ts flexibilityOf): with and without recalibration. */
      readonly committedKw: { readonly recalibrated: number; readonly raw: number };
      readonly baselineDays: { readonly used: number; readonly wanted: number };
    }[];
  };
}

const share = (x: number): string => `${(x * 100).toFixed(1)} %`;

/**
 * The targets in words, each met or not and by how much (targets.ts computes them; report.html
 * explains them). The JSON line after them is for scripts.
 */
export const targetLines = (t: Targets): string[] => {
  const out: string[] = [];
  if (t.oracleIsBound === false)
    out.push(
      "oracle: NO BOUND on this run (its objective is above flexlon's, or it left more work open), so no share of its saving judges flexlon; report.html gives the proven lower bound",
    );
  if (t.flexlonCaptureShare !== null) {
    const verdict =
      t.captureAtLeast95 === null
        ? 'not judged: the oracle is no bound, or flexlon saved more than it'
        : t.captureAtLeast95
          ? 'target 95 %: met'
          : `target 95 %: MISSED by ${((CAPTURE_TARGET - t.flexlonCaptureShare) * 100).toFixed(1)} points`;
    const obj =
      t.flexlonObjectiveCaptureShare === null
        ? ''
        : `; ${share(t.flexlonObjectiveCaptureShare)} of its objective saving`;
    out.push(
      `captured: flexlon ${share(t.flexlonCaptureShare)} of the oracle's £ + carbon saving over fifo (${verdict})${obj}`,
    );
  }
  if (t.flexlonBeatsGsf) {
    const w = (b: boolean) => (b ? 'lower' : 'NOT lower');
    out.push(
      `against gsf-best-window: flexlon's £ per GPU-hour ${w(t.flexlonBeatsGsf.gbpPerGpuHour)}, gCO2 per GPU-hour ${w(t.flexlonBeatsGsf.gCo2PerGpuHour)}`,
    );
  }
  if (t.hardSloMet !== null) out.push(`hard SLOs (must-start jobs): ${t.hardSloMet ? 'all met' : 'NOT all met'}`);
  return out;
};

export const backtestCommand: Command = {
  name: 'backtest',
  summary: 'replay the GB grid data against fifo, run-now, gsf-best-window, flexlon and the oracle',
  usage: USAGE,
  async run(argv: readonly string[], io: Output, signal: AbortSignal): Promise<number> {
    const { values: v } = parseFlags(
      argv,
      {
        from: { type: 'string' },
        to: { type: 'string' },
        sites: { type: 'string' },
        fleet: { type: 'string' },
        workload: { type: 'string' },
        strategies: { type: 'string' },
        products: { type: 'string' },
        seed: { type: 'string' },
        'carbon-price': { type: 'string' },
        'full-plan-every': { type: 'string' },
        'capacity-value': { type: 'string' },
        caps: { type: 'string' },
        moves: { type: 'string' },
        'oracle-arrivals': { type: 'string' },
        out: { type: 'string' },
      },
      USAGE,
    );
    if (!v.from || !v.to || !v.out) return usage('--from, --to and --out are required');
    for (const [flag, d] of [
      ['--from', v.from],
      ['--to', v.to],
    ] as const)
      if (!isSettlementDate(d))
        usage(
          `${flag} must be a calendar date written YYYY-MM-DD, got "${d}"${/^\d{4}-\d{2}-\d{2}$/.test(d) ? ' (no such day)' : ''}`,
        );
    if (v.to < v.from) usage(`--to (${v.to}) is before --from (${v.from})`);
    const named = FLEETS.includes((v.fleet ?? 'busy') as Fleet);
    // Anything but a profile's name is a fleet file; one that cannot be read or is wrong is
    // FLX_CONFIG_INVALID naming the field (fleet-file.ts).
    if (!named && !existsSync(v.fleet as string))
      usage(`--fleet must be busy, idle or a fleet file, got "${v.fleet}" (no such file)`);
    const fleetFile = named ? undefined : readFleetFile(v.fleet as string);
    const fleet: Fleet = named ? ((v.fleet ?? 'busy') as Fleet) : 'busy';
    if (fleetFile && v.sites !== undefined)
      usage('--sites picks from the demo sites; with --fleet FILE the file lists the sites');
    const sites = fleetFile
      ? fleetFile.sites.map((s) => s.spec.id)
      : v.sites === undefined
        ? [...SITE_IDS]
        : listOf(v.sites, SITE_CHOICES, 'sites');
    const workloadArg = v.workload ?? 'synthetic';
    if (workloadArg !== 'synthetic' && !/^alibaba:./.test(workloadArg))
      usage(`--workload must be synthetic or alibaba:PATH, got "${workloadArg}"`);
    // A pod list that cannot be read or holds no usable pod is FLX_CONFIG_INVALID naming it.
    const trace = workloadArg === 'synthetic' ? undefined : readAlibabaTrace(workloadArg.slice('alibaba:'.length));
    const strategies = listOf<StrategyName>(v.strategies, STRATEGIES, 'strategies');
    const products = v.products === undefined ? [] : listOf<ProductName>(v.products, PRODUCTS, 'products');
    const seed = intOf(v.seed, '--seed', 1, 0);
    const fullPlanEvery = intOf(v['full-plan-every'], '--full-plan-every', DEFAULTS.fullPlanEvery, 1);
    const carbon = v['carbon-price'] === undefined ? DEFAULTS.carbonGbpPerTonne : Number(v['carbon-price']);
    if (!(carbon >= 0 && Number.isFinite(carbon))) usage(`--carbon-price must be ≥ 0, got "${v['carbon-price']}"`);
    const share = v['capacity-value'] === undefined ? DEFAULTS.capacityValueShare : Number(v['capacity-value']);
    if (!(share >= 0 && share <= 1))
      usage(`--capacity-value must be a share from 0 to 1, got "${v['capacity-value']}"`);

    const capsArg = v.caps ?? 'on';
    if (capsArg !== 'on' && capsArg !== 'off') usage(`--caps must be on or off, got "${capsArg}"`);
    const movesArg = v.moves ?? 'off';
    if (movesArg !== 'on' && movesArg !== 'off') usage(`--moves must be on or off, got "${movesArg}"`);
    const arrivalsArg = v['oracle-arrivals'] ?? 'horizon';
    if (arrivalsArg !== 'horizon' && arrivalsArg !== 'none')
      usage(`--oracle-arrivals must be horizon or none, got "${arrivalsArg}"`);

    const { history } = recordedSource({ kind: 'shipped' });
    const span = history.span(NATIONAL_REGION_ID, 'carbonForecast');
    const last = datesBetween(v.to, v.to, DRAIN_DAYS + 1).at(-1) as string;
    const needTo = settlementDayStart(last) + DEFAULTS.horizon * PERIOD_MS;
    const [dataFrom, dataTo] = span ? [span.from, span.to] : [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    const covers = span
      ? `the shipped data covers ${new Date(dataFrom).toISOString().slice(0, 10)} to ${new Date(dataTo).toISOString().slice(0, 16)}Z`
      : 'no carbon forecast is shipped';
    if (settlementDayStart(v.from) < dataFrom)
      usage(
        `${covers}; --from ${v.from} is before it: start on ${span ? new Date(dataFrom).toISOString().slice(0, 10) : '?'} or later`,
      );
    if (needTo > dataTo + PERIOD_MS)
      usage(
        `${covers}; --to ${v.to} needs data until ${new Date(needTo).toISOString().slice(0, 16)}Z (two drain days and the 48 h horizon): end two days and more before the data does`,
      );
    try {
      makeDirs(v.out);
    } catch (e) {
      usage(`--out ${v.out} cannot be used as a folder: ${(e as Error).message}`);
    }
    const solver = createPlanningSolver(BACKTEST_PLANNER);
    const tty = process.stderr.isTTY === true;
    const started = Date.now();
    const options = {
      from: v.from,
      to: v.to,
      sites,
      fleet,
      ...(fleetFile ? { fleetFile } : {}),
      ...(trace
        ? {
            workload: alibabaWorkload(trace, fleet, seed),
            workloadName: `alibaba:${trace.path} (${trace.pods.length} pods of ${trace.rows})`,
          }
        : {}),
      strategies,
      products,
      seed,
      out: v.out,
      history,
      solver,
      fullPlanEvery,
      carbonGbpPerTonne: carbon,
      capacityValueShare: share,
      caps: capsArg === 'on',
      moves: movesArg === 'on',
      ...(arrivalsArg === 'none' ? { oracleArrivals: 'none' as const } : {}),
      signal,
      onDay: (p: Progress) => {
        const line = progressLine(p, started, Date.now());
        if (tty) process.stderr.write(`\r${line}\x1b[K${p.day === p.days ? '\n' : ''}`);
        else io.err(line);
      },
    };
    try {
      const out = await runBacktest(options);
      const results = writeOutputs(options, out) as { targets: Targets; strategies: Record<string, StrategySummary> };
      io.out(
        `backtest: wrote ${v.out}/results.json, report.html, ${strategies.length} CSV files and ${2 + (products.length ? 1 : 0) + (strategies.includes('fifo') && strategies.length > 1 ? 1 : 0)} SVG plots`,
      );
      for (const line of summaryLines(results.strategies)) io.out(line);
      for (const line of targetLines(results.targets)) io.out(line);
      io.out(`targets: ${JSON.stringify(results.targets)}`);
      return 0;
    } catch (e) {
      // Stopped (Ctrl-C, SIGTERM): every finished day is checkpointed, so say how to go on.
      if (signal.aborted || (e as Error).name === 'AbortError')
        io.err(
          `flexlon backtest: the days finished so far are checkpointed in ${v.out}; run the same command again to resume from there`,
        );
      throw e;
    } finally {
      await solver.close();
    }
  },
};
