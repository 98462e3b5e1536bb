// Outbound Beckn messages: context already built by the caller, checked against FlexLon's schema,
// body serialised once and signed once, every message written to the audit log with its exact bytes
// and signature, the synchronous ACK/NACK read back (and its signature checked when the client
// knows how to resolve the peer's key: verified when present, required only where the per-peer
// policy says so, as core 1.1.1 does not sign ACKs). A NACK or transport failure is an error the
// caller decides about.
//
// The steps after a message is built are the same in every version (`deliver`): 2.0 (v2/client.ts)
// gives its own bytes and its own reading of the answer (the counter-signed Ack).
//
// Retries: a transport failure, a timeout or a 5xx is retried with exponential backoff (and jitter)
// while the message is still inside its ttl (context.timestamp + ttl, core 1.1.1 Context.ttl). A retry
// resends the same bytes with the same signature and message_id, so a receiver that did get the first
// attempt treats the retry as a duplicate: it has no second effect (idempotent by message_id).
import type { AuditEntry } from '../audit/chain.ts';
import { FlexError } from '../errors.ts';
import type { Signer, Store } from '../ports.ts';
import type { AckBody } from './ack.ts';
import { ACK_SIGNATURE_OPTIONAL, checkAck, type AckCheck, type AckPolicy } from './ack-signature.ts';
import { durationSeconds, isCallback, type BecknMessage, type Context } from './context.ts';
import { signatureHeader } from './http.ts';
import type { RawResponse } from './http.ts';
import { postWithRetry, type RetryPolicy } from './retry.ts';
import type { InboundJournal } from './journal.ts';
import type { KeyResolver } from './key-resolver.ts';
import { becknValidator, schemaError, type BecknValidator } from './validator.ts';

