// The BPP side of the Beckn order lifecycle for flexibility (search → select → init → confirm →
// status). Each handler validates without side effects (a FlexError becomes the NACK), doing the
// slow reads and plans there, and returns TxWork: the receiver then claims the message, audits it,
// and runs `commit` in the same transaction, which re-reads the order, applies the event, stores the
// effect and owes the callback (outbox). After the ACK the outbox worker sends it. So a crash leaves
// either nothing (the BAP retries the same message) or the effect and the callback owed.
import type { Commitment } from '../../domain/commitments.ts';
import type { FlexOffer } from '../../domain/offers.ts';
import { advance, DEFAULT_CANCELLATION, type Order } from '../../domain/order.ts';
import { epochMs, isoOf } from '../../domain/time.ts';
import { gbp, kw } from '../../domain/units.ts';
import { FlexError } from '../../errors.ts';
import type { Action } from '../../beckn/context.ts';
import { intentToNeed, MAX_NEED_WINDOW_HOURS } from '../../beckn/flex-codec.ts';
import type { Inbound } from '../../beckn/inbound.ts';
import type { BecknHandler, TxWork } from '../../beckn/receiver.ts';
import type { WireOrder } from '../../beckn/wire.ts';
import { readProductTags } from '../../settlement/codec.ts';
import type { OrderSettlement } from '../../settlement/order.ts';
import { owe, oweTask, requesterOf } from './callbacks.ts';
import { liveOrders, sameOrders, type Kit } from './kit.ts';
import { commitmentsOf, type OfferTerms } from './offers.ts';
import { postOrderHandlers } from './post-order.ts';
import { opportunityCostAt } from './pricing.ts';
import { readMeters, settleAndOweStatus } from './settle-status.ts';

type Msg = { order?: WireOrder; order_id?: string; intent?: unknown };
const body = (i: Inbound): Msg => (i.msg.message ?? {}) as Msg;

/** How far above the offer's (pro rata) price a re-quote may go before the offer counts as expired. */
export const REQUOTE_TOLERANCE = 0.1;

/**
 * Can the fleet still deliver `commitments` alongside every firm commitment, and at what price?
 * The quote is the offer's price pro rata to the kW selected, raised to the opportunity cost of that
 * many kW when that is higher (never below cost, unless the pricing policy sells below cost). The
 * offer has expired — FLX_QUOTE_EXPIRED, search again — when the plan has changed enough
 * (docs/beckn.md, "When an offer expires"): the commitment no longer fits beside the firm ones, or
 * the live orders changed since the offer was priced and the re-planned opportunity cost would put
 * the quote more than REQUOTE_TOLERANCE above the offer's price.
 */
export const quote = async (
  k: Kit,
  offer: FlexOffer,
  terms: OfferTerms,
  commitments: readonly Commitment[],
  wantedKw: number,
): Promise<number> => {
  const withIt = await k.planning.plan({ extra: commitments, held: false, check: true });
  if (withIt.schedule.status === 'infeasible')
    throw new FlexError(
      'FLX_QUOTE_EXPIRED',
      `offer ${offer.id} can no longer be delivered alongside the fleet's commitments (${withIt.schedule.reason ?? 'no feasible plan'}): search again`,
    );
  const proRata = Math.round(offer.priceGbp * (wantedKw / offer.reductionKw) * 100) / 100;
  let cost = opportunityCostAt(terms.curve, wantedKw);
  const live = withIt.orders.filter((id) => !commitments.some((c) => c.orderId === id));
  if (!sameOrders(live, terms.orders)) {
    const without = await k.planning.plan({ held: false, check: true });
    if (without.schedule.status !== 'infeasible')
      cost = Math.max(cost, withIt.schedule.costGbp - without.schedule.costGbp);
    if (!k.pricing.sellBelowCost && cost > proRata * (1 + REQUOTE_TOLERANCE) + 0.01) {
      throw new FlexError(
        'FLX_QUOTE_EXPIRED',
        `offer ${offer.id} at £${proRata.toFixed(2)} no longer covers the opportunity cost £${cost.toFixed(2)} of the fleet re-planned with its new commitments: search again`,
      );
    }
  }
  return k.pricing.sellBelowCost ? proRata : Math.max(proRata, Math.ceil(cost * 100 - 1e-9) / 100);
};

const fresh = (i: Inbound, id: string, offer: FlexOffer, now: number): Order => ({
  id,
  transactionId: i.msg.context.transaction_id,
  bapId: i.sender.subscriberId,
  bapUri: i.sender.url,
  offerId: offer.id,
  site: offer.site,
  windowStart: offer.windowStart,
  windowEnd: offer.windowEnd,
  reductionKw: kw(0),
  priceGbp: gbp(0),
  state: 'searched',
  updatedAt: epochMs(now),
});

