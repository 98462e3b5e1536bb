// The order state machine of the Flexibility Orchestrator (BPP). Pure: a transition either returns
// the next order or says why it is illegal; nothing is changed on refusal.
//
//   searched ─select→ quoted ─init→ initialised ─confirm→ confirmed ─start→ active ─finish→ completed
//   any non-final state ─cancel→ cancelled; confirmed/active ─fail→ failed
import type { EpochMs } from './time.ts';
import type { Kilowatts, Pounds } from './units.ts';

export const ORDER_STATES = ['searched', 'quoted', 'initialised', 'confirmed', 'active', 'completed', 'cancelled', 'failed'] as const;
export type OrderState = (typeof ORDER_STATES)[number];

export type OrderEvent =
  | { readonly type: 'select'; readonly reductionKw: Kilowatts; readonly priceGbp: Pounds; readonly quoteExpiresAt: EpochMs }
  | { readonly type: 'init'; readonly baselineMethod: string }
  | { readonly type: 'confirm' }
  | { readonly type: 'start' }
  | { readonly type: 'finish' }
  | { readonly type: 'cancel'; readonly reason: string }
  | { readonly type: 'fail'; readonly reason: string };

export interface Order {
  readonly id: string;
  readonly transactionId: string;
  readonly bapId: string;
  readonly bapUri: string;
  readonly offerId: string;
  readonly site: string;
  readonly windowStart: EpochMs;
  readonly windowEnd: EpochMs;
  readonly reductionKw: Kilowatts;
  readonly priceGbp: Pounds;
  readonly state: OrderState;
  readonly quoteExpiresAt?: EpochMs;
  readonly baselineMethod?: string;
  readonly reason?: string;
  readonly updatedAt: EpochMs;
}

export type Transition = { readonly ok: true; readonly order: Order } | { readonly ok: false; readonly reason: string };

const FINAL: readonly OrderState[] = ['completed', 'cancelled', 'failed'];

const from = (order: Order, allowed: readonly OrderState[], event: OrderEvent['type']): string | undefined =>
  allowed.includes(order.state) ? undefined : `cannot ${event} an order that is ${order.state} (allowed from: ${allowed.join(', ')})`;

export const transition = (order: Order, event: OrderEvent, now: EpochMs): Transition => {
  const refuse = (reason: string): Transition => ({ ok: false, reason });
  const next = (patch: Partial<Order>): Transition => ({ ok: true, order: { ...order, ...patch, updatedAt: now } });
  switch (event.type) {
    case 'select': {
      const bad = from(order, ['searched', 'quoted'], event.type);
      if (bad) return refuse(bad);
      return next({ state: 'quoted', reductionKw: event.reductionKw, priceGbp: event.priceGbp, quoteExpiresAt: event.quoteExpiresAt });
    }
    case 'init': {
      const bad = from(order, ['quoted', 'initialised'], event.type);
      if (bad) return refuse(bad);
      if (order.quoteExpiresAt !== undefined && now > order.quoteExpiresAt) return refuse('the quote has expired: select again');
      return next({ state: 'initialised', baselineMethod: event.baselineMethod });
    }
    case 'confirm': {
      const bad = from(order, ['initialised'], event.type);
      if (bad) return refuse(bad);
      if (order.quoteExpiresAt !== undefined && now > order.quoteExpiresAt) return refuse('the quote has expired: select again');
      return next({ state: 'confirmed' });
    }
    case 'start': {
      const bad = from(order, ['confirmed'], event.type);
      return bad ? refuse(bad) : next({ state: 'active' });
    }
    case 'finish': {
      const bad = from(order, ['active', 'confirmed'], event.type);
      return bad ? refuse(bad) : next({ state: 'completed' });
    }
    case 'cancel': {
      if (FINAL.includes(order.state)) return refuse(`cannot cancel an order that is ${order.state}`);
      return next({ state: 'cancelled', reason: event.reason });
    }
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

export const isFinal = (state: OrderState): boolean => FINAL.includes(state);