export interface BecknClientOptions {
  readonly signer: Signer;
  readonly store: Store;
  /** Wall clock (signatures and context timestamps are real time, also in a replay). */
  readonly now: () => number;
  /** Per-attempt timeout (capped by what is left of the ttl). */
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
  readonly validator?: BecknValidator;
  /**
   * When set, a `Signature` on a peer's ACK/NACK is verified against the peer's registry key, and a
   * bad one is refused (FLX_PEER_ACK_SIGNATURE). Without it ACK signatures are not looked at.
   */
  readonly ackResolver?: KeyResolver;
  /** Which peers must sign their ACKs (default: none; core 1.1.1 ACKs are unsigned). */
  readonly ackPolicy?: AckPolicy;
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Where the `beckn.out` rows are written: by default the store, one commit (an fsync) each; a
   * group-commit journal (src/adapters/store-sqlite/journal.ts, the receiver's) writes the rows of
   * sends that end together in one commit. Either way a send returns only once its row is durable.
   * The outbox sends up to 32 callbacks at once (src/store/outbox.ts), so with the store each of
   * their rows waits for the others' fsyncs (issue 14).
   */
  readonly journal?: Pick<InboundJournal, 'append'>;
}

export interface SendOptions {
  /** Who must have signed the ACK; by default context.bpp_id for a request, context.bap_id for a callback. */
  readonly peer?: string;
  /**
   * For a callback: the request's context. The callback is due within the request's ttl (core 1.1.1
   * Context.ttl), so it is not sent (or retried) after request.timestamp + ttl: it is dropped with a
   * `beckn.out` audit row and FLX_REQ_EXPIRED.
   */
  readonly inReplyTo?: Context;
}

/** When a message stops being valid: context.timestamp + ttl (PT30S when absent). */
export const deadlineOf = (c: Context, fallbackNow: number): number =>
  (Date.parse(c.timestamp) || fallbackNow) + (durationSeconds(c.ttl ?? 'PT30S') ?? 30) * 1000;

/**
 * What a peer's refusal said, for the error text: its Error's code and message when the answer has
 * them (core 1.1.1's `code`/`message` or 2.0's `errorCode`/`errorMessage`), else the HTTP status and an excerpt of what came back (a 2.0 peer's answer, a
 * proxy's page, an empty body), never "undefined".
 */
export const refusalOf = (httpStatus: number, text: string, ack: unknown): string => {
  const e = ack !== null && typeof ack === 'object' ? (ack as { error?: unknown }).error : undefined;
  const field = (...keys: string[]): string | undefined => {
    for (const k of keys) {
      const v: unknown = e !== null && typeof e === 'object' ? (e as Record<string, unknown>)[k] : undefined;
      if ((typeof v === 'string' && v !== '') || typeof v === 'number') return String(v);
    }
    return undefined;
  };
  // 1.1.1's Error has code/message; 2.0's has errorCode/errorMessage (src/beckn/v2/ack.ts).
  const said = [field('code', 'errorCode'), field('message', 'errorMessage')].filter((x) => x !== undefined).join(' ');
  if (said !== '') return `HTTP ${httpStatus} ${said}`;
  const excerpt = text.replace(/\s+/g, ' ').trim();
  return `HTTP ${httpStatus} ${excerpt === '' ? '(empty body)' : excerpt.length > 200 ? `${excerpt.slice(0, 200)}…` : excerpt}`;
};

/** A message serialised for the wire, in any version: what the shared send steps need. */
export interface Outgoing {
  readonly url: string;
  readonly body: string;
  readonly action: string;
  readonly transactionId: string;
  readonly messageId: string;
  readonly timestamp: string;
  readonly ttl?: string;
  /** Written in the audit row (absent: 1.1.1). */
  readonly version?: string;
  /** A callback's: when its request's ttl ends (it is not sent, or retried, after that). */
  readonly due?: number;
}

/** The answer as its version reads it. */
export interface AnswerRead {
  readonly ack: unknown;
  /** ACK or NACK as answered; undefined when unreadable. */
  readonly status: string | undefined;
  /** What the audit row says of the answer's signature (ackCheck, …). */
  readonly audit: Record<string, unknown>;
  /** A signature the peer's rule requires and the answer lacks, or one that does not verify. */
  readonly refused?: FlexError;
}

export type DeliveryParts = Pick<
  BecknClientOptions,
  'signer' | 'store' | 'now' | 'timeoutMs' | 'retry' | 'sleep' | 'journal'
>;

/**
 * Signs `m.body` once (lifetime: its ttl), posts it with retries while inside its ttl and before
 * `due`, reads the answer with `read`, writes one `beckn.out` row with the exact bytes and what
 * happened, and returns the reading. Throws FLX_REQ_EXPIRED (not sent: past `due`),
 * FLX_PEER_UNREACHABLE, the reading's refusal (FLX_PEER_ACK_SIGNATURE) or FLX_PEER_NACK.
 */
export const deliver = async (
  p: DeliveryParts,
  m: Outgoing,
  read: (result: RawResponse) => Promise<AnswerRead>,
): Promise<AnswerRead> => {
  const now = p.now();
  const ttlSeconds = durationSeconds(m.ttl ?? 'PT30S') ?? 30;
  const due = m.due ?? Infinity;
  const authorization = signatureHeader(m.body, p.signer, now, ttlSeconds);
  const { url, body, action } = m;
  const audit = async (payload: Record<string, unknown>): Promise<void> => {
    const entry: AuditEntry = {
      kind: 'beckn.out',
      at: p.now(),
      actor: p.signer.subscriberId,
      transactionId: m.transactionId,
      messageId: m.messageId,
      payload: { action, ...(m.version ? { version: m.version } : {}), url, body, authorization, ...payload },
    };
    if (p.journal) await p.journal.append(entry);
    else await p.store.appendAudit(entry);
  };
  if (now > due) {
    const reason = `the request's ttl ended at ${new Date(due).toISOString()}`;
    await audit({ attempts: 0, outcome: 'dropped', reason });
    throw new FlexError('FLX_REQ_EXPIRED', `${action} for message ${m.messageId} not sent: ${reason}`);
  }
  const deadline = Math.min((Date.parse(m.timestamp) || now) + ttlSeconds * 1000, due);
  const { result, attempts, failure } = await postWithRetry(url, body, { Authorization: authorization }, deadline, {
    now: p.now,
    timeoutMs: p.timeoutMs ?? 10_000,
    ...(p.retry ? { retry: p.retry } : {}),
    ...(p.sleep ? { sleep: p.sleep } : {}),
  });
  if (!result) {
    await audit({ attempts, outcome: 'unreachable', reason: failure?.message });
    throw (
      failure ??
      new FlexError('FLX_PEER_UNREACHABLE', `${action} to ${url}: no attempt was made before the ttl ran out`)
    );
  }
  // The signature is checked before the audit row is written, so the row says what really happened.
  const r = await read(result);
  await audit({
    attempts,
    httpStatus: result.status,
    response: result.text.slice(0, 4096),
    ...r.audit,
    ...(r.refused ? { reason: r.refused.message } : {}),
    outcome: r.refused ? `${r.status ?? 'unreadable'} refused (${r.refused.code})` : (r.status ?? 'unreadable'),
  });
  if (r.refused) throw r.refused;
  if (result.status >= 300 || r.status !== 'ACK')
    throw new FlexError(
      'FLX_PEER_NACK',
      `${action} to ${url} was refused: ${refusalOf(result.status, result.text, r.ack)}`,
    );
  return r;
};

export class BecknClient {
  constructor(private readonly o: BecknClientOptions) {}

