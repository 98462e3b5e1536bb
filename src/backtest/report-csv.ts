// One CSV per strategy in the backtest's output: a row per settlement period with each site's import,
// the outturn price and carbon, the bill, the work done and the queue (docs/backtest.md).
import { settlementPeriodOf, PERIOD_MS } from '../domain/settlement-day.ts';
import type { DayChunk } from './checkpoint.ts';
import type { RunOutput } from './run.ts';
import { outturnCarbon, outturnPrice } from './signal-view.ts';

export const csvOf = (
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
