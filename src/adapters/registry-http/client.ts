// Registry port over HTTP (registry.yaml /lookup and /subscribe), with a lookup cache. A cached
// record is kept until the sooner of its valid_until and the cache ttl, so key rotation shows up
// within one ttl; a key that fails verification can be re-fetched by the caller with `forget`.
import { FlexError } from '../../errors.ts';
import { postSigned } from '../../beckn/http.ts';
import type { LookupQuery, Registry, Signer, Subscription } from '../../ports.ts';

export interface HttpRegistryOptions {
  readonly url: string;
  readonly now: () => number;
  readonly cacheTtlMs?: number;
  readonly timeoutMs?: number;
}

export class HttpRegistry implements Registry {
  private readonly cache = new Map<string, { at: number; until: number; result: Subscription[] }>();

  constructor(private readonly o: HttpRegistryOptions, private readonly signer?: Signer) {}

  async lookup(query: LookupQuery): Promise<Subscription[]> {
    const key = JSON.stringify([query.subscriber_id, query.unique_key_id, query.type, query.domain]);
    const now = this.o.now();
    const hit = this.cache.get(key);
    if (hit && now < hit.until) return hit.result;
    let res: Response;
    try {
      res = await fetch(`${this.o.url}/lookup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(query), signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000) });
    } catch (e) {
      throw new FlexError('FLX_PEER_UNREACHABLE', `registry ${this.o.url} did not answer: ${(e as Error).message}`, { cause: e });
    }
    if (!res.ok) throw new FlexError('FLX_PEER_NACK', `registry lookup failed with HTTP ${res.status}`);
    const result = (await res.json()) as Subscription[];
    const soonest = Math.min(...result.map((s) => Date.parse(s.valid_until)).filter((x) => !Number.isNaN(x)), Infinity);
    this.cache.set(key, { at: now, until: Math.min(now + (this.o.cacheTtlMs ?? 60_000), soonest), result });
    return result;
  }

  forget(): void {
    this.cache.clear();
  }

  async subscribe(subscription: Subscription): Promise<void> {
    if (!this.signer) throw new FlexError('FLX_CONFIG_INVALID', 'subscribing needs a signer for proof of key possession');
    const r = await postSigned(`${this.o.url}/subscribe`, JSON.stringify(subscription), { signer: this.signer, nowMs: this.o.now(), lifetimeSeconds: 60, timeoutMs: this.o.timeoutMs ?? 5000 });
    if (r.status !== 200) throw new FlexError('FLX_PEER_NACK', `registry refused the subscription of ${subscription.subscriber_id}: ${r.text.slice(0, 300)}`);
    this.forget();
  }
}
