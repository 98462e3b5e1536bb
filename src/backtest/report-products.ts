// The flexibility products in the backtest's outputs: each strategy's offers settled from its metered
// rows (product-settlement.ts), and what results.json (`products`, each strategy's `flexibility`),
// revenue.svg and report.html's products section say of them.
import { PERIOD_H, PERIOD_MS } from '../domain/settlement-day.ts';
import type { DayChunk } from './checkpoint.ts';
import type { ProductName } from './product-calendar.ts';
import { productRules } from './product-rules.ts';
import { settleOffers, type ProductResults, type SettledOffer } from './product-settlement.ts';
import type { MeterSource } from './products.ts';
import type { RunOutput } from './run.ts';
import { outturnPrice } from './signal-view.ts';
import { barsSvgOf, esc } from './svg.ts';
import { fmt, pct } from './report-format.ts';

/** Products settled per strategy from the run's metered rows (product-settlement.ts). */
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
      day: (i, date) => byDate.get(date)?.map((r) => (r.siteKwh[i] as number) / PERIOD_H),
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

/** A strategy's settled products as results.json gives them (`strategies.<name>.flexibility`). */
export const flexibilityOf = (r: ProductResults) => ({
  revenueGbp: r.totalGbp,
  revenueGbpWithoutRecalibration: r.totalGbpWithoutRecalibration,
  byProduct: r.byProduct,
  offerAccuracy: r.offerAccuracy,
  powerFit: r.powerFit,
  offers: r.settledOffers.map((x) => ({
    product: x.product,
    site: x.site,
    date: x.date,
    startUtc: new Date(x.start).toISOString().slice(0, 16) + 'Z',
    committedKw: x.committedKw,
    deliveredKwh: Math.round(x.deliveredKwh * 1000) / 1000,
    paymentGbp: x.paymentGbp,
    baselineDays: x.baselineDays,
    ...(x.supplierCompensationGbp === undefined ? {} : { supplierCompensationGbp: x.supplierCompensationGbp }),
  })),
  unsettled: r.unsettled,
});

/** results.json's `products`: the products run, their rules, the settlement rules applied and the windows called. */
export const productsOf = (
  products: readonly ProductName[],
  productRes: Record<string, ProductResults> | undefined,
  out: RunOutput,
) => ({
  selected: products,
  rules: productRules(products),
  settlementRules: Object.fromEntries(
    products.map((p) => [
      p,
      Object.values(productRes ?? {}).flatMap((r) => r.settledOffers.filter((x) => x.product === p))[0]?.rules ?? [],
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
});

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

const productTable = (res: Record<string, ProductResults>, products: readonly ProductName[]): string => {
  const head = products.map((p) => `<th>${p} £</th>`).join('');
  const rows = Object.entries(res).map(([n, r]) => {
    const a = r.offerAccuracy.withRecalibration;
    const b = r.offerAccuracy.withoutRecalibration;
    return `<tr><td>${n}</td>${products.map((p) => `<td>${fmt(r.byProduct[p]?.revenueGbp ?? 0)}</td>`).join('')}<td>${fmt(r.totalGbp)}</td><td>${fmt(r.totalGbpWithoutRecalibration)}</td><td>${a.offers}</td><td>${pct(a.relativeError)} / ${pct(b.relativeError)}</td><td>${pct(a.deliveredAtLeast95Share)} / ${pct(b.deliveredAtLeast95Share)}</td><td>${r.unsettled.length}</td></tr>`;
  });
  return `<table><tr><th>strategy</th>${head}<th>total £</th><th>total £ without recalibration</th><th>offers above 0 kW (with recalibration)</th><th>|delivered − committed| ÷ committed, with / without recalibration</th><th>offers delivering ≥ 95 %, with / without</th><th>not settled</th></tr>${rows.join('')}</table>`;
};

/** revenue.svg: each strategy's revenue per product (none without products). */
export const revenueSvgOf = (
  names: readonly string[],
  products: readonly ProductName[],
  productRes: Record<string, ProductResults> | undefined,
): string | undefined =>
  productRes
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

/** report.html's products section: the revenue table and plot, thin baselines, the windows and the rules. */
export const productHtmlOf = (
  productRes: Record<string, ProductResults> | undefined,
  revenueSvg: string | undefined,
  products: readonly ProductName[],
  out: RunOutput,
): string =>
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
