// report.html's figures per strategy: the main table (bill, carbon, lateness, objective, SLOs, peak,
// captured share), the SLO attainment by class, and the sentences under the table (peaks per site,
// site moves, the batteries and where they ended the run).
import type { StrategySummary } from './metrics.ts';
import { fleetSites } from './fleet.ts';
import type { BacktestOptions } from './run-options.ts';
import { esc } from './svg.ts';
import { fmt, pct } from './report-format.ts';

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

/** Each battery site's battery as the run used it, in a sentence (none without one). */
export const batteriesOf = (o: BacktestOptions): string => {
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
export const batteryEndsOf = (summary: Record<string, StrategySummary>): string => {
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

export const peaksBySite = (summary: Record<string, StrategySummary>, sites: readonly string[]): string =>
  Object.entries(summary)
    .map(([n, x]) => `${n} ${x.peakImportKwBySite.map((k, i) => `${sites[i] ?? i} ${fmt(k, 0)} kW`).join(', ')}`)
    .join('; ');

/** With --moves on: how many jobs each strategy moved and what that cost (in its £ and £/GPU-h). */
export const movesLine = (summary: Record<string, StrategySummary>, o: BacktestOptions): string =>
  o.moves
    ? ` Site moves (in £ and £/GPU-h): ${Object.entries(summary)
        .map(([n, s]) => `${n} ${s.moves} (£${fmt(s.moveGbp)})`)
        .join(', ')}.`
    : '';

export const sloTable = (summary: Record<string, StrategySummary>): string => {
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
