// The BPP's answers to the post-order actions of Beckn core 1.1.1: track, cancel, update, rating,
// support (docs/beckn.md, "Post-order actions"). Like the lifecycle handlers: validate without side
// effects, then one transaction for the claim, the effect and the callback owed.
//   track   → on_track: tracking.status active while the window is being delivered, else inactive.
//   cancel  → on_cancel with the order CANCELLED and the fee its cancellation terms set (on_init);
//             the commitment is lifted and the fleet re-planned. Once delivery has started: 50001.
//   update  → a new quantity (items) or window (fulfillments) for a confirmed order, re-planned and
//             re-quoted (update.ts); refused with 50002 when the fleet cannot deliver it.
//   rating  → on_rating; ratings of the Order, its Fulfillment or the Provider, values 1–5, audited.
//   support → on_support: the provider's contact and, once delivered, the signed settlement statement.
import { cancellationFee } from '../../domain/order.ts';
import { isoOf } from '../../domain/time.ts';
import { FlexError } from '../../errors.ts';
import type { Action } from '../../beckn/context.ts';
import type { Inbound } from '../../beckn/inbound.ts';
import type { BecknHandler, TxWork } from '../../beckn/receiver.ts';
import { owe, requesterOf } from './callbacks.ts';
import type { Kit } from './kit.ts';
import type { Commitment } from '../../domain/commitments.ts';
import { settleOrder } from '../../settlement/order.ts';
import { settlementStatement } from '../../settlement/statement.ts';
import { updateHandler } from './update.ts';

type Body = {
  order_id?: string;
  cancellation_reason_id?: string;
  ratings?: { rating_category: string; id: string; value: string }[];
  support?: { ref_id?: string };
};
const body = (i: Inbound): Body => (i.msg.message ?? {}) as Body;

const track =
  (k: Kit): BecknHandler =>
  async (i): Promise<TxWork> => {
    await k.orderIn(k.store, i, body(i).order_id);
    return {
      commit: async (tx) => {
        const order = await k.orderIn(tx, i, body(i).order_id);
        const now = k.market.now();
        const delivering =
          (order.state === 'confirmed' || order.state === 'active') &&
          now >= order.windowStart &&
          now < order.windowEnd;
        await owe(
          tx,
          k.provider,
          requesterOf(i),
          'on_track',
          {
            tracking: {
              id: order.id,
              status: delivering ? 'active' : 'inactive',
              location: { id: order.site, descriptor: { name: `site ${order.site}` } },
            },
          },
          order.id,
        );
      },
      after: async () => k.sent(),
    };
  };

const cancel =
  (k: Kit): BecknHandler =>
  async (i): Promise<TxWork> => {
    const reasonId = body(i).cancellation_reason_id;
    const event = () =>
      ({ type: 'cancel', reason: reasonId ?? 'cancelled by the buyer', marketNow: k.market.now() }) as const;
    const before = await k.orderIn(k.store, i, body(i).order_id);
    k.step(before, event(), 'FLX_CANCEL_NOT_POSSIBLE');
    return {
      commit: async (tx) => {
        const current = await k.orderIn(tx, i, body(i).order_id);
        const ruling = cancellationFee(current, k.market.now());
        const order = k.step(current, event(), 'FLX_CANCEL_NOT_POSSIBLE');
        await tx.saveOrder(order);
        await k.audit(tx, order, {
          from: current.state,
          by: i.sender.subscriberId,
          reasonId: reasonId ?? null,
          feeGbp: order.feeGbp ?? 0,
          term: ruling.ok ? ruling.term : null,
        });
        const wire = k.wire(order, await k.offerOf(tx, order.offerId), true);
        await owe(
          tx,
          k.provider,
          requesterOf(i),
          'on_cancel',
          {
            order: {
              ...wire,
              cancellation: {
                time: isoOf(k.provider.wallNow()),
                cancelled_by: 'CONSUMER',
                ...(reasonId ? { reason: { id: reasonId } } : {}),
              },
            },
          },
          order.id,
        );
      },
      after: async () => {
        k.sent();
        if (before.state === 'confirmed') await k.planning.dispatchAll(`cancellation of ${before.id}`, before.id);
      },
    };
  };

const rating =
  (k: Kit): BecknHandler =>
  async (i): Promise<TxWork> => {
    const ratings = body(i).ratings ?? [];
    const id = ratings.find((r) => r.rating_category === 'Order')?.id;
    const order = await k.orderIn(k.store, i, id, 'message.ratings');
    ratings.forEach((r, n) => {
      const path = `message.ratings[${n}]`;
      if (!['Order', 'Fulfillment', 'Provider'].includes(r.rating_category))
        throw new FlexError(
          'FLX_RATING_CATEGORY',
          `rating_category ${r.rating_category} is not rated here (Order, Fulfillment, Provider)`,
          { path: `${path}.rating_category` },
        );
      const expected =
        r.rating_category === 'Order' ? order.id : r.rating_category === 'Fulfillment' ? 'dr' : k.provider.id;
      if (r.id !== expected)
        throw new FlexError(
          'FLX_RATING_ENTITY_NOT_FOUND',
          `no ${r.rating_category} ${r.id} in this transaction (expected ${expected})`,
          { path: `${path}.id` },
        );
      if (!/^[1-5]$/.test(r.value))
        throw new FlexError(
          'FLX_RATING_VALUE',
          `rating value ${JSON.stringify(r.value)} must be a whole number from 1 to 5`,
          { path: `${path}.value` },
        );
    });
    return {
      commit: async (tx) => {
        await tx.appendAudit({
          kind: 'order',
          at: k.provider.wallNow(),
          actor: k.provider.id,
          transactionId: order.transactionId,
          orderId: order.id,
          payload: { event: 'rated', by: i.sender.subscriberId, ratings },
        });
        await owe(tx, k.provider, requesterOf(i), 'on_rating', {}, order.id);
      },
      after: async () => k.sent(),
    };
  };

/** After delivery, the settlement statement rides in support.url as a data: URL, inside the signed callback. */
const support =
  (k: Kit): BecknHandler =>
  async (i): Promise<TxWork> => {
    const ref = body(i).support?.ref_id;
    const order = await k.orderIn(k.store, i, ref, 'message.support.ref_id');
    const commitments =
      order.state === 'completed' ? await k.store.listCommitments<Commitment>({ orderId: order.id }) : [];
    const settlement =
      order.state === 'completed'
        ? settleOrder(order, commitments, await k.meters(commitments), k.planning.baselineCode)
        : undefined;
    const statement = settlement ? settlementStatement(order, settlement) : undefined;
    const url = statement
      ? `data:application/json;base64,${Buffer.from(JSON.stringify(statement)).toString('base64')}`
      : undefined;
    return {
      commit: async (tx) => {
        if (statement)
          await tx.appendAudit({
            kind: 'settlement',
            at: k.provider.wallNow(),
            actor: k.provider.id,
            transactionId: order.transactionId,
            orderId: order.id,
            payload: { statement, sentIn: 'on_support' },
          });
        await owe(
          tx,
          k.provider,
          requesterOf(i),
          'on_support',
          { support: { ref_id: order.id, ...k.terms.support, ...(url ? { url } : {}) } },
          order.id,
        );
      },
      after: async () => k.sent(),
    };
  };

export const postOrderHandlers = (k: Kit): Partial<Record<Action, BecknHandler>> => ({
  track: track(k),
  cancel: cancel(k),
  update: updateHandler(k),
  rating: rating(k),
  support: support(k),
});
