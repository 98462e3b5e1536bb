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
//
// Onboarding (registry.yaml): subscribe sends the record with this client's X25519 encr_public_key
// and a uuid nonce; a registry that answers UNDER_SUBSCRIPTION then posts its challenge to the
// subscriber's /on_subscribe, which hands it to answerChallenge (src/beckn/registry/on-subscribe.ts);
// subscribe resolves once a lookup shows the record as asked for, and fails with the registry's
// reason if the challenge failed. Lookups are signed with the subscriber's key when the client has
// one (registry.yaml: lookup is for subscribers).
import { randomUUID } from 'node:crypto';
import { FlexError } from '../../errors.ts';
import { postSigned, signatureHeader } from '../../beckn/http.ts';
import { staticKeyResolver } from '../../beckn/key-resolver.ts';
import {
  decryptChallenge,
  encryptionPublicKey,
  generateEncryptionKeyPair,
  type EncryptionKeyPair,
} from '../../beckn/registry/challenge.ts';
import type { RegistryKeys } from '../../beckn/registry/service.ts';
import { verifyRequest } from '../../beckn/verify.ts';
import type { LookupQuery, Registry, Signer, Subscription } from '../../ports.ts';

export interface HttpRegistryOptions {
  readonly url: string;
  readonly now: () => number;
  readonly cacheTtlMs?: number;
  readonly timeoutMs?: number;
  /** How long subscribe waits for the registry's challenge to be answered and confirmed (default 10 s). */
  readonly onboardingTimeoutMs?: number;
  /** The X25519 key registered as encr_public_key; one is made when absent. */
  readonly encryption?: EncryptionKeyPair;
}

/** A lookup also by status (registry.yaml lookups take any Subscription field). */
export type HttpLookupQuery = LookupQuery & { readonly status?: Subscription['status'] };

type Answered = Subscription & { encr_public_key?: string; updated?: string; status_reason?: string };

const normalise = (r: Record<string, unknown>): Subscription => ({
  ...(r as unknown as Subscription),
  subscriber_url: String(r.subscriber_url ?? r.url ?? ''),
  unique_key_id: String(r.unique_key_id ?? r.ukId ?? r.key_id ?? r.pub_key_id ?? ''),
});

const cacheKey = (q: HttpLookupQuery): string =>
  JSON.stringify([q.subscriber_id, q.unique_key_id, q.type, q.domain, q.status]);

export class HttpRegistry implements Registry {
  private readonly cache = new Map<string, { until: number; result: Subscription[] }>();
  private readonly encryption: EncryptionKeyPair;
  private registryKeys: RegistryKeys | undefined;

  /**
   * `signer` signs subscriptions (proof of possession of the key registered); `voucher`, when the
   * subscriber already has a valid key, is that key, and signs X-Subscriber-Authorization (rotation).
   */
  constructor(
    private readonly o: HttpRegistryOptions,
    private readonly signer?: Signer,
    private readonly voucher?: Signer,
  ) {
    this.encryption = o.encryption ?? generateEncryptionKeyPair();
  }

  /** The X25519 public key this client registers (DER SPKI, base64). */
  get encryptionPublicKey(): string {
    return this.encryption.publicKeyBase64;
  }

  async lookup(query: HttpLookupQuery): Promise<Subscription[]> {
    const key = cacheKey(query);
    const now = this.o.now();
    const hit = this.cache.get(key);
    if (hit && now < hit.until) return hit.result;
    const result = await this.fetchLookup(query);
    const soonest = Math.min(...result.map((s) => Date.parse(s.valid_until)).filter((x) => !Number.isNaN(x)), Infinity);
    this.cache.set(key, { until: Math.min(now + (this.o.cacheTtlMs ?? 60_000), soonest), result });
    return result;
  }

  private async fetchLookup(query: HttpLookupQuery): Promise<Answered[]> {
    const body = JSON.stringify(query);
    let res: Response;
    try {
      res = await fetch(`${this.o.url}/lookup`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.signer ? { authorization: signatureHeader(body, this.signer, this.o.now(), 30) } : {}),
        },
        body,
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
    const answer = (await res.json()) as unknown;
    if (!Array.isArray(answer))
      throw new FlexError('FLX_PEER_NACK', `registry ${this.o.url} answered a lookup with something other than a list`);
    return answer.map((r) => normalise(r as Record<string, unknown>));
  }

  forget(query: HttpLookupQuery): void {
    this.cache.delete(cacheKey(query));
  }

