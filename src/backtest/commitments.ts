// A backtest's product windows and the commitments made at their notices (docs/backtest.md,
// "Flexibility products"): which windows are called on its days, with P415's hours chosen on the
// price forecast known at each notice, and what a planner strategy commits to per site there.
import { PERIOD_MS } from '../domain/settlement-day.ts';
import { bl01Baseline } from '../settlement/baseline-bl01.ts';
import type { FleetSite } from './fleet.ts';
import type { PlannerStrategy } from './planner-strategy.ts';
import { productCalendar, type ProductName, type ProductWindow } from './product-calendar.ts';
import { BL01_SETTLEMENT, committedKwOf, meterHistory, type Offer } from './products.ts';
import type { WindowTerms } from './window-choice.ts';
import { ForecastView, newAudit, type carbonNoise, type GridData } from './signal-view.ts';

/**
 * The product windows called on the backtest's days. P415's active hours are chosen on the price
 * forecast as known at each notice, read through a ForecastView bound to the notice: nothing
 * published later can move a window.
 */
export const productWindows = (
  products: readonly ProductName[],
  days: readonly string[],
  data: GridData,
  noise: ReturnType<typeof carbonNoise>,
  pricePerCarbon?: number,
): ProductWindow[] =>
  productCalendar(products, days, (noticeAt) => {
    const at = Math.floor(noticeAt / PERIOD_MS) * PERIOD_MS;
    const view = new ForecastView(data, at, noise, newAudit(), undefined, pricePerCarbon);
    return (t) => view.price((t - data.start) / PERIOD_MS);
  });

/**
 * What a site knows of a window at its notice, before it plans: BL01 over the metered days complete by
 * then (null: none yet), and the import no plan changes in each period of the window, (idle + the
 * day's inference profile) × PUE. The strategy sets its jobs' share of the window's pay from them
 * (window-choice.ts), and its offers are made from them (offersAt).
 */
export const windowTerms = (
  w: ProductWindow,
  sites: readonly FleetSite[],
  meter: readonly Map<string, number[]>[],
  eventDays: ReadonlySet<string>,
  inference: (dayIndex: number, site: number) => readonly number[],
  allDays: readonly string[],
): WindowTerms[] => {
  const k = allDays.indexOf(w.date);
  return sites.map((s, i) => {
    const inf = k >= 0 ? inference(k, i) : [];
    const fixedKw = Array.from(
      { length: w.periods },
      (_, p) => (s.spec.trainingIdleKw + (inf[(w.fromSlot + p) % Math.max(1, inf.length)] ?? 0)) * s.spec.pue,
    );
    const days = meter[i] as Map<string, number[]>;
    // Only days finished by the notice are in the meter store (it is filled at each day's end).
    const history = meterHistory({ day: (_, d) => days.get(d), price: () => 0 }, i, w.date, eventDays);
    const bl = bl01Baseline(history, w.date, [], w.fromSlot, w.fromSlot + w.periods, BL01_SETTLEMENT);
    return { site: s.spec.id, baselineKw: bl.ok ? bl.baselineKw : null, fixedKw };
  });
};

/**
 * The commitments a planner strategy makes at a window's notice, one per site: the import its plan
 * expects in each period of the window (the fixed import of `terms` + planned jobs × PUE + the
 * battery's planned charge − discharge) against BL01 as known then.
 */
export const offersAt = (
  strategy: PlannerStrategy,
  w: ProductWindow,
  sites: readonly FleetSite[],
  terms: readonly WindowTerms[],
  dataStart: number,
): Offer[] =>
  sites.map((s, i) => {
    const t = terms[i] as WindowTerms;
    // Where the site's jobs see only part of a window's pay, its battery carries them: expected as
    // if every GPU were busy there, as the battery was planned (battery-plan.ts windowFill).
    const full = s.spec.trainingMaxKw - s.spec.trainingIdleKw;
    let carried = false;
    const predictedKw = t.fixedKw.map((fixed, p) => {
      const at = w.start + p * PERIOD_MS;
      const period = (at - dataStart) / PERIOD_MS;
      const planned = strategy.plannedJobsKw(s.spec.id, period);
      const byBattery = strategy.batteryCarries(s.spec.id, at);
      carried ||= byBattery;
      const jobsKw = byBattery ? Math.max(full, planned) : planned;
      return fixed + jobsKw * s.spec.pue + strategy.plannedBatteryKw(s.spec.id, period);
    });
    return {
      product: w.product,
      site: s.spec.id,
      siteIndex: i,
      date: w.date,
      noticeAt: w.noticeAt,
      start: w.start,
      periods: w.periods,
      fromSlot: w.fromSlot,
      predictedKw,
      baselineKw: t.baselineKw,
      ...(carried ? { batteryCarried: true } : {}),
    };
  });

/**
 * What a planner strategy does with its offers for a window at the notice, and the offers as recorded.
 * A window no site has a baseline for cannot pay: it is no longer planned for, and its offers are
 * withdrawn (their prediction no longer the plan's, they teach no power model). Otherwise, where a
 * reduction is committed, the site's battery holds the import at baseline − committed in each period
 * of the window: what settlement pays on.
 */
export const commitAtNotice = (
  strategy: PlannerStrategy,
  w: ProductWindow,
  offers: readonly Offer[],
  dataStart: number,
): Offer[] => {
  if (offers.every((x) => x.baselineKw === null)) {
    strategy.unprice(w);
    return offers.map((x) => ({ ...x, withdrawn: true }));
  }
  for (const x of offers) {
    const committed = x.baselineKw ? committedKwOf(x.baselineKw, x.predictedKw) : 0;
    if (x.baselineKw && committed > 0)
      strategy.holdImport(
        x.site,
        (x.start - dataStart) / PERIOD_MS,
        x.baselineKw.map((b) => b - committed),
      );
  }
  return [...offers];
};
