// The BAP's post-order requests (core 1.1.1 track, cancel, update, rating, support) for an order it
// bought. Each sends the request to the BPP that holds the order and returns what its callback says.
import { FlexError } from '../../errors.ts';
import type { CallbackAction, RequestAction } from '../../beckn/context.ts';
import type { WireOrder } from '../../beckn/wire.ts';
import type { SettlementSummary } from '../../settlement/delivered.ts';
import type { GridOrchestrator, Procurement } from './orchestrator.ts';

export interface Tracking {
  readonly id?: string;
  readonly status?: 'active' | 'inactive';
  readonly url?: string;
}
export interface Support {
  readonly ref_id?: string;
  readonly email?: string;
  readonly phone?: string;
  readonly url?: string;
}

const ask = async <T>(
  g: GridOrchestrator,
  p: Procurement,
  action: RequestAction,
  message: unknown,
  field: string,
): Promise<T> => {
  const [answer] = await g.request(
    action,
    { id: p.bpp.subscriber_id, uri: p.bpp.subscriber_url },
    p.transactionId,
    message,
  );
  const callback: CallbackAction = `on_${action}`;
  if (!answer)
    throw new FlexError(
      'FLX_PEER_UNREACHABLE',
      `${p.bpp.subscriber_id} sent no ${callback} within ${g.deps.callbackTimeoutMs} ms`,
    );
  const value = (answer.message as Record<string, unknown> | undefined)?.[field];
  if (field !== '' && value === undefined)
    throw new FlexError('FLX_REQ_SCHEMA', `${callback} from ${p.bpp.subscriber_id} has no ${field}`, {
      path: `message.${field}`,
    });
  return (field === '' ? answer.message : value) as T;
};

export const trackOrder = (g: GridOrchestrator, p: Procurement): Promise<Tracking> =>
  ask<Tracking>(g, p, 'track', { order_id: p.orderId }, 'tracking');

export const cancelOrder = (g: GridOrchestrator, p: Procurement, reasonId?: string): Promise<WireOrder> =>
  ask<WireOrder>(
    g,
    p,
    'cancel',
    { order_id: p.orderId, ...(reasonId ? { cancellation_reason_id: reasonId } : {}) },
    'order',
  );

export const updateOrder = (
  g: GridOrchestrator,
  p: Procurement,
  updateTarget: string,
  order: WireOrder,
): Promise<WireOrder> =>
  ask<WireOrder>(g, p, 'update', { update_target: updateTarget, order: { ...order, id: p.orderId } }, 'order');

/** Rates the order (1–5); the BPP answers on_rating. */
export const rateOrder = async (g: GridOrchestrator, p: Procurement, value: number): Promise<void> => {
  await ask<unknown>(
    g,
    p,
    'rating',
    { ratings: [{ rating_category: 'Order', id: p.orderId, value: String(value) }] },
    '',
  );
};

export const askSupport = (g: GridOrchestrator, p: Procurement): Promise<Support> =>
  ask<Support>(g, p, 'support', { support: { ref_id: p.orderId } }, 'support');

/** The settlement statement a FlexLon BPP puts in on_support after delivery (a data: URL), if any. */
export const statementOf = (s: Support): (SettlementSummary & { order_id: string }) | undefined => {
  const m = /^data:application\/json;base64,([A-Za-z0-9+/=]+)$/.exec(s.url ?? '');
  return m?.[1]
    ? (JSON.parse(Buffer.from(m[1], 'base64').toString('utf8')) as SettlementSummary & { order_id: string })
    : undefined;
};
