// The backtest's outputs in DIR: results.json (schema flexlon-backtest/1, docs/backtest.md), one
// CSV per strategy (a row per settlement period), the plots as SVG files, and report.html with the
// same plots inline (opens offline). Nothing here reads a clock: the same run gives the same bytes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { settlementPeriodOf, PERIOD_MS } from '../domain/settlement-day.ts';
import { chunkDaysFor } from './bound.ts';
import { loadDay, type DayChunk } from './checkpoint.ts';
import { summarise, type StrategySummary } from './metrics.ts';
import { fleetSites } from './fleet.ts';
import { DEFAULTS, DRAIN_DAYS, ORACLE_FULL_PLAN_EVERY, type BacktestOptions, type RunOutput } from './run.ts';
import { gapsOf, outturnCarbon, outturnPrice } from './signal-view.ts';
import { productRules, settleOffers, type MeterSource, type ProductResults, type SettledOffer } from './products.ts';
import type { ProductName } from './product-calendar.ts';
import { barsSvgOf, COLOURS, esc, svgOf, type Chart } from './svg.ts';
import { targetsHtml, targetsOf } from './targets.ts';

export const RESULTS_SCHEMA = 'flexlon-backtest/1';

export const ASSUMPTIONS = [
  'Carbon forecasts: NESO national stored forecast counts as issued at its period start; later periods get the vintage issued at the decision: stored value + seeded noise, lead-scaled to a day ahead, calibrated on 2023 (MAE 9.86 gCO2/kWh, lag-1 r 0.735). It is centred on the later stored value (no archive of NESO vintages ships).',
  "Price forecast (flexlon, gsf-best-window has none): the mean MID of the last 48 published half hours, plus the clock half hour's mean offset from its day's mean on the last 28 whole published local days of the same kind within 70 days (at most 28 weekdays and 20 weekend days, fewer in the data's first weeks: a run from 2022-11-25 starts with none and forecasts the last outturn until a whole day is published), plus £0.25/MWh per gCO2/kWh that its carbon forecast stands above the same level and shape of the stored carbon forecasts, plus the day's level (that forecast's error on the last published half hour, × e^(−lead / 6 h)); from outturns published (period ended) by the decision time only. The shipped data starts on 2022-11-25, so a run from 1 January 2023 has five weeks of history.",
  'Settlement: energy at the outturn Elexon MID (APXMIDP), gaps carried forward; carbon location-based at NESO national average intensity (actual; stored forecast where the actual is missing).',
  'Every site is priced and counted on the GB national series (the shipped regional data covers only winter 2023/24).',
  "Grid import = (training pool idle + running jobs + inference pool) IT power × PUE (1.3, or the fleet file's). Strategies decide at each period start; eligible jobs start then or the moment GPUs come free, and run at full power; a must-start job (no slack beyond its period: --workload alibaba's latency-sensitive pods) starts at the first period start after it arrives whatever the strategy decided, pre-empting running deferrable jobs where it does not fit (one that frees enough where there is one, else as few as it can, those with the most slack left first; a pre-empted job waits again with the work it had done: no work is lost, an assumption). Jobs submitted inside a period are seen at the next period start by every strategy.",
  "Busy fleet: each day's jobs are drawn until they ask for 85 % of the pool's GPU-hours (offered load 86.7 % over 2023), which the site's strict-FIFO scheduler keeps up with; the demo's 95 % (96.7 % offered) is above what strict FIFO runs (92.4 %) and grows a backlog all year. Every site's scheduler is strict FIFO but run-now's, which backfills; flexlon and the oracle also start jobs early into GPUs left free (below).",
  "flexlon and the oracle: the site starts the jobs the plan starts in the current period, then, into GPUs still free, jobs it starts in the next period where the current slot is no dearer than the run's last one or the job is planned late. The oracle's site also backfills where its offered load over the last week is at least 60 %: any waiting job may start into GPUs still free (its plans, which hold every job of the next 24–48 h, left GPUs idle while jobs waited).",
  "flexlon prices room later in the horizon on a contended site (capacity value): each hour a kWh is deferred costs the --capacity-value share of the lateness price per kWh, scaled by the site's offered load over the last week (0 up to 60 %, the full share from 85 %, rising as the square between). The oracle, which plans the arrivals themselves, does not. Each site is planned on its own; flexlon plans afresh every --full-plan-every periods and the oracle daily (every 6 hours at a site whose offered load is under 60 %), carried in between.",
  'The planner objective is £ at its price + carbon × the carbon price + lateness at £0.25 per GPU-hour (the planner default); the captured share compares £ + carbon valued at the same carbon price, per GPU-hour of work done.',
  'Two drain days with no new arrivals follow the last day, so every strategy does the same work; totals include them.',
  "A site battery (the cdf site, or a fleet file's) holds its charge under fifo, run-now and gsf-best-window. flexlon and the oracle plan it every period from its stored energy at their price (energy + carbon, without the capacity value), with their job plan held: it may discharge only into the jobs' own import (never exporting), and must end each 48 h plan at least as full as it began. In a product window it can answer in part, the jobs see only the rest of the window's pay and it is planned, and its commitment made, as if every GPU were busy there. Its wear (£ per MWh discharged) counts as a cost beside the bill.",
];

