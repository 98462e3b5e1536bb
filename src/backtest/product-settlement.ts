// What a site is paid for its product offers in the backtest: each strategy's commitments settled,
// in the order they were made, with the settlement code the market uses (src/settlement/product.ts,
// src/settlement/baseline-bl01.ts) on BL01 from the strategy's own metered import. The terms, the
// offer and the commitment rule: products.ts; the rules as stated in the report: product-rules.ts.
import { bl01Baseline } from '../settlement/baseline-bl01.ts';
import { settleProduct } from '../settlement/product.ts';
import { PERIOD_H, PERIOD_MS } from '../domain/settlement-day.ts';
import type { ProductName, ProductWindow } from './product-calendar.ts';
import {
  BL01_SETTLEMENT,
  committedKwOf,
  meterHistory,
  PRODUCT_TERMS,
  type MeterSource,
  type Offer,
} from './products.ts';
import { applyFit, FIT_WINDOW, fitPower, type PowerFit } from './recalibration.ts';

/** One settled offer. */
export interface SettledOffer {
  readonly product: ProductName;
  readonly site: string;
  readonly date: string;
  readonly start: number;
  /** Committed reduction (kW over the window) with and without the recalibrated power model. */
  readonly committedKw: { readonly recalibrated: number; readonly raw: number };
  /** (settlement baseline − metered) × 0.5 h summed over the window (kWh); may be negative. */
  readonly deliveredKwh: number;
  readonly paymentGbp: { readonly recalibrated: number; readonly raw: number };
  /** p415: deviation × MID (£), and the supplier compensation at the reference price (not the site's cost). */
  readonly deviationValueGbp?: number;
  readonly supplierCompensationGbp?: number;
  readonly rules: readonly string[];
  /**
   * The days the BL01 settlement baseline averaged, and how many it wants (10 working, 4
   * non-working): a run's meter history starts at --from, so a window in its first weeks settles
   * on fewer, and the report says so.
   */
  readonly baselineDays: { readonly used: number; readonly wanted: number };
}

export interface Unsettled {
  readonly product: ProductName;
  readonly site: string;
  readonly date: string;
  readonly reason: string;
}

export interface OfferAccuracy {
  /** Offers with a commitment above zero. */
  readonly offers: number;
  readonly committedMwh: number;
  readonly deliveredMwh: number;
  /** Mean |delivered − committed| per offer (kWh). */
  readonly meanAbsErrorKwh: number;
  /** Σ |delivered − committed| ÷ Σ committed. */
  readonly relativeError: number | null;
  /** Share of offers that delivered at least 95 % of the commitment. */
  readonly deliveredAtLeast95Share: number | null;
}

const accuracyOf = (xs: readonly { committedKwh: number; deliveredKwh: number }[]): OfferAccuracy => {
  const on = xs.filter((x) => x.committedKwh > 0);
  const committed = on.reduce((a, x) => a + x.committedKwh, 0);
  const abs = on.reduce((a, x) => a + Math.abs(x.deliveredKwh - x.committedKwh), 0);
  return {
    offers: on.length,
    committedMwh: committed / 1000,
    deliveredMwh: on.reduce((a, x) => a + x.deliveredKwh, 0) / 1000,
    meanAbsErrorKwh: on.length ? abs / on.length : 0,
    relativeError: committed > 0 ? abs / committed : null,
    deliveredAtLeast95Share: on.length
      ? on.filter((x) => x.deliveredKwh >= 0.95 * x.committedKwh).length / on.length
      : null,
  };
};

export interface ProductFigures {
  readonly windows: number;
  readonly offers: number;
  readonly settled: number;
  readonly revenueGbp: number;
  readonly revenueGbpWithoutRecalibration: number;
  readonly deliveredMwh: number;
  /** dso-peak: the availability offered (£/MW/h × committed MW × window h), before the performance factor; paid is in revenueGbp. */
  readonly availabilityGbp?: number;
  readonly utilisationGbp?: number;
  readonly supplierCompensationGbp?: number;
  readonly offerAccuracy: { readonly withRecalibration: OfferAccuracy; readonly withoutRecalibration: OfferAccuracy };
}

