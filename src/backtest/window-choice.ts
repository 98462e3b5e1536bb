// How much of a product window's pay a site's jobs see (docs/backtest.md, "Flexibility products").
//
// Once a window is announced its pay is priced into the planner's signals: the battery keeps charge
// for it, and each MWh of the jobs' energy kept out of it looks worth the product's rate. But the
// import a site can be paid to cut stops at zero: the battery discharges into the site's own load and
// never exports (site-battery.ts). Where the battery alone can carry the whole site through the window,
// fixed load and every GPU at full power, no MWh of the jobs changes what the window pays, and a job
// deferred out of it only waits. Priced into the jobs anyway (as before this rule), the cdf fortnight
// of January 2023 earned £342 and paid £675 more in lateness and energy than with the jobs blind to
// the windows, which earned £128.
//
// So a job MWh in the window is priced at the share of the window's pay the battery cannot answer:
// 1 − (what the battery can discharge beyond the fixed load) ÷ (the jobs' import at full power),
// between 0 and 1. A linear price cannot say "the first MWh are free, the last pay in full"; the
// share is the average of that, stated as an approximation. Without a battery the share is 1.
import type { SiteBattery } from './site-battery.ts';

/** What a site knows of a window at its notice (commitments.ts windowTerms). */
export interface WindowTerms {
  readonly site: string;
  /** BL01 per period of the window as known at the notice; null: no baseline yet, nothing can pay. */
  readonly baselineKw: readonly number[] | null;
  /** Import no plan changes in each period of the window: (idle + inference) × PUE (kW). */
  readonly fixedKw: readonly number[];
}

/** The site's terms the share is taken from. */
export interface ShareSite {
  /** The jobs' IT power at full load (every GPU busy, above idle), kW. */
  readonly jobsMaxKw: number;
  readonly pue: number;
  readonly battery?: SiteBattery;
}

/** The average discharge (kW) the battery can hold over `hours` from its usable stored energy. */
export const batteryCoverKw = (b: SiteBattery | undefined, hours: number): number =>
  b && hours > 0 ? Math.max(0, Math.min(b.maxDischargeKw, (b.maxSocKwh - b.minSocKwh) / hours)) : 0;

/** The share (0–1) of the window's pay per MWh the site's jobs see in their prices. */
export const jobShareOfPay = (terms: WindowTerms, site: ShareSite, periodHours: number): number => {
  const n = terms.fixedKw.length;
  if (!site.battery || n === 0) return 1;
  const fixed = terms.fixedKw.reduce((a, b) => a + b, 0) / n;
  const jobsKw = site.jobsMaxKw * site.pue;
  if (!(jobsKw > 0)) return 0;
  const free = Math.max(0, batteryCoverKw(site.battery, n * periodHours) - fixed);
  return Math.min(1, Math.max(0, 1 - free / jobsKw));
};
