// Settlement of one order from its stored commitments (one per site) and the sites' meters: per
// site, and in total over the portfolio. Delivered = baseline − metered per settlement period
// (sign convention: positive is a reduction, DESIGN "Grid data, settlement and audit"); the total
// adds the sites' baselines and meters period by period, over the periods every site has metered.
import type { Commitment } from '../domain/commitments.ts';
import type { Order } from '../domain/order.ts';
import { MINUTE_MS, epochMs } from '../domain/time.ts';
import { settle, type PeriodReading, type SettlementSummary } from './delivered.ts';
import { agreedPriceTerms, settleProduct } from './product.ts';
import { settlementPeriodOf } from '../domain/settlement-day.ts';
import type { ProductTerms } from '../domain/products.ts';

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The terms an order settles under (issues 16/17): its product's measurement, availability and
 * performance rule, with utilisation at the agreed price (the order's £ over its committed MWh; a
 * DFS-style product is paid at that price, pay-as-bid); with no product, the agreed price paid as
 * delivered (product.ts agreedPriceTerms). `flexlon settle --order` re-settles with these.
 */
export const orderTerms = (
  product: ProductTerms | undefined,
  reductionKw: number,
  hours: number,
  priceGbp: number,
  windowSlots: number,
): ProductTerms => {
  if (!product) return agreedPriceTerms(priceGbp);
  const committedMwh = (reductionKw * hours * windowSlots) / 1000;
  const agreed = committedMwh > 0 ? priceGbp / committedMwh : 0;
  return product.dfsGbpPerMwh !== undefined
    ? { ...product, dfsGbpPerMwh: agreed }
    : { ...product, utilisationGbpPerMwh: agreed };
};

/** Settles readings under the order's product (orderTerms). */
const settleUnder = (
  product: ProductTerms,
  readings: readonly PeriodReading[],
  reductionKw: number,
  hours: number,
  priceGbp: number,
  windowSlots: number,
  method: string,
): SettlementSummary => {
  const terms = orderTerms(product, reductionKw, hours, priceGbp, windowSlots);
  const s = settleProduct(
    terms,
    readings.map((r) => {
      const sp = settlementPeriodOf(r.start);
      return { ...r, settlementDate: sp.date, settlementPeriod: sp.period };
    }),
    reductionKw,
    hours,
  );
  const limit = product.measurement === 'import-limit';
  const periods = s.periods.map((p) => ({
    start: epochMs(p.start),
    baselineKw: p.baselineKw,
    meteredKw: p.meteredKw,
    deliveredKwh: p.deliveredKwh,
    committedKwh: p.acceptedKwh,
    shortfallKwh: limit ? (p.exceedanceKwh ?? 0) : r3(Math.max(0, p.acceptedKwh - p.countedKwh)),
    ...(limit ? { exceedanceKwh: p.exceedanceKwh ?? 0 } : {}),
  }));
  return {
    baselineMethod: method,
    periods,
    deliveredKwh: s.deliveredKwh,
    committedKwh: s.acceptedKwh,
    shortfallKwh: r3(periods.reduce((a, p) => a + p.shortfallKwh, 0)),
    performance: s.deliveredShare,
    paymentGbp: s.paymentGbp,
    terms: {
      product: product.code,
      measurement: product.measurement,
      ...(product.importLimitKw === undefined ? {} : { importLimitKw: product.importLimitKw }),
      performanceRule: product.dfsGbpPerMwh !== undefined ? 'DFS (none)' : product.performance.name,
      performanceFactor: s.performanceFactor,
      availabilityGbp: s.availabilityGbp,
      utilisationGbp: s.utilisationGbp,
    },
  };
};

export interface OrderSettlement {
  readonly total: SettlementSummary;
  readonly sites: readonly { readonly site: string; readonly summary: SettlementSummary }[];
}

