// Inbound Beckn endpoints as a pipeline of small named steps (the beckn-onix shape):
//   raw body → verify signature(s) → parse → validate schema → check context and ttl → dedupe
//   → handler validates (no effects) → claim + audit (durable) → signed ACK → after the ACK.
// A handler answers in one of two ways:
//   * a continuation (BAP, gateway): claim + audit go through the InboundJournal, and the
//     continuation runs after the ACK;
//   * TxWork (the BPP): claim, audit, the message's effect and the callbacks it owes (outbox) are
//     written in ONE store transaction, so "every inbound message_id is recorded with its outcome in
//     the same transaction as its effect"; a duplicate finds the claim and causes nothing.
// Any step's error becomes a NACK in exactly one place (the codec's toNack), with an audit row and no effect.
// The codec is the wire's version: core 1.1.1 by default; Beckn 2.0 (src/beckn/v2/receiver.ts) reads
// its own envelope into the same internal message and answers with its own Ack, through these steps
// (mapped to the 1.1.1 form for the BPP and grid buyer, as sent for compute-energy's native endpoint).
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FlexError } from '../errors.ts';
import type { Signer, Store, StoreTx } from '../ports.ts';
import { ACK, toNack } from './ack.ts';
import { ACK_SIGNATURE_HEADER, signAck } from './ack-signature.ts';
import type { Busy } from './admission.ts';
import { deadlineOf } from './client.ts';
import { REQUEST_ACTIONS, callbackOf, type Action, type BecknMessage } from './context.ts';
import { checkContext } from './inbound-context.ts';
import { storeJournal, type InboundJournal } from './journal.ts';
import type { KeyResolver, ResolvedKey } from './key-resolver.ts';
import { withLogContext } from '../observability/logger.ts';
import { DEFAULT_RATE_LIMIT, rateLimiter, type RateLimit, type RateLimiter } from './rate-limit.ts';
import { depthCheckedBody, useRawJsonBody } from './raw-body.ts';
import { becknValidator, type BecknValidator } from './validator.ts';
import { DEFAULT_SKEW_SECONDS, verifyRequest } from './verify.ts';
import type { SignatureCheck } from './verify-pool.ts';

export interface Inbound {
  readonly action: Action;
  readonly msg: BecknMessage;
  readonly sender: ResolvedKey;
  /** The gateway that forwarded the message (search through a BG), when there was one. */
  readonly gateway?: ResolvedKey;
  /** The exact bytes received and their Authorization header (a gateway forwards both unchanged). */
  readonly raw: Buffer;
  readonly authorization: string;
  /** base64 BLAKE2b-512 of `raw`, as verified. */
  readonly digest: string;
  /** A message that came in another version than 1.1.1 (`msg` is its internal form): as sent. */
  readonly wire?: WireOrigin;
}

/** peerUri: where the sender takes answers (its bapUri / bppUri as spelled); context, message: as sent. */
export type WireOrigin = {
  readonly version: string;
  action: string;
  peerUri: string;
  context: object;
  message: unknown;
};
/** A refusal as a codec answers it: HTTP status, body, and the coded error. */
export type Refusal = { readonly http: number; body: unknown; error: FlexError };
type Seen = { messageId?: string };

/**
 * One Beckn version at the wire (issue 18) around the one pipeline: its routes (prefix, internal
 * action → wire name), how verified bytes become the internal (1.1.1-form) message the handlers read
 * (setting `seen.messageId` once the body parses; throw to NACK), its NACKs and answers (messageId is
 * '' before the body parsed), and what it records with a first claim: `record` in the TxWork's
 * transaction, `accepted` for a continuation before its ACK. `version` goes in the audit rows.
 */
export interface ReceiverCodec {
  readonly prefix: string;
  readonly actions: Readonly<Partial<Record<Action, string>>>;
  readonly version?: string;
  decode(action: Action, raw: Buffer, from: ResolvedKey, seen: Seen): Promise<{ msg: BecknMessage; wire?: WireOrigin }>;
  toNack(e: unknown): Refusal;
  answer(reply: FastifyReply, raw: Buffer, messageId: string, http: number, nack?: Refusal): Promise<void>;
  record?(tx: StoreTx, i: Inbound): Promise<void>;
  accepted?(i: Inbound): Promise<void>;
}

/**
 * The effect of a message, run by the receiver inside the transaction that claims the message and
 * audits it. `commit` re-reads what it depends on through `tx` (the handler's validation ran before
 * the transaction) and writes the effect and the callbacks owed (outbox); a FlexError thrown there
 * rolls everything back, claim included, and becomes the NACK.
 */