/** The caps assumption, stated where the run capped (--caps on, the default). */
export const CAPS_ASSUMPTION =
  "GPU power caps (--caps, on by default): at a site whose offered load over the last week is under 60 % (after a day of it seen), flexlon and the oracle cap a running job's GPUs at half of TDP for a period where that pays at their prices (the floor's draw now against the work it leaves to the end of the run), the job still finishes before the period holding its deadline, and their plan has room for the longer run; the plan itself sees every job whole. There, a waiting job the plan runs later in the horizon also starts now (into GPUs still free, capped from its second period where that pays) where that run (at full power for its first period and its last, at its lowest cap between) costs less at their prices than the plan's later run, still finishes before the period holding its deadline and fits the plan's room. A capped job draws and progresses as Emerald AI's A100 sweep measured (at half of TDP, 70 % of the speed for 54 % of the GPU's uncapped draw); the node overhead a busy GPU holds is drawn whatever the cap. fifo, run-now and gsf-best-window never cap. The proven bound allows a job its least energy per unit of work under any cap where its site reads as uncontended before its deadline.";

/** The moves assumption, stated where the run moved jobs (--moves on). */
export const MOVES_ASSUMPTION =
  "Site moves (--moves on): each period flexlon and the oracle move a waiting job that their plan for its site finishes after its deadline (not one it starts now or next period, nor one submitted since that plan) to another site of the same node kind whose last plan has room for it at full power from the next period to its end before its deadline period, where £0.25 per GPU-hour of the lateness it avoids is more than the move costs: £1 + £0.10 per GPU (the live market's default), counted in the strategy's £. A job moves once, joins the new site's queue in submission order and waits for that site's next plan. fifo, run-now and gsf-best-window never move a job. The proven bound plans the sites of one node kind together, each job free to run at any of them, without the moves' cost.";

const LEVERS_NOT_USED =
  "Levers not used by flexlon here: moving jobs between sites (--moves off, the default; the profiles allow one site per job). GPU power caps (--caps on, the default) are used only at sites that are not contended (offered load under 60 %), by rules on the plan, on running jobs and on waiting jobs started now because a capped run costs less than the plan's later one (the planner does not choose the caps); a site battery, where the fleet has one, is used (planned apart from the jobs, with the pay of announced product windows); its planned discharge counts in a commitment.";
const LEVERS_BY_RULE =
  "Site moves (--moves on) and GPU power caps (--caps on) are rules on the plans, not the planner's choice: a job moves only once its own site's plan makes it late, and only into room the other site's plan leaves; caps are used only at sites that are not contended (offered load under 60 %), on running jobs and on waiting jobs started now because a capped run costs less than the plan's later one. A site battery, where the fleet has one, is used (planned apart from the jobs, with the pay of announced product windows); its planned discharge counts in a commitment.";

export const NOT_DONE = [
  'Flexibility products: DFS test events are left out (no dated list was found) and DSO peak and P415 are called by a stated rule, not a call history; the planner prices a whole window, not only the accepted volume (the jobs of a site see only the share of the pay its battery cannot answer), so the lateness it buys can cost more than the products pay; compare the objective with a run without them.',
  LEVERS_NOT_USED,
  "Recalibration corrects the commitment (the import the plan expects) only; the planner's power model is not changed, since the simulated site draws what the model says (a capped job draws less than the full power the plan gives it, which recalibration sees as the site drawing less).",
];

const ORACLE_NO_ARRIVALS =
  'The oracle here (--oracle-arrivals none) foresees the outturn price and carbon but not the arrivals: it plans the jobs submitted so far with the rules flexlon plans by (a fresh plan as often, room kept for must-start arrivals, the capacity value, no backfill at its site). Its foresight of the next 48 h of arrivals made this planner\'s plans worse (docs/backtest.md, "The oracle without arrivals"), so without it the oracle can be the better plan.';

