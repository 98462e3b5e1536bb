// Flexibility products in the backtest (issue 15, `--products dfs,dso-peak,p415`): each product's
// terms, what the planner sees of a window, and what a site commits. What it is paid:
// product-settlement.ts, settled with the settlement code the market uses (src/settlement/product.ts,
// src/settlement/baseline-bl01.ts), not with formulas of its own. When each is called:
// product-calendar.ts; the power model's recalibration: recalibration.ts; the rules as the outputs
// state them: product-rules.ts. docs/backtest.md, "Flexibility products", states each rule.
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
import { BL01_DEFAULT, type Bl01Config, type MeterDay } from '../settlement/baseline-bl01.ts';
import { parseProduct, type ProductTerms } from '../settlement/product.ts';
import { periodsInDay } from '../domain/settlement-day.ts';
import { dayAfter, type ProductName, type ProductWindow } from './product-calendar.ts';

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
