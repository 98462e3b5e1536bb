// The BPP's orders as Beckn v1.1 Order objects: the item bought, the quote, the settlement terms,
// the cancellation terms, the fulfilment (the delivery window) and, once metering starts, the
// delivery per settlement period, in total and per site.
import { headTags, type SignedHead } from '../../audit/heads.ts';
import type { FlexOffer } from '../../domain/offers.ts';
import { DEFAULT_CANCELLATION, type CancellationPolicy, type Order } from '../../domain/order.ts';
import { isoOf } from '../../domain/time.ts';
import { FULFILLMENT_TYPE, offerToItem } from '../../beckn/flex-codec.ts';
import { FIFO_COUNTERFACTUAL, type BaselineMethod } from '../../settlement/baselines.ts';
import { productTags, settlementTags, siteSettlementTags } from '../../settlement/codec.ts';
import type { SettlementSummary } from '../../settlement/delivered.ts';
import {
  decimal,
  tagGroup,
  type CancellationTerm,
  type Fulfillment,
  type TagGroup,
  type WireOrder,
} from '../../beckn/wire.ts';

const STATE_CODE: Record<Order['state'], string> = {
  searched: 'PENDING',
  quoted: 'QUOTED',
  initialised: 'PENDING',
  confirmed: 'COMMITTED',
  active: 'DELIVERING',
  completed: 'DELIVERED',
  cancelled: 'CANCELLED',
  failed: 'FAILED',
};

const fulfillment = (order: Order, now: number): Fulfillment => ({
  id: 'dr',
  type: FULFILLMENT_TYPE,
  stops: [
    { type: 'start', time: { timestamp: isoOf(order.windowStart) } },
    { type: 'end', time: { timestamp: isoOf(order.windowEnd) } },
  ],
  state: { descriptor: { code: STATE_CODE[order.state] }, updated_at: isoOf(now) },
});

/**
 * core 1.1.1 CancellationTerm, read in order, the first that matches applies: before the order is
 * committed (PENDING/QUOTED) free; COMMITTED and cancelled by `cancel_by` (the notice before the
 * window, market time) free; COMMITTED later, the late fee. DELIVERING is not listed: once the
 * window has opened the order cannot be cancelled (NACK 50001).
 */
export const cancellationTerms = (order: Order, policy: CancellationPolicy): CancellationTerm[] => {
  const terms = order.cancellation ?? policy;
  const late = Math.round(((order.priceGbp * terms.lateFeePercent) / 100) * 100) / 100;
  return [
    { fulfillment_state: { descriptor: { code: 'PENDING' } }, cancellation_fee: { percentage: '0' } },
    { fulfillment_state: { descriptor: { code: 'QUOTED' } }, cancellation_fee: { percentage: '0' } },
    {
      fulfillment_state: { descriptor: { code: 'COMMITTED' } },
      cancel_by: { timestamp: isoOf(order.windowStart - terms.freeNoticeMinutes * 60_000) },
      cancellation_fee: { percentage: '0' },
    },
    {
      fulfillment_state: { descriptor: { code: 'COMMITTED' } },
      cancellation_fee: {
        percentage: decimal(terms.lateFeePercent, 2),
        amount: { currency: 'GBP', value: decimal(late, 2) },
      },
    },
  ];
};

export interface WireOrderInput {
  readonly order: Order;
  readonly offer: FlexOffer;
  readonly providerId: string;
  readonly now: number;
  readonly quoteTtlSeconds: number;
  readonly includeId: boolean;
  readonly cancellation?: CancellationPolicy;
  /** The settlement baseline stated in the payment's settlement terms (FIFO_COUNTERFACTUAL when absent). */
  readonly baseline?: BaselineMethod;
  readonly settlement?: SettlementSummary;
  /** Per-site settlement of a portfolio order (tag group `site-settlement` each). */
  readonly siteSettlements?: readonly { readonly site: string; readonly summary: SettlementSummary }[];
  /** The provider's newest signed audit head, for the buyer to keep (issue 17). */
  readonly auditHead?: SignedHead;
}

const allocationTags = (order: Order): TagGroup[] =>
  order.allocations && order.allocations.length > 1
    ? [
        tagGroup(
          'allocation',
          'Split across sites by the optimiser',
          Object.fromEntries(order.allocations.map((a) => [a.site, decimal(a.reductionKw)])),
        ),
      ]
    : [];

export const orderToWire = (i: WireOrderInput): WireOrder => {
  const { order, offer } = i;
  const item = offerToItem(offer);
  const price = { currency: 'GBP', value: decimal(order.priceGbp, 2) };
  const fee = order.feeGbp ?? 0;
  const breakup = [
    {
      title: `Reduction of ${decimal(order.reductionKw)} kW, ${isoOf(order.windowStart)} to ${isoOf(order.windowEnd)}`,
      price,
    },
    ...(fee > 0
      ? [{ title: 'Cancellation fee (cancellation terms)', price: { currency: 'GBP', value: decimal(fee, 2) } }]
      : []),
  ];
  const owed = order.state === 'cancelled' ? fee : order.priceGbp + fee;
  const tags = [
    ...(i.settlement ? settlementTags(i.settlement) : []),
    ...siteSettlementTags(i.siteSettlements),
    ...allocationTags(order),
    ...(order.product ? [productTags(order.product)] : []),
    ...(i.auditHead ? [headTags(i.auditHead)] : []),
  ];
  return {
    ...(i.includeId
      ? {
          id: order.id,
          status:
            order.state === 'cancelled'
              ? ('CANCELLED' as const)
              : order.state === 'completed'
                ? ('COMPLETE' as const)
                : ('ACTIVE' as const),
        }
      : {}),
    provider: { id: i.providerId },
    items: [
      {
        ...item,
        time: { range: { start: isoOf(order.windowStart), end: isoOf(order.windowEnd) } },
        quantity: { selected: { measure: { type: 'CONSTANT', value: decimal(order.reductionKw), unit: 'kW' } } },
      },
    ],
    fulfillments: [fulfillment(order, i.now)],
    quote: {
      price: order.state === 'cancelled' ? { currency: 'GBP', value: decimal(fee, 2) } : price,
      breakup,
      ttl: `PT${i.quoteTtlSeconds}S`,
    },
    payments: [
      {
        type: 'POST-FULFILLMENT',
        collected_by: 'BPP',
        status: 'NOT-PAID',
        params: { amount: decimal(owed, 2), currency: 'GBP' },
        tags: [
          tagGroup('settlement-terms', 'Settlement terms', {
            'baseline-method': (i.baseline ?? FIFO_COUNTERFACTUAL).code,
            baseline: (i.baseline ?? FIFO_COUNTERFACTUAL).description,
            'payment-rule': 'agreed price × delivered share, capped at 100 %',
          }),
        ],
      },
    ],
    cancellation_terms: cancellationTerms(order, i.cancellation ?? DEFAULT_CANCELLATION),
    ...(tags.length > 0 ? { tags } : {}),
    updated_at: isoOf(order.updatedAt),
  };
};