export interface TxWork {
  /** Extra lock keys (tx.lock), taken after the message's transaction lock and before anything is written. */
  readonly locks?: readonly string[];
  readonly commit: (tx: StoreTx) => Promise<void>;
  /** After the ACK, only for the first copy of the message (e.g. send what the outbox owes, dispatch). */
  readonly after?: () => Promise<void>;
  /** Once the transaction has ended, committed or not, and also when it never started (release an in-process lock). */
  readonly settle?: () => void;
}

/**
 * Validates the message (throw a FlexError to NACK, with no side effects) and returns either the
 * work to do after the ACK (a continuation) or the message's transactional effect (TxWork).
 */
export type BecknHandler = (inbound: Inbound) => Promise<(() => Promise<void>) | TxWork | void>;

export interface ReceiverOptions {
  readonly subscriberId: string;
  readonly role: 'BAP' | 'BPP' | 'BG';
  readonly resolver: KeyResolver;
  readonly store: Store;
  readonly now: () => number;
  readonly handlers: Partial<Record<Action, BecknHandler>>;
  readonly skewSeconds?: number;
  readonly onBackgroundError: (e: unknown, inbound: Inbound) => void;
  /** Schema validation; the process-wide compiled validator by default. */
  readonly validator?: BecknValidator;
  /** Where claims and audit rows go; storeJournal(store) by default. */
  readonly journal?: InboundJournal;
  /** Signs every ACK/NACK (`Signature` response header, see ack-signature.ts); unsigned when absent. */
  readonly ackSigner?: Signer;
  /** Runs signature arithmetic on worker threads (verify-pool.ts); on the event loop when absent. */
  readonly signatureCheck?: SignatureCheck;
  /** Told the outcome of every message: ACK, duplicate, or NACK:<FLX code> with the error (metrics, logs). */
  readonly onOutcome?: (action: Action, outcome: string, error?: unknown) => void;
  /** Asked before a request is admitted (issue 14 finding 3): a reason refuses it, 503 with Retry-After. */
  readonly admission?: () => string | undefined;
  /**
   * Admission by the planner's queue (admission.ts), once the message is verified, in its ttl and not
   * a duplicate, told when its callback is due: a Busy refuses it (503 FLX_BUSY, Retry-After, not
   * audited); a function is told, once answered, whether it was ACKed.
   */
  readonly backlog?: (action: Action, dueMs: number, nowMs: number) => Busy | ((acked: boolean) => void) | undefined;
  /** Requests per verified subscriber (rate-limit.ts; over: 429, Retry-After, not audited); a BPP's default DEFAULT_RATE_LIMIT. */
  readonly rateLimit?: RateLimit | false;
  /** The wire version (core 1.1.1 when absent). */
  readonly codec?: ReceiverCodec;
}

// A refused request leaves its digest, length and this much of its start in the audit trail, never the
// whole body: unsigned junk stored whole filled the disk (issue 14 finding 4: 327 MB in 10 s).
const MAX_AUDITED_BODY = 512;

/** The request's raw bytes, or a coded refusal when there is no JSON body (empty, text/plain, another type). */
const rawBodyOf = (req: FastifyRequest): Buffer => {
  const type = /^\s*([^;\s]*)/.exec(String(req.headers['content-type'] ?? ''))?.[1]?.toLowerCase() ?? '';
  if (Buffer.isBuffer(req.body) && req.body.length > 0 && type === 'application/json') return req.body;
  const none = req.body === undefined || (Buffer.isBuffer(req.body) && req.body.length === 0);
  const what = none ? 'the request has no body' : `the body is ${type || 'of no stated type'}`;
  throw new FlexError('FLX_REQ_MEDIA_TYPE', `${what}: send it as JSON with Content-Type: application/json`);
};

/** The requests admission control may refuse (callbacks owe nothing back), and when to try again (s). */
const REQUESTS = new Set<string>(REQUEST_ACTIONS);
const BUSY_RETRY_AFTER_SECONDS = 5;

/** A refused body for the audit trail: sha-256, length and a short excerpt. */
const bodyExcerpt = (body: unknown): { bodySha256: string; bodyBytes: number; body: string } => {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : '', 'utf8');
  const excerpt = bytes.subarray(0, MAX_AUDITED_BODY).toString('utf8');
  return { bodySha256: createHash('sha256').update(bytes).digest('hex'), bodyBytes: bytes.length, body: excerpt };
};
const DUPLICATE = 'ACK (duplicate: no effect)';
const GATEWAY_HEADER = 'x-gateway-authorization';

