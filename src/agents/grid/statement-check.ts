// The buyer checks the provider's settlement statement before it is paid (issue 16): it recomputes
// every figure from the statement's own per-period baseline and meter readings under the terms it
// bought on — the committed kW, the agreed price, the product it sent in init — and compares the
// readings with those the provider reported earlier in on_status. It records agreement, or a
// dispute naming each period and figure that differs, with both values.
//
// What it cannot do yet: check the readings against the buyer's own meter view (a DSO's data for
// the site's metering point); `flexlon settle --meter` does that by hand from a meter export.
import { settlementPeriodOf } from '../../domain/settlement-day.ts';
import { isoOf } from '../../domain/time.ts';
import type { SettlementSummary } from '../../settlement/delivered.ts';
import { settleProduct } from '../../settlement/product.ts';
import type { Procurement } from './split.ts';

export interface Difference {
  /** `total` or the period's UTC start with its settlement period. */
  readonly where: string;
  readonly field: string;
  readonly ours: number;
  readonly theirs: number;
}

export type StatementCheck =
  | { readonly agreed: true; readonly periods: number; readonly paymentGbp: number }
  | { readonly agreed: false; readonly differences: readonly Difference[] };

const KWH = 0.01;
const GBP = 0.015;

const at = (start: number): string => `${isoOf(start)} (SP${settlementPeriodOf(start).period})`;

/**
 * Recomputes `statement` for procurement `p`; `reported` is the settlement on_status carried, if the
 * buyer received one, whose readings must be the statement's.
 */
export const checkStatement = (
  p: Pick<Procurement, 'selectedKw' | 'quotedGbp' | 'product' | 'offer'>,
  statement: SettlementSummary,
  reported?: SettlementSummary,
): StatementCheck => {
  const d: Difference[] = [];
  const differ = (where: string, field: string, ours: number, theirs: number, tolerance: number) => {
    if (!(Math.abs(ours - theirs) <= tolerance)) d.push({ where, field, ours, theirs });
  };
  const hours = 0.5;
  const periods = statement.periods;
  for (const x of periods) {
    const where = at(x.start);
    differ(where, 'delivered kWh', Math.round((x.baselineKw - x.meteredKw) * hours * 1000) / 1000, x.deliveredKwh, KWH);
    differ(where, 'committed kWh', p.selectedKw * hours, x.committedKwh, KWH);
    const seen = reported?.periods.find((r) => r.start === x.start);
    if (seen) {
      differ(where, 'metered kW (vs on_status)', seen.meteredKw, x.meteredKw, KWH);
      differ(where, 'baseline kW (vs on_status)', seen.baselineKw, x.baselineKw, KWH);
    }
  }
  const windowSlots = Math.round((p.offer.windowEnd - p.offer.windowStart) / (hours * 3_600_000));
  if (periods.length !== windowSlots)
    d.push({ where: 'total', field: 'periods settled', ours: windowSlots, theirs: periods.length });
  const committedMwh = (p.selectedKw * hours * windowSlots) / 1000;
  const agreed = committedMwh > 0 ? p.quotedGbp / committedMwh : 0;
  let payment: number;
  if (p.product) {
    const terms =
      p.product.dfsGbpPerMwh !== undefined
        ? { ...p.product, dfsGbpPerMwh: agreed }
        : { ...p.product, utilisationGbpPerMwh: agreed };
    const s = settleProduct(
      terms,
      periods.map((x) => {
        const sp = settlementPeriodOf(x.start);
        return {
          start: x.start,
          baselineKw: x.baselineKw,
          meteredKw: x.meteredKw,
          settlementDate: sp.date,
          settlementPeriod: sp.period,
        };
      }),
      p.selectedKw,
      hours,
    );
    payment = s.paymentGbp;
    if (statement.terms) {
      differ('total', 'performance factor', s.performanceFactor, statement.terms.performanceFactor, 0.0001);
      differ('total', 'availability £', s.availabilityGbp, statement.terms.availabilityGbp, GBP);
    } else d.push({ where: 'total', field: 'product terms applied (1 = yes)', ours: 1, theirs: 0 });
  } else {
    const committed = p.selectedKw * hours * periods.length;
    const shortfall = periods.reduce(
      (a, x) => a + Math.max(0, p.selectedKw * hours - (x.baselineKw - x.meteredKw) * hours),
      0,
    );
    const share = committed > 0 ? Math.max(0, Math.min(1, (committed - shortfall) / committed)) : 0;
    payment = Math.round(p.quotedGbp * share * 100) / 100;
  }
  differ('total', 'payment £', payment, statement.paymentGbp, GBP);
  return d.length === 0
    ? { agreed: true, periods: periods.length, paymentGbp: payment }
    : { agreed: false, differences: d };
};
