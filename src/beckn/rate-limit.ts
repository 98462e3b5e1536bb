// Per-subscriber rate limits at a receiver (issue 14, admission control): a token bucket per verified
// subscriber_id, so one buyer sending as fast as it can (finding 3: ~290 signed /status a second)
// cannot take the whole provider from the others. Keyed by the id whose signature verified, never by
// what the message claims, so nobody can spend another subscriber's allowance.

/** Requests a second each subscriber may keep up, and how many it may send at once (the bucket). */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/**
 * The BPP's default: 2,000 requests a second per subscriber with bursts of 4,000. Far above what a
 * buyer needs (the grid orchestrator sends a few messages a slot), and below what one subscriber
 * would need to hold the provider's whole capacity (about 4,500 verified requests a second on two
 * cores, docs/benchmarks.md), so load from one cannot shut out the rest.
 */
export const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: 2000, burst: 4000 };

/** Buckets kept at most; a full bucket says nothing, so those are forgotten first. */
const MAX_BUCKETS = 10_000;

export interface RateLimiter {
  /** Takes one request for `subscriberId` at `nowMs`: undefined if allowed, else the seconds to wait. */
  take(subscriberId: string, nowMs: number): number | undefined;
}

export const rateLimiter = (limit: RateLimit): RateLimiter => {
  if (!(limit.perSecond > 0) || !(limit.burst >= 1))
    throw new RangeError(`a rate limit needs perSecond > 0 and burst >= 1, got ${JSON.stringify(limit)}`);
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refill = (b: { tokens: number; at: number }, nowMs: number): void => {
    b.tokens = Math.min(limit.burst, b.tokens + (Math.max(0, nowMs - b.at) / 1000) * limit.perSecond);
    b.at = nowMs;
  };
  const forgetSome = (nowMs: number): void => {
    for (const [id, b] of buckets) {
      refill(b, nowMs);
      if (b.tokens >= limit.burst) buckets.delete(id);
    }
    // Still full of subscribers all over their limit: forget the oldest (it gets a fresh burst).
    while (buckets.size >= MAX_BUCKETS) buckets.delete(buckets.keys().next().value as string);
  };
  return {
    take(subscriberId, nowMs) {
      let b = buckets.get(subscriberId);
      if (!b) {
        if (buckets.size >= MAX_BUCKETS) forgetSome(nowMs);
        b = { tokens: limit.burst, at: nowMs };
        buckets.set(subscriberId, b);
      } else refill(b, nowMs);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return undefined;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / limit.perSecond));
    },
  };
};
