// What the FlexLon registry accepts (registry.yaml Subscription / lookup), and who may change what.
//
// Field names: registry.yaml calls the callback URL `url` and the key id `key_id`; the deployed Beckn
// registry (and beckn-onix) use `subscriber_url` and `unique_key_id` (also `ukId`, `pub_key_id`). All
// are accepted on the way in; records go out with both spellings.
//
// Who may subscribe what (proof of possession plus continuity of identity):
//   * a new key must be signed for by itself (Authorization by the key being registered);
//   * adding a key to a subscriber that already has a valid key (rotation) also needs
//     X-Subscriber-Authorization by one of those current keys, so nobody can add their own key to
//     someone else's subscriber_id;
//   * changing an existing key's record (URL, validity, status — revocation is status UNSUBSCRIBED)
//     may be signed by that key or by any other currently valid key of the subscriber;
//   * a unique_key_id is never re-bound to a different public key: rotate to a new unique_key_id.
import { FlexError } from '../../errors.ts';
import type { LookupQuery, Subscription } from '../../ports.ts';
import { checkSubscription } from '../key-resolver.ts';
import { encryptionPublicKey } from './challenge.ts';

/** A record as the registry holds it: registry.yaml Subscription, with the encryption key when given. */
export type Registered = Subscription & {
  readonly encr_public_key?: string;
  readonly created?: string;
  readonly updated?: string;
  /** Why the record has its status (e.g. the on_subscribe challenge failed), when it is not SUBSCRIBED. */
  readonly status_reason?: string;
};

/** A lookup (registry.yaml sends a partial Subscription): every field given must match. */
export type RegistryQuery = LookupQuery & {
  readonly status?: Subscription['status'];
  readonly subscriber_url?: string;
  readonly signing_public_key?: string;
  readonly encr_public_key?: string;
  readonly beckn_version?: string;
};

const TYPES = ['BAP', 'BPP', 'BG'] as const;
const STATUSES = ['INITIATED', 'UNDER_SUBSCRIPTION', 'SUBSCRIBED', 'EXPIRED', 'UNSUBSCRIBED', 'INVALID_SSL'] as const;
const KEY_ID_ALIASES = ['unique_key_id', 'key_id', 'ukId', 'pub_key_id'] as const;
const URL_ALIASES = ['subscriber_url', 'url'] as const;
/** The versions a subscriber may say it speaks: core 1.1 or 2.0, with or without a patch number. */
const BECKN_VERSION = /^(1\.1|2\.0)(\.\d+)?$/;

const schema = (path: string, why: string) => new FlexError('FLX_REQ_SCHEMA', `${path} ${why}`, { path });

const firstOf = (o: Record<string, unknown>, names: readonly string[]): unknown =>
  names.map((n) => o[n]).find((v) => v !== undefined);

export const parseSubscription = (x: unknown): Registered => {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw schema('(body)', 'must be a JSON object');
  const s = x as Record<string, unknown>;
  const text = (value: unknown, path: string): string => {
    if (typeof value !== 'string' || value.trim() === '')
      throw schema(path, 'is required and must be a non-empty string');
    return value;
  };
  const type = text(s.type, 'type');
  if (!(TYPES as readonly string[]).includes(type)) throw schema('type', `must be one of ${TYPES.join(', ')}`);
  const status = s.status === undefined ? 'SUBSCRIBED' : text(s.status, 'status');
  if (!(STATUSES as readonly string[]).includes(status))
    throw schema('status', `must be one of ${STATUSES.join(', ')}`);
  const url = text(firstOf(s, URL_ALIASES), 'subscriber_url');
  if (!/^https?:\/\/[^\s]+$/.test(url))
    throw schema('subscriber_url', `must be an http(s) URL, got ${JSON.stringify(url)}`);
  const signingKey = text(s.signing_public_key, 'signing_public_key');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(signingKey))
    throw schema('signing_public_key', 'must be the base64 of a 32-byte ed25519 public key');
  const dates = ['valid_from', 'valid_until'].map((f) => {
    const v = text(s[f], f);
    if (Number.isNaN(Date.parse(v))) throw schema(f, `must be an RFC 3339 date-time, got ${JSON.stringify(v)}`);
    return v;
  }) as [string, string];
  if (Date.parse(dates[1]) <= Date.parse(dates[0])) throw schema('valid_until', 'must be after valid_from');
  const keyId = text(firstOf(s, KEY_ID_ALIASES), 'unique_key_id');
  if (/[|"]/.test(keyId) || /[|"]/.test(String(s.subscriber_id)))
    throw schema(
      'unique_key_id',
      'subscriber_id and unique_key_id may not contain | or " (they form the signature keyId)',
    );
  const encr = s.encr_public_key === undefined ? undefined : text(s.encr_public_key, 'encr_public_key');
  if (encr !== undefined) encryptionPublicKey(encr);
  // registry.yaml /subscribe: an optional uuid nonce; checked for form, not stored.
  if (
    s.nonce !== undefined &&
    (typeof s.nonce !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s.nonce))
  )
    throw schema('nonce', 'must be a uuid');
  // FlexLon's extension of the record (docs/beckn-2.md, "Which version"): the Beckn the subscriber
  // speaks, kept and answered by lookup so that a buyer sends each BPP its own version.
  // Absent: the subscriber speaks core 1.1.1 (versions.ts reads no field as 1.1.1).
  const version = s.beckn_version;
  if (version !== undefined && !(typeof version === 'string' && BECKN_VERSION.test(version)))
    throw schema(
      'beckn_version',
      `must be "1.1" or "2.0", optionally with a patch number ("1.1.1", "2.0.0"), got ${JSON.stringify(version)}`,
    );
  return {
    ...(encr === undefined ? {} : { encr_public_key: encr }),
    ...(typeof version === 'string' ? { beckn_version: version } : {}),
    subscriber_id: text(s.subscriber_id, 'subscriber_id'),
    subscriber_url: url,
    type: type as Subscription['type'],
    domain: text(s.domain, 'domain'),
    unique_key_id: keyId,
    signing_public_key: signingKey,
    valid_from: dates[0],
    valid_until: dates[1],
    status: status as Subscription['status'],
  };
};

