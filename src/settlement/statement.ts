// The settlement statement of a delivered order, as sent in on_support (post-order.ts): the
// settlement's figures with what a reader needs to check them without asking.
import type { Order } from '../domain/order.ts';
import { isoOf } from '../domain/time.ts';
import type { SettlementSummary } from './delivered.ts';
import type { OrderSettlement } from './order.ts';
import { settlementPeriodOf } from '../domain/settlement-day.ts';

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
    payment_rule: order.product
      ? `the product's terms, sent in init (${order.product.code}): (availability + utilisation at the agreed price per MWh on min(delivered, committed)) × performance factor by ${order.product.performance.name}${order.product.measurement === 'import-limit' ? `; measured as import against the ${order.product.importLimitKw} kW limit: shortfall = import above the limit` : ''}`
      : 'agreed price × performance, performance = (committed − shortfall) / committed, capped at 100 %',
    ...(order.product ? { product: order.product } : {}),
    ...(order.feeGbp ? { fee_gbp: order.feeGbp } : {}),
    ...s.total,
    periods: periodLines(s.total),
    ...(s.sites.length > 1
      ? { sites: s.sites.map((x) => ({ site: x.site, ...x.summary, periods: periodLines(x.summary) })) }
      : {}),
  };
};
