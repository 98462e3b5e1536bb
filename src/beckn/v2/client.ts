// A BecknClient that speaks each counterparty's Beckn (issue 18): a message whose counterparty (or,
// for a callback, whose transaction) is 2.0 (versions.ts) is sent as Beckn 2.0 LTS, everything else
// by the core 1.1.1 client unchanged. The BPP's handlers and outbox keep owing callbacks in the
// internal form; the version is decided when a message leaves.
//
// A 2.0 message is mapped (codec-out.ts), checked against FlexLon's own 2.0 envelope (schema.ts),
// serialised and signed once (BECKN-006 = 2.0 signing, src/beckn/http.ts), sent with the same
// retries and ttl bounds as 1.1.1 (retry.ts), and its Ack must carry a valid CounterSignature by the
// peer over this request (beckn.yaml: "The Ack response body MUST carry a CounterSignature"; no
// per-peer opt-out as for 1.1.1 ACKs). One `beckn.out` audit row per message with its exact bytes.
import { FlexError } from '../../errors.ts';
import type { AckBody } from '../ack.ts';
import { BecknClient, deadlineOf, type BecknClientOptions, type SendOptions } from '../client.ts';
import { durationSeconds, isCallback, type BecknMessage } from '../context.ts';
import { signatureHeader } from '../http.ts';
import type { KeyResolver } from '../key-resolver.ts';
import { postWithRetry } from '../retry.ts';
import { schemaError } from '../validator.ts';
import { checkCounterSigned, type V2Ack } from './ack.ts';
import { toV2Callback } from './codec-out.ts';
import { checkV2 } from './validate.ts';
import { V2_REQUEST_DOC, requestDocId, type V2RequestRecord, type VersionChooser } from './versions.ts';

export interface VersionedClientOptions extends BecknClientOptions {
  readonly versions: VersionChooser;
  /** Resolves the peers' keys, to check their counter-signatures. */
  readonly resolver: KeyResolver;
  /** This participant's 2.0 base URL (registered URL + /v2): the bppUri of its 2.0 callbacks. */
  readonly v2Uri: string;
  readonly providerName: string;
}

export class VersionedClient extends BecknClient {
  constructor(private readonly v: VersionedClientOptions) {
    super(v);
  }

  override async send(baseUri: string, msg: BecknMessage, options: SendOptions = {}): Promise<AckBody> {
    if ((await this.v.versions.versionFor(msg)) !== '2.0') return super.send(baseUri, msg, options);
    return this.sendV2(baseUri, msg, options);
  }

  private async sendV2(baseUri: string, msg: BecknMessage, options: SendOptions): Promise<AckBody> {
    const c = msg.context;
    if (!isCallback(c.action))
      throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `sending a 2.0 ${c.action} request is not supported here`);
    const asked = options.inReplyTo
      ? await this.v.store.getDocument<V2RequestRecord>(V2_REQUEST_DOC, requestDocId(c.transaction_id, c.message_id))
      : undefined;
    const { action, message } = toV2Callback(msg, {
      bppUri: this.v.v2Uri,
      providerName: this.v.providerName,
      now: this.v.now(),
      ...(asked ? { requestDigest: asked.digest } : {}),
    });
    const issues = checkV2('lts', action, message);
    if (issues.length > 0) throw schemaError(`the outgoing 2.0 ${action} message`, issues);
    const url = `${baseUri.replace(/\/+$/, '')}/${action}`;
    const body = JSON.stringify(message);
    const ttlSeconds = durationSeconds(c.ttl ?? 'PT30S') ?? 30;
    const now = this.v.now();
    const due = options.inReplyTo ? deadlineOf(options.inReplyTo, now) : Infinity;
    const authorization = signatureHeader(body, this.v.signer, now, ttlSeconds);
    const audit = (payload: Record<string, unknown>) =>
      this.v.store.appendAudit({
        kind: 'beckn.out',
        at: this.v.now(),
        actor: this.v.signer.subscriberId,
        transactionId: c.transaction_id,
        messageId: c.message_id,
        payload: { action, version: '2.0.0', url, body, authorization, ...payload },
      });
    if (now > due) {
      await audit({
        attempts: 0,
        outcome: 'dropped',
        reason: `the request's ttl ended at ${new Date(due).toISOString()}`,
      });
      throw new FlexError('FLX_REQ_EXPIRED', `${action} for message ${c.message_id} not sent: the request's ttl ended`);
    }
    const { result, attempts, failure } = await postWithRetry(
      url,
      body,
      { Authorization: authorization },
      Math.min(deadlineOf(c, now), due),
      {
        now: this.v.now,
        timeoutMs: this.v.timeoutMs ?? 10_000,
        ...(this.v.retry ? { retry: this.v.retry } : {}),
        ...(this.v.sleep ? { sleep: this.v.sleep } : {}),
      },
    );
    if (!result) {
      await audit({ attempts, outcome: 'unreachable', reason: failure?.message });
      throw failure ?? new FlexError('FLX_PEER_UNREACHABLE', `${action} to ${url}: no attempt before the ttl ran out`);
    }
    let ack: V2Ack | undefined;
    let refused: FlexError | undefined;
    try {
      ack = await checkCounterSigned(
        result.text,
        this.v.resolver,
        c.bap_id,
        Buffer.from(body),
        c.message_id,
        this.v.now(),
      );
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
        `${action} to ${url} was refused: HTTP ${result.status} ${ack?.error ? `${ack.error.errorCode} ${ack.error.errorMessage}` : ''}`,
      );
    return { message: { ack: { status: 'ACK' } } };
  }
}