const select =
  (k: Kit): BecknHandler =>
  async (i): Promise<TxWork> => {
    const o = body(i).order;
    if (o?.provider?.id !== undefined && o.provider.id !== k.provider.id)
      throw new FlexError('FLX_PROVIDER_NOT_FOUND', `provider ${o.provider.id} is not served here`, {
        path: 'message.order.provider.id',
      });
    const item = o?.items?.[0];
    const offer = await k.offerOf(k.store, item?.id);
    if (k.market.now() >= offer.validUntil)
      throw new FlexError(
        'FLX_QUOTE_EXPIRED',
        `offer ${offer.id} was valid until ${new Date(offer.validUntil).toISOString()} (market time)`,
      );
    const wanted = Number(item?.quantity?.selected?.measure?.value ?? offer.reductionKw);
    const path = 'message.order.items[0].quantity.selected.measure.value';
    if (!(wanted > 0))
      throw new FlexError('FLX_REQ_SCHEMA', 'the selected quantity must be a positive number of kW', { path });
    if (wanted > offer.reductionKw + 1e-9)
      throw new FlexError('FLX_QUANTITY_UNAVAILABLE', `${wanted} kW asked, ${offer.reductionKw} kW offered`, { path });
    const existing = await k.store.findOrderByTransaction(i.msg.context.transaction_id);
    const id = existing?.id ?? k.ids.next('flx');
    const terms = await k.termsOf(k.store, offer.id);
    const commitments = commitmentsOf(terms, id, wanted);
    const price = await quote(k, offer, terms, commitments, wanted);
    const allocations = commitments.map((c) => ({ site: c.site, reductionKw: kw(c.reductionKw ?? 0) }));
    return {
      commit: async (tx) => {
        const current = await tx.findOrderByTransaction(i.msg.context.transaction_id);
        // A new selection in the same transaction (another offer, another quantity) re-quotes the order.
        const base =
          current && ['confirmed', 'active', 'completed', 'cancelled', 'failed'].includes(current.state)
            ? current
            : {
                ...fresh(i, current?.id ?? id, offer, k.provider.wallNow()),
                ...(current ? { state: current.state } : {}),
              };
        const order = k.step(base, {
          type: 'select',
          reductionKw: kw(wanted),
          priceGbp: gbp(price),
          quoteExpiresAt: epochMs(k.provider.wallNow() + k.terms.quoteTtlSeconds * 1000),
          allocations,
        });
        await tx.saveOrder(order);
        await k.audit(tx, order, { reductionKw: wanted, priceGbp: price, offerId: offer.id, allocations });
        await owe(tx, k.provider, requesterOf(i), 'on_select', { order: k.wire(order, offer, false) }, order.id);
      },
      after: async () => k.sent(),
    };
  };

const init =
  (k: Kit): BecknHandler =>
  async (i): Promise<TxWork> => {
    // The product the buyer buys under (measurement, payments, performance rule), if it sent one:
    // stored with the order at init and applied exactly at settlement (issues 16/17).
    const product = readProductTags(body(i).order?.tags, 'message.order.tags');
    const event = {
      type: 'init',
      baselineMethod: k.planning.baselineCode,
      cancellation: k.terms.cancellation ?? DEFAULT_CANCELLATION,
      ...(product ? { product } : {}),
    } as const;
    const before = k.step(await k.orderIn(k.store, i, body(i).order?.id, 'message.order.id'), event);
    // Refused at init when the fleet can no longer deliver it (the quote was made some time ago).
    const terms = await k.termsOf(k.store, before.offerId);
    const check = await k.planning.plan({
      extra: commitmentsOf(terms, before.id, before.reductionKw),
      held: false,
      check: true,
    });
    if (check.schedule.status === 'infeasible')
      throw new FlexError(
        'FLX_QUANTITY_UNAVAILABLE',
        `the fleet can no longer deliver ${before.reductionKw} kW in that window (${check.schedule.reason ?? 'no feasible plan'}): select again`,
      );
    return {
      commit: async (tx) => {
        const order = k.step(await k.orderIn(tx, i, body(i).order?.id, 'message.order.id'), event);
        await tx.saveOrder(order);
        await k.audit(tx, order, {
          baselineMethod: k.planning.baselineCode,
          cancellation: order.cancellation,
          ...(order.product ? { product: order.product } : {}),
        });
        await owe(
          tx,
          k.provider,
          requesterOf(i),
          'on_init',
          { order: k.wire(order, await k.offerOf(tx, order.offerId), false) },
          order.id,
        );
      },
      after: async () => k.sent(),
    };
  };