const assumptionsOf = (o: BacktestOptions): string[] => [
  ...ASSUMPTIONS,
  ...((o.caps ?? true) ? [CAPS_ASSUMPTION] : []),
  ...(o.moves ? [MOVES_ASSUMPTION] : []),
  ...(o.oracleArrivals === 'none' ? [ORACLE_NO_ARRIVALS] : []),
];

/** What is not done: with moves on, the levers' line says how they are used instead. */
const notDoneOf = (o: BacktestOptions): string[] =>
  o.moves ? NOT_DONE.map((x) => (x === LEVERS_NOT_USED ? LEVERS_BY_RULE : x)) : NOT_DONE;

/** Products settled per strategy from the run's metered rows (products.ts). */
export const productResultsOf = (
  chunks: readonly DayChunk[],
  names: readonly string[],
  out: RunOutput,
  products: readonly ProductName[],
): Record<string, ProductResults> => {
  const res: Record<string, ProductResults> = {};
  for (const n of names) {
    const byDate = new Map(chunks.map((c) => [c.date, c.rows[n] ?? []]));
    const m: MeterSource = {
      day: (i, date) => byDate.get(date)?.map((r) => (r.siteKwh[i] as number) / (PERIOD_MS / 3_600_000)),
      price: (t) => outturnPrice(out.data, (t - out.data.start) / PERIOD_MS),
    };
    res[n] = settleOffers(
      chunks.flatMap((c) => c.offers?.[n] ?? []),
      out.windows,
      m,
      products,
    );
  }
  return res;
};

const csvOf = (
  chunks: readonly DayChunk[],
  name: string,
  sites: readonly string[],
  out: RunOutput,
  battery: boolean,
): string => {
  const head = [
    'period_start_utc',
    'settlement_date',
    'settlement_period',
    ...sites.map((s) => `import_kwh_${s}`),
    'import_kwh',
    'price_gbp_per_mwh',
    'carbon_gco2_per_kwh',
    'cost_gbp',
    'co2_g',
    'gpu_hours',
    'running_jobs',
    'waiting_jobs',
    ...(battery ? ['battery_discharged_kwh', 'battery_wear_gbp'] : []),
  ];
  const lines = [head.join(',')];
  for (const c of chunks)
    for (const r of c.rows[name] ?? []) {
      const i = (r.t - out.data.start) / PERIOD_MS;
      const sp = settlementPeriodOf(r.t);
      const all = r.siteKwh.reduce((a, b) => a + b, 0);
      lines.push(
        [
          new Date(r.t).toISOString().slice(0, 16) + 'Z',
          sp.date,
          sp.period,
          ...r.siteKwh.map((x) => x.toFixed(3)),
          all.toFixed(3),
          outturnPrice(out.data, i).toFixed(2),
          outturnCarbon(out.data, i).toFixed(0),
          r.gbp.toFixed(4),
          r.gCo2.toFixed(0),
          r.gpuHours.toFixed(3),
          r.running,
          r.waiting,
          ...(battery ? [(r.dischargedKwh ?? 0).toFixed(3), (r.wearGbp ?? 0).toFixed(4)] : []),
        ].join(','),
      );
    }
  return lines.join('\n') + '\n';
};

/**
 * The distribution of daily savings against fifo: per strategy, each day's bill + carbon (at the
 * run's carbon price) below fifo's, days sorted from the best to the worst (a duration curve: on x %
 * of days it saved at least y). Undefined without fifo and another strategy.
 */
const savingsOf = (daily: ReturnType<typeof summarise>['daily'], names: readonly string[], carbon: number) => {
  const others = names.filter((n) => n !== 'fifo');
  if (!names.includes('fifo') || others.length === 0 || daily.length === 0) return undefined;
  const value = (d: (typeof daily)[number], n: string) =>
    (d.gbp[n] ?? NaN) + (d.wearGbp[n] ?? 0) + (d.moveGbp?.[n] ?? 0) + ((d.kgCo2[n] ?? NaN) * carbon) / 1000;
  const series = others.map((n) => ({
    name: n,
    // The colour each strategy has in the other plots (its place among the run's strategies).
    colour: COLOURS[names.indexOf(n) % COLOURS.length] as string,
    values: daily.map((d) => value(d, 'fifo') - value(d, n)).sort((a, b) => b - a),
  }));
  const last = Math.max(1, daily.length - 1);
  const chart: Chart = {
    title: `£ (bill + wear) + carbon saved against fifo per day, days sorted from best to worst (${daily.length} days)`,
    yLabel: '£ per day',
    xLabels: daily.map((_, i) => `${Math.round((100 * i) / last)} % of days`),
    series,
  };
  const text = series
    .map(({ name, values }) => {
      const mid = values.length / 2;
      const median =
        values.length % 2 === 1
          ? (values[Math.floor(mid)] as number)
          : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
      const saved = values.filter((v) => v > 0).length;
      const gbp = (v: number) => `${v < 0 ? '−' : ''}£${fmt(Math.abs(v))}`;
      const total = values.reduce((a, v) => a + v, 0);
      return `${esc(name)} saved on ${saved} of ${values.length} days (median ${gbp(median)}, best ${gbp(values[0] as number)}, worst ${gbp(values.at(-1) as number)}; ${gbp(total)} in all)`;
    })
    .join('; ');
  return { svg: svgOf([chart]), text };
};

