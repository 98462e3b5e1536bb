// The report's plots (daily.svg, week.svg, savings.svg, inline in report.html too): cost and emissions
// per day, one week of fleet import against price and carbon, and the distribution of daily savings
// against fifo with its summary in words. Drawn by svg.ts.
import { PERIOD_H, PERIOD_MS } from '../domain/settlement-day.ts';
import type { DayChunk } from './checkpoint.ts';
import { summarise } from './metrics.ts';
import { DRAIN_DAYS, type RunOutput } from './run.ts';
import { outturnCarbon, outturnPrice } from './signal-view.ts';
import { COLOURS, esc, svgOf, type Chart } from './svg.ts';
import { fmt } from './report-format.ts';

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
  // The drain days after --to count (the run's last jobs finish in them), and on a short run where
  // every job is done by then they save nothing for anyone: say so, or "saved on 3 of 9 days" reads
  // as six days lost (a new user's reading of a week's run).
  const drain = Math.min(DRAIN_DAYS, daily.length);
  const drainWords =
    drain > 0
      ? `. The ${daily.length} days include the ${drain} drain days after --to, in which the jobs left at --to finish`
      : '';
  return { svg: svgOf([chart]), text: `${text}${drainWords}` };
};

export const charts = (chunks: readonly DayChunk[], names: readonly string[], out: RunOutput, carbon: number) => {
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
      values: rowsOf(n).map((r) => r.siteKwh.reduce((a, b) => a + b, 0) / PERIOD_H),
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
