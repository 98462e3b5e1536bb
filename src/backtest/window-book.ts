// A planner strategy's book of flexibility product windows (docs/backtest.md, "Flexibility
// products"): which are announced by a decision and still priced, the pay each adds to the planner's
// price, how much of it each site's jobs see (window-choice.ts), and the import each committed
// window holds a site under. Kept apart from the planning itself (planner-strategy.ts), which asks
// it per period; checkpointed with the strategy.
import { PERIOD_MS } from '../domain/settlement-day.ts';
import type { ProductWindow } from './product-calendar.ts';
import { windowAdder } from './products.ts';
import type { SiteSim } from './site-sim.ts';
import { jobShareOfPay, type WindowTerms } from './window-choice.ts';

const windowKey = (w: ProductWindow): string => `${w.product}|${w.start}`;
const DAY_MS = 86_400_000;

/** The book's state a resumed run needs (the keys as the strategy's checkpoint has always written them). */
export interface WindowBookState {
  holds?: Record<string, Record<number, number>>;
  unpriced?: string[];
  jobShare?: Record<string, number>;
}

export class WindowBook {
  /** Product windows by the start of each period they cover. */
  private readonly windowsAt = new Map<number, ProductWindow[]>();
  /** Period starts at which a window is announced: a fresh plan then, to commit from. */
  private readonly notices = new Set<number>();
  /** Windows no site could commit to at their notice (no BL01 baseline yet): no longer priced. */
  private unpriced = new Set<string>();
  /** What each site knows of a window announced now (run-day.ts, from commitments.ts), until the plan. */
  private readonly announced: { window: ProductWindow; terms: readonly WindowTerms[] }[] = [];
  /** `site|window` → the share of the window's pay the site's jobs see, where below 1. */
  private jobShare: Record<string, number> = {};
  /** Per site and period index: the import committed to (kW), which its battery holds the site under. */
  private holds: Record<string, Record<number, number>> = {};

  constructor(windows: readonly ProductWindow[]) {
    for (const w of windows) {
      this.notices.add(Math.floor(w.noticeAt / PERIOD_MS) * PERIOD_MS);
      for (let i = 0; i < w.periods; i++) {
        const t = w.start + i * PERIOD_MS;
        this.windowsAt.set(t, [...(this.windowsAt.get(t) ?? []), w]);
      }
    }
  }

  /** Whether a window is announced in the period starting at `t`. */
  isNotice(t: number): boolean {
    return this.notices.has(t);
  }

  /** The windows covering the period starting at `start` that are announced by `now` and still priced. */
  private pricedAt(start: number, now: number): ProductWindow[] {
    return (this.windowsAt.get(start) ?? []).filter((w) => w.noticeAt <= now && !this.unpriced.has(windowKey(w)));
  }

  /** What each site knows of a window at its notice (commitments.ts windowTerms), before the notice's plan. */
  announce(w: ProductWindow, terms: readonly WindowTerms[]): void {
    this.announced.push({ window: w, terms });
  }

  /** The windows announced since the last call: the share of each one's pay each site's jobs see. */
  shareAnnounced(sites: readonly SiteSim[]): void {
    for (const { window: w, terms } of this.announced)
      for (const t of terms) {
        const s = sites.find((x) => x.spec.id === t.site)?.spec;
        if (!s) continue;
        const share = jobShareOfPay(
          t,
          { jobsMaxKw: s.trainingMaxKw - s.trainingIdleKw, pue: s.pue, ...(s.battery ? { battery: s.battery } : {}) },
          PERIOD_MS / 3_600_000,
        );
        if (share < 1) this.jobShare[`${t.site}|${windowKey(w)}`] = share;
      }
    this.announced.length = 0;
  }

  /**
   * A window no site could commit to (no BL01 baseline at its notice, commitments.ts): it cannot pay,
   * so the plans from the next period on no longer price it (the notice's own plan did).
   */
  unprice(w: ProductWindow): void {
    this.unpriced.add(windowKey(w));
  }

  /**
   * The pay (£/MWh) the windows priced at `now` add to the price of the period starting at `start`:
   * each MWh not used there earns it (products.ts windowAdder, on the period's forecast price).
   */
  payAt(start: number, now: number, forecast: number): number {
    return this.pricedAt(start, now).reduce((a, w) => a + windowAdder(w, forecast), 0);
  }

  /** Of that pay, the part `site`'s jobs do not see: its battery answers it (window-choice.ts). */
  batteryPayAt(site: string, start: number, now: number, forecast: number): number {
    return this.pricedAt(start, now).reduce(
      (a, w) => a + (1 - (this.jobShare[`${site}|${windowKey(w)}`] ?? 1)) * windowAdder(w, forecast),
      0,
    );
  }

  /**
   * Whether the period starting at `start` lies in a window priced by `now` whose pay the site's jobs
   * see only in part: its battery is then planned, and a commitment made, for a full cluster there.
   * Decided per period, so that windows overlapping with different shares agree.
   */
  batteryCarries(site: string, start: number, now: number): boolean {
    return this.pricedAt(start, now).some((w) => (this.jobShare[`${site}|${windowKey(w)}`] ?? 1) < 1);
  }

  /** A commitment's hold: import at `site` at or below `kw[p]` from period `period` on (the stricter wins). */
  hold(site: string, period: number, kw: readonly number[]): void {
    const h = (this.holds[site] ??= {});
    kw.forEach((x, p) => (h[period + p] = Math.min(h[period + p] ?? Infinity, x)));
  }

  /** The import cap a commitment holds `site` under in period `period`, if any. */
  capAt(site: string, period: number): number | undefined {
    return this.holds[site]?.[period];
  }

  /** Drops holds before `period` and the shares of windows that started over a day before `now`. */
  prune(period: number, now: number): void {
    for (const h of Object.values(this.holds))
      for (const k of Object.keys(h)) if (Number(k) < period) delete h[Number(k)];
    for (const k of Object.keys(this.jobShare))
      if (Number(k.slice(k.lastIndexOf('|') + 1)) < now - DAY_MS) delete this.jobShare[k];
  }

  save(): Required<WindowBookState> {
    return { holds: this.holds, unpriced: [...this.unpriced], jobShare: this.jobShare };
  }

  load(s: WindowBookState): void {
    this.holds = s.holds ?? {};
    this.unpriced = new Set(s.unpriced ?? []);
    this.jobShare = s.jobShare ?? {};
  }
}