const charts = (chunks: readonly DayChunk[], names: readonly string[], out: RunOutput, carbon: number) => {
  const { daily } = summarise(chunks, names, out.open, 0);
  const dates = daily.map((d) => d.date.slice(5));
  const dailyGbp: Chart = {
    title: 'Energy cost per day at outturn price (fleet)',
    yLabel: '£ per day',
    xLabels: dates,
    series: names.map((n) => ({ name: n, values: daily.map((d) => d.gbp[n] ?? NaN) })),
  };
  const dailyCarbon: Chart = {
    title: 'Emissions per day, location-based (fleet)',
    yLabel: 'kgCO2 per day',
    xLabels: dates,
    series: names.map((n) => ({ name: n, values: daily.map((d) => d.kgCo2[n] ?? NaN) })),
  };
  const week = chunks.slice(0, 7);
  // A run shorter than a week shows its drain days too (the jobs left at --to finishing): say so.
  const drained = Math.max(0, week.length - Math.max(0, chunks.length - DRAIN_DAYS));
  const rowsOf = (n: string) => week.flatMap((c) => c.rows[n] ?? []);
  const first = rowsOf(names[0] as string);
  const labels = first.map((r) => new Date(r.t).toISOString().slice(5, 13).replace('T', ' '));
  const power: Chart = {
    title: `Fleet grid import, ${week[0]?.date ?? ''} to ${week.at(-1)?.date ?? ''}${drained > 0 ? ` (its last ${drained} days are the drain days after --to)` : ''}, half hours labelled MM-DD HH in UTC`,
    yLabel: 'kW',
    xLabels: labels,
    series: names.map((n) => ({
      name: n,
      values: rowsOf(n).map((r) => r.siteKwh.reduce((a, b) => a + b, 0) / (PERIOD_MS / 3_600_000)),
    })),
  };
  const idx = first.map((r) => (r.t - out.data.start) / PERIOD_MS);
  const signals: Chart = {
    title: 'Outturn price (£/MWh) and carbon intensity (gCO2/kWh), labelled MM-DD HH in UTC',
    yLabel: '£/MWh · gCO2/kWh',
    xLabels: labels,
    series: [
      { name: 'price £/MWh', values: idx.map((i) => outturnPrice(out.data, i)) },
      { name: 'carbon g/kWh', values: idx.map((i) => outturnCarbon(out.data, i)) },
    ],
  };
  return {
    daily: svgOf([dailyGbp, dailyCarbon]),
    week: svgOf([power, signals]),
    savings: savingsOf(daily, names, carbon),
  };
};

const fmt = (x: number, d = 2): string =>
  x.toLocaleString('en-GB', { minimumFractionDigits: d, maximumFractionDigits: d });

/**
 * The figures per strategy. `oracleBound` false: the oracle did worse than flexlon on the objective
 * or left more work open (targets.ts), so the captured shares are marked and footnoted, not shown as
 * if they were shares of a best case.
 */