export interface ProductResults {
  readonly byProduct: Record<string, ProductFigures>;
  readonly totalGbp: number;
  readonly totalGbpWithoutRecalibration: number;
  readonly offerAccuracy: { readonly withRecalibration: OfferAccuracy; readonly withoutRecalibration: OfferAccuracy };
  /** The last power model fitted per site. */
  readonly powerFit: Record<string, PowerFit>;
  readonly settledOffers: readonly SettledOffer[];
  readonly unsettled: readonly Unsettled[];
}

/**
 * Settles a strategy's offers in the order they were made. Before each commitment the site's power
 * model is recalibrated on the windows delivered before its notice (fitPower); the commitment
 * without recalibration uses the plan's prediction as it was. The commitment does not change what
 * the planner did (it prices the window whatever was accepted), so both are settled from one run.
 */
export const settleOffers = (
  offers: readonly Offer[],
  windows: readonly ProductWindow[],
  m: MeterSource,
  products: readonly ProductName[],
): ProductResults => {
  const eventDays = new Set(windows.map((w) => w.date));
  const pairs = new Map<string, { predictedKw: number; meteredKw: number; endsAt: number }[]>();
  const fits: Record<string, PowerFit> = {};
  const settled: SettledOffer[] = [];
  const unsettled: Unsettled[] = [];
  type Delivery = { product: ProductName; committedKwh: number; deliveredKwh: number };
  const acc = { recalibrated: [] as Delivery[], raw: [] as Delivery[] };
  for (const o of [...offers].sort(
    (a, b) => a.noticeAt - b.noticeAt || a.start - b.start || a.siteIndex - b.siteIndex,
  )) {
    const seen = (pairs.get(o.site) ?? []).filter((p) => p.endsAt <= o.noticeAt);
    const fit = fitPower(seen);
    fits[o.site] = fit;
    const skip = (reason: string) => unsettled.push({ product: o.product, site: o.site, date: o.date, reason });
    const day = m.day(o.siteIndex, o.date);
    if (!day) {
      skip('no metered data for the day');
      continue;
    }
    if (o.withdrawn) {
      skip('no BL01 baseline at the notice (no metered days of the type yet): withdrawn, not planned for');
      continue;
    }
    const metered = day.slice(o.fromSlot, o.fromSlot + o.periods);
    // After delivery the metered window teaches the model, for the next notice, whether or not the
    // window could be settled: the model learns from readings, not from payments.
    const list = pairs.get(o.site) ?? [];
    if (!o.batteryCarried)
      o.predictedKw.forEach((p, i) =>
        list.push({ predictedKw: p, meteredKw: metered[i] as number, endsAt: o.start + o.periods * PERIOD_MS }),
      );
    pairs.set(o.site, list.slice(-FIT_WINDOW * 4));
    if (!o.baselineKw) {
      skip('no BL01 baseline at the notice (no metered days of the type yet)');
      continue;
    }
    const recalKw = o.batteryCarried ? o.predictedKw : o.predictedKw.map((p) => applyFit(fit, p));
    const bl = bl01Baseline(
      meterHistory(m, o.siteIndex, o.date, eventDays),
      o.date,
      day,
      o.fromSlot,
      o.fromSlot + o.periods,
      BL01_SETTLEMENT,
    );
    if (!bl.ok) {
      skip(`no settlement baseline: ${bl.reason}`);
      continue;
    }
    const deliveredKwh = bl.baselineKw.reduce((a, b, i) => a + (b - (metered[i] as number)) * PERIOD_H, 0);
    const baselineDays = {
      used: bl.selectedDays.length,
      wanted: bl.dayType === 'working' ? BL01_SETTLEMENT.workingDays : BL01_SETTLEMENT.nonWorkingDays,
    };
    const periods = metered.map((kw, i) => ({
      start: o.start + i * PERIOD_MS,
      settlementDate: o.date,
      settlementPeriod: o.fromSlot + i + 1,
      baselineKw: bl.baselineKw[i] as number,
      meteredKw: kw,
    }));
    const committed = {
      recalibrated: committedKwOf(o.baselineKw, recalKw),
      raw: committedKwOf(o.baselineKw, o.predictedKw),
    };
    if (o.product === 'p415') {
      // The VTP declares the window (WMAN) only where it expects to sell a reduction.
      const value = periods.reduce(
        (a, p) => a + ((p.baselineKw - p.meteredKw) * PERIOD_H * m.price(p.start)) / 1000,
        0,
      );
      const pay = (kw: number) => (kw > 0 ? Math.round(value * 100) / 100 : 0);
      settled.push({
        product: 'p415',
        site: o.site,
        date: o.date,
        start: o.start,
        committedKw: committed,
        deliveredKwh,
        paymentGbp: { recalibrated: pay(committed.recalibrated), raw: pay(committed.raw) },
        deviationValueGbp: Math.round(value * 100) / 100,
        supplierCompensationGbp: committed.recalibrated > 0 ? Math.round(value * 100) / 100 : 0,
        baselineDays,
        rules: [
          `P415: deviation = (BL01 baseline − metered) × 0.5 h per period, sold at the outturn MID; ${bl.method}`,
          "supplier compensation = deviation × the reference price (its methodology is not shipped: the MID stands in), mutualised across suppliers, not the site's cost",
        ],
      });
    } else {
      const terms = PRODUCT_TERMS[o.product];
      const a = committed.recalibrated > 0 ? settleProduct(terms, periods, committed.recalibrated) : undefined;
      const b = committed.raw > 0 ? settleProduct(terms, periods, committed.raw) : undefined;
      settled.push({
        product: o.product,
        site: o.site,
        date: o.date,
        start: o.start,
        committedKw: committed,
        deliveredKwh,
        paymentGbp: { recalibrated: a?.paymentGbp ?? 0, raw: b?.paymentGbp ?? 0 },
        rules: [...(a ?? b ?? settleProduct(terms, periods, 0)).rules, bl.method],
        baselineDays,
      });
    }
    const h = o.periods * PERIOD_H;
    acc.recalibrated.push({ product: o.product, committedKwh: committed.recalibrated * h, deliveredKwh });
    acc.raw.push({ product: o.product, committedKwh: committed.raw * h, deliveredKwh });
  }
  const byProduct: Record<string, ProductFigures> = {};
  for (const p of products) {
    const s = settled.filter((x) => x.product === p);
    const terms = p === 'p415' ? undefined : PRODUCT_TERMS[p];
    byProduct[p] = {
      windows: windows.filter((w) => w.product === p).length,
      offers: offers.filter((o) => o.product === p).length,
      settled: s.length,
      revenueGbp: round2(s.reduce((a, x) => a + x.paymentGbp.recalibrated, 0)),
      revenueGbpWithoutRecalibration: round2(s.reduce((a, x) => a + x.paymentGbp.raw, 0)),
      deliveredMwh: s.reduce((a, x) => a + x.deliveredKwh, 0) / 1000,
      offerAccuracy: {
        withRecalibration: accuracyOf(acc.recalibrated.filter((x) => x.product === p)),
        withoutRecalibration: accuracyOf(acc.raw.filter((x) => x.product === p)),
      },
      ...(terms?.availabilityGbpPerMwH
        ? {
            availabilityGbp: round2(
              s.reduce(
                (a, x) =>
                  a +
                  (terms.availabilityGbpPerMwH as number) *
                    (x.committedKw.recalibrated / 1000) *
                    (windows.find((w) => w.start === x.start && w.product === p)?.periods ?? 0) *
                    PERIOD_H,
                0,
              ),
            ),
          }
        : {}),
      ...(p === 'p415'
        ? { supplierCompensationGbp: round2(s.reduce((a, x) => a + (x.supplierCompensationGbp ?? 0), 0)) }
        : {}),
    };
  }
  const total = (k: 'recalibrated' | 'raw') => round2(settled.reduce((a, x) => a + x.paymentGbp[k], 0));
  return {
    byProduct,
    totalGbp: total('recalibrated'),
    totalGbpWithoutRecalibration: total('raw'),
    offerAccuracy: { withRecalibration: accuracyOf(acc.recalibrated), withoutRecalibration: accuracyOf(acc.raw) },
    powerFit: fits,
    settledOffers: settled,
    unsettled,
  };
};

const round2 = (x: number): number => Math.round(x * 100) / 100;