  get subscriberId(): string {
    return this.o.signer.subscriberId;
  }

  /** Sends `msg` to `baseUri` + '/' + action and returns the peer's ACK. Throws FLX_PEER_NACK / FLX_PEER_UNREACHABLE / FLX_PEER_ACK_SIGNATURE. */
  async send(baseUri: string, msg: BecknMessage, options: SendOptions = {}): Promise<AckBody> {
    const c = msg.context;
    const issues = (this.o.validator ?? becknValidator()).check(c.action, msg);
    if (issues.length > 0) throw schemaError(`the outgoing ${c.action} message`, issues);
    const peer = options.peer ?? (isCallback(c.action) ? c.bap_id : c.bpp_id);
    const outgoing: Outgoing = {
      url: `${baseUri.replace(/\/+$/, '')}/${c.action}`,
      body: JSON.stringify(msg),
      action: c.action,
      transactionId: c.transaction_id,
      messageId: c.message_id,
      timestamp: c.timestamp,
      ...(c.ttl ? { ttl: c.ttl } : {}),
      ...(options.inReplyTo ? { due: deadlineOf(options.inReplyTo, this.o.now()) } : {}),
    };
    const r = await deliver(this.o, outgoing, async (result) => {
      let ack: AckBody | undefined;
      try {
        ack = JSON.parse(result.text) as AckBody;
      } catch {
        ack = undefined;
      }
      const status = ack?.message?.ack?.status;
      const ackSignature = result.signature;
      if (!this.o.ackResolver || peer === undefined)
        return { ack, status, audit: { ackSignature, ackCheck: 'not checked' } };
      // Core 1.1.1 ACKs are unsigned: a signature is verified when present, required only by the peer's policy.
      const rule = (this.o.ackPolicy ?? ACK_SIGNATURE_OPTIONAL)(peer);
      try {
        const ackCheck: AckCheck = await checkAck(
          result.text,
          ackSignature,
          this.o.ackResolver,
          peer,
          this.o.now(),
          rule,
        );
        return { ack, status, audit: { ackSignature, ackCheck } };
      } catch (e) {
        if (!(e instanceof FlexError)) throw e;
        const ackCheck = ackSignature ? 'bad signature refused' : 'unsigned ACK refused by policy';
        return { ack, status, audit: { ackSignature, ackCheck }, refused: e };
      }
    });
    return r.ack as AckBody;
  }
}
