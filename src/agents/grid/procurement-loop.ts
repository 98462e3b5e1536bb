// The Grid Orchestrator's own loop, driven by market time: for each day it finds the need (a grid
// event's window, else the forecast peak), searches the network `procureLeadSlots` before the
// window, ranks the offers, buys the best through select → init → confirm, follows delivery while
// the window runs (monitor.ts: status each slot and the provider's pushes, shortfall alerts, top-ups),
// and after the window asks for status (the settlement per period) and support (the signed
// statement), which it checks against its own meter view (statement-check.ts, meter-view.ts).
// It tells a listener what happens as it happens, so a console, a log or a test can follow it.
//
// Each slot's decisions are one `step(t)`. `run()` calls it at every slot boundary of the Clock
// (`flexlon run bap`); a composition that must order the buyer after other participants in the
// same slot (the demo, one process) calls step() itself.
import type { FlexNeed } from '../../domain/offers.ts';
import type { SettlementSummary } from '../../settlement/delivered.ts';
import type { SiteSettlement } from '../../settlement/codec.ts';
import { settlementDayStartAfter, settlementDayStartOf } from '../../domain/settlement-day.ts';
import { MINUTE_MS, epochMs, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import { asFlexError } from '../../errors.ts';
import type { Clock } from '../../ports.ts';
import type { GridOrchestrator, Procurement } from './orchestrator.ts';
import { DeliveryMonitor, type MonitorEvent, type MonitorPolicy } from './monitor.ts';
import { followUp } from './follow-up.ts';
import type { StatementCheck } from './statement-check.ts';

export type ProcurementEvent =
  /** The need for the day was found (or replaced by a grid event posted since). */
  | { readonly kind: 'need'; readonly at: EpochMs; readonly need: FlexNeed; readonly replaces?: FlexNeed }
  /** The search goes out. */
  | { readonly kind: 'searching'; readonly at: EpochMs; readonly need: FlexNeed }
  | { readonly kind: 'no-deal'; readonly at: EpochMs; readonly reason: string }
  | { readonly kind: 'bought'; readonly at: EpochMs; readonly procurement: Procurement }
  | { readonly kind: 'window-open'; readonly at: EpochMs; readonly procurement: Procurement }
  | {
      readonly kind: 'status';
      readonly at: EpochMs;
      readonly procurement: Procurement;
      readonly state: string | undefined;
      readonly settlement: SettlementSummary | undefined;
    }
  | {
      readonly kind: 'statement';
      readonly at: EpochMs;
      readonly procurement: Procurement;
      readonly statement: SettlementSummary | undefined;
    }
  /** The buyer recomputed the statement under the terms it bought on (statement-check.ts). */
  | {
      readonly kind: 'checked';
      readonly at: EpochMs;
      readonly procurement: Procurement;
      readonly check: StatementCheck;
    }
  /** A step failed; the loop carries on at the next slot. */
  | { readonly kind: 'error'; readonly at: EpochMs; readonly code: string; readonly message: string };

/** What one day's procurement came to. */
export interface DayOutcome {
  readonly day: EpochMs;
  need?: FlexNeed;
  tried: boolean;
  procurement?: Procurement;
  noDeal?: string;
  finalState?: string;
  settlement?: SettlementSummary;
  sites: SiteSettlement[];
  statement?: SettlementSummary;
  /** Every part bought for the need (the first is `procurement`), with its follow-up once asked. */
  parts: { procurement: Procurement; state?: string; statement?: SettlementSummary; check?: StatementCheck }[];
}

export interface ProcurementLoopDeps {
  readonly bap: GridOrchestrator;
  readonly clock: Clock;
  readonly slotMinutes: number;
  /** A new transaction id (injected so that a seeded run is repeatable). */
  readonly transactionId: () => string;
  /** Grid events (OpenADR-style) known now; a change while the day runs re-reads the need. */
  readonly eventCount?: () => Promise<number>;
  readonly onEvent?: (e: ProcurementEvent) => void;
  /** Delivery monitoring for this loop; absent: the buyer's policy's (NeedPolicy.monitor), if any. */
  readonly monitor?: MonitorPolicy;
  /** What delivery monitoring finds: shortfall alerts and top-ups (monitor.ts). */
  readonly onMonitor?: (e: MonitorEvent) => void;
}

export class ProcurementLoop {
  private today: DayOutcome | undefined;
  private monitor: DeliveryMonitor | undefined;
  private events = -1;
  readonly days: DayOutcome[] = [];

  constructor(private readonly d: ProcurementLoopDeps) {}

  private emit(e: ProcurementEvent): void {
    this.d.onEvent?.(e);
  }

  /** The GB settlement day that holds t (BSC Section X-1: UK local midnight to midnight). */
  private dayOf(t: EpochMs): SlotGrid {
    const start = settlementDayStartOf(t);
    return {
      start,
      slotMinutes: this.d.slotMinutes,
      slots: Math.round((settlementDayStartAfter(start, 1) - start) / (this.d.slotMinutes * MINUTE_MS)),
    };
  }

  /** The current day's outcome (the need, the deal, the settlement so far). */
  get current(): DayOutcome | undefined {
    return this.today;
  }

  /** Finds the day's need now (the loop does it itself at the day's first step). */
  async plan(t: EpochMs = this.d.clock.now()): Promise<DayOutcome> {
    const day = this.dayOf(t);
    if (this.today?.day === day.start) return this.today;
    const outcome: DayOutcome = { day: day.start, tried: false, sites: [], parts: [] };
    this.today = outcome;
    this.days.push(outcome);
    this.events = (await this.d.eventCount?.()) ?? 0;
    const need = await this.d.bap.detectNeed(day);
    if (need) {
      outcome.need = need;
      this.emit({ kind: 'need', at: t, need });
    }
    return outcome;
  }

  /** One slot's decisions at market time `t`. Errors are reported as events, never thrown. */
  async step(t: EpochMs): Promise<void> {
    try {
      await this.decide(t);
    } catch (e) {
      const f = asFlexError(e);
      this.emit({ kind: 'error', at: this.d.clock.now(), code: f.code, message: f.message });
    }
  }

  private async decide(t: EpochMs): Promise<void> {
    const o = await this.plan(t);
    const slotMs = this.d.slotMinutes * MINUTE_MS;
    // Until it has bought, a grid event posted while the day runs can replace the forecast peak.
    if (!o.tried && this.d.eventCount) {
      const n = await this.d.eventCount();
      if (n !== this.events) {
        this.events = n;
        const fresh = await this.d.bap.detectNeed(this.dayOf(t));
        const same = (a: FlexNeed, b: FlexNeed) =>
          a.kind === b.kind && a.windowStart === b.windowStart && a.windowEnd === b.windowEnd;
        if (fresh && !(o.need && same(fresh, o.need))) {
          this.emit({ kind: 'need', at: t, need: fresh, ...(o.need ? { replaces: o.need } : {}) });
          o.need = fresh;
        }
      }
    }
    const need = o.need;
    if (!need) return;
    const procureAt = need.windowStart - this.d.bap.policy.procureLeadSlots * slotMs;
    if (!o.tried && t >= procureAt && t < need.windowStart) {
      o.tried = true;
      this.emit({ kind: 'searching', at: t, need });
      const got = await this.d.bap.procure(need, this.d.transactionId());
      if ('none' in got) {
        o.noDeal = got.none;
        this.emit({ kind: 'no-deal', at: this.d.clock.now(), reason: got.none });
        return;
      }
      o.procurement = got;
      o.parts = [got, ...(got.more ?? [])].map((procurement) => ({ procurement }));
      // A need split across providers (split.ts): each part is told as bought, in the order bought.
      for (const part of [got, ...(got.more ?? [])])
        this.emit({ kind: 'bought', at: this.d.clock.now(), procurement: part });
    }
    const p = o.procurement;
    if (!p) return;
    if (t === p.offer.windowStart) this.emit({ kind: 'window-open', at: t, procurement: p });
    // While a window runs, when the buyer's policy asks for monitoring: status each slot, pushes as
    // they come, a shortfall alerted and (if configured) topped up. Without it, status is asked after.
    const monitor = this.monitorFor(o, need, p);
    await monitor?.step(t);
    // Follow-up one slot after each part's window: the provider has metered the last period by then.
    for (const [i, part] of (monitor?.parts ?? [p, ...(p.more ?? [])]).entries()) {
      if (t !== part.offer.windowEnd + slotMs) continue;
      const f = await followUp(this.d.bap, part);
      if (i === 0) {
        if (f.state !== undefined) o.finalState = f.state;
        if (f.settlement) o.settlement = f.settlement;
        o.sites = f.sites;
        if (f.statement) o.statement = f.statement;
      }
      const slot = o.parts.find((x) => x.procurement === part);
      if (slot) {
        if (f.state !== undefined) slot.state = f.state;
        if (f.statement) slot.statement = f.statement;
        if (f.check) slot.check = f.check;
      }
      this.emit({ kind: 'status', at: t, procurement: part, state: f.state, settlement: f.settlement });
      this.emit({ kind: 'statement', at: this.d.clock.now(), procurement: part, statement: f.statement });
      // Checked before it is paid: agreement or a dispute naming each differing figure, audited.
      if (f.check) this.emit({ kind: 'checked', at: this.d.clock.now(), procurement: part, check: f.check });
    }
  }

  /** The day's delivery monitor, if the policy asks for one; a top-up it buys joins the day's parts. */
  private monitorFor(o: DayOutcome, need: FlexNeed, p: Procurement): DeliveryMonitor | undefined {
    const policy = this.d.monitor ?? this.d.bap.policy.monitor;
    if (!policy) return undefined;
    if (this.monitor && this.monitor.parts[0] === p) return this.monitor;
    this.monitor?.stop();
    const monitor = new DeliveryMonitor(
      {
        bap: this.d.bap,
        need,
        policy,
        slotMinutes: this.d.slotMinutes,
        now: () => this.d.clock.now(),
        transactionId: this.d.transactionId,
        onEvent: (e) => {
          if (e.kind === 'topped-up')
            for (const part of e.bought) {
              o.parts.push({ procurement: part });
              this.emit({ kind: 'bought', at: e.at, procurement: part });
            }
          this.d.onMonitor?.(e);
        },
      },
      [p, ...(p.more ?? [])],
    );
    this.monitor = monitor;
    return monitor;
  }

  /** Steps at every slot boundary from now until `until` (market time) or until aborted. */
  async run(until: EpochMs, signal?: AbortSignal): Promise<void> {
    const slot = this.d.slotMinutes * MINUTE_MS;
    await this.plan();
    for (let t = epochMs(Math.ceil(this.d.clock.now() / slot) * slot); t <= until; t = epochMs(t + slot)) {
      await this.d.clock.waitUntil(t, signal);
      await this.step(t);
    }
  }
}
