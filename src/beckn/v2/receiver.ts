// A participant's Beckn 2.0 endpoint (core v2.0.0 LTS): POST <registered URL>/v2/{action} — for a
// BPP the requests (discover … status, track, cancel, update, rate, support); for a BAP (FlexLon's
// grid buyer) their callbacks. It is the 1.1.1 receiver (src/beckn/receiver.ts) with a 2.0 codec:
// the same pipeline and the same handlers behind it:
//   raw body → verify signature → parse → tell the version (2.0 LTS only) → FlexLon's 2.0 envelope
//   schema → map to the internal form (codec-in.ts) → its 1.1.1 schema and context checks (signer,
//   registered bapUri, addressed here, ttl) → dedupe → handler validates → one store transaction:
//   claim + audit (the exact 2.0 bytes) + the 2.0 records (versions.ts) + the handler's effect and
//   callbacks owed → counter-signed Ack.
// The BPP's callbacks are owed in the internal form like any other; the client sends them in 2.0
// (client.ts) because the transaction is recorded as 2.0. A BAP's handlers take the decoded
// callbacks as the 1.1.1 receiver hands them on (a continuation after the ACK).
//
// bapUri / bppUri: the URL registered for the signer, or that URL + /v2 (FlexLon's participants
// speak both versions, 2.0 under /v2); anything else is refused as in 1.1.1.
//
// 2.0 signing (14_Signing_Beckn_APIs_in_HTTP.md) is BECKN-006's: the same header, BLAKE2b-512
// digest and signing string (its worked example verifies without a trailing LF, which its Step 2
// text says each line has; FlexLon follows the example), so verifyRequest (src/beckn/verify.ts) checks
// it. Differences from 1.1.1: the Ack carries a CounterSignature in its body (ack.ts), refusals use
// real HTTP statuses and the 2.0 error codes.
import type { FastifyInstance } from 'fastify';
import { FlexError } from '../../errors.ts';
import type { Signer, Store } from '../../ports.ts';
import { isCallback, isRequest, type Action, type BecknMessage } from '../context.ts';
import type { KeyResolver, ResolvedKey } from '../key-resolver.ts';
import type { Inbound } from '../inbound.ts';
import { parseBody } from '../raw-body.ts';
import { registerReceiver, type BecknHandler } from '../receiver.ts';
import type { ReceiverCodec } from '../receiver-codec.ts';
import { becknValidator, schemaError } from '../validator.ts';
import type { SignatureCheck } from '../verify-pool.ts';
import { counterSignedAck, toV2Nack, type V2Ack } from './ack.ts';
import { fromV2Callback, V2_BAP_CALLBACKS } from './codec-bap.ts';
import {
  V2_BPP_ACTIONS,
  V2_CONTEXT_PATHS,
  V2_MESSAGE_PATHS,
  contextFromV2,
  fromV2Request,
  isV2BppAction,
  type OrderOfTransaction,
} from './codec-in.ts';
import { checkV2, detectVersion } from './validate.ts';
import { V2_CONTRACT_DOC, recordV2Request, type V2ContractRecord } from './versions.ts';

/** Where a FlexLon participant's 2.0 endpoint sits under its registered URL. */
export const V2_PATH = '/v2';

export interface V2ReceiverOptions {
  readonly subscriberId: string;
  /** A BPP receives the requests, a BAP their callbacks. */
  readonly role: 'BPP' | 'BAP';
  readonly resolver: KeyResolver;
  readonly store: Store;
  readonly now: () => number;
  /** The same handlers the 1.1.1 receiver runs (src/agents/flex/lifecycle.ts), by internal action. */
  readonly handlers: Partial<Record<Action, BecknHandler>>;
  /** Counter-signs every Ack (beckn.yaml: the Ack MUST carry a CounterSignature). */
  readonly signer: Signer;
  /** BPP: the order of a transaction (a Contract id names it). */
  readonly findOrder?: OrderOfTransaction;
  readonly onBackgroundError: (e: unknown, inbound: Inbound) => void;
  /** Told each outcome with the 2.0 action's name (`discover`, `rate`, …). */
  readonly onOutcome?: (action: string, outcome: string, error?: unknown) => void;
  readonly signatureCheck?: SignatureCheck;
  readonly admission?: () => string | undefined;
}

/**
 * A refusal from the shared 1.1.1 checks (and, for mapped messages, the 1.1.1 handlers), with the
 * path as the 2.0 sender spelled it.
 */