/** BECKN-006 Step 4: the BG's X-Gateway-Authorization over the same bytes, by a subscriber registered as BG. */
const verifyGateway = async (o: ReceiverOptions, raw: Buffer, header: string, nowMs: number): Promise<ResolvedKey> => {
  try {
    const { key } = await verifyRequest(raw, header, o.resolver, nowMs, o.skewSeconds, o.signatureCheck);
    if (key.type !== 'BG')
      throw new FlexError('FLX_SIG_WRONG_SUBSCRIBER', `${key.subscriberId} is registered as ${key.type}, not BG`);
    return key;
  } catch (e) {
    const inner = e instanceof FlexError ? `${e.code}: ${e.message}` : String(e);
    throw new FlexError('FLX_SIG_GATEWAY', `X-Gateway-Authorization: ${inner}`, { cause: e });
  }
};

/** The body as JSON, or FLX_REQ_INVALID_JSON. */
export const parseBody = <T = BecknMessage>(raw: Buffer): T => {
  try {
    return JSON.parse(raw.toString('utf8')) as T;
  } catch (e) {
    throw new FlexError('FLX_REQ_INVALID_JSON', `the body is not valid JSON: ${(e as Error).message}`);
  }
};

// ed25519 is deterministic and an ACK body is the same for every ACK, so within one second (the
// resolution of `created`) every ACK carries the same signature: sign it once per second, not per request.
const ackSignatures = new WeakMap<Signer, { text: string; second: number; header: string }>();
const signedAck = (signer: Signer, text: string, nowMs: number): string => {
  const second = Math.floor(nowMs / 1000);
  const hit = ackSignatures.get(signer);
  if (hit && hit.second === second && hit.text === text) return hit.header;
  const header = signAck(text, signer, nowMs);
  if (text === ACK_TEXT) ackSignatures.set(signer, { text, second, header });
  return header;
};
const ACK_TEXT = JSON.stringify(ACK);

/** Core 1.1.1, the default codec: routes at the root, the message as sent, the ACK signed in a header. */
const coreCodec = (o: ReceiverOptions, v: BecknValidator): ReceiverCodec => ({
  prefix: '',
  actions: Object.fromEntries(actionsFor(o.role).map((a) => [a, a])),
  decode: async (action, raw) => {
    const msg = parseBody(raw);
    v.assert(action, msg);
    return { msg };
  },
  toNack,
  answer: async (reply, _raw, _id, http, nack) => {
    const text = nack ? JSON.stringify(nack.body) : ACK_TEXT;
    if (o.ackSigner) reply.header(ACK_SIGNATURE_HEADER, signedAck(o.ackSigner, text, o.now()));
    await reply.code(http).type('application/json').send(text);
  },
});

/** A refusal for load or rate, with the seconds until a retry may pass (Retry-After); not audited. */
type RetryLater = FlexError & { readonly retryAfterSeconds: number };
const retryLater = (code: 'FLX_RATE_LIMITED' | 'FLX_BUSY', message: string, s: number): RetryLater =>
  Object.assign(new FlexError(code, message), { retryAfterSeconds: s });
const isRetryLater = (e: unknown): e is RetryLater => e instanceof FlexError && 'retryAfterSeconds' in e;

// Time kept, after a request's handler ran, to send its callback before the ttl ends: a request whose
// handler (the BPP's planning) ran past it is refused, not ACKed (an ACK promises the callback).
const LATE_MARGIN_MS = 500;

/** What registerReceiver prepares once: the codec and the rate limiter. */
type Steps = { readonly codec: ReceiverCodec; limiter: RateLimiter | undefined };

/** One request as it goes through the steps: answer sends the ACK (no refusal) or a NACK through the codec. */
type Answer = (http: number, refusal?: Refusal) => Promise<void>;
type Call = { readonly req: FastifyRequest; answer: Answer; nowMs: number; journal: InboundJournal; seen: Seen };