export const figuresTable = (
  summary: Record<string, StrategySummary>,
  battery: boolean,
  oracleBound: boolean | null,
): string => {
  const mark = oracleBound === false ? ' †' : '';
  const rows = Object.entries(summary).map(
    ([n, s]) =>
      `<tr><td>${n}</td><td>${fmt(s.energyGbp)}</td>${battery ? `<td>${fmt(s.batteryDischargedMwh, 2)} / ${fmt(s.batteryWearGbp)}</td>` : ''}<td>${fmt(s.tCo2, 3)}</td><td>${fmt(s.gbpPerGpuHour, 4)}</td><td>${fmt(s.gCo2PerGpuHour, 1)}</td><td>${fmt(s.latenessGbp)}</td><td>${fmt(s.valueGbp)}</td><td>${fmt(s.objectiveGbp)}</td><td>${fmt(s.slo.deadlinesMetShare * 100, 1)} %</td><td>${fmt(s.slo.meanWaitH)} / ${fmt(s.slo.p95WaitH)}</td><td>${fmt(s.peakImportKw, 0)}</td><td>${s.captureShare === undefined || s.captureShare === null ? '–' : fmt(s.captureShare * 100, 1) + ' %' + mark}</td></tr>`,
  );
  // No share at all is shown when the oracle saves nothing over fifo: then the note says why the
  // column is empty. Without fifo in the run there are no shares to speak of.
  const shares = Object.values(summary).map((s) => s.captureShare);
  const shown = shares.some((x) => x !== undefined && x !== null);
  const why = `The oracle is no bound on this run (its objective is above flexlon's, or it left more work open)`;
  const note =
    !mark || shares.every((x) => x === undefined)
      ? ''
      : shown
        ? `<p>† ${why}, so these shares of its saving are not shares of a best case: see the targets and the proven lower bound below.</p>`
        : `<p>${why}, and it saves no £ + carbon per GPU-hour over fifo, so no share of its saving is shown: see the targets and the proven lower bound below.</p>`;
  return `<table><tr><th>strategy</th><th>energy £</th>${battery ? '<th>battery MWh discharged / wear £</th>' : ''}<th>tCO2</th><th>£/GPU-h</th><th>gCO2/GPU-h</th><th>lateness £</th><th>value £ (energy${battery ? ' + wear' : ''} + carbon)</th><th>objective £ (value + lateness)</th><th>deadlines met</th><th>wait h mean / p95</th><th>peak kW</th><th>oracle saving captured</th></tr>${rows.join('')}</table>${note}`;
};

const pct = (x: number | null): string => (x === null ? '–' : `${fmt(x * 100, 1)} %`);

/**
 * The settled windows whose BL01 baseline averaged fewer days than BL01 wants: the run's meter
 * history starts at --from, so a window in its first weeks is paid against a thin baseline.
 */
export const thinBaselines = (productRes: Record<string, { settledOffers: readonly SettledOffer[] }>): string => {
  // One entry per window and baseline, naming each strategy with the sites it settled there.
  const groups = new Map<string, Map<string, string[]>>();
  for (const [n, r] of Object.entries(productRes))
    for (const x of r.settledOffers) {
      if (x.baselineDays.used >= x.baselineDays.wanted) continue;
      const key = `${x.product} ${x.date} (${x.baselineDays.used} of ${x.baselineDays.wanted} days`;
      const byName = groups.get(key) ?? groups.set(key, new Map()).get(key)!;
      (byName.get(n) ?? byName.set(n, []).get(n)!).push(x.site);
    }
  const thin = [...groups].map(
    ([k, byName]) => `${k}: ${[...byName].map(([n, sites]) => `${esc(n)} at ${esc(sites.join(', '))}`).join('; ')})`,
  );
  return thin.length === 0
    ? ''
    : `<p>Settled on a BL01 baseline of fewer days than BL01 wants, because the run's meter history starts at its first day (start a run a few weeks earlier to settle on a full baseline): ${thin.join('; ')}.</p>`;
};

/** Each battery site's battery as the run used it, in a sentence (none without one). */
const batteriesOf = (o: BacktestOptions): string => {
  const sites = o.fleetSites ?? o.fleetFile?.sites ?? fleetSites(o.sites, o.fleet);
  const list = sites.flatMap(({ spec: s }) =>
    s.battery
      ? [
          `${esc(s.id)} ${fmt(s.battery.capacityKwh, 0)} kWh, ${fmt(s.battery.maxChargeKw, 0)} kW in / ${fmt(s.battery.maxDischargeKw, 0)} kW out, ${fmt(s.battery.roundTripEfficiency * 100, 0)} % round trip, kept within ${fmt(s.battery.minSocKwh, 0)}–${fmt(s.battery.maxSocKwh, 0)} kWh from ${fmt(s.battery.initialSocKwh, 0)} kWh, £${fmt(s.battery.degradationGbpPerMwh, 0)} wear per MWh discharged${s.gridImportLimitKw === undefined ? '' : `, connection ${fmt(s.gridImportLimitKw, 0)} kW`}`,
        ]
      : [],
  );
  return list.length ? ` Batteries: ${list.join('; ')}.` : '';
};

/**
 * Where each strategy's batteries ended the run against their start, and what that was counted as
 * (metrics.ts: the energy to refill at the run's mean price and carbon, or credited where fuller).
 */
