// Sending one signed request with retries inside its ttl. A transport failure, a timeout or a 5xx is
// retried with exponential backoff and jitter; anything else (an ACK, a NACK, a 4xx) is the answer.
// Every attempt sends the same bytes with the same headers, so the receiver's dedupe by message_id
// turns a retry of a request that did arrive into a duplicate with no second effect.
import { FlexError } from '../errors.ts';
import { postRaw, type RawResponse } from './http.ts';

export interface RetryPolicy {
  /** Delay before the first retry; doubles each time. */
  readonly baseMs: number;
  /** Upper bound on attempts (the ttl usually ends them first). */
  readonly maxAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 250, maxAttempts: 6 };

export interface RetryOptions {
  readonly now: () => number;
  /** Per-attempt timeout, capped by what is left before the deadline. */
  readonly timeoutMs: number;
  readonly retry?: RetryPolicy;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface Attempts {
  /** The last answer received, if any. */
  readonly result?: RawResponse;
  readonly attempts: number;
  /** The last transport failure, if any. */
  readonly failure?: FlexError;
}

const retriable = (status: number): boolean => status >= 500;

export const postWithRetry = async (
  url: string,
  body: string,
  headers: Record<string, string>,
  deadline: number,
  o: RetryOptions,
): Promise<Attempts> => {
  const policy = o.retry ?? DEFAULT_RETRY;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let failure: FlexError | undefined;
  let last: RawResponse | undefined;
  const done = (attempts: number): Attempts => ({
    ...(last ? { result: last } : {}),
    attempts,
    ...(failure ? { failure } : {}),
  });
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    const left = deadline - o.now();
    if (left <= 0) return done(attempt - 1);
    try {
      last = await postRaw(url, body, headers, Math.min(o.timeoutMs, left));
      if (!retriable(last.status)) return done(attempt);
    } catch (e) {
      if (!(e instanceof FlexError) || e.code !== 'FLX_PEER_UNREACHABLE') throw e;
      failure = e;
    }
    const backoff = policy.baseMs * 2 ** (attempt - 1);
    const delay = Math.round(backoff / 2 + Math.random() * (backoff / 2));
    if (attempt === policy.maxAttempts || o.now() + delay >= deadline) return done(attempt);
    await sleep(delay);
  }
  return done(policy.maxAttempts);
};
