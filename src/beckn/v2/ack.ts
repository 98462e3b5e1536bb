// Beckn 2.0 synchronous answers (core v2.0.0 LTS beckn.yaml `Ack`, `NackBadRequest`,
// `NackUnauthorized`, `AckNoCallback`, `ServerError`) and their CounterSignature, signed and checked.
//
// Where the 2.0 documents disagree, FlexLon follows beckn.yaml (the normative file; docs/beckn-2.md):
// - the Ack body is `{status, signature}` (beckn.yaml `Ack`), not `{ack: {status, counterSignature:
//   {messageId, signedBy, timestamp, signature}}}` (13_Authentication_and_Security.md §5.1);
// - the error object is `{errorCode, errorMessage}` (beckn.yaml `Error`), not `{code, message, path}`
//   (15_Error_Codes.md §2); FlexLon adds `path` beside them (Error is open) so the field at fault is named.
//
// The CounterSignature (beckn.yaml `CounterSignature`) has the wire format of a Beckn `Signature` and
// signs
//   (created): C\n(expires): E\ndigest: BLAKE-512=<Ack body>\n(request-digest): BLAKE-512=<request>\n(message-id): M
// beckn.yaml says `digest` covers the Ack body, which carries the signature itself; FlexLon's reading:
// the digest is over the Ack body serialised without its `signature` member (JSON.stringify of the
// other members in the order received, so a receiver rebuilds those bytes from what it parsed).
import { FlexError, asFlexError, type ErrorCode } from '../../errors.ts';
import type { Signer } from '../../ports.ts';
import type { KeyResolver } from '../key-resolver.ts';
import { blake512Base64, formatSignatureHeader, verifySignature } from '../signing.ts';
import { DEFAULT_SKEW_SECONDS, MAX_SIGNATURE_LIFETIME_SECONDS } from '../verify.ts';

export const COUNTER_SIGNED_HEADERS = '(created) (expires) digest (request-digest) (message-id)';
/** Lifetime of a counter-signature (s), as FlexLon's 1.1.1 signed ACKs (ack-signature.ts). */
export const COUNTER_SIGNATURE_SECONDS = 30;

export interface V2Error {
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly path?: string;
}

export interface V2Ack {
  readonly status: 'ACK' | 'NACK';
  readonly error?: V2Error;
  readonly signature?: string;
}

/**
 * The 2.0 error code registry (15_Error_Codes.md §3) where it differs from the 1.1.1 code FlexLon's
 * error registry carries: authentication failures have their own 6xxxx range in 2.0, an unknown
 * order is 30008, a context that cannot be accepted 60005.
 */
const V2_CODES: Partial<Record<ErrorCode, string>> = {
  FLX_SIG_MISSING: '60000',
  FLX_SIG_MALFORMED: '60000',
  FLX_SIG_WRONG_SUBSCRIBER: '60000',
  FLX_SIG_INVALID: '60001',
  FLX_SIG_EXPIRED: '60002',
  FLX_SIG_NOT_YET_VALID: '60001',
  FLX_SIG_UNKNOWN_KEY: '60003',
  FLX_SIG_KEY_REVOKED: '60003',
  FLX_SIG_ALGORITHM: '60004',
  FLX_REQ_CONTEXT: '60005',
  FLX_ORDER_NOT_FOUND: '30008',
  // FlexLon's items are offers, and a 2.0 message names them as offers (Commitment.offer.id).
  FLX_ITEM_NOT_FOUND: '30006',
  // 2.0 renumbered the post-order codes (1.1.1 30012, 30014, 30015).
  FLX_UPDATE_TARGET: '30010',
  FLX_RATING_ENTITY_NOT_FOUND: '30011',
  FLX_RATING_VALUE: '30012',
};

export interface V2Nack {
  readonly http: number;
  readonly body: V2Ack;
  readonly error: FlexError;
}

/**
 * A NACK and its HTTP status (15_Error_Codes.md §1): 401 NackUnauthorized for signatures, 400
 * NackBadRequest for request errors (3xxxx, 6xxxx), 409 AckNoCallback for business and policy
 * refusals (4xxxx, 5xxxx: received, no callback follows), 500 ServerError for FlexLon's own faults.
 * Load shedding and rate limits keep their 503 / 429 (the LTS file names no status for them).
 */
export const toV2Nack = (e: unknown): V2Nack => {
  const err = asFlexError(e);
  const code = V2_CODES[err.code] ?? err.becknCode;
  const http =
    err.http === 401
      ? 401
      : err.code === 'FLX_INTERNAL'
        ? 500
        : [429, 503, 413, 415].includes(err.http)
          ? err.http
          : code.startsWith('4') || code.startsWith('5')
            ? 409
            : 400;
  const errorMessage = err.code === 'FLX_INTERNAL' ? `${err.code}: internal error` : `${err.code}: ${err.message}`;
  return {
    http,
    error: err,
    body: { status: 'NACK', error: { errorCode: code, errorMessage, ...(err.path ? { path: err.path } : {}) } },
  };
};