const batteryEndsOf = (summary: Record<string, StrategySummary>): string => {
  const ends = Object.entries(summary).filter(([, s]) => Math.abs(s.batteryEndKwh) > 1e-6);
  return ends.length
    ? ` At the run's end: ${ends
        .map(
          ([n, s]) =>
            `${esc(n)}'s batteries ${fmt(Math.abs(s.batteryEndKwh), 0)} kWh ${s.batteryEndKwh < 0 ? 'short of' : 'above'} their start, ${s.batteryEndGbp >= 0 ? 'charged' : 'credited'} £${fmt(Math.abs(s.batteryEndGbp))} in value, and its carbon at the run's mean intensity in tCO2`,
        )
        .join('; ')}.`
    : '';
};

const peaksBySite = (summary: Record<string, StrategySummary>, sites: readonly string[]): string =>
  Object.entries(summary)
    .map(([n, x]) => `${n} ${x.peakImportKwBySite.map((k, i) => `${sites[i] ?? i} ${fmt(k, 0)} kW`).join(', ')}`)
    .join('; ');

/**
 * The proven lower bound on the objective (bound.ts) and, per strategy that finished every job, the
 * share of fifo's distance to it that the strategy closed: (fifo − strategy) / (fifo − bound).
 */
const boundOf = (out: RunOutput, summary: Record<string, StrategySummary>) => {
  const b = out.bound;
  if (b.objectiveGbp === null) return { objectiveGbp: null, reason: b.reason };
  const fifo = summary.fifo?.objectiveGbp;
  const gap = fifo === undefined ? undefined : fifo - b.objectiveGbp;
  return {
    objectiveGbp: b.objectiveGbp,
    sites: b.sites,
    shareOfGapClosed: Object.fromEntries(
      Object.entries(summary).map(([n, s]) => [
        n,
        gap === undefined || !(gap > 1e-9) || s.slo.jobsOpenAtEnd > 0
          ? null
          : (gap - (s.objectiveGbp - b.objectiveGbp)) / gap,
      ]),
    ),
  };
};

/** With --moves on: how many jobs each strategy moved and what that cost (in its £ and £/GPU-h). */
const movesLine = (summary: Record<string, StrategySummary>, o: BacktestOptions): string =>
  o.moves
    ? ` Site moves (in £ and £/GPU-h): ${Object.entries(summary)
        .map(([n, s]) => `${n} ${s.moves} (£${fmt(s.moveGbp)})`)
        .join(', ')}.`
    : '';

/** The bound's battery part, per battery site, in words (none without a battery site). */
const batteryBoundText = (sites: readonly { site: string; batteryGbp?: number }[]): string => {
  const parts = sites.flatMap((x) =>
    x.batteryGbp === undefined ? [] : [`${esc(x.site)}'s battery at most £${fmt(-x.batteryGbp)} off the bill`],
  );
  return parts.length
    ? `; plus, for ${parts.join(', ')}: one LP of the battery alone over the run, without its ties to the site`
    : '';
};

const boundHtml = (b: ReturnType<typeof boundOf>, moves: boolean): string =>
  b.objectiveGbp === null
    ? `<p>Proven lower bound on the objective: not computed (${esc(b.reason)}).</p>`
    : `<p>Proven lower bound on the objective (${moves ? 'the sites of one node kind planned together, each job free to run at any of them without the cost of a move, ' : "each site's run planned "}with every job known from its arrival and outturn prices, in problems of up to ${chunkDaysFor(Math.max(...b.sites.map((x) => x.plannedWith?.length ?? 1)))} days of arrivals that each have the ${moves ? 'sites' : 'site'} to themselves, which can only lower it; their LP relaxations' bounds, so no schedule the sites can run costs less${batteryBoundText(b.sites)}): <b>£${fmt(b.objectiveGbp)}</b>. Share of fifo's distance to it closed: ${Object.entries(
        b.shareOfGapClosed,
      )
        .map(([n, x]) => `${n} ${pct(x)}`)
        .join(', ')} (– where fifo is at the bound or the strategy left work open).</p>`;

const sloTable = (summary: Record<string, StrategySummary>): string => {
  // A class no strategy finished a job of (must-start on the synthetic profiles) is left out.
  const classes = Object.keys(Object.values(summary)[0]?.slo.byClass ?? {}).filter((c) =>
    Object.values(summary).some((s) => (s.slo.byClass[c]?.jobsFinished ?? 0) > 0),
  );
  const head = classes.map((c) => `<th>${c}: jobs</th><th>met</th><th>late h mean / p95</th>`).join('');
  const rows = Object.entries(summary).map(
    ([n, s]) =>
      `<tr><td>${n}</td>${classes
        .map((c) => {
          const x = s.slo.byClass[c];
          return x
            ? `<td>${x.jobsFinished}</td><td>${pct(x.deadlinesMetShare)}</td><td>${fmt(x.meanLateH)} / ${fmt(x.p95LateH)}</td>`
            : '<td></td><td></td><td></td>';
        })
        .join('')}</tr>`,
  );
  return `<table><tr><th>strategy</th>${head}</tr>${rows.join('')}</table>`;
};

