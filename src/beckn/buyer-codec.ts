// The buyer's side of FlexLon's Beckn order bodies (core 1.1.1 select, init, confirm, status):
// what the Grid Orchestrator sends, and what it reads from the provider's on_select / on_init /
// on_confirm. The provider's side is in flex-codec.ts and settlement-codec.ts.
import { FlexError } from '../errors.ts';
import type { WireOrder } from './wire.ts';

export interface BuyerOrderParts {
  readonly providerId: string;
  readonly itemId: string;
  readonly selectedKw: number;
  /** The buyer's billing party (core 1.1.1 Billing): who settlement statements are for. */
  readonly buyerId: string;
  /** Order tag groups the buyer adds in init (the product's terms, settlement/codec.ts productTags). */
  readonly tags?: readonly unknown[];
}

const items = (p: BuyerOrderParts) => [
  {
    id: p.itemId,
    quantity: {
      selected: { measure: { type: 'CONSTANT', value: String(Math.round(p.selectedKw * 1000) / 1000), unit: 'kW' } },
    },
  },
];

const billing = (p: BuyerOrderParts) => ({ name: p.buyerId, email: `settlement@${p.buyerId}` });

export const selectMessage = (p: BuyerOrderParts) => ({ order: { provider: { id: p.providerId }, items: items(p) } });

export const initMessage = (p: BuyerOrderParts) => ({
  order: { provider: { id: p.providerId }, items: items(p), billing: billing(p), ...(p.tags ? { tags: p.tags } : {}) },
});

/** confirm repeats the payments on_init stated (the settlement terms the buyer accepts). */
export const confirmMessage = (p: BuyerOrderParts, initialised: WireOrder) => ({
  order: { provider: { id: p.providerId }, items: items(p), billing: billing(p), payments: initialised.payments ?? [] },
});

export const statusMessage = (orderId: string) => ({ order_id: orderId });

/** The £ quoted in on_select. */
export const quotedPrice = (quoted: WireOrder): number => {
  const gbp = Number(quoted.quote?.price?.value);
  if (!Number.isFinite(gbp))
    throw new FlexError('FLX_REQ_SCHEMA', 'on_select has no quote price', { path: 'message.order.quote.price.value' });
  return gbp;
};

/** The settlement baseline on_init names (payments[0] settlement-terms / baseline-method). */
export const baselineMethodOf = (initialised: WireOrder): string =>
  initialised.payments?.[0]?.tags
    ?.find((t) => t.descriptor.code === 'settlement-terms')
    ?.list.find((t) => t.descriptor.code === 'baseline-method')?.value ?? 'unstated';

/** The order id on_confirm gives. */
export const confirmedOrderId = (confirmed: WireOrder): string => {
  if (!confirmed.id) throw new FlexError('FLX_REQ_SCHEMA', 'on_confirm has no order id', { path: 'message.order.id' });
  return confirmed.id;
};

/** The fulfilment state code of an order on the wire (e.g. DELIVERING, DELIVERED). */
export const fulfilmentState = (order: WireOrder | undefined): string | undefined =>
  order?.fulfillments?.[0]?.state?.descriptor?.code;