/** The steps up to and including the handler's own validation; throws for a NACK. */
const admit = async (
  o: ReceiverOptions,
  { codec, limiter }: Steps,
  action: Action,
  { req, nowMs, seen }: Call,
): Promise<{ inbound: Inbound; duplicate: boolean }> => {
  const raw = rawBodyOf(req);
  // BECKN-006 gateways forward 1.1.1 searches only (2.0 has none: 14_Signing "removes legacy gateway-specific steps").
  const gatewayHeader = o.codec ? undefined : req.headers[GATEWAY_HEADER];
  const gateway = typeof gatewayHeader === 'string' ? await verifyGateway(o, raw, gatewayHeader, nowMs) : undefined;
  const authorization = req.headers.authorization;
  const check = o.signatureCheck;
  const { key: sender, digest } = await verifyRequest(raw, authorization, o.resolver, nowMs, o.skewSeconds, check);
  // Keyed by the subscriber whose signature verified, before any parsing, validation or store work.
  const wait = limiter?.take(sender.subscriberId, nowMs);
  if (wait !== undefined)
    throw retryLater('FLX_RATE_LIMITED', `${sender.subscriberId} is over its rate limit; retry in ${wait} s`, wait);
  const { msg, wire } = await codec.decode(action, raw, sender, seen);
  checkContext(
    { subscriberId: o.subscriberId, role: o.role, skewSeconds: o.skewSeconds ?? DEFAULT_SKEW_SECONDS },
    action,
    msg,
    sender,
    nowMs,
  );
  const inbound: Inbound = {
    action,
    msg,
    sender,
    raw,
    authorization: authorization as string,
    digest,
    ...(gateway ? { gateway } : {}),
    ...(wire ? { wire } : {}),
  };
  return { inbound, duplicate: await isDuplicate(o, inbound) };
};

/** Replay protection: the same signer, message_id and action again is a duplicate (no second effect). */
const claimKey = (i: Inbound): string => `${i.sender.subscriberId}|${i.msg.context.message_id}|${i.action}`;
const outcomeOf = (i: Inbound): string => `ACK ${i.digest}`;

/** The exact same signed request (or a retry of it) gets the same ACK; a different message under a used message_id is refused. */
const sameMessage = (i: Inbound, previous: string): true => {
  if (previous === outcomeOf(i) || previous === 'ACK') return true;
  throw new FlexError(
    'FLX_REQ_DUPLICATE',
    `message_id ${i.msg.context.message_id} was already used by ${i.sender.subscriberId} for a different ${i.action}`,
    { path: 'context.message_id' },
  );
};

const isDuplicate = async (o: ReceiverOptions, inbound: Inbound): Promise<boolean> => {
  const previous = await (o.journal ?? defaultJournals(o)).seen(claimKey(inbound));
  return previous !== undefined && sameMessage(inbound, previous);
};

const journals = new WeakMap<Store, InboundJournal>();
const defaultJournals = (o: ReceiverOptions): InboundJournal =>
  journals.get(o.store) ?? journals.set(o.store, storeJournal(o.store)).get(o.store)!;

const inboundEntry = (o: ReceiverOptions, i: Inbound, { req, nowMs }: Call, outcome: string) => ({
  kind: 'beckn.in' as const,
  at: nowMs,
  actor: o.subscriberId,
  transactionId: i.msg.context.transaction_id,
  messageId: i.msg.context.message_id,
  payload: {
    action: i.wire?.action ?? i.action,
    ...(i.wire ? { version: i.wire.version } : {}),
    from: i.sender.subscriberId,
    authorization: req.headers.authorization,
    body: i.raw.toString('utf8'),
    outcome,
    ...(i.gateway ? { gateway: i.gateway.subscriberId, gatewayAuthorization: req.headers[GATEWAY_HEADER] } : {}),
  },
});

/**
 * One transaction: locks (the Beckn transaction first, so messages of one order are handled one at a
 * time in any process; then the work's own), the claim, the `beckn.in` row, the codec's record, the
 * effect. Locks come before the first audit append (docs/storage.md: lock order). True when this copy
 * was the first.
 */
const commitWork = async (o: ReceiverOptions, work: TxWork, i: Inbound, call: Call): Promise<boolean> => {
  try {
    return await o.store.transaction(async (tx) => {
      for (const key of [`beckn:${i.msg.context.transaction_id}`, ...(work.locks ?? [])]) await tx.lock(key);
      const claim = await tx.claimMessage(claimKey(i), outcomeOf(i));
      if (!claim.first) {
        // A copy that raced past the dedupe step (or arrived after a restart): same rule as there.
        sameMessage(i, claim.outcome);
        await tx.appendAudit(inboundEntry(o, i, call, DUPLICATE));
        return false;
      }
      await tx.appendAudit(inboundEntry(o, i, call, 'ACK'));
      await o.codec?.record?.(tx, i);
      await work.commit(tx);
      return true;
    });
  } finally {
    work.settle?.();
  }
};

