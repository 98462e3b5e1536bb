// Refusals that ask the sender to come back later (429 or 503, with Retry-After): over its rate
// limit, a participant under load, a planner queue too long to answer within the ttl, and a request
// whose handler ran too long to keep the ACK's promise. An ACK promises the callback within the
// request's ttl, so where that cannot be kept the request is refused, not ACKed and dropped later.
// Not audited: under load, a row per refusal would add to the load.
import { FlexError } from '../errors.ts';
import { deadlineOf } from './client.ts';
import type { Action, Context } from './context.ts';

/** When a refusal for load says to try again (s). */
export const BUSY_RETRY_AFTER_SECONDS = 5;

/** A refusal for load or rate, with the seconds until a retry may pass (Retry-After); not audited. */
export type RetryLater = FlexError & { readonly retryAfterSeconds: number };
export const retryLater = (code: 'FLX_RATE_LIMITED' | 'FLX_BUSY', message: string, s: number): RetryLater =>
  Object.assign(new FlexError(code, message), { retryAfterSeconds: s });
export const isRetryLater = (e: unknown): e is RetryLater => e instanceof FlexError && 'retryAfterSeconds' in e;

// Time kept, after a request's handler ran, to send its callback before the ttl ends: a request whose
// handler (the BPP's planning) ran past it is refused, not ACKed (an ACK promises the callback).
const LATE_MARGIN_MS = 500;

/** A refusal when a request's handler ran so long that its callback could no longer be sent within the ttl. */
export const lateBy = (action: Action, context: Context, now: number): RetryLater | undefined => {
  const due = deadlineOf(context, now);
  if (now + LATE_MARGIN_MS <= due) return undefined;
  const left = Math.max(0, Math.round((due - now) / 1000));
  const why = `answering this ${action} took until ${left} s before its ttl ended, too late to send the callback in time`;
  return retryLater('FLX_BUSY', `${why}; nothing was done`, BUSY_RETRY_AFTER_SECONDS);
};