const counterSigningString = (
  created: number,
  expires: number,
  ackDigest: string,
  requestDigest: string,
  messageId: string,
): string =>
  `(created): ${created}\n(expires): ${expires}\ndigest: BLAKE-512=${ackDigest}\n` +
  `(request-digest): BLAKE-512=${requestDigest}\n(message-id): ${messageId}`;

/** The bytes a counter-signature's `digest` covers: the Ack body without `signature`. */
export const unsignedAckText = (ack: Omit<V2Ack, 'signature'> | Record<string, unknown>): string => {
  const { signature: _omit, ...rest } = ack as Record<string, unknown>;
  return JSON.stringify(rest);
};

/**
 * The Ack body text with its CounterSignature, binding it to the request it answers (the request's
 * exact bytes and messageId; beckn.yaml `CounterSignature`).
 */
export const counterSignedAck = (
  ack: Omit<V2Ack, 'signature'>,
  signer: Signer,
  nowMs: number,
  requestRaw: Uint8Array,
  messageId: string,
): string => {
  const created = Math.floor(nowMs / 1000);
  const expires = created + COUNTER_SIGNATURE_SECONDS;
  const text = unsignedAckText(ack);
  const s = counterSigningString(created, expires, blake512Base64(text), blake512Base64(requestRaw), messageId);
  const signature = Buffer.from(signer.sign(Buffer.from(s, 'utf8'))).toString('base64');
  const header = formatSignatureHeader({
    subscriberId: signer.subscriberId,
    uniqueKeyId: signer.uniqueKeyId,
    algorithm: 'ed25519',
    created,
    expires,
    headers: COUNTER_SIGNED_HEADERS,
    signature,
  });
  return JSON.stringify({ ...ack, signature: header });
};

const PARAM = /^\s*([a-zA-Z]+)="([^"]*)"\s*$/;

const refused = (peer: string, why: string, cause?: unknown): FlexError =>
  new FlexError('FLX_PEER_ACK_SIGNATURE', `the 2.0 Ack of ${peer} is not validly counter-signed by it: ${why}`, {
    ...(cause === undefined ? {} : { cause }),
  });

/**
 * Checks a 2.0 Ack body from `peer` answering the request `requestRaw` (messageId `messageId`):
 * parsed, its `signature` a CounterSignature by `peer` (a registered, valid key) over this body,
 * the request's digest and messageId, and inside its created/expires window. The LTS file makes the
 * counter-signature mandatory ("The Ack response body MUST carry a CounterSignature"), so an Ack
 * without one is refused. Returns the parsed Ack.
 */
export const checkCounterSigned = async (
  text: string,
  resolver: KeyResolver,
  peer: string,
  requestRaw: Uint8Array,
  messageId: string,
  nowMs: number,
): Promise<V2Ack> => {
  let ack: V2Ack;
  try {
    ack = JSON.parse(text) as V2Ack;
  } catch {
    throw refused(peer, `the body is not JSON: ${text.slice(0, 120)}`);
  }
  if (typeof ack !== 'object' || ack === null || (ack.status !== 'ACK' && ack.status !== 'NACK'))
    throw refused(peer, 'the body has no status ACK or NACK');
  if (typeof ack.signature !== 'string') throw refused(peer, 'it carries no signature (beckn.yaml Ack requires one)');
  const m = /^Signature\s+(.*)$/s.exec(ack.signature.trim());
  const params = new Map<string, string>();
  for (const part of (m?.[1] ?? '').split(',')) {
    const p = PARAM.exec(part);
    if (p?.[1] !== undefined && p[2] !== undefined) params.set(p[1], p[2]);
  }
  const [subscriberId, keyId, alg] = (params.get('keyId') ?? '').split('|');
  const created = Number(params.get('created'));
  const expires = Number(params.get('expires'));
  const sig = params.get('signature') ?? '';
  if (!m || !subscriberId || !keyId || alg !== 'ed25519' || params.get('algorithm') !== 'ed25519')
    throw refused(peer, 'the signature is not a Beckn Signature with an ed25519 keyId');
  if (params.get('headers') !== COUNTER_SIGNED_HEADERS)
    throw refused(peer, `headers must be "${COUNTER_SIGNED_HEADERS}"`);
  if (subscriberId !== peer) throw refused(peer, `it is signed by ${subscriberId}`);
  const nowS = Math.floor(nowMs / 1000);
  if (!Number.isInteger(created) || !Number.isInteger(expires) || expires < created)
    throw refused(peer, 'created/expires are not Unix seconds in order');
  if (created > nowS + DEFAULT_SKEW_SECONDS || expires < nowS || expires - created > MAX_SIGNATURE_LIFETIME_SECONDS)
    throw refused(peer, `it is not valid now (created ${created}, expires ${expires})`);
  let key;
  try {
    key = await resolver.resolve(subscriberId, keyId, nowMs);
  } catch (e) {
    throw refused(peer, `${asFlexError(e).code}: ${asFlexError(e).message}`, e);
  }
  const s = counterSigningString(
    created,
    expires,
    blake512Base64(unsignedAckText(ack)),
    blake512Base64(requestRaw),
    messageId,
  );
  if (!verifySignature(key.publicKey, s, sig)) throw refused(peer, 'the signature does not verify');
  return ack;
};