/** A refusal when a request's handler ran so long that its callback could no longer be sent within the ttl. */
const lateBy = (o: ReceiverOptions, action: Action, i: Inbound): RetryLater | undefined => {
  if (!REQUESTS.has(action)) return undefined;
  const now = o.now();
  const due = deadlineOf(i.msg.context, now);
  if (now + LATE_MARGIN_MS <= due) return undefined;
  const left = Math.max(0, Math.round((due - now) / 1000));
  const why = `answering this ${action} took until ${left} s before its ttl ended, too late to send the callback in time`;
  return retryLater('FLX_BUSY', `${why}; nothing was done`, BUSY_RETRY_AFTER_SECONDS);
};

/** Runs `f` after the ACK has gone, reporting its failure. */
const later = (o: ReceiverOptions, i: Inbound, f: () => Promise<void>): void => {
  setImmediate(() => {
    f().catch((e: unknown) => o.onBackgroundError(e, i));
  });
};

/** The handler, then claim + audit (+ the effect, for TxWork), the ACK, and what runs after it. */
const accept = async (o: ReceiverOptions, done: Inbound, call: Call): Promise<void> => {
  const { action } = done;
  const { answer, journal } = call;
  const handler = o.handlers[action];
  if (!handler)
    throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `${o.role} ${o.subscriberId} does not implement /${action}`);
  let then: Awaited<ReturnType<BecknHandler>>;
  try {
    then = await handler(done);
  } catch (e) {
    // A copy of this message may have taken effect while this one was being validated (a retry
    // racing its original): it is then a duplicate, answered with the same ACK, not a refusal.
    if (!(e instanceof FlexError) || !(await isDuplicate(o, done).catch(() => false))) throw e;
    await journal.append(inboundEntry(o, done, call, DUPLICATE));
    o.onOutcome?.(action, 'duplicate');
    return answer(200);
  }
  if (typeof then === 'object') {
    const late = lateBy(o, action, done);
    if (late !== undefined) {
      then.settle?.();
      throw late;
    }
    const first = await commitWork(o, then, done, call);
    o.onOutcome?.(action, first ? 'ACK' : 'duplicate');
    await answer(200);
    if (first && then.after) later(o, done, then.after);
    return;
  }
  const entry = inboundEntry(o, done, call, 'ACK');
  const claim = await journal.accept(claimKey(done), outcomeOf(done), entry, DUPLICATE);
  if (claim.first) await o.codec?.accepted?.(done);
  o.onOutcome?.(action, claim.first ? 'ACK' : 'duplicate');
  await answer(200);
  if (claim.first && then) later(o, done, then);
};

