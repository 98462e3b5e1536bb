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
import { FlexError } from '../../errors.ts';
import type { AckBody } from '../ack.ts';
import {
  BecknClient,
  deadlineOf,
  deliver,
  type BecknClientOptions,
  type Outgoing,
  type SendOptions,
} from '../client.ts';
import { isCallback, type BecknMessage } from '../context.ts';
import type { KeyResolver } from '../key-resolver.ts';
import { schemaError } from '../validator.ts';
import { checkCounterSigned, type V2Ack } from './ack.ts';
import { contractNamed, toV2Request } from './codec-bap.ts';
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
    // status, track, cancel and update repeat the Contract's commitment (LTS Contract requires one).
    const orderId = contractNamed(msg);
    const bought = orderId ? await this.v.store.getDocument<V2ContractRecord>(V2_CONTRACT_DOC, orderId) : undefined;
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
 * Sends one 2.0 message to `url` through the 1.1.1 client's steps (client.ts `deliver`: signed once,
 * lifetime = its ttl, retried while inside its ttl and before `due`, one `beckn.out` row), its Ack's
 * CounterSignature checked against `peer` (beckn.yaml: the Ack MUST carry one). Returns the Ack;
 * throws FLX_PEER_ACK_SIGNATURE, FLX_PEER_NACK, FLX_PEER_UNREACHABLE or FLX_REQ_EXPIRED.
 */
export const sendV2Message = async (
  p: V2SendParts,
  url: string,
  message: V2Message,
  o: { readonly peer: string; readonly due?: number },
): Promise<V2Ack> => {
  const c = message.context;
  const body = JSON.stringify(message);
  const outgoing: Outgoing = {
    url,
    body,
    action: c.action,
    version: '2.0.0',
    transactionId: c.transactionId,
    messageId: c.messageId,
    timestamp: c.timestamp,
    ...(c.ttl ? { ttl: c.ttl } : {}),
    ...(o.due !== undefined ? { due: o.due } : {}),
  };
  const r = await deliver(p, outgoing, async (result) => {
    try {
      const ack = await checkCounterSigned(result.text, p.resolver, o.peer, Buffer.from(body), c.messageId, p.now());
      return { ack, status: ack.status, audit: { ackCheck: 'counter-signature verified' } };
    } catch (e) {
      if (!(e instanceof FlexError)) throw e;
      return { ack: undefined, status: undefined, audit: { ackCheck: 'counter-signature refused' }, refused: e };
    }
  });
  return r.ack as V2Ack;
};