/** A lookup body (registry.yaml sends a partial Subscription) as a query; unknown fields are ignored. */
export const parseLookup = (x: unknown): RegistryQuery => {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw schema('(body)', 'must be a JSON object');
  const q = x as Record<string, unknown>;
  const str = (v: unknown, path: string): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw schema(path, 'must be a string');
    return v;
  };
  const type = str(q.type, 'type');
  if (type !== undefined && !(TYPES as readonly string[]).includes(type))
    throw schema('type', `must be one of ${TYPES.join(', ')}`);
  const status = str(q.status, 'status');
  if (status !== undefined && !(STATUSES as readonly string[]).includes(status))
    throw schema('status', `must be one of ${STATUSES.join(', ')}`);
  const fields = {
    subscriber_id: str(q.subscriber_id, 'subscriber_id'),
    unique_key_id: str(firstOf(q, KEY_ID_ALIASES), 'unique_key_id'),
    type,
    domain: str(q.domain, 'domain'),
    status,
    subscriber_url: str(firstOf(q, URL_ALIASES), 'subscriber_url'),
    signing_public_key: str(q.signing_public_key, 'signing_public_key'),
    encr_public_key: str(q.encr_public_key, 'encr_public_key'),
    beckn_version: str(q.beckn_version, 'beckn_version'),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as RegistryQuery;
};

/** The status a record has at `nowMs`: a SUBSCRIBED record past its valid_until reads EXPIRED. */
export const statusAt = (s: Subscription, nowMs: number): Subscription['status'] =>
  s.status === 'SUBSCRIBED' && Date.parse(s.valid_until) <= nowMs ? 'EXPIRED' : s.status;

export const matches = (s: Registered, q: RegistryQuery, nowMs = Date.now()): boolean =>
  (q.subscriber_id === undefined || q.subscriber_id === s.subscriber_id) &&
  (q.unique_key_id === undefined || q.unique_key_id === s.unique_key_id) &&
  (q.type === undefined || q.type === s.type) &&
  (q.domain === undefined || q.domain === s.domain) &&
  (q.status === undefined || q.status === statusAt(s, nowMs)) &&
  (q.subscriber_url === undefined || q.subscriber_url.replace(/\/+$/, '') === s.subscriber_url.replace(/\/+$/, '')) &&
  (q.signing_public_key === undefined || q.signing_public_key === s.signing_public_key) &&
  (q.encr_public_key === undefined || q.encr_public_key === s.encr_public_key) &&
  (q.beckn_version === undefined || q.beckn_version === s.beckn_version);

/** A record as the registry answers it: both field spellings (see the file comment). */
export const toWire = (s: Registered, nowMs = Date.now()) => ({
  ...s,
  status: statusAt(s, nowMs),
  url: s.subscriber_url,
  key_id: s.unique_key_id,
});

const isValid = (s: Subscription, nowMs: number): boolean => {
  try {
    checkSubscription(s, nowMs);
    return true;
  } catch {
    return false;
  }
};

export interface SubscribeAuth {
  /** Keys that must have signed the request: each entry is a set of acceptable (subscriber, key id) pairs. */
  readonly authorization: readonly Subscription[];
  /** When set, X-Subscriber-Authorization must be signed by one of these. */
  readonly subscriberAuthorization?: readonly Subscription[];
}

/** Which keys may sign a subscription of `sub`, given what the registry holds. */
export const whoMaySign = (sub: Subscription, held: readonly Subscription[], nowMs: number): SubscribeAuth => {
  const same = held.find((h) => h.subscriber_id === sub.subscriber_id && h.unique_key_id === sub.unique_key_id);
  const others = held.filter(
    (h) => h.subscriber_id === sub.subscriber_id && h.unique_key_id !== sub.unique_key_id && isValid(h, nowMs),
  );
  if (same) {
    if (same.signing_public_key !== sub.signing_public_key) {
      throw new FlexError(
        'FLX_REQ_DUPLICATE',
        `key ${sub.unique_key_id} of ${sub.subscriber_id} is registered with another public key; to rotate, register the new key under a new unique_key_id`,
        { path: 'unique_key_id' },
      );
    }
    return { authorization: [same, ...others] };
  }
  return others.length === 0 ? { authorization: [sub] } : { authorization: [sub], subscriberAuthorization: others };
};
