// Where a verifier finds the public key behind a keyId: the network registry for Beckn peers, or a
// static list for an operator's own agents. Validity and status are checked here, once, for both.
import type { KeyObject } from 'node:crypto';
import { FlexError } from '../errors.ts';
import type { Registry, SubscriberType, Subscription } from '../ports.ts';
import { publicKeyFromBase64 } from './keys.ts';

export interface ResolvedKey {
  readonly subscriberId: string;
  readonly uniqueKeyId: string;
  readonly type: SubscriberType | 'AGENT';
  readonly url: string;
  readonly publicKey: KeyObject;
  /** The same key as raw 32 bytes in base64 (for checks on a worker thread). */
  readonly publicKeyBase64?: string;
}

export interface KeyResolver {
  /** Resolves the key valid at `nowMs`, or throws FLX_SIG_UNKNOWN_KEY / FLX_SIG_KEY_REVOKED. */
  resolve(subscriberId: string, uniqueKeyId: string, nowMs: number): Promise<ResolvedKey>;
  /**
   * Resolves it again past any cache, where what was resolved may be stale (the record's URL
   * changed). Absent where nothing is cached.
   */
  refresh?(subscriberId: string, uniqueKeyId: string, nowMs: number): Promise<ResolvedKey>;
}

export const checkSubscription = (s: Subscription, nowMs: number): void => {
  if (s.status !== 'SUBSCRIBED')
    throw new FlexError('FLX_SIG_KEY_REVOKED', `key ${s.unique_key_id} of ${s.subscriber_id} has status ${s.status}`);
  const from = Date.parse(s.valid_from);
  const until = Date.parse(s.valid_until);
  if (Number.isNaN(from) || Number.isNaN(until))
    throw new FlexError(
      'FLX_SIG_KEY_REVOKED',
      `key ${s.unique_key_id} of ${s.subscriber_id} has no readable validity period`,
    );
  if (nowMs < from)
    throw new FlexError(
      'FLX_SIG_KEY_REVOKED',
      `key ${s.unique_key_id} of ${s.subscriber_id} is not valid until ${s.valid_from}`,
    );
  if (nowMs > until)
    throw new FlexError(
      'FLX_SIG_KEY_REVOKED',
      `key ${s.unique_key_id} of ${s.subscriber_id} expired at ${s.valid_until}`,
    );
};

/** KeyObjects by base64 public key: importing a key costs about as much as verifying a signature. */
const keyObjects = new Map<string, KeyObject>();
const keyObject = (b64: string): KeyObject => {
  let k = keyObjects.get(b64);
  if (!k) {
    k = publicKeyFromBase64(b64);
    if (keyObjects.size >= 10_000) keyObjects.clear();
    keyObjects.set(b64, k);
  }
  return k;
};

/** How long a keyId the registry does not know is answered from memory (issue 14 finding 5). */
export const DEFAULT_UNKNOWN_KEY_TTL_MS = 30_000;
/** Unknown keyIds remembered at most; the oldest is forgotten first (random keyIds must not grow memory). */
const MAX_UNKNOWN_KEYS = 10_000;

export interface RegistryResolverOptions {
  /**
   * How long (ms) a keyId the registry did not know is refused without asking again; 0 asks every
   * time. A key registered meanwhile is accepted at the latest this long after its registration, as
   * a revocation is seen at the latest one lookup-cache ttl after it (adapters/registry-http).
   */
  readonly unknownKeyTtlMs?: number;
}

/** How often one key may be looked up past the registry client's cache (KeyResolver.refresh). */
export const REFRESH_EVERY_MS = 1_000;
/**
 * Fresh lookups at most per second over all keys: a registry with an open policy lets anyone
 * subscribe many keys, and each could otherwise have one looked up a second.
 */
export const MAX_REFRESHES_PER_SECOND = 20;

/**
 * Keys from the network registry. Every request signed with a keyId it does not hold used to cost a
 * registry lookup (issue 14 finding 5: anyone can send them, unsigned junk needs no key at all), so
 * an unknown keyId is remembered as unknown for `unknownKeyTtlMs`, and concurrent requests with the
 * same keyId share one lookup. A failed lookup (registry unreachable) is not remembered.
 */
