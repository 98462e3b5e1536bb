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
// The steps' parts: raw-body.ts (the bytes, the JSON), verify.ts (signature and gateway signature),
// receiver-codec.ts (the wire version), inbound-context.ts (context and ttl), dedupe.ts,
// retry-later.ts (refusals for rate and load), inbound-audit.ts (the rows); the pipeline is here.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FlexError } from '../errors.ts';
import type { Signer, Store, StoreTx } from '../ports.ts';
import type { Busy } from './admission.ts';
import { deadlineOf } from './client.ts';
import { REQUEST_ACTIONS, type Action, type BecknMessage } from './context.ts';
import { DUPLICATE, claimKey, isDuplicate, outcomeOf, sameMessage } from './dedupe.ts';
import type { Inbound } from './inbound.ts';
import { inboundEntry, rejectedEntry } from './inbound-audit.ts';
import { checkContext, registeredUriDiffers } from './inbound-context.ts';
import { storeJournal, type InboundJournal } from './journal.ts';
import type { KeyResolver } from './key-resolver.ts';
import { withLogContext } from '../observability/logger.ts';
import { DEFAULT_RATE_LIMIT, rateLimiter, type RateLimit, type RateLimiter } from './rate-limit.ts';
import { depthCheckedBody, rawBodyOf, useRawJsonBody } from './raw-body.ts';
import { coreCodec, type ReceiverCodec, type Refusal, type Seen } from './receiver-codec.ts';
import { BUSY_RETRY_AFTER_SECONDS, isRetryLater, lateBy, retryLater } from './retry-later.ts';
import { becknValidator, type BecknValidator } from './validator.ts';
import { DEFAULT_SKEW_SECONDS, GATEWAY_HEADER, verifyGateway, verifyRequest } from './verify.ts';
import type { SignatureCheck } from './verify-pool.ts';

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

/** The requests admission control may refuse (callbacks owe nothing back). */
const REQUESTS = new Set<string>(REQUEST_ACTIONS);

/** What registerReceiver prepares once: the codec and the rate limiter. */
type Steps = { readonly codec: ReceiverCodec; limiter: RateLimiter | undefined };

/** One request as it goes through the steps: answer sends the ACK (no refusal) or a NACK through the codec. */
type Answer = (http: number, refusal?: Refusal) => Promise<void>;
type Call = { readonly req: FastifyRequest; answer: Answer; nowMs: number; journal: InboundJournal; seen: Seen };

/** Whether checkContext refused the sender's URL (context.bap_uri or bpp_uri), not something else. */
const refusedForUri = (e: unknown): boolean =>
  e instanceof FlexError && e.code === 'FLX_REQ_CONTEXT' && /^context\.(bap|bpp)_uri$/.test(e.path ?? '');

/** The steps up to and including the handler's own validation; throws for a NACK. */
const admit = async (
  o: ReceiverOptions,
  { codec, limiter }: Steps,
  action: Action,
  { req, nowMs, seen, journal }: Call,
): Promise<{ inbound: Inbound; duplicate: boolean }> => {
  const raw = rawBodyOf(req);
  // BECKN-006 gateways forward 1.1.1 searches only (2.0 has none: 14_Signing "removes legacy gateway-specific steps").
  const gatewayHeader = o.codec ? undefined : req.headers[GATEWAY_HEADER];
  const check = o.signatureCheck;
  const gateway =
    typeof gatewayHeader === 'string'
      ? await verifyGateway(raw, gatewayHeader, o.resolver, nowMs, o.skewSeconds, check)
      : undefined;
  const authorization = req.headers.authorization;
  const verified = await verifyRequest(raw, authorization, o.resolver, nowMs, o.skewSeconds, check);
  const digest = verified.digest;
  let sender = verified.key;
  // Keyed by the subscriber whose signature verified, before any parsing, validation or store work.
  const wait = limiter?.take(sender.subscriberId, nowMs);
  if (wait !== undefined)
    throw retryLater('FLX_RATE_LIMITED', `${sender.subscriberId} is over its rate limit; retry in ${wait} s`, wait);
  const { msg, wire } = await codec.decode(action, raw, sender, seen);
  const policy = { subscriberId: o.subscriberId, role: o.role, skewSeconds: o.skewSeconds ?? DEFAULT_SKEW_SECONDS };
  try {
    checkContext(policy, action, msg, sender, nowMs);
  } catch (e) {
    // Refused only for a URL other than the one the registry was last seen to hold (every cheaper
    // check passed): ask the registry again before refusing, since a participant restarted on a new
    // port has re-subscribed with it. Only the same key counts: the signature was verified with the
    // one resolved first.
    if (!o.resolver.refresh || !registeredUriDiffers(action, msg, sender) || !refusedForUri(e)) throw e;
    const again = await o.resolver.refresh(sender.subscriberId, sender.uniqueKeyId, nowMs).catch(() => undefined);
    if (!again || again.publicKeyBase64 !== sender.publicKeyBase64) throw e;
    sender = again;
    checkContext(policy, action, msg, sender, nowMs);
  }
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
  return { inbound, duplicate: await isDuplicate(journal, inbound) };
};