  async subscribe(subscription: Subscription): Promise<void> {
    if (!this.signer)
      throw new FlexError('FLX_CONFIG_INVALID', 'subscribing needs a signer for proof of key possession');
    const started = this.o.now();
    const body = JSON.stringify({
      ...subscription,
      encr_public_key: this.encryption.publicKeyBase64,
      nonce: randomUUID(),
    });
    const vouch = this.voucher
      ? { 'X-Subscriber-Authorization': signatureHeader(body, this.voucher, started, 60) }
      : undefined;
    const r = await postSigned(`${this.o.url}/subscribe`, body, {
      signer: this.signer,
      nowMs: started,
      lifetimeSeconds: 60,
      timeoutMs: this.o.timeoutMs ?? 5000,
      ...(vouch ? { extraHeaders: vouch } : {}),
    });
    if (r.status !== 200)
      throw new FlexError(
        'FLX_PEER_NACK',
        `registry refused the subscription of ${subscription.subscriber_id} key ${subscription.unique_key_id}: ${r.text.slice(0, 300)}`,
      );
    let status: unknown;
    try {
      status = (JSON.parse(r.text) as { status?: unknown }).status;
    } catch {
      status = undefined;
    }
    // registry.yaml: UNDER_SUBSCRIPTION until the on_subscribe challenge is answered. An open registry
    // (loopback test networks) answers with the status at once.
    if (status === 'UNDER_SUBSCRIPTION') await this.awaitOnboarding(subscription, started);
    // Its own record changed: no answer cached before the subscription may stand for it.
    this.cache.clear();
  }

  /** Polls the subscriber's own record until it reads as asked, or the registry says the challenge failed. */
  private async awaitOnboarding(s: Subscription, started: number): Promise<void> {
    // A wait on the wire: real time, whatever clock signs the messages.
    const until = Date.now() + (this.o.onboardingTimeoutMs ?? 10_000);
    let last: Answered | undefined;
    for (;;) {
      [last] = (await this.fetchLookup({ subscriber_id: s.subscriber_id, unique_key_id: s.unique_key_id })).filter(
        (x) => x.subscriber_id === s.subscriber_id && x.unique_key_id === s.unique_key_id,
      );
      if (
        last &&
        last.status === s.status &&
        last.subscriber_url.replace(/\/+$/, '') === s.subscriber_url.replace(/\/+$/, '') &&
        last.valid_until === s.valid_until &&
        // A re-subscription that changes only the version (1.1.1 to 2.0) is not done until the record says so.
        last.beckn_version === s.beckn_version &&
        last.encr_public_key === this.encryption.publicKeyBase64
      )
        return;
      if (last?.status === 'INITIATED' && Date.parse(last.updated ?? '') >= started - 1000)
        throw new FlexError(
          'FLX_PEER_NACK',
          `the registry did not subscribe ${s.subscriber_id} key ${s.unique_key_id}: ${last.status_reason ?? 'the on_subscribe challenge failed'}`,
        );
      if (Date.now() > until)
        throw new FlexError(
          'FLX_PEER_NACK',
          `the registry had not confirmed ${s.subscriber_id} key ${s.unique_key_id} ${this.o.onboardingTimeoutMs ?? 10_000} ms after subscribe (status ${last?.status ?? 'none'}): is ${s.subscriber_url}/on_subscribe answering?`,
        );
      await new Promise((res) => setTimeout(res, 25));
    }
  }

  /** The registry's published keys (GET /keys); fetched again when `refresh`. */
  private async keysOfRegistry(refresh: boolean): Promise<RegistryKeys> {
    if (this.registryKeys && !refresh) return this.registryKeys;
    try {
      const res = await fetch(`${this.o.url}/keys`, { signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.registryKeys = (await res.json()) as RegistryKeys;
      return this.registryKeys;
    } catch (e) {
      throw new FlexError(
        'FLX_PEER_UNREACHABLE',
        `registry ${this.o.url} did not publish its keys: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }

  /**
   * registry.yaml /on_subscribe: checks the registry's signature over `raw` (its key from GET /keys,
   * fetched again once if the keyId is not the one known), decrypts the challenge with this client's
   * encryption key and the registry's, and returns `{ answer }`.
   */
  async answerChallenge(raw: Buffer, authorization: string | undefined): Promise<{ answer: string }> {
    const verify = async (refresh: boolean) => {
      const k = await this.keysOfRegistry(refresh);
      const resolver = staticKeyResolver([
        {
          subscriberId: k.subscriber_id,
          uniqueKeyId: k.unique_key_id,
          publicKeyBase64: k.signing_public_key,
          url: this.o.url,
        },
      ]);
      await verifyRequest(raw, authorization, resolver, this.o.now());
      return k;
    };
    let k: RegistryKeys;
    try {
      k = await verify(false);
    } catch (e) {
      if ((e as { code?: string }).code !== 'FLX_SIG_UNKNOWN_KEY') throw e;
      k = await verify(true);
    }
    let challenge: unknown;
    try {
      challenge = (JSON.parse(raw.toString('utf8')) as { challenge?: unknown }).challenge;
    } catch {
      throw new FlexError('FLX_REQ_INVALID_JSON');
    }
    if (typeof challenge !== 'string')
      throw new FlexError('FLX_REQ_SCHEMA', 'on_subscribe carries no challenge string', { path: 'challenge' });
    return {
      answer: decryptChallenge(
        challenge,
        this.encryption.privateKey,
        encryptionPublicKey(k.encr_public_key, 'the registry encr_public_key'),
      ),
    };
  }
}