const handle = async (
  o: ReceiverOptions,
  steps: Steps,
  action: Action,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<void> => {
  const { codec } = steps;
  const nowMs = o.now();
  const journal = o.journal ?? defaultJournals(o);
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const seen: Seen = {};
  const answer: Answer = (http, nack) => codec.answer(reply, raw, seen.messageId ?? '', http, nack);
  const call: Call = { req, answer, nowMs, journal, seen };
  // Load shedding before any work: an ACK is a promise of a callback within the ttl, so a participant
  // that owes too many already says so (503, Retry-After) rather than ACK and later drop. Not audited:
  // under load, a row per refusal would add to the load.
  const busy = REQUESTS.has(action) ? o.admission?.() : undefined;
  if (busy !== undefined) {
    o.onOutcome?.(action, 'NACK:FLX_BUSY');
    reply.header('Retry-After', String(BUSY_RETRY_AFTER_SECONDS));
    return answer(503, codec.toNack(new FlexError('FLX_BUSY', busy)));
  }
  let inbound: Inbound | undefined;
  try {
    const admitted = await admit(o, steps, action, call);
    inbound = admitted.inbound;
    if (admitted.duplicate) {
      await journal.append(inboundEntry(o, inbound, call, DUPLICATE));
      o.onOutcome?.(action, 'duplicate');
      return await answer(200);
    }
    const done = inbound;
    // Admission by the planner queue: only now is the ttl known, and a duplicate costs no planning.
    const queued = REQUESTS.has(action) ? o.backlog?.(action, deadlineOf(done.msg.context, nowMs), nowMs) : undefined;
    if (queued !== undefined && typeof queued !== 'function')
      throw retryLater('FLX_BUSY', queued.reason, queued.retryAfterSeconds);
    let acked = false;
    try {
      // Every log line from here on (handler, commit, callback) carries the message's ids.
      await withLogContext(
        { transaction_id: done.msg.context.transaction_id, message_id: done.msg.context.message_id, action },
        () => accept(o, done, call),
      );
      acked = true;
    } finally {
      queued?.(acked);
    }
  } catch (e) {
    const nack = codec.toNack(e);
    o.onOutcome?.(action, `NACK:${nack.error.code}`, e);
    // Like load shedding, a refusal for the rate or the planner's queue is not audited: a row each
    // would add to the load.
    if (isRetryLater(e)) {
      reply.header('Retry-After', String(e.retryAfterSeconds));
      return answer(nack.http, nack);
    }
    const ctx = (inbound?.msg.context ?? {}) as Partial<BecknMessage['context']>;
    const authorization = req.headers.authorization;
    // The refusal's row is best effort: when the store itself is what failed (disk full, database
    // down) the row cannot be written either, and the peer must still get the coded NACK, not the
    // web framework's 500. A refusal changes no state, so nothing is lost but the row.
    await journal
      .append({
        kind: 'beckn.rejected',
        at: nowMs,
        actor: o.subscriberId,
        ...(ctx.transaction_id ? { transactionId: ctx.transaction_id } : {}),
        ...(ctx.message_id ? { messageId: ctx.message_id } : {}),
        payload: {
          action: codec.actions[action] ?? action,
          ...(codec.version ? { version: codec.version } : {}),
          code: nack.error.code,
          reason: nack.error.message,
          authorization: typeof authorization === 'string' ? authorization.slice(0, MAX_AUDITED_BODY) : null,
          ...bodyExcerpt(req.body),
        },
      })
      .catch(() => undefined);
    // BECKN-006 Step 2 item 8 / Step 4 item 8: a failed signature gets 401 with WWW-Authenticate, a
    // failed gateway signature 401 with Proxy-Authenticate.
    const challenge = `Signature realm="${o.subscriberId}",headers="(created) (expires) digest"`;
    if (nack.error.code === 'FLX_SIG_GATEWAY') reply.header('Proxy-Authenticate', challenge);
    else if (nack.http === 401) reply.header('WWW-Authenticate', challenge);
    await answer(nack.http, nack);
  }
};

/** The actions a role receives (core 1.1.1 `paths` tags): a BPP the requests, a BAP the callbacks, a BG search and on_search. */
export const actionsFor = (role: 'BAP' | 'BPP' | 'BG'): Action[] =>
  role === 'BPP' ? [...REQUEST_ACTIONS] : role === 'BAP' ? REQUEST_ACTIONS.map(callbackOf) : ['search', 'on_search'];

/**
 * Registers POST <prefix>/<action> for every action the role can receive in the codec's version;
 * actions without a handler NACK with 40001.
 */
export const registerReceiver = (app: FastifyInstance, o: ReceiverOptions): void => {
  useRawJsonBody(app);
  const limit = o.rateLimit ?? (o.role === 'BPP' ? DEFAULT_RATE_LIMIT : false);
  const codec = o.codec ?? coreCodec(o, o.validator ?? becknValidator());
  const steps: Steps = { codec, limiter: limit ? rateLimiter(limit) : undefined };
  // Any other body type reaches the handler as bytes, to be refused there with a coded NACK
  // (FLX_REQ_MEDIA_TYPE) rather than the web framework's own 415.
  if (!app.hasContentTypeParser('*'))
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, depthCheckedBody);
  const routes = Object.entries(codec.actions) as [Action, string][];
  for (const [action, wire] of routes)
    app.post(`${codec.prefix}/${wire}`, (req, reply) => handle(o, steps, action, req, reply));
  // A Beckn action this role does not receive (an on_* posted to a BPP, a request to a BAP) gets a
  // Beckn NACK naming it, not the framework's 404 page; nothing is audited (no credentials needed).
  if (!app.hasRoute({ method: 'POST', url: `${codec.prefix}/:action` }))
    app.post(`${codec.prefix}/:action`, async (req, reply) => {
      const action = (req.params as { action: string }).action.slice(0, 64);
      const nack = codec.toNack(
        new FlexError(
          'FLX_ACTION_NOT_APPLICABLE',
          `this ${o.role} does not receive ${codec.prefix}/${action}; it receives ${routes.map(([, w]) => `${codec.prefix}/${w}`).join(', ')}`,
        ),
      );
      await codec.answer(reply, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), '', 404, nack);
    });
};
