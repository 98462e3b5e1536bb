// What the BPP owes a BAP, written to the outbox inside the transaction of the effect that owes it
// (docs/storage.md, "Outbound"), and sent after commit by the outbox worker. A callback is built and
// checked against its schema when it is owed, so a message that could never be sent rolls its
// effect back (NACK) instead of dying in the outbox. Its id is stable per request, so owing it twice
// (a task run again after a crash) is a no-op.
//
// Work too slow for a request's transaction (pricing offers: several plans and baseline reads) is a
// local task in the same outbox: owed with the claim, run after the ACK, and run again after a crash
// until it has owed its callback.
import { FlexError } from '../../errors.ts';
import {
  buildContext,
  durationSeconds,
  type BecknMessage,
  type CallbackAction,
  type Context,
} from '../../beckn/context.ts';
import type { Inbound } from '../../beckn/inbound.ts';
import { becknValidator, schemaError } from '../../beckn/validator.ts';
import type { StoreTx } from '../../ports.ts';

/** Destination of outbox entries that are work for this process, not messages to a peer. */
export const LOCAL_TASK = 'local:';

/** Who asked, as the outbox needs it to answer later (possibly after a restart). */
export interface Requester {
  readonly context: Context;
  readonly subscriberId: string;
  /** The URL registered for the requester (callbacks only go there). */
  readonly url: string;
}

export const requesterOf = (i: Inbound): Requester => ({
  context: i.msg.context,
  subscriberId: i.sender.subscriberId,
  url: i.sender.url,
});

/** An owed callback as the outbox stores it: the exact message, and the request it answers (its ttl bounds delivery). */
export interface OwedCallback {
  readonly message: BecknMessage;
  readonly inReplyTo: Context;
}

export interface Provider {
  readonly id: string;
  readonly uri: string;
  readonly wallNow: () => number;
}

export const callbackId = (action: CallbackAction, r: Requester): string =>
  `${action}|${r.subscriberId}|${r.context.message_id}`;

/**
 * The callback to `r` (same transaction_id and message_id, core 1.1.1), with the request's ttl: it
 * is due within the request's ttl, and must still be acceptable when it arrives then.
 */
export const callbackMessage = (
  p: Provider,
  r: Requester,
  action: CallbackAction,
  body: Pick<BecknMessage, 'message' | 'error'>,
): BecknMessage => {
  const c = r.context;
  const ttlSeconds = durationSeconds(c.ttl ?? 'PT30S') ?? 30;
  const context = buildContext({
    action,
    bapId: c.bap_id,
    bapUri: r.url,
    bppId: p.id,
    bppUri: p.uri,
    transactionId: c.transaction_id,
    messageId: c.message_id,
    now: p.wallNow(),
    ttlSeconds,
  });
  return { context, ...body };
};

/** Owes `action` to the requester, in `tx`. */
export const owe = async (
  tx: StoreTx,
  p: Provider,
  r: Requester,
  action: CallbackAction,
  message: unknown,
  orderId?: string,
): Promise<void> => {
  const msg = callbackMessage(p, r, action, { message });
  const issues = becknValidator().check(action, msg);
  if (issues.length > 0) throw schemaError(`the ${action} owed`, issues);
  const body: OwedCallback = { message: msg, inReplyTo: r.context };
  await tx.enqueueOutbox({
    id: callbackId(action, r),
    destination: r.url,
    action,
    transactionId: r.context.transaction_id,
    messageId: r.context.message_id,
    ...(orderId ? { orderId } : {}),
    body,
    createdAt: p.wallNow(),
  });
};

/** Local work owed for a request: who asked, and what the work needs from the request. */
export interface OwedTask<P = unknown> {
  readonly requester: Requester;
  readonly payload: P;
}

/** Owes local work (`task:<name>`) for the request, in `tx`. */
export const oweTask = async (
  tx: StoreTx,
  p: Provider,
  r: Requester,
  task: string,
  payload: unknown,
): Promise<void> => {
  const body: OwedTask = { requester: r, payload };
  await tx.enqueueOutbox({
    id: `task:${task}|${r.subscriberId}|${r.context.message_id}`,
    destination: LOCAL_TASK,
    action: `task:${task}`,
    transactionId: r.context.transaction_id,
    messageId: r.context.message_id,
    body,
    createdAt: p.wallNow(),
  });
};

export const owedCallback = (body: unknown): OwedCallback => {
  const b = body as Partial<OwedCallback> | undefined;
  if (!b?.message?.context || !b.inReplyTo)
    throw new FlexError('FLX_INTERNAL', 'an outbox entry for a peer does not hold a Beckn message');
  return b as OwedCallback;
};