const inV2Terms = (e: unknown, mapped = true): unknown => {
  if (!(e instanceof FlexError) || !e.path) return e;
  const context = V2_CONTEXT_PATHS[e.path];
  if (context)
    return new FlexError(e.code, e.message.replaceAll(e.path.slice(8), context.slice(8)), { path: context, cause: e });
  const rule = mapped ? V2_MESSAGE_PATHS.find(([from]) => from.test(e.path ?? '')) : undefined;
  return rule ? new FlexError(e.code, e.message, { path: e.path.replace(rule[0], rule[1]), cause: e }) : e;
};

/** Internal action → its 2.0 name, for the role. */
const v2Names = (role: 'BPP' | 'BAP'): Partial<Record<Action, string>> =>
  Object.fromEntries(
    Object.entries(role === 'BPP' ? V2_BPP_ACTIONS : V2_BAP_CALLBACKS).map(([wire, internal]) => [internal, wire]),
  );

type Parsed = { context: Record<string, unknown>; message?: unknown };

/** The 2.0 name of an action → the internal one (discover ↔ search, rate ↔ rating), if it has one. */
export const internalOf = (wire: string): Action | undefined => {
  const cb = wire.startsWith('on_');
  const base = cb ? wire.slice(3) : wire;
  const mapped = base === 'discover' ? 'search' : base === 'rate' ? 'rating' : base;
  const a = cb ? `on_${mapped}` : mapped;
  return isRequest(a) || isCallback(a) ? a : undefined;
};

/** The verified bytes as a 2.0 LTS message of `action`, checked against FlexLon's 2.0 envelope. */
const readV2 = (action: string, raw: Buffer, seen: { messageId?: string }): Parsed => {
  const parsed = parseBody<Parsed>(raw);
  const sentId = (parsed as { context?: { messageId?: unknown } } | null)?.context?.messageId;
  if (typeof sentId === 'string') seen.messageId = sentId;
  const version = detectVersion(parsed);
  if ('path' in version)
    throw new FlexError('FLX_REQ_CONTEXT', `${version.path} ${version.message}`, { path: version.path });
  if (version.version !== '2.0' || version.dialect !== 'lts')
    throw new FlexError(
      'FLX_REQ_CONTEXT',
      version.version === '2.0'
        ? 'this endpoint reads the Beckn 2.0 LTS context (camelCase ids: bapId, transactionId, messageId), not the DEG draft snake_case one'
        : 'this is the Beckn 2.0 endpoint; send core 1.1.1 messages to the registered URL without /v2',
      { path: 'context' },
    );
  const issues = checkV2('lts', action, parsed);
  if (issues.length > 0) throw schemaError(`the 2.0 ${action} message`, issues);
  return parsed;
};

/** The peer's URI may be its registered URL + /v2 (FlexLon's convention): checked as the URL itself. Returns it as sent. */
const peerUriOf = (msg: BecknMessage, internal: Action, sender: ResolvedKey): string => {
  const uriKey = isCallback(internal) ? 'bpp_uri' : 'bap_uri';
  const peerUri = String(msg.context[uriKey] ?? '');
  if (peerUri.replace(/\/+$/, '') === `${sender.url.replace(/\/+$/, '')}${V2_PATH}`) msg.context[uriKey] = sender.url;
  return peerUri;
};

const answerV2 =
  (signer: Signer, now: () => number): ReceiverCodec['answer'] =>
  async (reply, raw, messageId, http, nack) => {
    const ack = nack ? (nack.body as V2Ack) : { status: 'ACK' as const };
    await reply
      .code(http)
      .type('application/json')
      .send(counterSignedAck(ack, signer, now(), raw, messageId));
  };

/**
 * The native 2.0 codec (src/beckn/v2/endpoint.ts: participants with no 1.1.1 form): the same envelope
 * and context checks, the message handed on as sent (the internal message is its context only).
 */
export const nativeV2Codec = (signer: Signer, now: () => number, wireActions: readonly string[]): ReceiverCodec => {
  const actions: Partial<Record<Action, string>> = {};
  for (const w of wireActions) {
    const a = internalOf(w);
    if (a) actions[a] = w;
  }
  return {
    prefix: V2_PATH,
    actions,
    version: '2.0.0',
    async decode(internal, raw, sender, seen) {
      const action = actions[internal] ?? internal;
      const parsed = readV2(action, raw, seen);
      const msg: BecknMessage = { context: contextFromV2(parsed.context, internal) };
      const peerUri = peerUriOf(msg, internal, sender);
      return { msg, wire: { version: '2.0.0', action, peerUri, context: parsed.context, message: parsed.message } };
    },
    toNack: (e) => toV2Nack(inV2Terms(e, false)),
    answer: answerV2(signer, now),
  };
};

