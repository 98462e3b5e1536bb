// Settlement of one order from its stored commitments (one per site) and the sites' meters: per
// site, and in total over the portfolio. Delivered = baseline − metered per settlement period
// (sign convention: positive is a reduction, DESIGN "Grid data, settlement and audit"); the total
// adds the sites' baselines and meters period by period, over the periods every site has metered.
import type { Order } from '../../domain/order.ts';
import { settle, type PeriodReading, type SettlementSummary } from '../../domain/settlement.ts';
import { settlementPeriodOf } from '../../domain/settlement-day.ts';
import { MINUTE_MS, epochMs, isoOf } from '../../domain/time.ts';
import type { Commitment } from './orchestrator.ts';

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
      summary: settle(
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
  return { total: settle(total, order.reductionKw, hours, order.priceGbp, method), sites };
};

const periodLines = (s: SettlementSummary) =>
  s.periods.map((p) => {
    const ref = settlementPeriodOf(p.start);
    return { ...p, start_utc: isoOf(p.start), settlement_date: ref.date, settlement_period: ref.period };
  });

/**
 * The settlement statement sent in on_support after delivery: the summary's figures (kWh, £) plus
 * what a reader needs to check them without asking — the sign convention, the agreed price, the
 * window and each period's GB settlement date and period (Europe/London days, 46/48/50 periods).
 */
export const settlementStatement = (order: Order, s: OrderSettlement) => {
  const hours = (order.windowEnd - order.windowStart) / 3_600_000;
  const mwh = (order.reductionKw * hours) / 1000;
  return {
    statement_version: 1,
    order_id: order.id,
    transaction_id: order.transactionId,
    buyer: order.bapId,
    window: { start: isoOf(order.windowStart), end: isoOf(order.windowEnd) },
    committed_kw: order.reductionKw,
    currency: 'GBP',
    agreed_price_gbp: order.priceGbp,
    agreed_price_gbp_per_mwh: mwh > 0 ? Math.round((order.priceGbp / mwh) * 100) / 100 : null,
    sign_convention:
      'delivered = baseline − metered (kWh per period); positive means the site imported less than its baseline; shortfall = committed − delivered, never negative',
    payment_rule: 'agreed price × performance, performance = (committed − shortfall) / committed, capped at 100 %',
    ...(order.feeGbp ? { fee_gbp: order.feeGbp } : {}),
    ...s.total,
    periods: periodLines(s.total),
    ...(s.sites.length > 1
      ? { sites: s.sites.map((x) => ({ site: x.site, ...x.summary, periods: periodLines(x.summary) })) }
      : {}),
  };
};
