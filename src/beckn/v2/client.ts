// A BecknClient that speaks each counterparty's Beckn (issue 18): a message whose counterparty (or,
// for a callback, whose transaction) is 2.0 (versions.ts) is sent as Beckn 2.0 LTS, everything else
// by the core 1.1.1 client unchanged. The BPP's handlers and outbox keep owing callbacks in the
// internal form, and the grid buyer keeps sending its requests in it; the version is decided when a
// message leaves. Callbacks: codec-out.ts; requests (the buyer's side): codec-bap.ts.
//
// A 2.0 message is mapped (codec-out.ts), checked against FlexLon's own 2.0 envelope (schema.ts),
// serialised and signed once (BECKN-006 = 2.0 signing, src/beckn/http.ts), sent with the same
// retries and ttl bounds as 1.1.1 (retry.ts), and its Ack must carry a valid CounterSignature by the
// peer over this request (beckn.yaml: "The Ack response body MUST carry a CounterSignature"; no
// per-peer opt-out as for 1.1.1 ACKs). One `beckn.out` audit row per message with its exact bytes.
import type { AuditEntry } from '../../audit/chain.ts';
import { FlexError } from '../../errors.ts';
import type { AckBody } from '../ack.ts';
import { BecknClient, deadlineOf, refusalOf, type BecknClientOptions, type SendOptions } from '../client.ts';
import { durationSeconds, isCallback, type BecknMessage } from '../context.ts';
import { signatureHeader } from '../http.ts';
import type { KeyResolver } from '../key-resolver.ts';
import { postWithRetry } from '../retry.ts';
import { schemaError } from '../validator.ts';
import { checkCounterSigned, type V2Ack } from './ack.ts';
import { toV2Request } from './codec-bap.ts';
import { toV2Callback } from './codec-out.ts';
import { checkV2 } from './validate.ts';
import {
  V2_CONTRACT_DOC,
  V2_REQUEST_DOC,
  V2_TRANSACTION_DOC,
  requestDocId,
  type V2ContractRecord,
  type V2RequestRecord,
  type V2TransactionRecord,
  type VersionChooser,
} from './versions.ts';

export interface VersionedClientOptions extends BecknClientOptions {
  readonly versions: VersionChooser;
  /** Resolves the peers' keys, to check their counter-signatures. */
  readonly resolver: KeyResolver;
  /** This participant's 2.0 base URL (registered URL + /v2): the bppUri of its callbacks, the bapUri of its requests. */
  readonly v2Uri: string;
  readonly providerName: string;
}

export class VersionedClient extends BecknClient {
  constructor(private readonly v: VersionedClientOptions) {
    super(v);
  }

  override async send(baseUri: string, msg: BecknMessage, options: SendOptions = {}): Promise<AckBody> {
    if ((await this.v.versions.versionFor(msg, options.peer)) !== '2.0') return super.send(baseUri, msg, options);
    return this.sendV2(baseUri, msg, options);
  }

  /** The 2.0 message of an internal one, and the base URL it goes to. */
  private async encode(baseUri: string, msg: BecknMessage, options: SendOptions) {
    const c = msg.context;
    if (isCallback(c.action)) {
      // A callback goes to the bapUri of its request (or, unasked, of the transaction's first request).
      const asked = await this.v.store.getDocument<V2RequestRecord>(
        V2_REQUEST_DOC,
        requestDocId(c.transaction_id, c.message_id),
      );
      const txn = await this.v.store.getDocument<V2TransactionRecord>(V2_TRANSACTION_DOC, c.transaction_id);
      const base = (options.inReplyTo ? asked?.bapUri : undefined) ?? txn?.bapUri ?? baseUri;
      const encoded = toV2Callback(
        { ...msg, context: { ...c, bap_uri: base } },
        {
          bppUri: this.v.v2Uri,
          providerName: this.v.providerName,
          now: this.v.now(),
          ...(options.inReplyTo && asked ? { requestDigest: asked.digest } : {}),
        },
      );
      return { ...encoded, base, peer: options.peer ?? c.bap_id };
    }
    // A request: from this participant's 2.0 endpoint (bapUri) to the BPP's 2.0 base URL.
    const orderId = (msg.message as { order_id?: string } | undefined)?.order_id;
    const bought =
      c.action === 'status' && orderId
        ? await this.v.store.getDocument<V2ContractRecord>(V2_CONTRACT_DOC, orderId)
        : undefined;
    const context = {
      domain: c.domain,
      version: '2.0.0',
      bapId: c.bap_id,
      bapUri: this.v.v2Uri,
      ...(c.bpp_id ? { bppId: c.bpp_id, bppUri: baseUri } : {}),
      transactionId: c.transaction_id,
      messageId: c.message_id,
      timestamp: c.timestamp,
      ...(c.ttl ? { ttl: c.ttl } : {}),
    };
    const encoded = toV2Request(msg, context, (id) => (id === orderId ? bought?.commitment : undefined));
    return { ...encoded, base: baseUri, peer: options.peer ?? c.bpp_id ?? '' };
  }

