// The backtest's outputs in DIR: results.json (schema flexlon-backtest/1, docs/backtest.md), one
// CSV per strategy (a row per settlement period), the plots as SVG files, and report.html with the
// same plots inline (opens offline). Nothing here reads a clock: the same run gives the same bytes.
// This file assembles them; each part is written by its own module: the assumptions
// (report-assumptions.ts), the CSVs (report-csv.ts), the plots (report-charts.ts), the figures
// (report-figures.ts), the proven bound (report-bound.ts) and the flexibility products
// (report-products.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDay, type DayChunk } from './checkpoint.ts';
import { summarise, type DailyRow, type StrategySummary } from './metrics.ts';
import type { ProductName } from './product-calendar.ts';
import type { ProductResults } from './product-settlement.ts';
import { DEFAULTS, ORACLE_FULL_PLAN_EVERY, type BacktestOptions } from './run-options.ts';
import { DRAIN_DAYS, type RunOutput } from './run.ts';
import { gapsOf } from './signal-view.ts';
import { esc } from './svg.ts';
import { againstFifo } from './report-format.ts';
import type { StrategyName } from './strategies.ts';
import { targetsHtml, targetsOf, type Targets } from './targets.ts';
import { assumptionsOf, notDoneOf } from './report-assumptions.ts';
import { boundHtml, boundOf } from './report-bound.ts';
import { charts } from './report-charts.ts';
import { csvOf } from './report-csv.ts';
import { batteriesOf, batteryEndsOf, figuresTable, movesLine, peaksBySite, sloTable } from './report-figures.ts';
import { flexibilityOf, productHtmlOf, productResultsOf, productsOf, revenueSvgOf } from './report-products.ts';

export const RESULTS_SCHEMA = 'flexlon-backtest/1';

/** What every part of the outputs is made from: the saved days, their summary and the products settled. */
interface Figures {
  readonly names: readonly StrategyName[];
  readonly chunks: readonly DayChunk[];
  /** £/tCO2 that values carbon. */
  readonly carbon: number;
  readonly summary: Record<string, StrategySummary>;
  readonly daily: DailyRow[];
  readonly products: readonly ProductName[];
  readonly productRes: Record<string, ProductResults> | undefined;
}

export const writeOutputs = (o: BacktestOptions, out: RunOutput): Record<string, unknown> => {
  const f = figuresOf(o, out);
  const strategies = strategiesOf(f, out);
  const targets = targetsOf(f.summary);
  const bound = boundOf(out, f.summary);
  const results = resultsOf(o, out, f, strategies, targets, bound);
  writeFileSync(join(o.out, 'results.json'), JSON.stringify(results, null, 1) + '\n');
  // A battery's columns where a site has one (every strategy's file alike, an idle battery's zeros too).
  const battery = out.batteries;
  for (const n of f.names) writeFileSync(join(o.out, `${n}.csv`), csvOf(f.chunks, n, o.sites, out, battery));
  const svg = writePlots(o, out, f);
  writeFileSync(join(o.out, 'report.html'), reportHtml(o, out, f, targets, bound, svg));
  return results;
};

const figuresOf = (o: BacktestOptions, out: RunOutput): Figures => {
  const names = o.strategies;
  const chunks = out.days.map((_, k) => loadDay(o.out, k));
  const carbon = o.carbonGbpPerTonne ?? DEFAULTS.carbonGbpPerTonne;
  const { summary, daily } = summarise(chunks, names, out.open, carbon, out.batteryEnd);
  const products = o.products ?? [];
  const productRes = products.length ? productResultsOf(chunks, names, out, products) : undefined;
  return { names, chunks, carbon, summary, daily, products, productRes };
};

/** results.json's `strategies`: each one's summary, products, forecast reads and plans. */
const strategiesOf = ({ names, summary, productRes }: Figures, out: RunOutput) =>
  Object.fromEntries(
    names.map((n) => [
      n,
      {
        ...summary[n],
        ...(productRes?.[n] ? { flexibility: flexibilityOf(productRes[n]) } : {}),
        lookahead: out.audits[n]?.reads
          ? { reads: out.audits[n].reads, latestIssueAfterDecisionMs: Math.max(0, out.audits[n].maxLeadMs) }
          : { reads: 0, note: n === 'oracle' ? 'perfect foresight by design' : 'reads no forecast' },
        ...(out.plannerStats[n] ? { plans: out.plannerStats[n] } : {}),
      },
    ]),
  );

