// Registry port over HTTP (registry.yaml /lookup and /subscribe), with a lookup cache.
//
// Cache: a lookup answer is kept until the sooner of the cache ttl and the earliest valid_until in
// it, so an expired key is never served from the cache; validity and status are checked again on
// every use (key-resolver.ts). Key rotation needs no cache action: a new unique_key_id is a different
// query, fetched on first use, while the old key's record stays usable until its own valid_until. A
// revocation (status UNSUBSCRIBED) is seen at the latest one cache ttl after it is registered.
//
// Registries spell fields differently (registry.yaml: `url`, `key_id`; deployed Beckn registry and
// beckn-onix: `subscriber_url`, `unique_key_id`, also `ukId`, `pub_key_id`); answers are normalised.
import { FlexError } from '../../errors.ts';
import { postSigned, signatureHeader } from '../../beckn/http.ts';
import type { LookupQuery, Registry, Signer, Subscription } from '../../ports.ts';

export interface HttpRegistryOptions {
  readonly url: string;
  readonly now: () => number;
  readonly cacheTtlMs?: number;
  readonly timeoutMs?: number;
}

const normalise = (r: Record<string, unknown>): Subscription => ({
  ...(r as unknown as Subscription),
  subscriber_url: String(r.subscriber_url ?? r.url ?? ''),
  unique_key_id: String(r.unique_key_id ?? r.ukId ?? r.key_id ?? r.pub_key_id ?? ''),
});

export class HttpRegistry implements Registry {
  private readonly cache = new Map<string, { until: number; result: Subscription[] }>();

  /**
   * `signer` signs subscriptions (proof of possession of the key registered); `voucher`, when the
   * subscriber already has a valid key, is that key, and signs X-Subscriber-Authorization (rotation).
   */
  constructor(
    private readonly o: HttpRegistryOptions,
    private readonly signer?: Signer,
    private readonly voucher?: Signer,
  ) {}

  async lookup(query: LookupQuery): Promise<Subscription[]> {
    const key = JSON.stringify([query.subscriber_id, query.unique_key_id, query.type, query.domain]);
    const now = this.o.now();
    const hit = this.cache.get(key);
    if (hit && now < hit.until) return hit.result;
    let res: Response;
    try {
      res = await fetch(`${this.o.url}/lookup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(query),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000),
      });
    } catch (e) {
      throw new FlexError('FLX_PEER_UNREACHABLE', `registry ${this.o.url} did not answer: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (!res.ok)
      throw new FlexError(
        'FLX_PEER_NACK',
        `registry lookup failed with HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`,
      );
    const body = (await res.json()) as unknown;
    if (!Array.isArray(body))
      throw new FlexError('FLX_PEER_NACK', `registry ${this.o.url} answered a lookup with something other than a list`);
    const result = body.map((r) => normalise(r as Record<string, unknown>));
    const soonest = Math.min(...result.map((s) => Date.parse(s.valid_until)).filter((x) => !Number.isNaN(x)), Infinity);
    this.cache.set(key, { until: Math.min(now + (this.o.cacheTtlMs ?? 60_000), soonest), result });
    return result;
  }

  forget(): void {
    this.cache.clear();
  }

  async subscribe(subscription: Subscription): Promise<void> {
    if (!this.signer)
      throw new FlexError('FLX_CONFIG_INVALID', 'subscribing needs a signer for proof of key possession');
    const body = JSON.stringify(subscription);
    const nowMs = this.o.now();
    const vouch = this.voucher
      ? { 'X-Subscriber-Authorization': signatureHeader(body, this.voucher, nowMs, 60) }
      : undefined;
    const r = await postSigned(`${this.o.url}/subscribe`, body, {
      signer: this.signer,
      nowMs,
      lifetimeSeconds: 60,
      timeoutMs: this.o.timeoutMs ?? 5000,
      ...(vouch ? { extraHeaders: vouch } : {}),
    });
    if (r.status !== 200)
      throw new FlexError(
        'FLX_PEER_NACK',
        `registry refused the subscription of ${subscription.subscriber_id} key ${subscription.unique_key_id}: ${r.text.slice(0, 300)}`,
      );
    this.forget();
  }
}