  private async sendV2(baseUri: string, msg: BecknMessage, options: SendOptions): Promise<AckBody> {
    const { action, message, base, peer } = await this.encode(baseUri, msg, options);
    const issues = checkV2('lts', action, message);
    if (issues.length > 0) throw schemaError(`the outgoing 2.0 ${action} message`, issues);
    const due = options.inReplyTo ? deadlineOf(options.inReplyTo, this.v.now()) : Infinity;
    await sendV2Message(this.v, `${base.replace(/\/+$/, '')}/${action}`, message as V2Message, { peer, due });
    return { message: { ack: { status: 'ACK' } } };
  }
}

/** What sendV2Message needs: the signer, where to audit, the clock, the peers' keys, retries. */
export type V2SendParts = Pick<
  BecknClientOptions,
  'signer' | 'store' | 'now' | 'timeoutMs' | 'retry' | 'sleep' | 'journal'
> & {
  readonly resolver: KeyResolver;
};

/** A 2.0 LTS message as sent: its context's ids, times and action. */
export interface V2Message {
  readonly context: {
    readonly action: string;
    readonly transactionId: string;
    readonly messageId: string;
    readonly timestamp: string;
    readonly ttl?: string;
  };
  readonly message: unknown;
}

/**
 * Sends one 2.0 message to `url`: serialised and signed once (BECKN-006 = 2.0 signing, lifetime =
 * its ttl), retried like 1.1.1 while inside its ttl (and before `due`), its Ack's CounterSignature
 * checked against `peer` (beckn.yaml: the Ack MUST carry one), one `beckn.out` audit row. Returns
 * the Ack; throws FLX_PEER_ACK_SIGNATURE, FLX_PEER_NACK, FLX_PEER_UNREACHABLE or FLX_REQ_EXPIRED.
 */
export const sendV2Message = async (
  p: V2SendParts,
  url: string,
  message: V2Message,
  o: { readonly peer: string; readonly due?: number },
): Promise<V2Ack> => {
  const c = message.context;
  const action = c.action;
  const body = JSON.stringify(message);
  const ttlSeconds = durationSeconds(c.ttl ?? 'PT30S') ?? 30;
  const now = p.now();
  const due = o.due ?? Infinity;
  const authorization = signatureHeader(body, p.signer, now, ttlSeconds);
  // Through the group-commit journal when the client has one, as 1.1.1 sends are (BecknClientOptions.journal).
  const audit = async (payload: Record<string, unknown>): Promise<void> => {
    const entry: AuditEntry = {
      kind: 'beckn.out',
      at: p.now(),
      actor: p.signer.subscriberId,
      transactionId: c.transactionId,
      messageId: c.messageId,
      payload: { action, version: '2.0.0', url, body, authorization, ...payload },
    };
    if (p.journal) await p.journal.append(entry);
    else await p.store.appendAudit(entry);
  };
  if (now > due) {
    await audit({
      attempts: 0,
      outcome: 'dropped',
      reason: `the request's ttl ended at ${new Date(due).toISOString()}`,
    });
    throw new FlexError('FLX_REQ_EXPIRED', `${action} for message ${c.messageId} not sent: the request's ttl ended`);
  }
  const deadline = Math.min((Date.parse(c.timestamp) || now) + ttlSeconds * 1000, due);
  const { result, attempts, failure } = await postWithRetry(url, body, { Authorization: authorization }, deadline, {
    now: p.now,
    timeoutMs: p.timeoutMs ?? 10_000,
    ...(p.retry ? { retry: p.retry } : {}),
    ...(p.sleep ? { sleep: p.sleep } : {}),
  });
  if (!result) {
    await audit({ attempts, outcome: 'unreachable', reason: failure?.message });
    throw failure ?? new FlexError('FLX_PEER_UNREACHABLE', `${action} to ${url}: no attempt before the ttl ran out`);
  }
  let ack: V2Ack | undefined;
  let refused: FlexError | undefined;
  try {
    ack = await checkCounterSigned(result.text, p.resolver, o.peer, Buffer.from(body), c.messageId, p.now());
  } catch (e) {
    if (!(e instanceof FlexError)) throw e;
    refused = e;
  }
  await audit({
    attempts,
    httpStatus: result.status,
    response: result.text.slice(0, 4096),
    ackCheck: refused ? 'counter-signature refused' : 'counter-signature verified',
    ...(refused ? { reason: refused.message } : {}),
    outcome: refused ? `refused (${refused.code})` : (ack?.status ?? 'unreadable'),
  });
  if (refused) throw refused;
  if (result.status >= 300 || ack?.status !== 'ACK')
    throw new FlexError(
      'FLX_PEER_NACK',
      `${action} to ${url} was refused: ${refusalOf(result.status, result.text, ack)}`,
    );
  return ack;
};
