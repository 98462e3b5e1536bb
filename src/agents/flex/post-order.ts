// The BPP's answers to the post-order actions of Beckn core 1.1.1: track, cancel, update, rating,
// support. A first, protocol-correct version; the business rules of changing a commitment belong to
// the order-lifecycle work. What each does (docs/beckn.md, "Post-order actions"):
//   track   → on_track: tracking.status active while the window is being delivered, else inactive;
//             tracking.location = the delivering site.
//   cancel  → on_cancel with the order CANCELLED, free of charge until the window opens (the order's
//             cancellation_terms); the commitment is lifted and the fleet re-planned at once. Once
//             delivery has started or the order is final: NACK 50001.
//   update  → NACK 50002 (no change to a placed order is supported yet); 30012 for unknown targets.
//   rating  → on_rating; ratings of the Order, its Fulfillment or the Provider, values 1–5, recorded
//             in the audit log; anything else NACKs 30014 / 30015 / 50003.
//   support → on_support: the provider's contact and, once the order is delivered, the settlement
//             statement as a data: URL inside the signed callback (support.url).
import { epochMs, isoOf, MINUTE_MS, type EpochMs } from '../../domain/time.ts';
import { transition, type Order } from '../../domain/order.ts';
import { settle, type SettlementSummary } from '../../domain/settlement.ts';
import { FlexError } from '../../errors.ts';
import { buildContext, type Action, type CallbackAction } from '../../beckn/context.ts';
import type { BecknHandler, Inbound } from '../../beckn/receiver.ts';
import type { FlexOffer } from '../../domain/offers.ts';
import type { FlexOrchestrator } from './orchestrator.ts';
import { BASELINE_METHOD, orderToWire } from './wire-order.ts';

/** Order fields a BAP may name in update_target (core 1.1.1 Order properties). */
const ORDER_FIELDS = new Set(['items', 'add_ons', 'offers', 'billing', 'fulfillments', 'fulfillment', 'item', 'payments', 'payment', 'quote', 'tags', 'xinput', 'cancellation_terms']);

type Body = { order_id?: string; cancellation_reason_id?: string; update_target?: string; ratings?: { rating_category: string; id: string; value: string }[] };

