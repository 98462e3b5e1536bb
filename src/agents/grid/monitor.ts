// Following delivery while the window runs (issue 16): the buyer polls status at each slot boundary
// of every part's window and takes the provider's unasked on_status (core 1.1.1 lets a BPP push it)
// the same way. Each observation is checked for a shortfall: energy delivered so far below the
// energy committed so far by more than the tolerance. A shortfall raises one audited alert per
// order and, when the policy says so, a top-up: the missing kW for the whole periods still to come
// in the window, bought through the same search → select → init → confirm path (split.ts) from
// any provider but the one falling short. Each step's outcome is audited with the figures it used.
//
// The tolerance defaults to 5 %: the WPD Flexible Power tolerance (domain/products.ts), so an alert
// means the pay is being cut. An import-limit need is a limit at the provider's own connection
// point: another provider's reduction does not bring that site's import down, so a shortfall there
// is alerted and never topped up.
import type { FlexNeed } from '../../domain/offers.ts';
import { epochMs, isoOf, MINUTE_MS, type EpochMs } from '../../domain/time.ts';
import { settlementPeriodOf } from '../../domain/settlement-day.ts';
import { kw } from '../../domain/units.ts';
import { asFlexError } from '../../errors.ts';
import type { SettlementSummary } from '../../settlement/delivered.ts';
import type { GridOrchestrator, StatusPush } from './orchestrator.ts';
import { procureAcross, type Procurement } from './split.ts';
import type { MonitorPolicy } from './monitor-policy.ts';

export { DEFAULT_MONITOR, type MonitorPolicy } from './monitor-policy.ts';

/** How far short an order is on the periods metered so far; undefined when it is within tolerance. */
export interface Shortfall {
  readonly periods: number;
  readonly deliveredKwh: number;
  readonly committedKwh: number;
  /** Committed but not delivered, period by period (import-limit: imported above the limit). */
  readonly shortfallKwh: number;
  /** kW missing in the latest metered period: what a top-up asks for. */
  readonly missingKw: number;
  /** The latest metered period, UTC with its settlement period. */
  readonly lastPeriod: string;
}

export type MonitorEvent =
  | {
      readonly kind: 'shortfall';
      readonly at: EpochMs;
      readonly procurement: Procurement;
      readonly shortfall: Shortfall;
      readonly source: 'poll' | 'push';
    }
  | {
      readonly kind: 'topped-up';
      readonly at: EpochMs;
      readonly procurement: Procurement;
      readonly bought: readonly Procurement[];
    }
  | { readonly kind: 'no-top-up'; readonly at: EpochMs; readonly procurement: Procurement; readonly reason: string };

const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * The shortfall of `p` on the periods `s` has metered, or undefined. Counted per period, as
 * settlement counts it (settlement/delivered.ts): more in one period does not make up for less in
 * another. A reduction: committed (selectedKw) less delivered (baseline − metered). An import
 * limit: import above the limit, against the allowance.
 */
export const shortfallOf = (
  p: Pick<Procurement, 'selectedKw' | 'product'>,
  need: Pick<FlexNeed, 'importLimitKw'>,
  s: SettlementSummary | undefined,
  tolerance: number,
): Shortfall | undefined => {
  const periods = s?.periods ?? [];
  const last = periods[periods.length - 1];
  if (!last) return undefined;
  const hours = 0.5;
  const limit = p.product?.importLimitKw ?? need.importLimitKw;
  const shortKw = (x: { baselineKw: number; meteredKw: number }) =>
    limit !== undefined ? Math.max(0, x.meteredKw - limit) : Math.max(0, p.selectedKw - (x.baselineKw - x.meteredKw));
  const short = periods.reduce((a, x) => a + shortKw(x) * hours, 0);
  const committed = (limit ?? p.selectedKw) * hours * periods.length;
  if (short <= tolerance * committed) return undefined;
  return {
    periods: periods.length,
    deliveredKwh: Math.round(periods.reduce((a, x) => a + (x.baselineKw - x.meteredKw) * hours, 0) * 1000) / 1000,
    committedKwh: Math.round(p.selectedKw * hours * periods.length * 1000) / 1000,
    shortfallKwh: Math.round(short * 1000) / 1000,
    missingKw: round1(shortKw(last)),
    lastPeriod: `${isoOf(last.start)} (SP${settlementPeriodOf(last.start).period})`,
  };
};

export interface DeliveryMonitorDeps {
  readonly bap: GridOrchestrator;
  readonly need: FlexNeed;
  readonly policy: MonitorPolicy;
  readonly slotMinutes: number;
  /** Market time now (the clock the window is in). */
  readonly now: () => EpochMs;
  /** A new transaction id for a top-up. */
  readonly transactionId: () => string;
  readonly onEvent?: (e: MonitorEvent) => void;
}

