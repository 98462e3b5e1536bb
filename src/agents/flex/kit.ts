// What the BPP's Beckn handlers share: the narrow context (context.ts: identity, store, clocks,
// terms, planning operations, site reads), finding the order a message is about (through the store
// before the transaction, through `tx` inside it), applying an order event with the right error
// code, the Order object on the wire, the settlement inputs, and the audit row of an order change.
import type { Commitment } from '../../domain/commitments.ts';
import type { FlexOffer } from '../../domain/offers.ts';
import { transition, type Order, type OrderEvent } from '../../domain/order.ts';
import { MINUTE_MS, epochMs, type EpochMs } from '../../domain/time.ts';
import { FlexError, type ErrorCode } from '../../errors.ts';
import type { Inbound } from '../../beckn/inbound.ts';
import type { StoreOps, StoreTx } from '../../ports.ts';
import type { OrderSettlement } from '../../settlement/order.ts';
import type { FlexContext } from './context.ts';
import type { OfferTerms } from './offers.ts';
import type { SignedHead } from '../../audit/heads.ts';
import { orderToWire } from './wire-order.ts';

type Reader = Pick<StoreOps, 'getOrder' | 'findOrderByTransaction' | 'getDocument'>;

export interface Kit extends FlexContext {
  /** Wakes the outbox worker (after a commit that owes something). */
  readonly sent: () => void;
  /** The order named by id (or, without one, the transaction's), which must belong to this transaction and BAP. */
  orderIn(r: Reader, i: Inbound, id?: string, path?: string): Promise<Order>;
  step(order: Order, event: OrderEvent, code?: ErrorCode): Order;
  offerOf(r: Reader, offerId: string | undefined, path?: string): Promise<FlexOffer>;
  termsOf(r: Reader, offerId: string): Promise<OfferTerms>;
  wire(
    order: Order,
    offer: FlexOffer,
    includeId: boolean,
    settlement?: OrderSettlement,
    auditHead?: SignedHead,
  ): ReturnType<typeof orderToWire>;
  audit(tx: StoreTx, order: Order, payload: Record<string, unknown>): Promise<void>;
  /** Meter readings per site for the commitments' windows: from the agents, else what the store holds. */
  meters(commitments: readonly Commitment[]): Promise<Map<string, number[]>>;
}

export const makeKit = (c: FlexContext, sent: () => void): Kit => {
  const { provider, store, terms } = c;
  const storedMeter = async (x: Commitment): Promise<number[]> => {
    const slots = x.baselineKw?.length ?? x.maxImportKw.length;
    const rows = await store.meterReadings({
      site: x.site,
      from: x.windowStart,
      to: epochMs(x.windowStart + slots * x.slotMinutes * MINUTE_MS),
    });
    const at = new Map(rows.map((r) => [r.slotStart as number, r.importKw]));
    return Array.from({ length: slots }, (_, k) => at.get(x.windowStart + k * x.slotMinutes * MINUTE_MS) ?? NaN);
  };
  return {
    ...c,
    sent,
    async orderIn(r, i, id, path = 'message.order_id') {
      const order = id ? await r.getOrder(id) : await r.findOrderByTransaction(i.msg.context.transaction_id);
      if (!order || order.transactionId !== i.msg.context.transaction_id || order.bapId !== i.sender.subscriberId) {
        throw new FlexError(
          'FLX_ORDER_NOT_FOUND',
          `no order ${id ?? ''} in transaction ${i.msg.context.transaction_id} for ${i.sender.subscriberId}`.replace(
            '  ',
            ' ',
          ),
          { path },
        );
      }
      return order;
    },
    step(order, event, code) {
      const t = transition(order, event, epochMs(provider.wallNow()));
      if (!t.ok)
        throw new FlexError(code ?? (t.reason.includes('expired') ? 'FLX_QUOTE_EXPIRED' : 'FLX_ORDER_STATE'), t.reason);
      return t.order;
    },
    async offerOf(r, offerId, path = 'message.order.items[0].id') {
      const offer = offerId ? await r.getDocument<FlexOffer>('offer', offerId) : undefined;
      if (!offer) throw new FlexError('FLX_ITEM_NOT_FOUND', `no offer ${String(offerId)}`, { path });
      return offer;
    },
    async termsOf(r, offerId) {
      const terms = await r.getDocument<OfferTerms>('offer-terms', offerId);
      if (!terms) throw new FlexError('FLX_ITEM_NOT_FOUND', `offer ${offerId} has no recorded terms (baseline, sites)`);
      return terms;
    },
    wire: (order, offer, includeId, settlement, auditHead) =>
      orderToWire({
        order,
        offer,
        providerId: provider.id,
        now: provider.wallNow(),
        quoteTtlSeconds: terms.quoteTtlSeconds,
        includeId,
        ...(terms.cancellation ? { cancellation: terms.cancellation } : {}),
        ...(terms.baselineMethod ? { baseline: terms.baselineMethod } : {}),
        ...(settlement ? { settlement: settlement.total, siteSettlements: settlement.sites } : {}),
        ...(auditHead ? { auditHead } : {}),
      }),
    async audit(tx, order, payload) {
      await tx.appendAudit({
        kind: 'order',
        at: provider.wallNow(),
        actor: provider.id,
        transactionId: order.transactionId,
        orderId: order.id,
        payload: { state: order.state, ...payload },
      });
    },
    async meters(commitments) {
      const out = new Map<string, number[]>();
      for (const x of commitments) {
        const slots = x.baselineKw?.length ?? x.maxImportKw.length;
        try {
          out.set(x.site, await c.reads.meter(x.site, x.windowStart, slots));
        } catch (e) {
          c.log.warn(
            { site: x.site, error: (e as Error).message },
            'meter unreadable: settling on the readings stored so far',
          );
          out.set(x.site, await storedMeter(x));
        }
      }
      return out;
    },
  };
};

/** The stored meter readings of the commitments' windows (finite values only), to save with a settlement. */
export const readingsToSave = (
  commitments: readonly Commitment[],
  metered: ReadonlyMap<string, readonly number[]>,
  readAt: number,
) =>
  commitments.flatMap((c) =>
    (metered.get(c.site) ?? [])
      .map((importKw, k) => ({
        site: c.site,
        slotStart: epochMs(c.windowStart + k * c.slotMinutes * MINUTE_MS) as EpochMs,
        slotMinutes: c.slotMinutes,
        importKw,
        readAt,
        source: 'agent',
      }))
      .filter((r) => Number.isFinite(r.importKw)),
  );

export const sameOrders = (a: readonly string[], b: readonly string[]): boolean =>
  [...new Set(a)].sort().join('\n') === [...new Set(b)].sort().join('\n');

/** The live orders a plan starting at `from` binds, read inside the transaction (another process may have added one). */
export const liveOrders = async (tx: Pick<StoreOps, 'listCommitments'>, from: number): Promise<string[]> =>
  (await tx.listCommitments({ orderStates: ['confirmed', 'active'], endsAfter: epochMs(from) })).map((c) => c.orderId);