const confirm =
  (k: Kit): BecknHandler =>
  async (i): Promise<TxWork> => {
    const id = body(i).order?.id;
    const before = await k.orderIn(k.store, i, id, 'message.order.id');
    k.step(before, { type: 'confirm' });
    const terms = await k.termsOf(k.store, before.offerId);
    const commitments = commitmentsOf(terms, before.id, before.reductionKw);
    // Never promise what cannot be delivered: re-plan with the commitment, holding the fleet lock
    // until the commitment is stored, so no other confirm is checked without this one.
    const release = await k.planning.fleetLock.acquire();
    let planned: { grid: { start: number }; orders: readonly string[] };
    try {
      const withIt = await k.planning.plan({ extra: commitments, held: false, check: true });
      if (withIt.schedule.status === 'infeasible')
        throw new FlexError(
          'FLX_QUANTITY_UNAVAILABLE',
          `the fleet can no longer deliver ${before.reductionKw} kW in that window: ${withIt.schedule.reason ?? ''}`,
        );
      planned = withIt;
    } catch (e) {
      release();
      throw e;
    }
    return {
      locks: ['fleet'],
      commit: async (tx) => {
        const order = k.step(await k.orderIn(tx, i, id, 'message.order.id'), { type: 'confirm' });
        const others = planned.orders.filter((o) => o !== order.id);
        if (!sameOrders(await liveOrders(tx, planned.grid.start), others))
          throw new FlexError(
            'FLX_STORE_CONFLICT',
            "the fleet's commitments changed while this confirm was being checked (another process?): send confirm again",
          );
        for (const c of commitments) await tx.saveCommitment(c);
        await tx.saveOrder(order);
        await k.audit(tx, order, { commitments, baselineMethod: k.planning.baselineCode });
        await owe(
          tx,
          k.provider,
          requesterOf(i),
          'on_confirm',
          { order: k.wire(order, await k.offerOf(tx, order.offerId), true) },
          order.id,
        );
      },
      settle: release,
      after: async () => {
        k.sent();
        await k.planning.dispatchAll(`commitment ${before.id}`, before.id);
      },
    };
  };

const status =
  (k: Kit): BecknHandler =>
  async (i): Promise<TxWork> => {
    const first = await k.orderIn(k.store, i, body(i).order_id);
    const commitments = await k.store.listCommitments<Commitment>({ orderId: first.id });
    const metered = await readMeters(k, 'asked', first, commitments);
    let completed: OrderSettlement | undefined;
    return {
      commit: async (tx) => {
        const current = await k.orderIn(tx, i, body(i).order_id);
        const order = advance(current, k.market.now(), epochMs(k.provider.wallNow()));
        const to = requesterOf(i);
        ({ completed } = await settleAndOweStatus(k, tx, { mode: 'asked', current, order, commitments, metered, to }));
      },
      after: async () => {
        // Counted once committed: a rolled-back transaction delivered nothing.
        for (const s of completed?.sites ?? []) k.metrics?.delivered(s.site, s.summary.deliveredKwh);
        k.sent();
      },
    };
  };

const search =
  (k: Kit): BecknHandler =>
  async (i): Promise<TxWork> => {
    // Validate before the ACK; pricing runs as a task after it (offer-task.ts). A window that is over,
    // or starts beyond the planning horizon, is refused here: planning for it would be wasted work.
    const need = intentToNeed(body(i).intent as never);
    const now = k.market.now();
    if (need.windowEnd <= now || need.windowStart >= now + MAX_NEED_WINDOW_HOURS * 3_600_000)
      throw new FlexError(
        'FLX_REQ_SCHEMA',
        `the window ${isoOf(need.windowStart)}–${isoOf(need.windowEnd)} is ${need.windowEnd <= now ? 'over' : `more than ${MAX_NEED_WINDOW_HOURS} h ahead`} (market time ${isoOf(now)})`,
        { path: 'message.intent.fulfillment.stops' },
      );
    return {
      commit: (tx) => oweTask(tx, k.provider, requesterOf(i), 'offers', { intent: body(i).intent }),
      after: async () => k.sent(),
    };
  };

/** Every request action the BPP answers (post-order.ts has track, cancel, update, rating, support). */
export const flexHandlers = (k: Kit): Partial<Record<Action, BecknHandler>> => ({
  search: search(k),
  select: select(k),
  init: init(k),
  confirm: confirm(k),
  status: status(k),
  ...postOrderHandlers(k),
});