/** Follows every part bought for one need (and its top-ups) through its window. */
export class DeliveryMonitor {
  private readonly watched: Procurement[] = [];
  private readonly alerted = new Set<string>();
  private readonly unsubscribe: () => void;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly d: DeliveryMonitorDeps,
    parts: readonly Procurement[],
  ) {
    this.watched.push(...parts);
    this.unsubscribe = d.bap.watchPushes((push) => this.pushed(push));
  }

  /** Every part followed: those bought for the need, then any top-ups, in the order bought. */
  get parts(): readonly Procurement[] {
    return this.watched;
  }

  /**
   * One slot boundary at market time `t`, after the sites have reported: status is asked of every
   * part whose window has begun, up to its end (when its last period is metered), and checked.
   * The final status and statement after the window are follow-up.ts's.
   */
  async step(t: EpochMs): Promise<void> {
    for (const p of [...this.watched]) {
      if (t <= p.offer.windowStart || t > p.offer.windowEnd) continue;
      let settlement: SettlementSummary | undefined;
      try {
        settlement = (await this.d.bap.status(p)).settlement;
      } catch (e) {
        // A status that fails is recorded and asked again at the next slot; a push may still come.
        const f = asFlexError(e);
        await this.audit(p, { event: 'status-failed', code: f.code, message: f.message });
        continue;
      }
      await this.serial(() => this.check(p, settlement, 'poll'));
    }
  }

  /** Waits for any check a push started. */
  async settled(): Promise<void> {
    await this.queue;
  }

  stop(): void {
    this.unsubscribe();
  }

  private pushed(push: StatusPush): void {
    const p = this.watched.find((x) => x.orderId === push.orderId && x.transactionId === push.transactionId);
    if (p && push.settlement) void this.serial(() => this.check(p, push.settlement, 'push'));
  }

  /**
   * Checks run one at a time, so one shortfall is alerted (and topped up) once. A check that fails
   * (its audit write, say) is logged and the next one runs: a push must never become an unhandled
   * rejection.
   */
  private serial(f: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(f).catch((e: unknown) => {
      const x = asFlexError(e);
      this.d.bap.deps.log.warn({ code: x.code, error: x.message }, 'delivery check failed');
    });
    return this.queue;
  }

  private async check(p: Procurement, s: SettlementSummary | undefined, source: 'poll' | 'push'): Promise<void> {
    if (this.alerted.has(p.orderId)) return;
    const shortfall = shortfallOf(p, this.d.need, s, this.d.policy.tolerance);
    if (!shortfall) return;
    this.alerted.add(p.orderId);
    const at = this.d.now();
    await this.audit(p, { event: 'shortfall-alert', source, tolerance: this.d.policy.tolerance, ...shortfall });
    this.d.onEvent?.({ kind: 'shortfall', at, procurement: p, shortfall, source });
    if (this.d.policy.topUp) await this.topUp(p, shortfall);
  }

  private async topUp(p: Procurement, shortfall: Shortfall): Promise<void> {
    const slotMs = this.d.slotMinutes * MINUTE_MS;
    const now = this.d.now();
    // The period under way is already being delivered: a top-up can cover whole periods from the next.
    const from = epochMs((Math.floor(now / slotMs) + 1) * slotMs);
    const reason =
      this.d.need.importLimitKw !== undefined || p.product?.measurement === 'import-limit'
        ? 'an import limit is kept at the provider’s own connection point: another provider cannot make it up'
        : from >= p.offer.windowEnd
          ? `no whole period is left in the window (it ends ${isoOf(p.offer.windowEnd)})`
          : !(shortfall.missingKw > 0)
            ? 'nothing is missing in the latest period'
            : undefined;
    if (reason) {
      await this.audit(p, { event: 'top-up-skipped', reason });
      this.d.onEvent?.({ kind: 'no-top-up', at: now, procurement: p, reason });
      return;
    }
    const need: FlexNeed = {
      ...this.d.need,
      kind: 'price-peak',
      windowStart: from,
      windowEnd: p.offer.windowEnd,
      wantedKw: kw(shortfall.missingKw),
    };
    const transactionId = this.d.transactionId();
    const got = await procureAcross(this.d.bap, need, transactionId, {
      exclude: [p.bpp.subscriber_id],
      purpose: 'top-up',
    }).catch((e: unknown) => ({ none: asFlexError(e).message }));
    const outcome =
      'none' in got
        ? { bought: false, reason: got.none }
        : {
            bought: true,
            boughtKw: got.boughtKw,
            parts: got.parts.map((x) => ({
              bpp: x.bpp.subscriber_id,
              orderId: x.orderId,
              transactionId,
              kw: x.selectedKw,
            })),
            failures: got.failures,
          };
    await this.audit(p, {
      event: 'top-up',
      missingKw: shortfall.missingKw,
      window: { from: isoOf(from), to: isoOf(p.offer.windowEnd) },
      ...outcome,
    });
    if ('none' in got) {
      this.d.onEvent?.({ kind: 'no-top-up', at: this.d.now(), procurement: p, reason: got.none });
      return;
    }
    this.watched.push(...got.parts);
    this.d.onEvent?.({ kind: 'topped-up', at: this.d.now(), procurement: p, bought: got.parts });
  }

  private async audit(p: Procurement, payload: Record<string, unknown>): Promise<void> {
    const d = this.d.bap.deps;
    await d.store.appendAudit({
      kind: 'settlement',
      at: d.wallNow(),
      actor: d.id,
      transactionId: p.transactionId,
      orderId: p.orderId,
      payload: { ...payload, bpp: p.bpp.subscriber_id, marketTime: isoOf(this.d.now()) },
    });
  }
}