/**
 * The 2.0 codec: tells the version (2.0 LTS only), checks FlexLon's 2.0 envelope, maps the message to
 * the internal form (codec-in.ts / codec-bap.ts) and checks that against the 1.1.1 schema; answers
 * with counter-signed Acks and 2.0 NACKs; records a 2.0 transaction with each request it claims.
 */
export const v2Codec = (o: V2ReceiverOptions): ReceiverCodec => {
  const actions = v2Names(o.role);
  return {
    prefix: V2_PATH,
    actions,
    version: '2.0.0',
    async decode(internal, raw, sender, seen) {
      const action = actions[internal] ?? internal;
      const parsed = readV2(action, raw, seen);
      let msg: BecknMessage;
      if (o.role === 'BPP') {
        if (!isV2BppAction(action)) throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `no 2.0 /${action} here`);
        msg = await fromV2Request(action, parsed, o.subscriberId, o.findOrder ?? (async () => undefined));
      } else
        msg = {
          context: contextFromV2(parsed.context, internal),
          message: fromV2Callback(action, parsed.message) as object,
        };
      const peerUri = peerUriOf(msg, internal, sender);
      becknValidator().assert(internal, msg);
      return { msg, wire: { version: '2.0.0', action, peerUri, context: parsed.context, message: parsed.message } };
    },
    toNack: (e) => toV2Nack(inV2Terms(e)),
    answer: answerV2(o.signer, o.now),
    // The transaction is 2.0 from its first 2.0 request: its callbacks go out in 2.0, to the bapUri
    // the request named, with the request's digest (versions.ts, client.ts).
    record: (tx, i) =>
      recordV2Request(
        tx,
        i.msg.context.transaction_id,
        i.msg.context.message_id,
        i.sender.subscriberId,
        i.wire?.peerUri ?? '',
        i.digest,
      ),
    // A BAP keeps each confirmed Contract's commitment: its status requests repeat it (LTS Contract requires one).
    async accepted(i) {
      if (i.action !== 'on_confirm') return;
      const contract = (i.wire?.message as { contract?: { id?: unknown; commitments?: unknown[] } } | undefined)
        ?.contract;
      const commitment = contract?.commitments?.[0];
      if (typeof contract?.id === 'string' && typeof commitment === 'object' && commitment !== null)
        await o.store.putDocument(V2_CONTRACT_DOC, contract.id, {
          commitment: commitment as Record<string, unknown>,
        } satisfies V2ContractRecord);
    },
  };
};

/** Mounts POST /v2/{action} for the role's 2.0 actions: the 1.1.1 receiver with the 2.0 codec. */
export const registerV2Receiver = (app: FastifyInstance, o: V2ReceiverOptions): void => {
  const codec = v2Codec(o);
  registerReceiver(app, {
    subscriberId: o.subscriberId,
    role: o.role,
    resolver: o.resolver,
    store: o.store,
    now: o.now,
    handlers: o.handlers,
    onBackgroundError: o.onBackgroundError,
    codec,
    ...(o.onOutcome
      ? { onOutcome: (a: Action, outcome: string, e?: unknown) => o.onOutcome?.(codec.actions[a] ?? a, outcome, e) }
      : {}),
    ...(o.signatureCheck ? { signatureCheck: o.signatureCheck } : {}),
    ...(o.admission ? { admission: o.admission } : {}),
  });
  // LTS catalog/* paths are the Catalog Discovery Service's and publishers' (beckn.yaml /catalog/…):
  // a coded NACK, not the web framework's 404 page.
  if (!app.hasRoute({ method: 'POST', url: `${V2_PATH}/catalog/*` }))
    app.post(`${V2_PATH}/catalog/*`, async (req, reply) => {
      const nack = codec.toNack(
        new FlexError('FLX_ACTION_NOT_APPLICABLE', `this ${o.role} is no catalog service: ${req.url.slice(0, 80)}`),
      );
      await codec.answer(reply, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), '', 404, nack);
    });
};
