// Inbound Beckn endpoints as a pipeline of small named steps (the beckn-onix shape):
//   raw body → verify signature(s) → parse → validate schema → check context and ttl → dedupe
//   → handler validates (no effects) → claim + audit (durable) → signed ACK → after the ACK.
// A handler answers in one of two ways:
//   * a continuation (BAP, gateway): claim + audit go through the InboundJournal, and the
//     continuation runs after the ACK;
//   * TxWork (the BPP): claim, audit, the message's effect and the callbacks it owes (outbox) are
//     written in ONE store transaction, so "every inbound message_id is recorded with its outcome in
//     the same transaction as its effect"; a duplicate finds the claim and causes nothing.
// Any step's error becomes a NACK in exactly one place (toNack), with an audit row and no effect.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FlexError } from '../errors.ts';
import type { Signer, Store, StoreTx } from '../ports.ts';
import { ACK, toNack, type AckBody } from './ack.ts';
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
  /**
   * Admission control (issue 14 finding 3): asked before a request is admitted; a reason refuses it
   * with 503 and Retry-After instead of an ACK whose callback could not be sent within its ttl.
   */
  readonly admission?: () => string | undefined;
  /**
   * Admission by the work a request queues for before its callback can go (the BPP's planner,
   * admission.ts): asked once the message is verified, inside its ttl and not a duplicate, with the
   * time its callback is due by (context.timestamp + ttl). A Busy refuses it (503 FLX_BUSY,
   * Retry-After, not audited); a function is called once the request has been answered, told
   * whether it was ACKed.
   */
  readonly backlog?: (
    action: Action,
    deadlineMs: number,
    nowMs: number,
  ) => Busy | ((acked: boolean) => void) | undefined;
  /**
   * Requests per verified subscriber (rate-limit.ts): over it, 429 FLX_RATE_LIMITED with Retry-After,
   * not audited. A BPP gets DEFAULT_RATE_LIMIT unless told otherwise; `false` turns it off; other
   * roles have none unless given one.
   */
  readonly rateLimit?: RateLimit | false;
}

/**
 * What a refused request leaves in the audit trail: its digest, its length and this much of its
 * start, never the whole body. Anyone can send junk without credentials; storing every refused body
 * whole let unsigned requests fill the disk (issue 14 finding 4: 327 MB in 10 s).
 */
const MAX_AUDITED_BODY = 512;

