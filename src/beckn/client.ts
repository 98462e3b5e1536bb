// Outbound Beckn messages: context already built by the caller, checked against FlexLon's schema,
// body serialised once and signed once, every message written to the audit log with its exact bytes
// and signature, the synchronous ACK/NACK read back (and its signature checked when the client
// knows how to resolve the peer's key: verified when present, required only where the per-peer
// policy says so, as core 1.1.1 does not sign ACKs). A NACK or transport failure is an error the
// caller decides about.
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
    const url = `${baseUri.replace(/\/+$/, '')}/${c.action}`;
    const body = JSON.stringify(msg);
    const ttlSeconds = durationSeconds(c.ttl ?? 'PT30S') ?? 30;
    const due = options.inReplyTo ? deadlineOf(options.inReplyTo, this.o.now()) : Infinity;
    const deadline = Math.min(deadlineOf(c, this.o.now()), due);
    const authorization = signatureHeader(body, this.o.signer, this.o.now(), ttlSeconds);
    const audit = async (payload: Record<string, unknown>): Promise<void> => {
      const entry: AuditEntry = {
        kind: 'beckn.out',
        at: this.o.now(),
        actor: this.o.signer.subscriberId,
        transactionId: c.transaction_id,
        messageId: c.message_id,
        payload: { action: c.action, url, body, authorization, ...payload },
      };
      if (this.o.journal) await this.o.journal.append(entry);
      else await this.o.store.appendAudit(entry);
    };
    if (this.o.now() > due) {
      await audit({
        attempts: 0,
        outcome: 'dropped',
        reason: `the request's ttl ended at ${new Date(due).toISOString()}`,
      });
      throw new FlexError(
        'FLX_REQ_EXPIRED',
        `${c.action} for message ${c.message_id} not sent: the request's ttl ended at ${new Date(due).toISOString()}`,
      );
    }
    const { result, attempts, failure } = await postWithRetry(url, body, { Authorization: authorization }, deadline, {
      now: this.o.now,
      timeoutMs: this.o.timeoutMs ?? 10_000,
      ...(this.o.retry ? { retry: this.o.retry } : {}),
      ...(this.o.sleep ? { sleep: this.o.sleep } : {}),
    });
    if (!result) {
      await audit({ attempts, outcome: 'unreachable', reason: failure?.message });
      throw (
        failure ??
        new FlexError('FLX_PEER_UNREACHABLE', `${c.action} to ${url}: no attempt was made before the ttl ran out`)
      );
    }
    let ack: AckBody | undefined;
    try {
      ack = JSON.parse(result.text) as AckBody;
    } catch {
      ack = undefined;
    }
    const status = ack?.message?.ack?.status;
    const peer = options.peer ?? (isCallback(c.action) ? c.bap_id : c.bpp_id);
    // The signature is checked before the audit row is written, so the row says what really happened.
    let ackCheck: AckCheck | 'not checked' = 'not checked';
    let refused: FlexError | undefined;
    if (this.o.ackResolver && peer !== undefined) {
      const rule = (this.o.ackPolicy ?? ACK_SIGNATURE_OPTIONAL)(peer);
      try {
        ackCheck = await checkAck(result.text, result.signature, this.o.ackResolver, peer, this.o.now(), rule);
      } catch (e) {
        if (!(e instanceof FlexError)) throw e;
        refused = e;
      }
    }
    await audit({
      attempts,
      httpStatus: result.status,
      response: result.text.slice(0, 4096),
      ackSignature: result.signature,
      ackCheck: refused ? (result.signature ? 'bad signature refused' : 'unsigned ACK refused by policy') : ackCheck,
      ...(refused ? { reason: refused.message } : {}),
      outcome: refused ? `${status ?? 'unreadable'} refused (${refused.code})` : (status ?? 'unreadable'),
    });
    if (refused) throw refused;
    if (result.status >= 300 || status !== 'ACK')
      throw new FlexError(
        'FLX_PEER_NACK',
        `${c.action} to ${url} was refused: ${refusalOf(result.status, result.text, ack)}`,
      );
    return ack as AckBody;
  }
}
