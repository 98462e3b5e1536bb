// The BPP side of the Beckn order lifecycle for flexibility (search → … → status). Each handler
// validates synchronously (a FlexError becomes the NACK) and returns the work done after the ACK,
// which ends by sending the callback to the BAP's registered URL.
import { randomUUID } from 'node:crypto';
import type { FlexOffer } from '../../domain/offers.ts';
import { transition, type Order, type OrderEvent } from '../../domain/order.ts';
import { settle } from '../../domain/settlement.ts';
import { MINUTE_MS, epochMs, type EpochMs } from '../../domain/time.ts';
import { gbp, kw } from '../../domain/units.ts';
import { FlexError } from '../../errors.ts';
import { flexibilityCurve } from '../../optimise/offers.ts';
import { buildContext, type Action, type BecknMessage, type CallbackAction } from '../../beckn/context.ts';
import { intentToNeed, offersToCatalog } from '../../beckn/flex-codec.ts';
import type { BecknHandler, Inbound } from '../../beckn/receiver.ts';
import type { WireOrder } from '../../beckn/wire.ts';
import type { FlexOrchestrator } from './orchestrator.ts';
import { postOrderHandlers } from './post-order.ts';
import { priceOffer } from './pricing.ts';
import { BASELINE_METHOD, orderToWire } from './wire-order.ts';

type Msg = { order?: WireOrder; order_id?: string; intent?: unknown };

