// When and how much the Grid Orchestrator asks for: its need policy, and the day's need found from
// it — a grid event's window when an event asks for one, else the forecast price/carbon peak inside
// the policy's peak hours. Apart from the orchestrator (orchestrator.ts) so that the configs that
// set a policy (compose/, run/roles/bap.ts, cli/) name it without the Beckn lifecycle.
import type { EventNeed, NeedDefaults } from '../../domain/grid-events.ts';
import { findPeakWindow } from '../../domain/need.ts';
import type { FlexNeed } from '../../domain/offers.ts';
import { carbonOf, pricesOf } from '../../domain/signals.ts';
import { londonOffsetMs } from '../../domain/settlement-day.ts';
import { slotStart, type SlotGrid } from '../../domain/time.ts';
import { gbpPerMwh, kw } from '../../domain/units.ts';
import type { Clock, SignalSource, Store } from '../../ports.ts';
import type { MonitorPolicy } from './monitor-policy.ts';

export interface NeedPolicy {
  /** Length of the window asked for, in slots. */
  readonly windowSlots: number;
  /** The window must start at least this many slots after the decision. */
  readonly leadSlots: number;
  readonly wantedKw: number;
  readonly maxPriceGbpPerMwh: number;
  readonly priceWeight: number;
  /**
   * Hours of the day (UK local clock, [from, to)) in which the buyer looks for its peak. DSO
   * peak-reduction products target the winter evening peak, typically 16:00–20:00 local time.
   */
  readonly peakHours: readonly [number, number];
  /** Procure this many slots before the window opens (within-day, as DFS and DSO utilisation calls are). */
  readonly procureLeadSlots: number;
  /**
   * Delivery monitoring while the window runs (monitor.ts): the shortfall tolerance and whether to
   * top up. Absent: no status during the window, only the follow-up after it (the demo's default).
   */
  readonly monitor?: MonitorPolicy;
}

export const DEFAULT_NEED_POLICY: NeedPolicy = {
  windowSlots: 2,
  leadSlots: 2,
  wantedKw: 200,
  maxPriceGbpPerMwh: 3000,
  priceWeight: 0.5,
  peakHours: [16, 20],
  procureLeadSlots: 4,
};

/** What finding a need reads (part of the orchestrator's deps): the clocks, events, forecasts, policy. */
export interface NeedSources {
  readonly id: string;
  readonly store: Store;
  readonly market: Clock;
  readonly wallNow: () => number;
  readonly signals: SignalSource;
  readonly region: string;
  readonly policy: NeedPolicy;
  /** Grid events (OpenADR-style DSO/TSO needs); when one asks for a window, it is the need. */
  readonly events?: { needs(from: number, to: number, defaults: NeedDefaults): Promise<EventNeed[]> };
}

/**
 * The need for `day`, starting no earlier than leadSlots after now: a grid event's window if an
 * event asks for one (highest priority first), else the day's forecast price/carbon peak. Audited.
 */
export const detectNeed = async (d: NeedSources, day: SlotGrid): Promise<FlexNeed | undefined> => {
  const now = d.market.now();
  const fromEvent = (
    await d.events?.needs(now + d.policy.leadSlots * day.slotMinutes * 60_000, slotStart(day, day.slots), {
      wantedKw: d.policy.wantedKw,
      maxPriceGbpPerMwh: d.policy.maxPriceGbpPerMwh,
    })
  )?.[0];
  if (fromEvent) {
    const { need, ...event } = fromEvent;
    await d.store.appendAudit({ kind: 'need', at: d.wallNow(), actor: d.id, payload: { need, event } });
    return need;
  }
  const s = await d.signals.forecast(d.region, day, now);
  // The peak hours are UK local clock hours (DSO products state their windows so); on the days the
  // clocks change a local hour is not a fixed number of periods after the day's start.
  const localHour = (k: number): number => {
    const t = slotStart(day, k);
    return ((t + londonOffsetMs(t)) % 86_400_000) / 3_600_000;
  };
  const firstAt = (hour: number): number => {
    let k = 0;
    while (k < day.slots && localHour(k) < hour) k++;
    return k;
  };
  const earliest = Math.max(
    Math.max(0, Math.ceil((now - day.start) / (day.slotMinutes * 60_000))) + d.policy.leadSlots,
    firstAt(d.policy.peakHours[0]),
  );
  const last = firstAt(d.policy.peakHours[1]);
  const peak = findPeakWindow(
    pricesOf(s).slice(0, last),
    carbonOf(s, 'forecast').slice(0, last),
    d.policy.windowSlots,
    earliest,
    d.policy.priceWeight,
  );
  if (!peak) return undefined;
  const need: FlexNeed = {
    kind: 'price-peak',
    windowStart: slotStart(day, peak.fromSlot),
    windowEnd: slotStart(day, peak.toSlot),
    wantedKw: kw(d.policy.wantedKw),
    maxPriceGbpPerMwh: gbpPerMwh(d.policy.maxPriceGbpPerMwh),
  };
  await d.store.appendAudit({
    kind: 'need',
    at: d.wallNow(),
    actor: d.id,
    payload: { need, peak, signalsIssuedAt: s.issuedAt },
  });
  return need;
};
