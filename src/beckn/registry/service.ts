// A Beckn registry (registry.yaml: POST /subscribe, POST /lookup, and the registry's call to each
// subscriber's /on_subscribe). Two policies:
//   * REGISTRY_YAML (the default): /subscribe answers UNDER_SUBSCRIPTION; the registry then sends
//     its signed on_subscribe challenge, encrypted for the subscriber's encr_public_key
//     (challenge.ts), to subscriber_url/on_subscribe, and the record becomes SUBSCRIBED (or, when the
//     subscriber asked for it, UNSUBSCRIBED) only when the answer is the challenge; /lookup is "only
//     accessible to network participants that have subscribed" (registry.yaml /lookup): it must be
//     signed by a SUBSCRIBED, valid key, except that a subscriber may look up its own records
//     whatever their status (so it can follow its onboarding).
//   * OPEN_REGISTRY, for closed loopback test networks: SUBSCRIBED at once, lookups unsigned.
// Both keep the signature rules of rules.ts (proof of possession, continuity of identity). Every
// change is audited. The registry's own keys (ed25519 to sign on_subscribe, X25519 for the
// challenge) are made at start and published at GET /keys: a subscriber already trusts what this
// URL answers to its lookups, so it trusts the keys published there as much.
import { randomUUID, sign } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { asFlexError, FlexError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Signer, Store } from '../../ports.ts';
import { toNack } from '../ack.ts';
import { postRaw, signatureHeader } from '../http.ts';
import { generateKeyPair } from '../keys.ts';
import { useRawJsonBody } from '../raw-body.ts';
import { staticKeyResolver } from '../key-resolver.ts';
import { verifyRequest } from '../verify.ts';
import {
  answerMatches,
  encryptChallenge,
  encryptionPublicKey,
  generateEncryptionKeyPair,
  newChallenge,
} from './challenge.ts';
import {
  matches,
  parseLookup,
  parseSubscription,
  statusAt,
  toWire,
  whoMaySign,
  type Registered,
  type RegistryQuery,
} from './rules.ts';

export interface RegistryPolicy {
  /** `challenge`: UNDER_SUBSCRIPTION until the on_subscribe challenge is answered; `open`: at once. */
  readonly onboarding: 'challenge' | 'open';
  /** `signed`: lookups by subscribed participants only; `open`: anyone. */
  readonly lookup: 'signed' | 'open';
}

export const REGISTRY_YAML: RegistryPolicy = { onboarding: 'challenge', lookup: 'signed' };
export const OPEN_REGISTRY: RegistryPolicy = { onboarding: 'open', lookup: 'open' };

/** Refused requests logged one by one in each window; the rest are counted (createRegistryService). */
export const REFUSED_LOGGED = 10;
export const REFUSED_WINDOW_MS = 10_000;

/** What GET /keys publishes: the registry's signing key (on_subscribe) and its encryption key (challenge). */
export interface RegistryKeys {
  readonly subscriber_id: string;
  readonly unique_key_id: string;
  readonly signing_public_key: string;
  readonly encr_public_key: string;
}

export interface RegistryService {
  readonly app: FastifyInstance;
  readonly entries: () => Registered[];
  readonly keys: RegistryKeys;
  /** Resolves when every on_subscribe challenge started so far has ended (tests, shutdown). */
  readonly settled: () => Promise<void>;
}

export interface RegistryServiceOptions {
  readonly store: Store;
  readonly now: () => number;
  readonly policy?: RegistryPolicy;
  /** The registry's subscriber id in its signatures (default registry.flexlon.local). */
  readonly id?: string;
  /** How long the registry waits for a subscriber's on_subscribe answer (default 5 s). */
  readonly challengeTimeoutMs?: number;
  /**
   * Where the registry says what it did: each subscription's change and each refused request at
   * info, each lookup at debug (who asked, for what, how many records it got).
   */
  readonly log?: Pick<Logger, 'info' | 'debug'>;
}

type Stored = Registered & { created: string; updated: string };

const trusted = (subs: readonly Registered[]) =>
  staticKeyResolver(
    subs.map((s) => ({
      subscriberId: s.subscriber_id,
      uniqueKeyId: s.unique_key_id,
      publicKeyBase64: s.signing_public_key,
      url: s.subscriber_url,
    })),
  );

const parseJson = (raw: Buffer): unknown => {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new FlexError('FLX_REQ_INVALID_JSON');
  }
};

const registrySigner = (id: string): Signer => {
  const pair = generateKeyPair();
  return {
    subscriberId: id,
    uniqueKeyId: `${id}-${randomUUID()}`,
    publicKeyBase64: pair.publicKeyBase64,
    sign: (d) => sign(null, d, pair.privateKey),
  };
};