const journals = new WeakMap<Store, InboundJournal>();
const defaultJournals = (o: ReceiverOptions): InboundJournal =>
  journals.get(o.store) ?? journals.set(o.store, storeJournal(o.store)).get(o.store)!;

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
        await tx.appendAudit(inboundEntry(o.subscriberId, i, call, DUPLICATE));
        return false;
      }
      await tx.appendAudit(inboundEntry(o.subscriberId, i, call, 'ACK'));
      await o.codec?.record?.(tx, i);
      await work.commit(tx);
      return true;
    });
  } finally {
    work.settle?.();
  }
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
    if (!(e instanceof FlexError) || !(await isDuplicate(journal, done).catch(() => false))) throw e;
    await journal.append(inboundEntry(o.subscriberId, done, call, DUPLICATE));
    o.onOutcome?.(action, 'duplicate');
    return answer(200);
  }
  if (typeof then === 'object') {
    const late = REQUESTS.has(action) ? lateBy(action, done.msg.context, o.now()) : undefined;
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
  const entry = inboundEntry(o.subscriberId, done, call, 'ACK');
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
      await journal.append(inboundEntry(o.subscriberId, inbound, call, DUPLICATE));
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
    await refuse(o, codec, action, call, reply, e, inbound);
  }
};

/**
 * Any step's error as the NACK the codec writes, told to onOutcome. A refusal for the rate or the
 * load is answered with Retry-After and not audited (like load shedding, a row each would add to
 * the load); any other has its `beckn.rejected` row, and a failed signature its challenge header.
 */
const refuse = async (
  o: ReceiverOptions,
  codec: ReceiverCodec,
  action: Action,
  { req, answer, nowMs, journal }: Call,
  reply: FastifyReply,
  e: unknown,
  inbound: Inbound | undefined,
): Promise<void> => {
  const nack = codec.toNack(e);
  o.onOutcome?.(action, `NACK:${nack.error.code}`, e);
  if (isRetryLater(e)) {
    reply.header('Retry-After', String(e.retryAfterSeconds));
    return answer(nack.http, nack);
  }
  const context = (inbound?.msg.context ?? {}) as Partial<BecknMessage['context']>;
  const refused = { action: codec.actions[action] ?? action, version: codec.version, context };
  // The refusal's row is best effort: when the store itself is what failed (disk full, database
  // down) the row cannot be written either, and the peer must still get the coded NACK, not the
  // web framework's 500. A refusal changes no state, so nothing is lost but the row.
  await journal.append(rejectedEntry(o.subscriberId, nowMs, refused, nack.error, req)).catch(() => undefined);
  // BECKN-006 Step 2 item 8 / Step 4 item 8: a failed signature gets 401 with WWW-Authenticate, a
  // failed gateway signature 401 with Proxy-Authenticate.
  const challenge = `Signature realm="${o.subscriberId}",headers="(created) (expires) digest"`;
  if (nack.error.code === 'FLX_SIG_GATEWAY') reply.header('Proxy-Authenticate', challenge);
  else if (nack.http === 401) reply.header('WWW-Authenticate', challenge);
  await answer(nack.http, nack);
};

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
