// Sending what the outbox owes: claim the due messages, send each, record the peer's answer or
// when to try again. Storage-agnostic (only the Store port). An agent calls drainOutbox on start-up
// (everything owed before a crash goes out) and then on a timer or after each commit.
//
// Delivery is at least once: a process killed after the peer accepted a message but before it was
// marked sent will send it again once the lease ends. Receivers deduplicate on the message id
// (Beckn message_id), which is what makes the effect happen exactly once.
import { FlexError } from '../errors.ts';
import type { Store } from '../ports.ts';
import type { OutboxMessage } from './records.ts';

export interface RetryPolicy {
  /** Wait after the first failure (ms); each later failure doubles it. */
  readonly firstDelayMs: number;
  /** The longest wait between attempts (ms). */
  readonly maxDelayMs: number;
  /** Attempts after which a message is given up (marked dead, for an operator to look at). */
  readonly maxAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { firstDelayMs: 1_000, maxDelayMs: 300_000, maxAttempts: 10 };

/** When a message whose attempt number `attempts` just failed is due again; undefined to give up. */
export const nextAttemptAt = (policy: RetryPolicy, attempts: number, now: number): number | undefined =>
  attempts >= policy.maxAttempts
    ? undefined
    : now + Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.max(0, attempts - 1));

/**
 * Sends one message and resolves with the peer's answer (JSON), or throws. Throwing a FlexError
 * with code FLX_PEER_NACK or FLX_REQ_EXPIRED gives the message up at once: the peer refused the
 * message itself, or it is past its ttl (a Beckn callback is due within its request's ttl), so
 * sending the same bytes again cannot help. Any other error is retried.
 */
export type OutboxSend = (message: OutboxMessage) => Promise<unknown>;

export interface DrainOptions {
  /** Wall-clock time (epoch ms). */
  readonly now: () => number;
  /** How long a send may take before another worker may claim the message again (default 60 s). */
  readonly leaseMs?: number;
  /** At most this many messages per call (default 50). */
  readonly batch?: number;
  readonly policy?: RetryPolicy;
}

export interface DrainResult {
  readonly sent: string[];
  readonly retrying: string[];
  readonly dead: string[];
}

/** Claims the due messages and sends them one by one, oldest first. */
export const drainOutbox = async (store: Store, send: OutboxSend, o: DrainOptions): Promise<DrainResult> => {
  const policy = o.policy ?? DEFAULT_RETRY;
  const result: DrainResult = { sent: [], retrying: [], dead: [] };
  const claimed = await store.claimOutbox({ now: o.now(), leaseMs: o.leaseMs ?? 60_000, limit: o.batch ?? 50 });
  for (const message of claimed) {
    let response: unknown;
    try {
      response = await send(message);
    } catch (e) {
      const error = e instanceof FlexError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
      const final = e instanceof FlexError && (e.code === 'FLX_PEER_NACK' || e.code === 'FLX_REQ_EXPIRED');
      const retryAt = final ? undefined : nextAttemptAt(policy, message.attempts, o.now());
      await store.markOutboxFailed(message.id, retryAt === undefined ? { error, giveUp: true } : { error, retryAt });
      (retryAt === undefined ? result.dead : result.retrying).push(message.id);
      continue;
    }
    await store.markOutboxSent(message.id, { at: o.now(), ...(response === undefined ? {} : { response }) });
    result.sent.push(message.id);
  }
  return result;
};
