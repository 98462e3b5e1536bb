// The order state machine of the Flexibility Orchestrator (BPP). Pure: a transition either returns
// the next order or says why it is illegal; nothing is changed on refusal.
//
//   searched ─select→ quoted ─init→ initialised ─confirm→ confirmed ─start→ active ─finish→ completed
//   quoted/initialised ─select→ quoted (a new quote);  confirmed ─update→ confirmed (new terms)
//   any state before active ─cancel→ cancelled (fee by the cancellation terms); confirmed/active ─fail→ failed
//
// Two clocks, as everywhere (docs/architecture.md): `now` (wall time) stamps the order and bounds the
// quote's validity (a quote is a promise to a peer, as a signature is); `marketNow` (market time)
// is compared with the delivery window and the cancellation notice, which are market times.
import type { ProductTerms } from './products.ts';
import type { EpochMs } from './time.ts';
import { gbp, type Kilowatts, type Pounds } from './units.ts';

export const ORDER_STATES = [
  'searched',
  'quoted',
  'initialised',
  'confirmed',
  'active',
  'completed',
  'cancelled',
  'failed',
] as const;
export type OrderState = (typeof ORDER_STATES)[number];

/**
 * The cancellation terms stated in on_init (core 1.1.1 Order.cancellation_terms) and applied at
 * cancel and update: free before the order is confirmed, and free up to `freeNoticeMinutes` before
 * the window opens; later, `lateFeePercent` of the price (of the part given up, for an update that
 * lowers it). Once the window has opened the commitment is being delivered and cannot be cancelled.
 */
export interface CancellationPolicy {
  readonly freeNoticeMinutes: number;
  readonly lateFeePercent: number;
}

export const DEFAULT_CANCELLATION: CancellationPolicy = { freeNoticeMinutes: 60, lateFeePercent: 50 };

/** How much of the order one site delivers (a portfolio order is split across sites by the optimiser). */
export interface Allocation {
  readonly site: string;
  readonly reductionKw: Kilowatts;
}

export type OrderEvent =
  | {
      readonly type: 'select';
      readonly reductionKw: Kilowatts;
      readonly priceGbp: Pounds;
      readonly quoteExpiresAt: EpochMs;
      readonly allocations?: readonly Allocation[];
    }
  | {
      readonly type: 'init';
      readonly baselineMethod: string;
      readonly cancellation?: CancellationPolicy;
      /** The product's terms the buyer sent in init (settlement applies exactly these). */
      readonly product?: ProductTerms;
    }
  | { readonly type: 'confirm' }
  | { readonly type: 'start'; readonly marketNow?: EpochMs }
  | { readonly type: 'finish'; readonly marketNow?: EpochMs }
  | { readonly type: 'cancel'; readonly reason: string; readonly marketNow?: EpochMs }
  | {
      readonly type: 'update';
      readonly marketNow: EpochMs;
      readonly reductionKw: Kilowatts;
      readonly priceGbp: Pounds;
      readonly windowStart: EpochMs;
      readonly windowEnd: EpochMs;
      readonly allocations?: readonly Allocation[];
    }
  | { readonly type: 'fail'; readonly reason: string };

export interface Order {
  readonly id: string;
  readonly transactionId: string;
  readonly bapId: string;
  readonly bapUri: string;
  readonly offerId: string;
  /** The offer's site, or `portfolio` for an offer across sites (then see allocations). */
  readonly site: string;
  readonly windowStart: EpochMs;
  readonly windowEnd: EpochMs;
  readonly reductionKw: Kilowatts;
  readonly priceGbp: Pounds;
  readonly state: OrderState;
  readonly quoteExpiresAt?: EpochMs;
  readonly baselineMethod?: string;
  readonly cancellation?: CancellationPolicy;
  /** Owed by the buyer under the cancellation terms (a cancellation, or an update that gave part of the order up). */
  readonly feeGbp?: Pounds;
  /** Accepted updates so far. */
  readonly revision?: number;
  readonly allocations?: readonly Allocation[];
  /** The product's terms agreed at init (measurement, payments, performance rule); absent: pay on delivery. */
  readonly product?: ProductTerms;
  readonly reason?: string;
  readonly updatedAt: EpochMs;
}