const resultsOf = (
  o: BacktestOptions,
  out: RunOutput,
  f: Figures,
  strategies: ReturnType<typeof strategiesOf>,
  targets: Targets,
  bound: ReturnType<typeof boundOf>,
) => ({
  schema: RESULTS_SCHEMA,
  run: {
    from: o.from,
    to: o.to,
    drainDays: DRAIN_DAYS,
    sites: o.sites,
    fleet: o.fleet,
    ...(o.fleetFile ? { fleetFile: o.fleetFile.path } : {}),
    workload: o.workloadName ?? 'synthetic',
    strategies: f.names,
    seed: o.seed,
    horizonPeriods: o.horizon ?? DEFAULTS.horizon,
    fullPlanEvery: o.fullPlanEvery ?? DEFAULTS.fullPlanEvery,
    oracleFullPlanEvery: ORACLE_FULL_PLAN_EVERY,
    oracleBackfill: 'contended',
    oracleArrivals: o.oracleArrivals ?? 'horizon',
    carbonGbpPerTonne: f.carbon,
    capacityValueShare: o.capacityValueShare ?? DEFAULTS.capacityValueShare,
    caps: o.caps ?? true,
    moves: o.moves ?? false,
    periods: out.periods,
  },
  assumptions: assumptionsOf(o),
  ...(f.products.length ? { products: productsOf(f.products, f.productRes, out) } : {}),
  dataGaps: gapsOf(o.history, out.data, out.firstPeriod, out.firstPeriod + out.periods),
  strategies,
  targets,
  bound,
  notDone: notDoneOf(o),
  daily: f.daily,
});

/** The plots as SVG files: daily.svg, week.svg, savings.svg and, with products, revenue.svg. */
const writePlots = (o: BacktestOptions, out: RunOutput, f: Figures) => {
  const svg = charts(f.chunks, f.names, out, f.carbon);
  writeFileSync(join(o.out, 'daily.svg'), svg.daily);
  writeFileSync(join(o.out, 'week.svg'), svg.week);
  if (svg.savings) writeFileSync(join(o.out, 'savings.svg'), svg.savings.svg);
  const revenueSvg = revenueSvgOf(f.names, f.products, f.productRes);
  if (revenueSvg) writeFileSync(join(o.out, 'revenue.svg'), revenueSvg);
  return { ...svg, revenueSvg };
};

/** report.html: the figures, targets and bound, the products, the plots inline, the assumptions. */
const reportHtml = (
  o: BacktestOptions,
  out: RunOutput,
  { carbon, summary, products, productRes }: Figures,
  targets: Targets,
  bound: ReturnType<typeof boundOf>,
  svg: ReturnType<typeof writePlots>,
): string => {
  const productHtml = productHtmlOf(productRes, svg.revenueSvg, products, out);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>FlexLon backtest ${o.from} to ${o.to}</title>
<style>body{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child{text-align:left}li{font-size:13px}</style></head><body>
<h1>FlexLon backtest</h1>
<p>${o.from} to ${o.to} (+${DRAIN_DAYS} drain days), sites ${o.sites.join(', ')}, ${o.fleetFile ? `fleet file ${esc(o.fleetFile.path)}` : `${o.fleet} fleet`}, ${o.workloadName ? `jobs drawn from ${esc(o.workloadName)}` : o.fleetFile ? "the busy profile's jobs" : "the profile's jobs"}, seed ${o.seed}; carbon valued at £${carbon}/t; flexibility products: ${products.length ? products.join(', ') : 'none'}. Schema ${RESULTS_SCHEMA}; figures in results.json.</p>
${figuresTable(summary, out.batteries, targets.oracleIsBound)}
${summary.flexlon && summary.fifo ? `<p><strong>${esc(againstFifo(summary.flexlon, summary.fifo))}.</strong></p>` : ''}
<p>£/GPU-h: the bill for the sites' whole import (training and inference pools, idle included, × PUE)${out.batteries ? ", with battery wear and the worth of the energy the batteries end the run without (at the run's mean price)" : ''}, per GPU-hour of work run at full speed. Peak kW: the fleet's highest half-hourly import, all sites together; per site (<code>peakImportKwBySite</code>): ${peaksBySite(summary, o.sites)}.${movesLine(summary, o)}${batteriesOf(o)}${batteryEndsOf(summary)}</p>
${targetsHtml(
  targets,
  summary,
  bound.objectiveGbp === null
    ? `the bound was not computed (${bound.reason})`
    : (bound.shareOfGapClosed.flexlon ??
        ((summary.flexlon?.slo.jobsOpenAtEnd ?? 0) > 0
          ? 'flexlon left work open, which the bound does not charge'
          : 'fifo did not run, or is at the bound')),
)}
${boundHtml(bound, o.moves ?? false)}
<h2>SLO attainment by class</h2><p>Classes by slack (release to deadline, less the run at full power): tight under 8 h, loose from 8 h.</p>${sloTable(summary)}
${productHtml}
<h2>Daily energy cost and emissions</h2>${svg.daily}
<h2>One week: fleet import against price and carbon</h2>${svg.week}
${svg.savings ? `<h2>Savings against fifo, day by day</h2><p>The bill + battery wear + carbon at £${carbon}/t below fifo's, per day (lateness and the batteries' end-of-run energy left out): ${svg.savings.text}.</p>${svg.savings.svg}` : ''}
<h2>Assumptions</h2><ul>${assumptionsOf(o)
    .map((a) => `<li>${a}</li>`)
    .join('')}</ul>
<h2>Not done</h2><ul>${notDoneOf(o)
    .map((a) => `<li>${a}</li>`)
    .join('')}</ul>
</body></html>
`;
};
