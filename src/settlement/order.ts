// Settlement of one order from its stored commitments (one per site) and the sites' meters: per
// site, and in total over the portfolio. Delivered = baseline − metered per settlement period
// (sign convention: positive is a reduction, DESIGN "Grid data, settlement and audit"); the total
// adds the sites' baselines and meters period by period, over the periods every site has metered.
import type { Commitment } from '../domain/commitments.ts';
import type { Order } from '../domain/order.ts';
import { MINUTE_MS, epochMs } from '../domain/time.ts';
import { settle, type PeriodReading, type SettlementSummary } from './delivered.ts';

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