const productTable = (res: Record<string, ProductResults>, products: readonly ProductName[]): string => {
  const head = products.map((p) => `<th>${p} £</th>`).join('');
  const rows = Object.entries(res).map(([n, r]) => {
    const a = r.offerAccuracy.withRecalibration;
    const b = r.offerAccuracy.withoutRecalibration;
    return `<tr><td>${n}</td>${products.map((p) => `<td>${fmt(r.byProduct[p]?.revenueGbp ?? 0)}</td>`).join('')}<td>${fmt(r.totalGbp)}</td><td>${fmt(r.totalGbpWithoutRecalibration)}</td><td>${a.offers}</td><td>${pct(a.relativeError)} / ${pct(b.relativeError)}</td><td>${pct(a.deliveredAtLeast95Share)} / ${pct(b.deliveredAtLeast95Share)}</td><td>${r.unsettled.length}</td></tr>`;
  });
  return `<table><tr><th>strategy</th>${head}<th>total £</th><th>total £ without recalibration</th><th>offers above 0 kW (with recalibration)</th><th>|delivered − committed| ÷ committed, with / without recalibration</th><th>offers delivering ≥ 95 %, with / without</th><th>not settled</th></tr>${rows.join('')}</table>`;
};

export const writeOutputs = (o: BacktestOptions, out: RunOutput): Record<string, unknown> => {
  const names = o.strategies;
  const chunks = out.days.map((_, k) => loadDay(o.out, k));
  const carbon = o.carbonGbpPerTonne ?? DEFAULTS.carbonGbpPerTonne;
  const { summary, daily } = summarise(chunks, names, out.open, carbon, out.batteryEnd);
  const products = o.products ?? [];
  const productRes = products.length ? productResultsOf(chunks, names, out, products) : undefined;
  const strategies = Object.fromEntries(
    names.map((n) => [
      n,
      {
        ...summary[n],
        ...(productRes?.[n]
          ? {
              flexibility: {
                revenueGbp: productRes[n].totalGbp,
                revenueGbpWithoutRecalibration: productRes[n].totalGbpWithoutRecalibration,
                byProduct: productRes[n].byProduct,
                offerAccuracy: productRes[n].offerAccuracy,
                powerFit: productRes[n].powerFit,
                offers: productRes[n].settledOffers.map((x) => ({
                  product: x.product,
                  site: x.site,
                  date: x.date,
                  startUtc: new Date(x.start).toISOString().slice(0, 16) + 'Z',
                  committedKw: x.committedKw,
                  deliveredKwh: Math.round(x.deliveredKwh * 1000) / 1000,
                  paymentGbp: x.paymentGbp,
                  baselineDays: x.baselineDays,
                  ...(x.supplierCompensationGbp === undefined
                    ? {}
                    : { supplierCompensationGbp: x.supplierCompensationGbp }),
                })),
                unsettled: productRes[n].unsettled,
              },
            }
          : {}),
        lookahead: out.audits[n]?.reads
          ? { reads: out.audits[n].reads, latestIssueAfterDecisionMs: Math.max(0, out.audits[n].maxLeadMs) }
          : { reads: 0, note: n === 'oracle' ? 'perfect foresight by design' : 'reads no forecast' },
        ...(out.plannerStats[n] ? { plans: out.plannerStats[n] } : {}),
      },
    ]),
  );
  const targets = targetsOf(summary);
  const bound = boundOf(out, summary);
  const results = {
    schema: RESULTS_SCHEMA,
    run: {
      from: o.from,
      to: o.to,
      drainDays: DRAIN_DAYS,
      sites: o.sites,
      fleet: o.fleet,
      ...(o.fleetFile ? { fleetFile: o.fleetFile.path } : {}),
      workload: o.workloadName ?? 'synthetic',
      strategies: names,
      seed: o.seed,
      horizonPeriods: o.horizon ?? DEFAULTS.horizon,
      fullPlanEvery: o.fullPlanEvery ?? DEFAULTS.fullPlanEvery,
      oracleFullPlanEvery: ORACLE_FULL_PLAN_EVERY,
      oracleBackfill: 'contended',
      oracleArrivals: o.oracleArrivals ?? 'horizon',
      carbonGbpPerTonne: carbon,
      capacityValueShare: o.capacityValueShare ?? DEFAULTS.capacityValueShare,
      caps: o.caps ?? true,
      moves: o.moves ?? false,
      periods: out.periods,
    },
    assumptions: assumptionsOf(o),
    ...(products.length
      ? {
          products: {
            selected: products,
            rules: productRules(products),
            settlementRules: Object.fromEntries(
              products.map((p) => [
                p,
                Object.values(productRes ?? {}).flatMap((r) => r.settledOffers.filter((x) => x.product === p))[0]
                  ?.rules ?? [],
              ]),
            ),
            windows: out.windows.map((w) => ({
              product: w.product,
              date: w.date,
              startUtc: new Date(w.start).toISOString().slice(0, 16) + 'Z',
              periods: w.periods,
              noticeUtc: new Date(w.noticeAt).toISOString().slice(0, 16) + 'Z',
              source: w.source,
            })),
          },
        }
      : {}),
    dataGaps: gapsOf(o.history, out.data, out.firstPeriod, out.firstPeriod + out.periods),
    strategies,
    targets,
    bound,
    notDone: notDoneOf(o),
    daily,
  };
  writeFileSync(join(o.out, 'results.json'), JSON.stringify(results, null, 1) + '\n');
  // A battery's columns where a site has one (every strategy's file alike, an idle battery's zeros too).
  const battery = out.batteries;
  for (const n of names) writeFileSync(join(o.out, `${n}.csv`), csvOf(chunks, n, o.sites, out, battery));
  const svg = charts(chunks, names, out, carbon);
  writeFileSync(join(o.out, 'daily.svg'), svg.daily);
  writeFileSync(join(o.out, 'week.svg'), svg.week);
  if (svg.savings) writeFileSync(join(o.out, 'savings.svg'), svg.savings.svg);
  const revenueSvg = productRes
    ? barsSvgOf({
        title: 'Flexibility revenue by product (fleet, with recalibration)',
        yLabel: '£',
        groups: names,
        series: products.map((p) => ({
          name: p,
          values: names.map((n) => productRes[n]?.byProduct[p]?.revenueGbp ?? 0),
        })),
      })
    : undefined;
  if (revenueSvg) writeFileSync(join(o.out, 'revenue.svg'), revenueSvg);
  const productHtml =
    productRes && revenueSvg
      ? `<h2>Flexibility revenue by product</h2>${productTable(productRes, products)}${revenueSvg}
<p>Windows called: ${out.windows.length} (${products.map((p) => `${p} ${out.windows.filter((w) => w.product === p).length}`).join(', ')}).</p>${thinBaselines(productRes)}
<table><tr><th>product</th><th>settlement day</th><th>window (UTC)</th><th>announced (UTC)</th></tr>${out.windows
          .map(
            (w) =>
              `<tr><td>${w.product}</td><td>${w.date}</td><td>${new Date(w.start).toISOString().slice(11, 16)}–${new Date(w.start + w.periods * PERIOD_MS).toISOString().slice(11, 16)}</td><td>${new Date(w.noticeAt).toISOString().slice(0, 16).replace('T', ' ')}</td></tr>`,
          )
          .join('')}</table>
${[...products, 'all'].map((p) => `<h3>${p === 'all' ? 'Every product' : p}</h3><ul>${(productRules(products)[p] ?? []).map((r) => `<li>${r}</li>`).join('')}</ul>`).join('')}`
      : '';
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>FlexLon backtest ${o.from} to ${o.to}</title>
<style>body{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child{text-align:left}li{font-size:13px}</style></head><body>
<h1>FlexLon backtest</h1>
<p>${o.from} to ${o.to} (+${DRAIN_DAYS} drain days), sites ${o.sites.join(', ')}, ${o.fleetFile ? `fleet file ${esc(o.fleetFile.path)}` : `${o.fleet} fleet`}, ${o.workloadName ? `jobs drawn from ${esc(o.workloadName)}` : o.fleetFile ? "the busy profile's jobs" : "the profile's jobs"}, seed ${o.seed}; carbon valued at £${carbon}/t; flexibility products: ${products.length ? products.join(', ') : 'none'}. Schema ${RESULTS_SCHEMA}; figures in results.json.</p>
${figuresTable(summary, out.batteries, targets.oracleIsBound)}
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
  writeFileSync(join(o.out, 'report.html'), html);
  return results;
};