export const postOrderHandlers = (fo: FlexOrchestrator): Partial<Record<Action, BecknHandler>> => {
  const d = fo.deps;
  const body = (i: Inbound): Body => (i.msg.message ?? {}) as Body;

  const reply = async (i: Inbound, action: CallbackAction, message: unknown): Promise<void> => {
    const c = i.msg.context;
    const context = buildContext({ action, bapId: c.bap_id, bapUri: i.sender.url, bppId: d.id, bppUri: d.uri, transactionId: c.transaction_id, messageId: c.message_id, now: d.wallNow() });
    await d.client.send(i.sender.url, { context, message }, { inReplyTo: c });
  };

  /** The order named in the message, which must belong to this transaction and this BAP. */
  const orderOf = async (i: Inbound, id: string | undefined): Promise<Order> => {
    const order = id ? await d.store.getOrder(id) : undefined;
    if (!order || order.transactionId !== i.msg.context.transaction_id || order.bapId !== i.sender.subscriberId) {
      throw new FlexError('FLX_ORDER_NOT_FOUND', `no order ${String(id)} in transaction ${i.msg.context.transaction_id} for ${i.sender.subscriberId}`, { path: 'message.order_id' });
    }
    return order;
  };

  const offerOf = async (order: Order): Promise<FlexOffer> => {
    const offer = await d.store.getDocument<FlexOffer>('offer', order.offerId);
    if (!offer) throw new FlexError('FLX_INTERNAL', `order ${order.id} refers to offer ${order.offerId}, which is not stored`);
    return offer;
  };

  const wire = async (order: Order, settlement?: SettlementSummary) =>
    orderToWire({ order, offer: await offerOf(order), providerId: d.id, now: d.wallNow(), quoteTtlSeconds: d.quoteTtlSeconds, includeId: true, ...(settlement ? { settlement } : {}) });

  /** The settlement so far, as on_status computes it: baseline vs the site meter per period. */
  const settlementOf = async (order: Order): Promise<SettlementSummary | undefined> => {
    const baseline = await d.store.getDocument<{ start: EpochMs; slotMinutes: number; importKw: number[] }>('baseline', order.id);
    if (!baseline) return undefined;
    const metered = await fo.meter(order.site, baseline.start, baseline.importKw.length);
    const readings = baseline.importKw.map((b, k) => ({ start: epochMs(baseline.start + k * baseline.slotMinutes * MINUTE_MS), baselineKw: b, meteredKw: metered[k] ?? NaN }))
      .filter((r) => Number.isFinite(r.meteredKw));
    return settle(readings, order.reductionKw, baseline.slotMinutes / 60, order.priceGbp, BASELINE_METHOD);
  };

  const track: BecknHandler = async (i) => {
    const order = await orderOf(i, body(i).order_id);
    return async () => {
      const delivering = order.state === 'confirmed' ? d.market.now() >= order.windowStart && d.market.now() < order.windowEnd : order.state === 'active';
      await reply(i, 'on_track', { tracking: { id: order.id, status: delivering ? 'active' : 'inactive', location: { id: order.site, descriptor: { name: `site ${order.site}` } } } });
    };
  };

  const cancel: BecknHandler = async (i) => {
    const order = await orderOf(i, body(i).order_id);
    // The order's cancellation_terms (wire-order.ts): free while the fulfilment is COMMITTED, i.e.
    // until the window opens. After that the reduction is being (or has been) delivered.
    if ((order.state === 'confirmed' || order.state === 'active') && d.market.now() >= order.windowStart) {
      throw new FlexError('FLX_CANCEL_NOT_POSSIBLE', `delivery of order ${order.id} started at ${isoOf(order.windowStart)} (market time); it can no longer be cancelled`);
    }
    const t = transition(order, { type: 'cancel', reason: body(i).cancellation_reason_id ?? 'cancelled by the buyer' }, epochMs(d.wallNow()));
    if (!t.ok) throw new FlexError('FLX_CANCEL_NOT_POSSIBLE', t.reason);
    return async () => {
      await d.store.saveOrder(t.order);
      await d.store.appendAudit({ kind: 'order', at: d.wallNow(), actor: d.id, transactionId: order.transactionId, orderId: order.id, payload: { state: 'cancelled', from: order.state, by: i.sender.subscriberId, reasonId: body(i).cancellation_reason_id ?? null } });
      if (order.state === 'confirmed') await fo.dispatchAll(`cancellation of ${order.id}`, order.id);
      const reasonId = body(i).cancellation_reason_id;
      await reply(i, 'on_cancel', { order: { ...(await wire(t.order)), cancellation: { time: isoOf(d.wallNow()), cancelled_by: 'CONSUMER', ...(reasonId ? { reason: { id: reasonId } } : {}) } } });
    };
  };

  const update: BecknHandler = async (i) => {
    const targets = (body(i).update_target ?? '').split(',').map((s) => s.trim().replace(/^order\./, '').split(/[.[]/)[0] ?? '');
    const unknown = targets.filter((t) => !ORDER_FIELDS.has(t));
    if (unknown.length > 0) throw new FlexError('FLX_UPDATE_TARGET', `update_target names ${unknown.map((u) => JSON.stringify(u)).join(', ')}, not an order field`, { path: 'message.update_target' });
    const order = await orderOf(i, (i.msg.message as { order?: { id?: string } } | undefined)?.order?.id);
    throw new FlexError('FLX_UPDATE_NOT_POSSIBLE', `order ${order.id} (${order.state}) cannot be changed: this provider does not support updates yet; cancel before the window opens and buy again`);
  };

  const rating: BecknHandler = async (i) => {
    const ratings = body(i).ratings ?? [];
    const order = await orderOf(i, ratings.find((r) => r.rating_category === 'Order')?.id ?? (await d.store.findOrderByTransaction(i.msg.context.transaction_id))?.id);
    ratings.forEach((r, k) => {
      const path = `message.ratings[${k}]`;
      if (!['Order', 'Fulfillment', 'Provider'].includes(r.rating_category)) throw new FlexError('FLX_RATING_CATEGORY', `rating_category ${r.rating_category} is not rated here (Order, Fulfillment, Provider)`, { path: `${path}.rating_category` });
      const expected = r.rating_category === 'Order' ? order.id : r.rating_category === 'Fulfillment' ? 'dr' : d.id;
      if (r.id !== expected) throw new FlexError('FLX_RATING_ENTITY_NOT_FOUND', `no ${r.rating_category} ${r.id} in this transaction (expected ${expected})`, { path: `${path}.id` });
      if (!/^[1-5]$/.test(r.value)) throw new FlexError('FLX_RATING_VALUE', `rating value ${JSON.stringify(r.value)} must be a whole number from 1 to 5`, { path: `${path}.value` });
    });
    return async () => {
      await d.store.appendAudit({ kind: 'order', at: d.wallNow(), actor: d.id, transactionId: order.transactionId, orderId: order.id, payload: { event: 'rated', by: i.sender.subscriberId, ratings } });
      await reply(i, 'on_rating', {});
    };
  };

  const support: BecknHandler = async (i) => {
    const ref = (i.msg.message as { support?: { ref_id?: string } } | undefined)?.support?.ref_id;
    const order = await orderOf(i, ref ?? (await d.store.findOrderByTransaction(i.msg.context.transaction_id))?.id);
    return async () => {
      const statement = order.state === 'completed' ? await settlementOf(order) : undefined;
      const url = statement ? `data:application/json;base64,${Buffer.from(JSON.stringify({ order_id: order.id, transaction_id: order.transactionId, ...statement })).toString('base64')}` : undefined;
      await reply(i, 'on_support', { support: { ref_id: order.id, ...d.support, ...(url ? { url } : {}) } });
    };
  };

  return { track, cancel, update, rating, support };
};
