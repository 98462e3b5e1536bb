// Flexibility products in the backtest (issue 15, `--products dfs,dso-peak,p415`): what the planner
// sees of a window, what a site commits, and what it is paid — settled with the settlement code the
// market uses (src/settlement/product.ts, src/settlement/baseline-bl01.ts), not with formulas of its
// own. When each is called: product-calendar.ts; the power model's recalibration: recalibration.ts.
// docs/backtest.md, "Flexibility products", states each rule.
//
// - dfs: NESO Demand Flexibility Service events. The shared notes and grid data hold no list of DFS
//   event days, so the live events named in public reports are used (DFS_LIVE_EVENTS, each with its
//   source); DFS tests are left out (no dated list was found). Pay-as-bid: £/MWh × min(delivered,
//   accepted) per period, no performance factor (settleProduct with dfsGbpPerMwh).
// - dso-peak: the ENA standard product Peak Reduction with the terms of docs/settlement.md's worked
//   example (utilisation £600/MWh, availability £12/MW/h, WPD/NGED performance factor). No DSO
//   call history ships, so it is called by a stated rule: every fourth working day from November to
//   March (working days counted from 2023-01-01), 16:00–19:00 UK local time.
// - p415: a Virtual Trading Party sells the site's deviation from its BL01 baseline in the wholesale
//   market (BSC P415): value = (baseline − metered) × the outturn MID per period. The supplier is
//   compensated for the deviation at the Supplier Compensation Reference Price, mutualised across
//   suppliers under P415 as approved, so it is stated and not counted as the site's cost. Active
//   (WMAN) on every fourth working day, offset by two from dso-peak, in the 2 h of the day with the
//   highest price forecast as known at the notice.
// Every event is announced at 14:00 UK local time the day before (DFS 2022/23 was day-ahead); the
// planner prices the window from then on. BL01 excludes event days, so a product may not be called
// on every working day: the baseline would have no days to average (BSCP602: the deviation is lost).
import { BL01_DEFAULT, bl01Baseline, type Bl01Config, type MeterDay } from '../settlement/baseline-bl01.ts';
import { parseProduct, settleProduct, type ProductTerms } from '../settlement/product.ts';
import { periodsInDay, PERIOD_MS } from '../domain/settlement-day.ts';
import { dayAfter, DFS_LIVE_EVENTS, type ProductName, type ProductWindow } from './product-calendar.ts';
import { applyFit, FIT_WINDOW, fitPower, type PowerFit } from './recalibration.ts';

const HOUR_MS = 3_600_000;
const PERIOD_H = PERIOD_MS / HOUR_MS;

/** Terms, as the market's own product files write them (docs/settlement.md), parsed by the settlement code. */
export const PRODUCT_TERMS: Record<'dfs' | 'dso-peak', ProductTerms> = {
  // A bid at the low end of the cleared range (£150–2,500/MWh in the 2022/23 competitive tests, Utility
  // Week), so it would have been accepted; the notes' DFS illustration uses the same price.
  dfs: parseProduct({
    code: 'DFS',
    name: 'Demand Flexibility Service',
    measurement: 'reduction',
    baseline: 'bl01',
    dfsGbpPerMwh: 300,
    performance: 'PROPORTIONAL',
  }),
  'dso-peak': parseProduct({
    code: 'DSO_PEAK_REDUCTION',
    name: 'Peak Reduction',
    measurement: 'reduction',
    baseline: 'bl01',
    utilisationGbpPerMwh: 600,
    availabilityGbpPerMwH: 12,
    performance: 'WPD-FLEXIBLE-POWER',
  }),
};

/** BL01 on settlement days (46/48/50 periods), as the BSC baselines them. */
export const BL01_SETTLEMENT: Bl01Config = { ...BL01_DEFAULT, periodsOf: periodsInDay };

/**
 * What the planner adds to its price (£/MWh) for energy in a window once announced: the pay for each
 * MWh not used there. dfs and dso-peak: their utilisation price (the planner prices every MWh of the
 * window, not only up to what was accepted: an approximation); p415: the forecast price again, since
 * the deviation is sold at the market price on top of the energy not bought.
 */
export const windowAdder = (w: ProductWindow, forecastPrice: number): number =>
  w.product === 'p415'
    ? Math.max(0, forecastPrice)
    : (PRODUCT_TERMS[w.product].dfsGbpPerMwh ?? PRODUCT_TERMS[w.product].utilisationGbpPerMwh ?? 0);