export const registryKeyResolver = (registry: Registry, o: RegistryResolverOptions = {}): KeyResolver => {
  const ttlMs = o.unknownKeyTtlMs ?? DEFAULT_UNKNOWN_KEY_TTL_MS;
  const unknownUntil = new Map<string, number>();
  const inFlight = new Map<string, Promise<Subscription | undefined>>();
  const lookup = (subscriberId: string, uniqueKeyId: string, key: string): Promise<Subscription | undefined> => {
    let p = inFlight.get(key);
    if (!p) {
      p = registry
        .lookup({ subscriber_id: subscriberId, unique_key_id: uniqueKeyId })
        .then((found) => found.find((x) => x.subscriber_id === subscriberId && x.unique_key_id === uniqueKeyId))
        .finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  };
  const unknown = (subscriberId: string, uniqueKeyId: string) =>
    new FlexError('FLX_SIG_UNKNOWN_KEY', `the registry has no key ${uniqueKeyId} for ${subscriberId}`);
  // When each key was last looked up afresh (at most once per REFRESH_EVERY_MS), and how many fresh
  // lookups the current second has had (at most MAX_REFRESHES_PER_SECOND): signed requests cannot
  // make the registry answer a lookup each. Only the key's own cached lookup is dropped.
  const refreshed = new Map<string, number>();
  let second = -1;
  let inSecond = 0;
  const mayRefresh = (key: string, nowMs: number): boolean => {
    const last = refreshed.get(key);
    if (last !== undefined && nowMs - last < REFRESH_EVERY_MS && nowMs >= last) return false;
    if (Math.floor(nowMs / 1000) !== second) [second, inSecond] = [Math.floor(nowMs / 1000), 0];
    if (inSecond >= MAX_REFRESHES_PER_SECOND) return false;
    inSecond += 1;
    refreshed.delete(key);
    if (refreshed.size >= MAX_UNKNOWN_KEYS) refreshed.delete(refreshed.keys().next().value as string);
    refreshed.set(key, nowMs);
    return true;
  };
  const resolver: KeyResolver = {
    async refresh(subscriberId, uniqueKeyId, nowMs) {
      if (registry.forget && mayRefresh(`${subscriberId}|${uniqueKeyId}`, nowMs))
        registry.forget({ subscriber_id: subscriberId, unique_key_id: uniqueKeyId });
      return resolver.resolve(subscriberId, uniqueKeyId, nowMs);
    },
    async resolve(subscriberId, uniqueKeyId, nowMs) {
      const key = `${subscriberId}|${uniqueKeyId}`;
      const until = unknownUntil.get(key);
      if (until !== undefined && nowMs < until) throw unknown(subscriberId, uniqueKeyId);
      const s = await lookup(subscriberId, uniqueKeyId, key);
      if (!s) {
        if (ttlMs > 0) {
          unknownUntil.delete(key);
          if (unknownUntil.size >= MAX_UNKNOWN_KEYS) unknownUntil.delete(unknownUntil.keys().next().value as string);
          unknownUntil.set(key, nowMs + ttlMs);
        }
        throw unknown(subscriberId, uniqueKeyId);
      }
      unknownUntil.delete(key);
      checkSubscription(s, nowMs);
      return {
        subscriberId,
        uniqueKeyId,
        type: s.type,
        url: s.subscriber_url,
        publicKey: keyObject(s.signing_public_key),
        publicKeyBase64: s.signing_public_key,
      };
    },
  };
  return resolver;
};

export interface TrustedKey {
  readonly subscriberId: string;
  readonly uniqueKeyId: string;
  readonly publicKeyBase64: string;
  readonly url: string;
}

/** A fixed list of trusted keys, for the operator's internal agent-to-orchestrator links. */
export const staticKeyResolver = (keys: readonly TrustedKey[]): KeyResolver => ({
  async resolve(subscriberId, uniqueKeyId) {
    const k = keys.find((x) => x.subscriberId === subscriberId && x.uniqueKeyId === uniqueKeyId);
    if (!k) throw new FlexError('FLX_SIG_UNKNOWN_KEY', `${subscriberId}|${uniqueKeyId} is not a trusted key here`);
    return {
      subscriberId,
      uniqueKeyId,
      type: 'AGENT',
      url: k.url,
      publicKey: keyObject(k.publicKeyBase64),
      publicKeyBase64: k.publicKeyBase64,
    };
  },
});