const readingsOf = (c: Commitment, meteredKw: readonly number[]): PeriodReading[] =>
  (c.baselineKw ?? [])
    .map((b, k) => ({
      start: epochMs(c.windowStart + k * c.slotMinutes * MINUTE_MS),
      baselineKw: b,
      meteredKw: meteredKw[k] ?? NaN,
    }))
    .filter((r) => Number.isFinite(r.meteredKw) && Number.isFinite(r.baselineKw));

/** Undefined when the order has no commitment with a baseline (nothing to settle against). */
export const settleOrder = (
  order: Order,
  commitments: readonly Commitment[],
  metered: ReadonlyMap<string, readonly number[]>,
  method: string,
): OrderSettlement | undefined => {
  const cs = commitments.filter((c) => c.orderId === order.id && c.baselineKw !== undefined);
  const first = cs[0];
  if (!first) return undefined;
  const hours = first.slotMinutes / 60;
  const sites = cs.map((c) => {
    const share = order.reductionKw > 0 ? (c.reductionKw ?? order.reductionKw) / order.reductionKw : 0;
    return {
      site: c.site,
      summary: order.product
        ? settleUnder(
            order.product,
            readingsOf(c, metered.get(c.site) ?? []),
            c.reductionKw ?? order.reductionKw,
            hours,
            order.priceGbp * share,
            c.baselineKw?.length ?? 0,
            method,
          )
        : settle(
            readingsOf(c, metered.get(c.site) ?? []),
            c.reductionKw ?? order.reductionKw,
            hours,
            order.priceGbp * share,
            method,
          ),
    };
  });
  if (sites.length === 1 && sites[0]) return { total: sites[0].summary, sites };
  const byStart = new Map<number, { baselineKw: number; meteredKw: number; n: number }>();
  for (const c of cs) {
    for (const r of readingsOf(c, metered.get(c.site) ?? [])) {
      const acc = byStart.get(r.start) ?? { baselineKw: 0, meteredKw: 0, n: 0 };
      byStart.set(r.start, {
        baselineKw: acc.baselineKw + r.baselineKw,
        meteredKw: acc.meteredKw + r.meteredKw,
        n: acc.n + 1,
      });
    }
  }
  const total = [...byStart.entries()]
    .filter(([, v]) => v.n === cs.length)
    .sort(([a], [b]) => a - b)
    .map(([start, v]) => ({ start: epochMs(start), baselineKw: v.baselineKw, meteredKw: v.meteredKw }));
  // An import limit is a limit at each site: a portfolio's total is the sites' settlements added up.
  if (order.product?.measurement === 'import-limit') {
    const sum = (f: (x: SettlementSummary) => number) => r3(sites.reduce((a, x) => a + f(x.summary), 0));
    const allowance = sites.reduce(
      (a, x) => a + (x.summary.terms?.importLimitKw ?? 0) * hours * x.summary.periods.length,
      0,
    );
    const head = sites[0]?.summary as SettlementSummary;
    return {
      total: {
        ...head,
        periods: total.map((p) => {
          const over = r3(
            sites.reduce((a, x) => a + (x.summary.periods.find((q) => q.start === p.start)?.exceedanceKwh ?? 0), 0),
          );
          return {
            ...p,
            deliveredKwh: r3((p.baselineKw - p.meteredKw) * hours),
            committedKwh: r3(order.reductionKw * hours),
            shortfallKwh: over,
            exceedanceKwh: over,
          };
        }),
        deliveredKwh: sum((x) => x.deliveredKwh),
        committedKwh: sum((x) => x.committedKwh),
        shortfallKwh: sum((x) => x.shortfallKwh),
        performance: allowance > 0 ? Math.max(0, 1 - sum((x) => x.shortfallKwh) / allowance) : 1,
        paymentGbp: Math.round(sites.reduce((a, x) => a + x.summary.paymentGbp, 0) * 100) / 100,
      },
      sites,
    };
  }
  return {
    total: order.product
      ? settleUnder(
          order.product,
          total,
          order.reductionKw,
          hours,
          order.priceGbp,
          first.baselineKw?.length ?? 0,
          method,
        )
      : settle(total, order.reductionKw, hours, order.priceGbp, method),
    sites,
  };
};