export const flexHandlers = (fo: FlexOrchestrator): Partial<Record<Action, BecknHandler>> => {
  const d = fo.deps;
  const body = (i: Inbound): Msg => (i.msg.message ?? {}) as Msg;

  const reply = async (i: Inbound, action: CallbackAction, message: unknown): Promise<void> => {
    const c = i.msg.context;
    const msg: BecknMessage = {
      context: buildContext({ action, bapId: c.bap_id, bapUri: i.sender.url, bppId: d.id, bppUri: d.uri, transactionId: c.transaction_id, messageId: c.message_id, now: d.wallNow() }),
      message,
    };
    await d.client.send(i.sender.url, msg, { inReplyTo: c });
  };

  const offerFor = async (id: string | undefined): Promise<FlexOffer> => {
    const offer = id ? await d.store.getDocument<FlexOffer>('offer', id) : undefined;
    if (!offer) throw new FlexError('FLX_ITEM_NOT_FOUND', `no offer ${String(id)}`, { path: 'message.order.items[0].id' });
    return offer;
  };

  const orderOf = async (i: Inbound): Promise<Order> => {
    const byId = body(i).order_id ?? body(i).order?.id;
    const order = byId ? await d.store.getOrder(byId) : await d.store.findOrderByTransaction(i.msg.context.transaction_id);
    if (!order || order.transactionId !== i.msg.context.transaction_id) throw new FlexError('FLX_ORDER_NOT_FOUND', `no order ${byId ?? `for transaction ${i.msg.context.transaction_id}`}`);
    if (order.bapId !== i.sender.subscriberId) throw new FlexError('FLX_ORDER_NOT_FOUND', `no order ${order.id} for ${i.sender.subscriberId}`);
    return order;
  };

  const step = (order: Order, event: OrderEvent): Order => {
    const t = transition(order, event, epochMs(d.wallNow()));
    if (!t.ok) throw new FlexError(t.reason.includes('expired') ? 'FLX_QUOTE_EXPIRED' : 'FLX_ORDER_STATE', t.reason);
    return t.order;
  };

  const wire = (order: Order, offer: FlexOffer, includeId: boolean, settlement?: Parameters<typeof orderToWire>[0]['settlement']) =>
    ({ order: orderToWire({ order, offer, providerId: d.id, now: d.wallNow(), quoteTtlSeconds: d.quoteTtlSeconds, includeId, ...(settlement ? { settlement } : {}) }) });

  const makeOffers = async (i: Inbound): Promise<FlexOffer[]> => {
    const need = intentToNeed(body(i).intent as never);
    const { problem, grid } = await fo.plan();
    const slot = grid.slotMinutes * MINUTE_MS;
    const fromSlot = Math.floor((need.windowStart - grid.start) / slot);
    const toSlot = Math.ceil((need.windowEnd - grid.start) / slot);
    if (fromSlot < 1 || toSlot > grid.slots) return [];
    const offers: FlexOffer[] = [];
    for (const site of d.sites) {
      const windowStart = epochMs(grid.start + fromSlot * slot);
      const reference = await fo.baseline(site.id, windowStart, toSlot - fromSlot);
      if (reference.some((x) => !Number.isFinite(x))) continue;
      const curve = await flexibilityCurve((p) => d.solver.plan(p), problem, site.id, fromSlot, toSlot, 5, reference);
      if ('infeasible' in curve) continue;
      const offer = priceOffer(curve, need, site.region, windowStart, epochMs(grid.start + toSlot * slot), d.pricing, `offer-${randomUUID()}`);
      if (!offer) continue;
      await d.store.putDocument('offer', offer.id, offer);
      await d.store.putDocument('offer-baseline', offer.id, { site: site.id, start: windowStart, slotMinutes: grid.slotMinutes, importKw: reference });
      fo.holdOffer(offer.id, { orderId: offer.id, site: site.id, windowStart, slotMinutes: grid.slotMinutes, maxImportKw: reference.map((r) => Math.max(0, r - offer.reductionKw)) }, offer.validUntil);
      await d.store.appendAudit({ kind: 'offer', at: d.wallNow(), actor: d.id, transactionId: i.msg.context.transaction_id, payload: { offer, curve } });
      offers.push(offer);
    }
    // Offers are held (fo.holdOffer): dispatch now, so no job starts on the old plan and runs into
    // an offered window before the buyer can confirm.
    if (offers.length > 0) await fo.dispatchAll('offers held until confirmed or expired');
    return offers;
  };

  return {
    search: async (i) => {
      intentToNeed(body(i).intent as never); // validate before ACK
      return async () => reply(i, 'on_search', { catalog: offersToCatalog(d.id, d.name, await makeOffers(i)) });
    },

    select: async (i) => {
      const o = body(i).order;
      if (o?.provider?.id !== undefined && o.provider.id !== d.id) throw new FlexError('FLX_ITEM_NOT_FOUND', `provider ${o.provider.id} is not served here`, { path: 'message.order.provider.id' });
      const item = o?.items?.[0];
      const offer = await offerFor(item?.id);
      if (d.market.now() >= offer.validUntil) throw new FlexError('FLX_QUOTE_EXPIRED', `offer ${offer.id} was valid until ${new Date(offer.validUntil).toISOString()} (market time)`);
      const wanted = Number(item?.quantity?.selected?.measure?.value ?? offer.reductionKw);
      if (!(wanted > 0)) throw new FlexError('FLX_REQ_SCHEMA', 'the selected quantity must be a positive number of kW', { path: 'message.order.items[0].quantity.selected.measure.value' });
      if (wanted > offer.reductionKw + 1e-9) throw new FlexError('FLX_QUANTITY_UNAVAILABLE', `${wanted} kW asked, ${offer.reductionKw} kW offered`, { path: 'message.order.items[0].quantity.selected.measure.value' });
      return async () => {
        const existing = await d.store.findOrderByTransaction(i.msg.context.transaction_id);
        const base: Order = existing ?? {
          id: `flx-${randomUUID()}`, transactionId: i.msg.context.transaction_id, bapId: i.sender.subscriberId, bapUri: i.sender.url, offerId: offer.id,
          site: offer.site, windowStart: offer.windowStart, windowEnd: offer.windowEnd, reductionKw: kw(0), priceGbp: gbp(0), state: 'searched', updatedAt: epochMs(d.wallNow()),
        };
        const price = Math.round(offer.priceGbp * (wanted / offer.reductionKw) * 100) / 100;
        const order = step(base, { type: 'select', reductionKw: kw(wanted), priceGbp: gbp(price), quoteExpiresAt: epochMs(d.wallNow() + d.quoteTtlSeconds * 1000) });
        await d.store.saveOrder(order);
        await d.store.appendAudit({ kind: 'order', at: d.wallNow(), actor: d.id, transactionId: order.transactionId, orderId: order.id, payload: { state: order.state, reductionKw: wanted, priceGbp: price } });
        await reply(i, 'on_select', wire(order, offer, false));
      };
    },

    init: async (i) => {
      const order = step(await orderOf(i), { type: 'init', baselineMethod: BASELINE_METHOD });
      return async () => {
        await d.store.saveOrder(order);
        await d.store.appendAudit({ kind: 'order', at: d.wallNow(), actor: d.id, transactionId: order.transactionId, orderId: order.id, payload: { state: order.state, baselineMethod: BASELINE_METHOD } });
        await reply(i, 'on_init', wire(order, await offerFor(order.offerId), false));
      };
    },

    confirm: async (i) => {
      const before = await orderOf(i);
      const order = step(before, { type: 'confirm' });
      const base = await d.store.getDocument<{ site: string; start: EpochMs; slotMinutes: number; importKw: number[] }>('offer-baseline', order.offerId);
      if (!base) throw new FlexError('FLX_ITEM_NOT_FOUND', `offer ${order.offerId} has no recorded baseline`);
      const commitment = { orderId: order.id, site: order.site, windowStart: base.start, slotMinutes: base.slotMinutes, maxImportKw: base.importKw.map((b) => Math.max(0, b - order.reductionKw)) };
      // Never promise what cannot be delivered: re-plan with the commitment before accepting it.
      const withIt = await fo.plan([commitment]);
      if (withIt.schedule.status === 'infeasible') throw new FlexError('FLX_QUANTITY_UNAVAILABLE', `the fleet can no longer deliver ${order.reductionKw} kW in that window: ${withIt.schedule.reason ?? ''}`);
      return async () => {
        await d.store.putDocument('baseline', order.id, { method: BASELINE_METHOD, start: base.start, slotMinutes: base.slotMinutes, importKw: base.importKw });
        await d.store.putDocument('commitment', order.id, commitment);
        await d.store.saveOrder(order);
        await d.store.appendAudit({ kind: 'order', at: d.wallNow(), actor: d.id, transactionId: order.transactionId, orderId: order.id, payload: { state: order.state, commitment, baselineMethod: BASELINE_METHOD, baselineKw: base.importKw } });
        await fo.dispatchAll(`commitment ${order.id}`, order.id);
        await reply(i, 'on_confirm', wire(order, await offerFor(order.offerId), true));
      };
    },

    status: async (i) => {
      const order = await orderOf(i);
      return async () => {
        const now = d.market.now();
        let current = order;
        if (current.state === 'confirmed' && now >= current.windowStart) current = step(current, { type: 'start' });
        if (current.state === 'active' && now >= current.windowEnd) current = step(current, { type: 'finish' });
        const baseline = await d.store.getDocument<{ start: EpochMs; slotMinutes: number; importKw: number[] }>('baseline', order.id);
        let settlement;
        if (baseline) {
          const metered = await fo.meter(order.site, baseline.start, baseline.importKw.length);
          const readings = baseline.importKw.map((b, k) => ({ start: epochMs(baseline.start + k * baseline.slotMinutes * MINUTE_MS), baselineKw: b, meteredKw: metered[k] ?? NaN }))
            .filter((r) => Number.isFinite(r.meteredKw));
          settlement = settle(readings, current.reductionKw, baseline.slotMinutes / 60, current.priceGbp, BASELINE_METHOD);
          await d.store.appendAudit({ kind: 'meter', at: d.wallNow(), actor: d.id, transactionId: order.transactionId, orderId: order.id, payload: { readings } });
          if (current.state === 'completed') await d.store.appendAudit({ kind: 'settlement', at: d.wallNow(), actor: d.id, transactionId: order.transactionId, orderId: order.id, payload: settlement });
        }
        if (current !== order) await d.store.saveOrder(current);
        await reply(i, 'on_status', wire(current, await offerFor(order.offerId), true, settlement));
      };
    },

    ...postOrderHandlers(fo),
  };
};