export type Transition = { readonly ok: true; readonly order: Order } | { readonly ok: false; readonly reason: string };

const FINAL: readonly OrderState[] = ['completed', 'cancelled', 'failed'];
const MINUTE = 60_000;

const from = (order: Order, allowed: readonly OrderState[], event: OrderEvent['type']): string | undefined =>
  allowed.includes(order.state)
    ? undefined
    : `cannot ${event} an order that is ${order.state} (allowed from: ${allowed.join(', ')})`;

const expired = (order: Order, now: EpochMs): string | undefined =>
  order.quoteExpiresAt !== undefined && now > order.quoteExpiresAt ? 'the quote has expired: select again' : undefined;

const round2 = (x: number): number => Math.round(x * 100) / 100;

export type FeeRuling =
  | { readonly ok: true; readonly feeGbp: Pounds; readonly term: 'before-confirmation' | 'with-notice' | 'late' }
  | { readonly ok: false; readonly reason: string };

/** The fee for giving up `shareGbp` of a confirmed order at `marketNow`, under its cancellation terms. */
export const lateChangeFee = (order: Order, marketNow: EpochMs, shareGbp: number): FeeRuling => {
  if (order.state === 'searched' || order.state === 'quoted' || order.state === 'initialised')
    return { ok: true, feeGbp: gbp(0), term: 'before-confirmation' };
  if (order.state !== 'confirmed') return { ok: false, reason: `the order is ${order.state}` };
  if (marketNow >= order.windowStart)
    return {
      ok: false,
      reason: `delivery started at the window's opening (${new Date(order.windowStart).toISOString()}, market time)`,
    };
  const terms = order.cancellation ?? DEFAULT_CANCELLATION;
  if (marketNow <= order.windowStart - terms.freeNoticeMinutes * MINUTE)
    return { ok: true, feeGbp: gbp(0), term: 'with-notice' };
  return { ok: true, feeGbp: gbp(round2((Math.max(0, shareGbp) * terms.lateFeePercent) / 100)), term: 'late' };
};

/** What cancelling the order at `marketNow` costs the buyer, or why it cannot be cancelled. */
export const cancellationFee = (order: Order, marketNow: EpochMs): FeeRuling =>
  lateChangeFee(order, marketNow, order.priceGbp);

const onCancel = (
  order: Order,
  event: Extract<OrderEvent, { type: 'cancel' }>,
  next: (p: Partial<Order>) => Transition,
): Transition => {
  if (FINAL.includes(order.state)) return { ok: false, reason: `cannot cancel an order that is ${order.state}` };
  if (order.state === 'active')
    return { ok: false, reason: 'cannot cancel an order that is active: delivery has started' };
  if (event.marketNow === undefined) return next({ state: 'cancelled', reason: event.reason });
  const fee = cancellationFee(order, event.marketNow);
  if (!fee.ok) return { ok: false, reason: `cannot cancel: ${fee.reason}` };
  return next({ state: 'cancelled', reason: event.reason, ...(fee.feeGbp > 0 ? { feeGbp: fee.feeGbp } : {}) });
};

