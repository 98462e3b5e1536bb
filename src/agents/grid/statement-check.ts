// The buyer checks the provider's settlement statement before it is paid (issue 16): it recomputes
// every figure under the terms it bought on — the committed kW, the agreed price, the product it
// sent in init — from its own meter view where it holds one (meter-view.ts: the metering point's
// readings and the buyer's own baseline), else from the statement's per-period readings, and it
// compares the readings with those the provider reported earlier in on_status. It records
// agreement, or a dispute naming each period and figure that differs, with both values.
import { settlementPeriodOf } from '../../domain/settlement-day.ts';
import { isoOf } from '../../domain/time.ts';
import type { SettlementSummary } from '../../settlement/delivered.ts';
import { settleProduct } from '../../settlement/product.ts';
import type { BuyerMeterData } from './meter-view.ts';
import type { Procurement } from './split.ts';

export interface Difference {
  /** `total` or the period's UTC start with its settlement period. */
  readonly where: string;
  readonly field: string;
  readonly ours: number;
  readonly theirs: number;
}

/** What the check was made from, when the buyer has its own meter view of the site. */
export interface MeterBasis {
  readonly source: string;
  /** The baseline used: the buyer's own (method and days), or the statement's and why. */
  readonly baseline: string;
  /** Periods of the statement the buyer holds no reading for: checked on the statement's figures only. */
  readonly unverified: readonly string[];
}

export type StatementCheck =
  | { readonly agreed: true; readonly periods: number; readonly paymentGbp: number; readonly meter?: MeterBasis }
  | { readonly agreed: false; readonly differences: readonly Difference[]; readonly meter?: MeterBasis };

const KWH = 0.01;
const GBP = 0.015;
/**
 * Two meters of one site agree within 0.1 kW per half hour (0.05 kWh): a settlement meter's register
 * is read to 0.01–0.1 kWh, and a sub-meter and the boundary meter differ by that much without fault.
 */
const METER_KW = 0.1;

const at = (start: number): string => `${isoOf(start)} (SP${settlementPeriodOf(start).period})`;

/**
 * Recomputes `statement` for procurement `p`; `reported` is the settlement on_status carried, if the
 * buyer received one, whose readings must be the statement's; `own` is the buyer's meter view of the
 * site, whose readings (and baseline, where it has one) replace the statement's in the recomputation.
 */
export const checkStatement = (
  p: Pick<Procurement, 'selectedKw' | 'quotedGbp' | 'product' | 'offer'>,
  statement: SettlementSummary,
  reported?: SettlementSummary,
  own?: BuyerMeterData,
): StatementCheck => {
  const d: Difference[] = [];
  const differ = (where: string, field: string, ours: number, theirs: number, tolerance: number) => {
    if (!(Math.abs(ours - theirs) <= tolerance)) d.push({ where, field, ours, theirs });
  };
  const hours = 0.5;
  const unverified: string[] = [];
  // The readings the buyer settles on: its own meter and baseline where it holds them.
  const periods = statement.periods.map((x) => {
    const meteredKw = own?.meteredKw.get(x.start);
    const baselineKw = own?.baselineKw?.get(x.start);
    if (own && meteredKw === undefined) unverified.push(at(x.start));
    if (meteredKw !== undefined) differ(at(x.start), 'metered kW (buyer’s meter)', meteredKw, x.meteredKw, METER_KW);
    if (baselineKw !== undefined)
      differ(
        at(x.start),
        'baseline kW (buyer’s baseline)',
        Math.round(baselineKw * 1000) / 1000,
        x.baselineKw,
        METER_KW,
      );
    return { ...x, meteredKw: meteredKw ?? x.meteredKw, baselineKw: baselineKw ?? x.baselineKw };
  });
  for (const x of periods) {
    const where = at(x.start);
    differ(where, 'delivered kWh', Math.round((x.baselineKw - x.meteredKw) * hours * 1000) / 1000, x.deliveredKwh, KWH);
    differ(where, 'committed kWh', p.selectedKw * hours, x.committedKwh, KWH);
    const seen = reported?.periods.find((r) => r.start === x.start);
    const stated = statement.periods.find((r) => r.start === x.start);
    if (seen && stated) {
      differ(where, 'metered kW (vs on_status)', seen.meteredKw, stated.meteredKw, KWH);
      differ(where, 'baseline kW (vs on_status)', seen.baselineKw, stated.baselineKw, KWH);
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
  const meter = own ? { meter: { source: own.source, baseline: own.baseline, unverified } } : {};
  return d.length === 0
    ? { agreed: true, periods: periods.length, paymentGbp: payment, ...meter }
    : { agreed: false, differences: d, ...meter };
};
