// The BPP's orders as Beckn v1.1 Order objects: the item bought, the quote, the settlement terms,
// the fulfilment (the delivery window) and, once metering starts, the delivery per settlement period.
import type { FlexOffer } from '../../domain/offers.ts';
import type { Order } from '../../domain/order.ts';
import type { SettlementSummary } from '../../domain/settlement.ts';
import { isoOf } from '../../domain/time.ts';
import { FULFILLMENT_TYPE, offerToItem } from '../../beckn/flex-codec.ts';
import { settlementTags } from '../../beckn/settlement-codec.ts';
import { decimal, tagGroup, type Fulfillment, type WireOrder } from '../../beckn/wire.ts';

// The demo has no metered history for a P376 BL01-style baseline, so it settles against the
// counterfactual: the same queue on the site's own FIFO scheduler (no FlexLon), per settlement period.
export const BASELINE_METHOD = 'FLX-CF-FIFO-1';
export const BASELINE_DESCRIPTION = 'counterfactual import of the same job queue under the site\'s own FIFO scheduler, per settlement period (stands in for a BL01 historical baseline); delivered = baseline − metered';

const STATE_CODE: Record<Order['state'], string> = {
  searched: 'PENDING', quoted: 'QUOTED', initialised: 'PENDING', confirmed: 'COMMITTED', active: 'DELIVERING', completed: 'DELIVERED', cancelled: 'CANCELLED', failed: 'FAILED',
};

const fulfillment = (order: Order, offer: FlexOffer, now: number): Fulfillment => ({
  id: 'dr', type: FULFILLMENT_TYPE,
  stops: [{ type: 'start', time: { timestamp: isoOf(offer.windowStart) } }, { type: 'end', time: { timestamp: isoOf(offer.windowEnd) } }],
  state: { descriptor: { code: STATE_CODE[order.state] }, updated_at: isoOf(now) },
});

export interface WireOrderInput {
  readonly order: Order;
  readonly offer: FlexOffer;
  readonly providerId: string;
  readonly now: number;
  readonly quoteTtlSeconds: number;
  readonly includeId: boolean;
  readonly settlement?: SettlementSummary;
}

export const orderToWire = (i: WireOrderInput): WireOrder => {
  const { order, offer } = i;
  const item = offerToItem(offer);
  const price = { currency: 'GBP', value: decimal(order.priceGbp, 2) };
  return {
    ...(i.includeId ? { id: order.id, status: order.state === 'cancelled' ? 'CANCELLED' as const : order.state === 'completed' ? 'COMPLETE' as const : 'ACTIVE' as const } : {}),
    provider: { id: i.providerId },
    items: [{ ...item, quantity: { selected: { measure: { type: 'CONSTANT', value: decimal(order.reductionKw), unit: 'kW' } } } }],
    fulfillments: [fulfillment(order, offer, i.now)],
    quote: { price, breakup: [{ title: `Reduction of ${decimal(order.reductionKw)} kW, ${isoOf(offer.windowStart)} to ${isoOf(offer.windowEnd)}`, price }], ttl: `PT${i.quoteTtlSeconds}S` },
    payments: [{
      type: 'POST-FULFILLMENT', collected_by: 'BPP', status: 'NOT-PAID', params: { amount: decimal(order.priceGbp, 2), currency: 'GBP' },
      tags: [tagGroup('settlement-terms', 'Settlement terms', { 'baseline-method': BASELINE_METHOD, baseline: BASELINE_DESCRIPTION, 'payment-rule': 'agreed price × delivered share, capped at 100 %' })],
    }],
    cancellation_terms: [{ fulfillment_state: { descriptor: { code: 'COMMITTED' } }, cancellation_fee: { percentage: '0' } }],
    ...(i.settlement ? { tags: settlementTags(i.settlement) } : {}),
    updated_at: isoOf(order.updatedAt),
  };
};