const onUpdate = (
  order: Order,
  e: Extract<OrderEvent, { type: 'update' }>,
  next: (p: Partial<Order>) => Transition,
): Transition => {
  const bad = from(order, ['confirmed'], e.type);
  if (bad) return { ok: false, reason: bad };
  if (!(e.reductionKw > 0) || !(e.windowEnd > e.windowStart))
    return { ok: false, reason: 'an update needs a positive reduction and a window that ends after it starts' };
  if (e.windowStart <= e.marketNow)
    return { ok: false, reason: 'the updated window must start in the future (market time)' };
  // Giving part of the order up late costs the late fee on the part given up, as a cancellation would.
  const fee = lateChangeFee(order, e.marketNow, order.priceGbp - e.priceGbp);
  if (!fee.ok) return { ok: false, reason: `cannot update: ${fee.reason}` };
  const feeGbp = round2((order.feeGbp ?? 0) + fee.feeGbp);
  return next({
    reductionKw: e.reductionKw,
    priceGbp: e.priceGbp,
    windowStart: e.windowStart,
    windowEnd: e.windowEnd,
    revision: (order.revision ?? 0) + 1,
    ...(feeGbp > 0 ? { feeGbp: gbp(feeGbp) } : {}),
    ...(e.allocations ? { allocations: e.allocations } : {}),
  });
};

/** Window-bound events: refused before their market time when the caller states it. */
const onTimed = (
  order: Order,
  e: Extract<OrderEvent, { type: 'start' | 'finish' }>,
  next: (p: Partial<Order>) => Transition,
): Transition => {
  const bad = from(order, e.type === 'start' ? ['confirmed'] : ['active', 'confirmed'], e.type);
  if (bad) return { ok: false, reason: bad };
  const due = e.type === 'start' ? order.windowStart : order.windowEnd;
  if (e.marketNow !== undefined && e.marketNow < due)
    return { ok: false, reason: `cannot ${e.type} before ${new Date(due).toISOString()} (market time)` };
  return next({ state: e.type === 'start' ? 'active' : 'completed' });
};

export const transition = (order: Order, event: OrderEvent, now: EpochMs): Transition => {
  const refuse = (reason: string): Transition => ({ ok: false, reason });
  const next = (patch: Partial<Order>): Transition => ({ ok: true, order: { ...order, ...patch, updatedAt: now } });
  switch (event.type) {
    case 'select': {
      const bad = from(order, ['searched', 'quoted', 'initialised'], event.type);
      if (bad) return refuse(bad);
      return next({
        state: 'quoted',
        reductionKw: event.reductionKw,
        priceGbp: event.priceGbp,
        quoteExpiresAt: event.quoteExpiresAt,
        ...(event.allocations ? { allocations: event.allocations } : {}),
      });
    }
    case 'init': {
      const bad = from(order, ['quoted', 'initialised'], event.type) ?? expired(order, now);
      if (bad) return refuse(bad);
      return next({
        state: 'initialised',
        baselineMethod: event.baselineMethod,
        cancellation: event.cancellation ?? order.cancellation ?? DEFAULT_CANCELLATION,
        ...(event.product ? { product: event.product } : {}),
      });
    }
    case 'confirm': {
      const bad = from(order, ['initialised'], event.type) ?? expired(order, now);
      return bad ? refuse(bad) : next({ state: 'confirmed' });
    }
    case 'start':
    case 'finish':
      return onTimed(order, event, next);
    case 'cancel':
      return onCancel(order, event, next);
    case 'update':
      return onUpdate(order, event, next);
    case 'fail': {
      const bad = from(order, ['confirmed', 'active'], event.type);
      return bad ? refuse(bad) : next({ state: 'failed', reason: event.reason });
    }
    default: {
      const never: never = event;
      return refuse(`unknown event ${JSON.stringify(never)}`);
    }
  }
};

/** The order with the window-bound transitions that are due at `marketNow` applied (confirmed → active → completed). */
export const advance = (order: Order, marketNow: EpochMs, now: EpochMs): Order => {
  let o = order;
  for (const type of ['start', 'finish'] as const) {
    const t = transition(o, { type, marketNow }, now);
    if (t.ok && (type === 'start' || o.state === 'active')) o = t.order;
  }
  return o;
};

export const isFinal = (state: OrderState): boolean => FINAL.includes(state);

/** The orders whose commitments bind the plan. */
export const isLive = (state: OrderState): boolean => state === 'confirmed' || state === 'active';
