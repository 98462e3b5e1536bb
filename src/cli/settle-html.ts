// The settlement statement as one HTML file a counterparty opens offline: no script, no external
// resource; the chart is inline SVG (baseline against metered import per settlement period, the
// accepted reduction as the target line), then the period table and the method text verbatim.
import { londonOffsetMs } from '../domain/settlement-day.ts';
import { factorText } from '../settlement/product.ts';
import { isoOf } from '../domain/time.ts';
import type { MeterSeries } from '../formats/meter-csv.ts';
import type { EventBaseline, SettlementWindow } from '../settlement/meter-baselines.ts';
import type { BaselineName, ProductSettlement } from '../settlement/product.ts';

/** One settled event, as `flexlon settle --format json` writes it (version 1). */
export interface SettleReport {
  readonly version: 1;
  /** Where the readings came from: a meter file, a Prometheus answer, or (--order) a store's meter readings. */
  readonly meter: Pick<MeterSeries, 'file' | 'meterId' | 'unit' | 'gaps' | 'duplicates'> & {
    readonly shape: MeterSeries['shape'] | 'store';
    readonly from: string;
    readonly to: string;
  };
  readonly window: SettlementWindow & { readonly startUtc: string; readonly endUtc: string };
  /** A published method by name (bl01, dfs, ena, nominated), or (--order) the code the order was settled by. */
  readonly baseline: EventBaseline & { readonly name: BaselineName | string };
  readonly settlement: ProductSettlement;
  /** --order: the order, whose store it was read from, and the settlement recorded there against this one. */
  readonly order?: OrderSource;
}

export interface OrderSource {
  readonly id: string;
  readonly transactionId: string;
  /** The store read, and whose it is: the provider (its order, commitments and meter readings) or the buyer (what it bought and was sent). */
  readonly store: string;
  readonly role: 'provider' | 'buyer';
  readonly sites: readonly string[];
  /** The settlement recorded in the store's audit log (record seq), and each figure that differs from this one. */
  readonly recorded: { readonly seq: number; readonly paymentGbp: number; readonly deliveredKwh: number } | undefined;
  readonly differences: readonly string[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// Colours that read for colour-blind people (Okabe–Ito): blue baseline, orange metered, grey target.
const BLUE = '#0072B2';
const ORANGE = '#E69F00';
const GREY = '#666666';

const chart = (r: SettleReport): string => {
  const ps = r.settlement.periods;
  const W = 640;
  const H = 260;
  const pad = { l: 56, r: 16, t: 16, b: 40 };
  const target = ps.map((p) => p.baselineKw - r.settlement.acceptedKw);
  const values = [...ps.flatMap((p) => [p.baselineKw, p.meteredKw]), ...target, 0];
  const max = Math.max(...values) * 1.1 || 1;
  const min = Math.min(0, ...values);
  const x = (i: number) => pad.l + ((W - pad.l - pad.r) * (i + 0.5)) / ps.length;
  const y = (v: number) => pad.t + (H - pad.t - pad.b) * (1 - (v - min) / (max - min));
  const line = (vs: readonly number[], colour: string, dash = '') =>
    `<polyline fill="none" stroke="${colour}" stroke-width="2.5"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${vs.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>` +
    vs.map((v, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${colour}"/>`).join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((k) => min + (max - min) * k);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="baseline and metered import per settlement period">
${ticks.map((v) => `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/><text x="${pad.l - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end">${v.toFixed(0)}</text>`).join('\n')}
<text x="12" y="${H / 2}" font-size="11" transform="rotate(-90 12 ${H / 2})" text-anchor="middle">import (kW)</text>
${ps.map((p, i) => `<text x="${x(i).toFixed(1)}" y="${H - pad.b + 16}" font-size="11" text-anchor="middle">SP${p.settlementPeriod}</text><text x="${x(i).toFixed(1)}" y="${H - pad.b + 30}" font-size="10" text-anchor="middle" fill="#555">${isoOf(p.start).slice(11, 16)} UTC</text>`).join('\n')}
${line(
  ps.map((p) => p.baselineKw),
  BLUE,
)}
${line(
  ps.map((p) => p.meteredKw),
  ORANGE,
)}
${line(target, GREY, '6 4')}
</svg>
<p class="legend"><span style="color:${BLUE}">● baseline</span> &nbsp; <span style="color:${ORANGE}">● metered</span> &nbsp; <span style="color:${GREY}">- - baseline − accepted ${r.settlement.acceptedKw} kW</span></p>`;
};

export const statementHtml = (r: SettleReport, lines: readonly string[]): string => {
  const s = r.settlement;
  const rows = s.periods
    .map((p) => {
      const off = londonOffsetMs(p.start);
      const localTime = isoOf(p.start + off).slice(11, 16);
      return `<tr><td>${p.settlementDate}</td><td>${p.settlementPeriod}</td><td>${isoOf(p.start).slice(11, 16)} UTC (${localTime} ${off ? 'BST' : 'GMT'})</td><td>${p.baselineKw.toFixed(1)}</td><td>${p.meteredKw.toFixed(1)}</td><td>${p.deliveredKwh.toFixed(1)}</td><td>${p.acceptedKwh.toFixed(1)}</td><td>${p.countedKwh.toFixed(1)}</td><td>${p.utilisationGbp.toFixed(2)}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Settlement statement ${esc(r.window.date)} SP${r.window.fromPeriod}–${r.window.toPeriod - 1}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:760px;margin:24px auto;padding:0 12px;color:#222}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:right}
td:nth-child(-n+3),th:nth-child(-n+3){text-align:left}pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}
.total{font-size:16px;font-weight:600}svg{max-width:100%;height:auto}</style></head>
<body>
<h1>Settlement statement</h1>
<p>${esc(s.product.name)} (${esc(s.product.code)}), ${esc(r.window.date)} settlement periods ${r.window.fromPeriod}–${r.window.toPeriod - 1} (${esc(r.window.startUtc)} to ${esc(r.window.endUtc)}), meter ${esc(r.meter.meterId ?? '(no id)')}.</p>
<p class="total">Payment £${s.paymentGbp.toFixed(2)} = (availability £${s.availabilityGbp.toFixed(2)} + utilisation £${s.utilisationGbp.toFixed(2)}) × performance factor ${factorText(s.performanceFactor)}</p>
${chart(r)}
<h2>Per settlement period</h2>
<table><thead><tr><th>date</th><th>SP</th><th>start</th><th>baseline kW</th><th>metered kW</th><th>delivered kWh</th><th>accepted kWh</th><th>paid on kWh</th><th>utilisation £</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<h2>Method</h2>
<pre>${esc(lines.join('\n'))}</pre>
<p>Meter data: ${esc(r.meter.file)}; ${r.meter.gaps.length} periods missing and ${r.meter.duplicates.length} duplicated in the file (listed in the JSON form of this statement); nothing was estimated.</p>
</body></html>
`;
};