export const createRegistryService = async (o: RegistryServiceOptions): Promise<RegistryService> => {
  const policy = o.policy ?? REGISTRY_YAML;
  const saved = (await o.store.getDocument<Stored[]>('registry', 'subscriptions')) ?? [];
  const entries = new Map(saved.map((s) => [`${s.subscriber_id}|${s.unique_key_id}`, s]));
  const signer = registrySigner(o.id ?? 'registry.flexlon.local');
  const encryption = generateEncryptionKeyPair();
  const keys: RegistryKeys = {
    subscriber_id: signer.subscriberId,
    unique_key_id: signer.uniqueKeyId,
    signing_public_key: signer.publicKeyBase64,
    encr_public_key: encryption.publicKeyBase64,
  };
  const running = new Set<Promise<void>>();
  // Refused requests come from anyone (unsigned junk needs no key): at most REFUSED_LOGGED of them
  // are logged one by one in each REFUSED_WINDOW_MS, the rest counted in one line when the next
  // window opens, so that they cannot fill the log.
  let refusedWindow = { from: -Infinity, logged: 0, skipped: 0 };
  const logRefused = (fields: Record<string, unknown>): void => {
    const t = Date.now();
    if (t - refusedWindow.from >= REFUSED_WINDOW_MS) {
      if (refusedWindow.skipped > 0)
        o.log?.info(
          { skipped: refusedWindow.skipped, windowSeconds: REFUSED_WINDOW_MS / 1000 },
          'more requests refused than logged one by one',
        );
      refusedWindow = { from: t, logged: 0, skipped: 0 };
    }
    if (refusedWindow.logged < REFUSED_LOGGED) {
      refusedWindow.logged += 1;
      o.log?.info(fields, 'request refused');
    } else refusedWindow.skipped += 1;
  };
  const app = Fastify({ logger: false });
  useRawJsonBody(app, 256 * 1024);
  const fail = (
    reply: { header(k: string, v: string): unknown; code(n: number): { send(b: unknown): unknown } },
    e: unknown,
  ) => {
    const n = toNack(e);
    logRefused({ http: n.http, error: asFlexError(e).message });
    // BECKN-006 Step 2 item 7: a refused signature gets 401 with WWW-Authenticate.
    if (n.http === 401)
      reply.header('WWW-Authenticate', `Signature realm="${signer.subscriberId}",headers="(created) (expires) digest"`);
    return reply.code(n.http).send(n.body);
  };
  const save = async (key: string, record: Stored, event: string, extra: Record<string, unknown> = {}) => {
    o.log?.info(
      {
        subscriber_id: record.subscriber_id,
        unique_key_id: record.unique_key_id,
        type: record.type,
        url: record.subscriber_url,
        status: record.status,
        ...(record.status_reason ? { reason: record.status_reason } : {}),
      },
      `subscription ${event}`,
    );
    entries.set(key, record);
    await o.store.putDocument('registry', 'subscriptions', [...entries.values()]);
    await o.store.appendAudit({
      kind: 'agent',
      at: o.now(),
      actor: 'registry',
      payload: { event, subscription: record, ...extra },
    });
  };

  /**
   * registry.yaml /on_subscribe: the challenge, encrypted for the subscriber's encr_public_key, in a
   * request signed by the registry; the answer must be the challenge. Then the requested record
   * replaces the live one; on failure a new subscriber's record reads INITIATED with the reason,
   * and a live record is left as it was.
   */
  const challenge = async (key: string, wanted: Stored): Promise<void> => {
    const plain = newChallenge();
    const body = JSON.stringify({
      subscriber_id: wanted.subscriber_id,
      unique_key_id: wanted.unique_key_id,
      status: 'UNDER_SUBSCRIPTION',
      challenge: encryptChallenge(plain, encryption.privateKey, encryptionPublicKey(wanted.encr_public_key ?? '')),
    });
    const url = `${wanted.subscriber_url.replace(/\/+$/, '')}/on_subscribe`;
    let why: string | undefined;
    try {
      const r = await postRaw(
        url,
        body,
        { Authorization: signatureHeader(body, signer, o.now(), 30) },
        o.challengeTimeoutMs ?? 5000,
      );
      let answer: unknown;
      try {
        answer = (JSON.parse(r.text) as { answer?: unknown }).answer;
      } catch {
        answer = undefined;
      }
      if (r.status !== 200) why = `on_subscribe at ${url} answered HTTP ${r.status}: ${r.text.slice(0, 200)}`;
      else if (!answerMatches(answer, plain)) why = `on_subscribe at ${url} did not answer the challenge`;
    } catch (e) {
      why = (e as Error).message;
    }
    const now = new Date(o.now()).toISOString();
    if (why === undefined) {
      await save(key, { ...wanted, updated: now }, wanted.status === 'UNSUBSCRIBED' ? 'unsubscribed' : 'subscribed');
      return;
    }
    const live = entries.get(key);
    if (live?.status === 'UNDER_SUBSCRIPTION')
      await save(key, { ...live, status: 'INITIATED', status_reason: why, updated: now }, 'challenge failed');
    else
      await o.store.appendAudit({
        kind: 'agent',
        at: o.now(),
        actor: 'registry',
        payload: { event: 'challenge failed', subscription: wanted, reason: why },
      });
  };

  app.get('/keys', async () => keys);

  app.post('/subscribe', async (req, reply) => {
    try {
      const raw = req.body as Buffer;
      const sub = parseSubscription(parseJson(raw));
      const now = o.now();
      // Only a SUBSCRIBED, valid key vouches for another key of its subscriber (rules.ts): one still
      // under subscription has not proved it controls its URL yet.
      const auth = whoMaySign(sub, [...entries.values()], now);
      // Proof of possession (and, for an update, that the subscriber's own key asks for it).
      await verifyRequest(raw, req.headers.authorization, trusted(auth.authorization), now);
      if (auth.subscriberAuthorization) {
        const header = req.headers['x-subscriber-authorization'];
        if (typeof header !== 'string')
          throw new FlexError(
            'FLX_SIG_MISSING',
            `${sub.subscriber_id} already has a valid key: adding key ${sub.unique_key_id} needs X-Subscriber-Authorization signed by one of its current keys`,
          );
        await verifyRequest(raw, header, trusted(auth.subscriberAuthorization), now);
      }
      const key = `${sub.subscriber_id}|${sub.unique_key_id}`;
      const stamp = new Date(now).toISOString();
      const created = entries.get(key)?.created ?? stamp;
      if (policy.onboarding === 'open') {
        await save(key, { ...sub, created, updated: stamp }, 'subscribed', {
          authorization: req.headers.authorization ?? null,
        });
        return reply.send({ status: sub.status });
      }
      // registry.yaml: the registry sets INITIATED, UNDER_SUBSCRIPTION, EXPIRED and INVALID_SSL; a
      // subscriber asks to be SUBSCRIBED or UNSUBSCRIBED.
      if (sub.status !== 'SUBSCRIBED' && sub.status !== 'UNSUBSCRIBED')
        throw new FlexError(
          'FLX_REQ_SCHEMA',
          `status ${sub.status} is set by the registry; a subscriber asks for SUBSCRIBED or UNSUBSCRIBED`,
          { path: 'status' },
        );
      if (sub.encr_public_key === undefined)
        throw new FlexError(
          'FLX_REQ_SCHEMA',
          'encr_public_key is required: the on_subscribe challenge is encrypted for it (an X25519 public key)',
          { path: 'encr_public_key' },
        );
      const wanted: Stored = { ...sub, created, updated: stamp };
      const live = entries.get(key);
      if (!live || live.status === 'UNDER_SUBSCRIPTION' || live.status === 'INITIATED')
        await save(key, { ...wanted, status: 'UNDER_SUBSCRIPTION' }, 'under subscription', {
          authorization: req.headers.authorization ?? null,
        });
      const task = challenge(key, wanted).catch(() => {});
      running.add(task);
      void task.finally(() => running.delete(task));
      return reply.send({ status: 'UNDER_SUBSCRIPTION' });
    } catch (e) {
      return fail(reply, e);
    }
  });

  /** registry.yaml /lookup is for subscribers: Authorization by a SUBSCRIBED key, or by the subscriber asking about itself. */
  const authorise = async (raw: Buffer, header: string | undefined, q: RegistryQuery): Promise<void> => {
    const now = o.now();
    const { key } = await verifyRequest(raw, header, trusted([...entries.values()]), now);
    const record = entries.get(`${key.subscriberId}|${key.uniqueKeyId}`);
    const status = record ? statusAt(record, now) : 'UNSUBSCRIBED';
    if (status !== 'SUBSCRIBED' && q.subscriber_id !== key.subscriberId)
      throw new FlexError(
        'FLX_SIG_KEY_REVOKED',
        `lookup is for subscribed participants: key ${key.uniqueKeyId} of ${key.subscriberId} is ${status} (it may look up only its own records)`,
      );
  };

  app.post('/lookup', async (req, reply) => {
    try {
      const raw = req.body as Buffer;
      const q = parseLookup(parseJson(raw));
      if (policy.lookup === 'signed') await authorise(raw, req.headers.authorization, q);
      const now = o.now();
      const found = [...entries.values()].filter((s) => matches(s, q, now)).map((s) => toWire(s, now));
      o.log?.debug({ query: q, found: found.length }, 'lookup');
      return reply.send(found);
    } catch (e) {
      return fail(reply, e);
    }
  });

  return {
    app,
    entries: () => [...entries.values()],
    keys,
    settled: async () => {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
};