/** The request's raw bytes, or a coded refusal when there is no JSON body (empty, text/plain, another type). */
const rawBodyOf = (req: FastifyRequest): Buffer => {
  const type =
    String(req.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase() ?? '';
  if (Buffer.isBuffer(req.body) && req.body.length > 0 && type === 'application/json') return req.body;
  throw new FlexError(
    'FLX_REQ_MEDIA_TYPE',
    req.body === undefined || (Buffer.isBuffer(req.body) && req.body.length === 0)
      ? 'the request has no body: send the Beckn message as JSON with Content-Type: application/json'
      : `the body is ${type || 'of no stated type'}: send the Beckn message as JSON with Content-Type: application/json`,
  );
};

/** The requests admission control may refuse (callbacks owe nothing back), and when to try again (s). */
const REQUESTS = new Set<string>(REQUEST_ACTIONS);
const BUSY_RETRY_AFTER_SECONDS = 5;

/** A refused body for the audit trail: sha-256, length and a short excerpt. */
const bodyExcerpt = (body: unknown): { bodySha256: string; bodyBytes: number; body: string } => {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : '', 'utf8');
  return {
    bodySha256: createHash('sha256').update(bytes).digest('hex'),
    bodyBytes: bytes.length,
    body: bytes.subarray(0, MAX_AUDITED_BODY).toString('utf8'),
  };
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

const parse = (raw: Buffer): BecknMessage => {
  try {
    return JSON.parse(raw.toString('utf8')) as BecknMessage;
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

const send = async (o: ReceiverOptions, reply: FastifyReply, http: number, body: AckBody): Promise<void> => {
  const text = body === ACK ? ACK_TEXT : JSON.stringify(body);
  if (o.ackSigner) reply.header(ACK_SIGNATURE_HEADER, signedAck(o.ackSigner, text, o.now()));
  await reply.code(http).type('application/json').send(text);
};

/**
 * A refusal for load or rate (FLX_RATE_LIMITED, FLX_BUSY) with the whole seconds until a retry may
 * pass (Retry-After). Not audited: under load, a row per refusal would add to the load.
 */
class RetryLater extends FlexError {
  constructor(
    code: 'FLX_RATE_LIMITED' | 'FLX_BUSY',
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(code, message);
  }
}
const rateLimited = (retryAfterSeconds: number, subscriberId: string): RetryLater =>
  new RetryLater(
    'FLX_RATE_LIMITED',
    `${subscriberId} is over its rate limit; retry in ${retryAfterSeconds} s`,
    retryAfterSeconds,
  );

/**
 * Time kept, after a request's handler has run, for its callback to be sent before the ttl ends. A
 * request whose handler (the BPP's planning for select, init, confirm) ran past that is refused, not
 * ACKed: the callback would be refused as expired, and an ACK is a promise of it.
 */
const LATE_MARGIN_MS = 500;

/** What registerReceiver prepares once: the compiled validator and the rate limiter. */
interface Steps {
  readonly v: BecknValidator;
  readonly limiter: RateLimiter | undefined;
}

/** The steps up to and including the handler's own validation; throws for a NACK. */
const admit = async (
  o: ReceiverOptions,
  { v, limiter }: Steps,
  action: Action,
  req: FastifyRequest,
  nowMs: number,
): Promise<{ inbound: Inbound; duplicate: boolean }> => {
  const raw = rawBodyOf(req);
  const gatewayHeader = req.headers[GATEWAY_HEADER];
  const gateway = typeof gatewayHeader === 'string' ? await verifyGateway(o, raw, gatewayHeader, nowMs) : undefined;
  const { key: sender, digest } = await verifyRequest(
    raw,
    req.headers.authorization,
    o.resolver,
    nowMs,
    o.skewSeconds,
    o.signatureCheck,
  );
  // Keyed by the subscriber whose signature verified, before any parsing, validation or store work.
  const wait = limiter?.take(sender.subscriberId, nowMs);
  if (wait !== undefined) throw rateLimited(wait, sender.subscriberId);
  const msg = parse(raw);
  v.assert(action, msg);
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
    authorization: req.headers.authorization as string,
    digest,
    ...(gateway ? { gateway } : {}),
  };
  return { inbound, duplicate: await isDuplicate(o, inbound) };
};

/** Replay protection: the same signer, message_id and action again is a duplicate (no second effect). */
const claimKey = (i: Inbound): string => `${i.sender.subscriberId}|${i.msg.context.message_id}|${i.action}`;
const outcomeOf = (i: Inbound): string => `ACK ${i.digest}`;

const isDuplicate = async (o: ReceiverOptions, inbound: Inbound): Promise<boolean> => {
  const previous = await (o.journal ?? defaultJournals(o)).seen(claimKey(inbound));
  if (previous === undefined) return false;
  // The exact same signed request (or a retry of it) gets the same ACK; a different message under a
  // used message_id is refused, so it cannot pass for the first one.
  if (previous !== outcomeOf(inbound) && previous !== 'ACK') throw differentMessage(inbound);
  return true;
};

const differentMessage = (i: Inbound): FlexError =>
  new FlexError(
    'FLX_REQ_DUPLICATE',
    `message_id ${i.msg.context.message_id} was already used by ${i.sender.subscriberId} for a different ${i.action}`,
    { path: 'context.message_id' },
  );

const journals = new WeakMap<Store, InboundJournal>();
const defaultJournals = (o: ReceiverOptions): InboundJournal => {
  let j = journals.get(o.store);
  if (!j) {
    j = storeJournal(o.store);
    journals.set(o.store, j);
  }
  return j;
};

const inboundEntry = (o: ReceiverOptions, i: Inbound, req: FastifyRequest, nowMs: number, outcome: string) => ({
  kind: 'beckn.in' as const,
  at: nowMs,
  actor: o.subscriberId,
  transactionId: i.msg.context.transaction_id,
  messageId: i.msg.context.message_id,
  payload: {
    action: i.action,
    from: i.sender.subscriberId,
    authorization: req.headers.authorization,
    body: (req.body as Buffer).toString('utf8'),
    outcome,
    ...(i.gateway ? { gateway: i.gateway.subscriberId, gatewayAuthorization: req.headers[GATEWAY_HEADER] } : {}),
  },
});

/**
 * One transaction: locks (the Beckn transaction first, so messages of one order are handled one at a
 * time in any process; then the work's own), the claim, the `beckn.in` row, the effect. Locks come
 * before the first audit append (docs/storage.md: lock order). True when this copy was the first.
 */
const commitWork = async (
  o: ReceiverOptions,
  work: TxWork,
  i: Inbound,
  req: FastifyRequest,
  nowMs: number,
): Promise<boolean> => {
  try {
    return await o.store.transaction(async (tx) => {
      for (const key of [`beckn:${i.msg.context.transaction_id}`, ...(work.locks ?? [])]) await tx.lock(key);
      const claim = await tx.claimMessage(claimKey(i), outcomeOf(i));
      if (!claim.first) {
        // A copy that raced past the dedupe step (or arrived after a restart): same rule as there.
        if (claim.outcome !== outcomeOf(i) && claim.outcome !== 'ACK') throw differentMessage(i);
        await tx.appendAudit(inboundEntry(o, i, req, nowMs, DUPLICATE));
        return false;
      }
      await tx.appendAudit(inboundEntry(o, i, req, nowMs, 'ACK'));
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
  return new RetryLater(
    'FLX_BUSY',
    `answering this ${action} took until ${Math.max(0, Math.round((due - now) / 1000))} s before its ttl ended, too late to send the callback in time; nothing was done`,
    BUSY_RETRY_AFTER_SECONDS,
  );
};

/** The handler, then claim + audit (+ the effect, for TxWork), the ACK, and what runs after it. */
const accept = async (
  o: ReceiverOptions,
  action: Action,
  done: Inbound,
  req: FastifyRequest,
  reply: FastifyReply,
  nowMs: number,
  journal: InboundJournal,
): Promise<void> => {
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
    await journal.append(inboundEntry(o, done, req, nowMs, DUPLICATE));
    o.onOutcome?.(action, 'duplicate');
    return send(o, reply, 200, ACK);
  }
  if (typeof then === 'object') {
    const late = lateBy(o, action, done);
    if (late !== undefined) {
      then.settle?.();
      throw late;
    }
    const first = await commitWork(o, then, done, req, nowMs);
    o.onOutcome?.(action, first ? 'ACK' : 'duplicate');
    await send(o, reply, 200, ACK);
    const after = then.after;
    if (first && after)
      setImmediate(() => {
        after().catch((e: unknown) => o.onBackgroundError(e, done));
      });
    return;
  }
  const claim = await journal.accept(
    claimKey(done),
    outcomeOf(done),
    inboundEntry(o, done, req, nowMs, 'ACK'),
    DUPLICATE,
  );
  o.onOutcome?.(action, claim.first ? 'ACK' : 'duplicate');
  await send(o, reply, 200, ACK);
  if (claim.first && then)
    setImmediate(() => {
      then().catch((e: unknown) => o.onBackgroundError(e, done));
    });
};

const handle = async (
  o: ReceiverOptions,
  steps: Steps,
  action: Action,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<void> => {
  const nowMs = o.now();
  const journal = o.journal ?? defaultJournals(o);
  // Load shedding before any work: an ACK is a promise of a callback within the ttl, so a participant
  // that owes too many already says so (503, Retry-After) rather than ACK and later drop. Not audited:
  // under load, a row per refusal would add to the load.
  const busy = REQUESTS.has(action) ? o.admission?.() : undefined;
  if (busy !== undefined) {
    o.onOutcome?.(action, 'NACK:FLX_BUSY');
    reply.header('Retry-After', String(BUSY_RETRY_AFTER_SECONDS));
    return send(o, reply, 503, toNack(new FlexError('FLX_BUSY', busy)).body);
  }
  let inbound: Inbound | undefined;
  try {
    const admitted = await admit(o, steps, action, req, nowMs);
    inbound = admitted.inbound;
    if (admitted.duplicate) {
      await journal.append(inboundEntry(o, inbound, req, nowMs, DUPLICATE));
      o.onOutcome?.(action, 'duplicate');
      return await send(o, reply, 200, ACK);
    }
    const done = inbound;
    // Admission by the planner queue: only now is the ttl known, and a duplicate costs no planning.
    const queued = REQUESTS.has(action) ? o.backlog?.(action, deadlineOf(done.msg.context, nowMs), nowMs) : undefined;
    if (queued !== undefined && typeof queued !== 'function')
      throw new RetryLater('FLX_BUSY', queued.reason, queued.retryAfterSeconds);
    let acked = false;
    try {
      // Every log line from here on (handler, commit, callback) carries the message's ids.
      await withLogContext(
        { transaction_id: done.msg.context.transaction_id, message_id: done.msg.context.message_id, action },
        () => accept(o, action, done, req, reply, nowMs, journal),
      );
      acked = true;
    } finally {
      queued?.(acked);
    }
  } catch (e) {
    const nack = toNack(e);
    o.onOutcome?.(action, `NACK:${e instanceof FlexError ? e.code : 'FLX_INTERNAL'}`, e);
    // Like load shedding, a refusal for the rate or the planner's queue is not audited: a row each
    // would add to the load.
    if (e instanceof RetryLater) {
      reply.header('Retry-After', String(e.retryAfterSeconds));
      return send(o, reply, nack.http, nack.body);
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
          action,
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
    await send(o, reply, nack.http, nack.body);
  }
};

/** The actions a role receives (core 1.1.1 `paths` tags): a BPP the requests, a BAP the callbacks, a BG search and on_search. */
export const actionsFor = (role: 'BAP' | 'BPP' | 'BG'): Action[] =>
  role === 'BPP' ? [...REQUEST_ACTIONS] : role === 'BAP' ? REQUEST_ACTIONS.map(callbackOf) : ['search', 'on_search'];

/** Registers POST /<action> for every action the role can receive; actions without a handler NACK with 40001. */
export const registerReceiver = (app: FastifyInstance, o: ReceiverOptions): void => {
  useRawJsonBody(app);
  const limit = o.rateLimit ?? (o.role === 'BPP' ? DEFAULT_RATE_LIMIT : false);
  const steps: Steps = { v: o.validator ?? becknValidator(), limiter: limit ? rateLimiter(limit) : undefined };
  // Any other body type reaches the handler as bytes, to be refused there with a coded NACK
  // (FLX_REQ_MEDIA_TYPE) rather than the web framework's own 415.
  if (!app.hasContentTypeParser('*'))
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, depthCheckedBody);
  const actions = actionsFor(o.role);
  for (const action of actions) app.post(`/${action}`, (req, reply) => handle(o, steps, action, req, reply));
  // A Beckn action this role does not receive (an on_* posted to a BPP, a request to a BAP) gets a
  // Beckn NACK naming it, not the framework's 404 page; nothing is audited (no credentials needed).
  app.post('/:action', async (req, reply) => {
    const action = (req.params as { action: string }).action.slice(0, 64);
    const nack = toNack(
      new FlexError(
        'FLX_ACTION_NOT_APPLICABLE',
        `this ${o.role} does not receive /${action}; it receives ${actions.map((a) => `/${a}`).join(', ')}`,
      ),
    );
    await send(o, reply, 404, nack.body);
  });
};