/** A site's commitment for a window, made at the notice from the strategy's plan. */
export interface Offer {
  readonly product: ProductName;
  readonly site: string;
  readonly siteIndex: number;
  readonly date: string;
  readonly noticeAt: number;
  readonly start: number;
  readonly periods: number;
  readonly fromSlot: number;
  /**
   * Import the plan expected in each period of the window (kW): (idle + inference + planned jobs) × PUE
   * + the battery's planned charge − discharge; the jobs at full load where `batteryCarried`.
   */
  readonly predictedKw: readonly number[];
  /** BL01 as known at the notice (complete days before the notice's day), per period; null: none yet. */
  readonly baselineKw: readonly number[] | null;
  /**
   * No site had a baseline at the notice, so the strategy stopped planning for the window
   * (PlannerStrategy.unprice): not settled, and its prediction, no longer the plan's, teaches nothing.
   */
  readonly withdrawn?: boolean;
  /**
   * Made as if every GPU ran in the window, its battery answering the jobs' share of the pay
   * (window-choice.ts): the prediction is an upper bound by design, so recalibration neither applies
   * to it (the commitment paid is the one the battery holds) nor learns from it.
   */
  readonly batteryCarried?: boolean;
}

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

export interface MeterSource {
  /** Metered import (kW) of a site in each period of a settlement day, or undefined before the run. */
  day(siteIndex: number, date: string): readonly number[] | undefined;
  /** Outturn MID (£/MWh) of the period starting at t. */
  price(t: number): number;
}

/** Meter days for BL01: the days before `date` within its look-back, event days flagged. */
export const meterHistory = (
  m: MeterSource,
  siteIndex: number,
  before: string,
  eventDays: ReadonlySet<string>,
  lookbackDays = BL01_SETTLEMENT.lookbackDays,
): MeterDay[] => {
  const out: MeterDay[] = [];
  for (let k = 1; k <= lookbackDays; k++) {
    const d = dayAfter(before, -k);
    const kw = m.day(siteIndex, d);
    if (kw) out.push({ day: d, importKw: kw, ...(eventDays.has(d) ? { eventDay: true } : {}) });
  }
  return out;
};

/** The committed reduction (kW) for a window: the mean of baseline − predicted, whole kW, never below 0. */
export const committedKwOf = (baselineKw: readonly number[], predictedKw: readonly number[]): number => {
  const n = baselineKw.length;
  const mean = baselineKw.reduce((a, b, i) => a + b - (predictedKw[i] as number), 0) / n;
  return Math.max(0, Math.floor(mean));
};

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

/** What every product shares (results.json `products.rules.all`). */
export const COMMON_RULES = [
  'Announced at 14:00 UK local time the day before; flexlon and the oracle price the window from then on and commit at the notice; fifo, run-now and gsf-best-window make no offers.',
  "Commitment = mean over the window of (BL01 baseline as known at the notice − the import the plan expects), whole kW, at least 0; expected import = (idle + inference + planned jobs) × PUE + the battery's planned charge − discharge, recalibrated after each delivery on the windows already delivered; where the battery answers the jobs' share of a window, the jobs count at full load there and the commitment is not recalibrated.",
  "Settled on BL01 (10 working / 4 non-working days within 60, event days excluded, no in-day adjustment) from the strategy's own metered import; days with any product window are event days. A window without a baseline is listed as not settled.",
  'Reported beside the energy bill, not netted into £, value or the captured share.',
];

/** The rule and assumptions of each product, for results.json and the report. */
export const productRules = (products: readonly ProductName[]): Record<string, string[]> => {
  const out: Record<string, string[]> = { all: COMMON_RULES };
  if (products.includes('dfs'))
    out.dfs = [
      'DFS live events of 2022/23 and 2023/24 as dated in public reports (the shared notes and grid data hold no list): ' +
        DFS_LIVE_EVENTS.map(
          (e) => `${e.date} ${e.from}–${e.to}${e.hoursAssumed ? ' (hours assumed, not given)' : ''}`,
        ).join(', ') +
        '. Test events are not included (no dated list found).',
      'Pay-as-bid £300/MWh × min(delivered, accepted) per period, no performance factor (settleProduct with dfsGbpPerMwh); the bid sits at the low end of the cleared range, so acceptance is assumed.',
    ];
  if (products.includes('dso-peak'))
    out['dso-peak'] = [
      "ENA Peak Reduction with docs/settlement.md's example terms: utilisation £600/MWh × min(delivered, accepted), availability £12/MW/h × accepted MW × window hours, times the WPD/NGED performance factor max(0, 1 − 3 × max(0, shortfall − 5 %)).",
      'Called by rule (no DSO call history ships): every fourth working day counted from 2023-01-01 (backwards before it), November to March, 16:00–19:00 UK local; not on DFS days (DFS 2022/23 excluded assets in DNO services).',
    ];
  if (products.includes('p415'))
    out.p415 = [
      'P415 / VTP: value = (BL01 baseline − metered) × 0.5 h × outturn MID per active period, negative when the site used more; declared (WMAN) only when the commitment is above zero.',
      'Active by rule: every fourth working day counted from 2023-01-01 (backwards before it), offset 2 from dso-peak, in the 2 h with the highest causal price forecast at the notice; not on DFS days.',
      "Supplier compensation = deviation × the Supplier Compensation Reference Price; its methodology is not shipped, so the MID stands in. Mutualised across suppliers under P415 as approved: stated, not counted as the site's cost.",
    ];
  return out;
};
