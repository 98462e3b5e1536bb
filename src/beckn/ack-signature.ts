// Signed synchronous responses. Core 1.1.1 does not sign ACKs (transaction.yaml `responses.default`
// is a body only); FlexLon does, the way beckn-onix does for v2 (NFH-004 draft, its `signAck` /
// `validateAckSign` steps): a `Signature` response header over the exact bytes of the ACK/NACK body,
// with the same parameters and signing string as a BECKN-006 request signature. The header value
// follows draft-cavage-http-signatures-12 §4 (the `Signature` header carries the parameters without
// the "Signature" auth-scheme word); a value with the scheme word is accepted too.
//
// Checking a peer's ACK (issue 18): a signature that is present is always verified (a bad one is
// refused: someone other than the peer may have answered); an ACK with no signature is what an
// ordinary core 1.1.1 peer sends, so it is accepted unless the per-peer policy requires signed ACKs
// from that peer. The verdict is returned so the audit records what actually happened.
import { FlexError } from '../errors.ts';
import type { Signer } from '../ports.ts';
import type { KeyResolver } from './key-resolver.ts';
import { signBody } from './signing.ts';
import { verifyRequest } from './verify.ts';

export const ACK_SIGNATURE_HEADER = 'Signature';
/** Lifetime of an ACK signature: long enough for a slow client to check it, short enough to limit replay. */
export const ACK_SIGNATURE_SECONDS = 30;

/** What a peer's ACK signature must be: `optional` (core 1.1.1: verified when present) or `required`. */
export type AckSignatureRule = 'optional' | 'required';
/** The rule for each peer (subscriber id). */
export type AckPolicy = (peer: string) => AckSignatureRule;

/** Core 1.1.1's default: an unsigned ACK is accepted from anyone; a signed one must verify. */
export const ACK_SIGNATURE_OPTIONAL: AckPolicy = () => 'optional';

/** Signed ACKs required from the peers named (e.g. FlexLon's own roles), optional from the rest. */
export const requireSignedAcksFrom =
  (peers: Iterable<string>): AckPolicy =>
  (peer) =>
    new Set(peers).has(peer) ? 'required' : 'optional';

/** What the check of a peer's ACK found, as the audit records it. */
export type AckCheck = 'signed ACK verified' | 'unsigned ACK accepted by policy';

/** The `Signature` header value for the ACK body `body` (exactly the bytes sent). */
export const signAck = (body: string, signer: Signer, nowMs: number): string => {
  const created = Math.floor(nowMs / 1000);
  const { header } = signBody({
    body,
    subscriberId: signer.subscriberId,
    uniqueKeyId: signer.uniqueKeyId,
    created,
    expires: created + ACK_SIGNATURE_SECONDS,
    sign: (d) => signer.sign(d),
  });
  return header.replace(/^Signature /, '');
};

const absent = (header: string | null | undefined): header is null | undefined | '' =>
  header === null || header === undefined || header.trim() === '';

/**
 * Checks the ACK body `body` from `expectedSigner` (the subscriber the request went to) under `rule`.
 * Returns what was found; throws FLX_PEER_ACK_SIGNATURE when a signature is present but not valid
 * for that peer, or absent while `rule` is `required`.
 */
export const checkAck = async (
  body: string,
  header: string | null | undefined,
  resolver: KeyResolver,
  expectedSigner: string,
  nowMs: number,
  rule: AckSignatureRule = 'optional',
): Promise<AckCheck> => {
  if (absent(header)) {
    if (rule === 'optional') return 'unsigned ACK accepted by policy';
    throw new FlexError(
      'FLX_PEER_ACK_SIGNATURE',
      `the response of ${expectedSigner} has no ${ACK_SIGNATURE_HEADER} header, and signed ACKs are required from it`,
    );
  }
  const value = /^Signature\s/.test(header) ? header : `Signature ${header}`;
  try {
    const { key } = await verifyRequest(Buffer.from(body, 'utf8'), value, resolver, nowMs);
    if (key.subscriberId !== expectedSigner)
      throw new FlexError('FLX_SIG_WRONG_SUBSCRIBER', `signed by ${key.subscriberId}`);
  } catch (e) {
    const why = e instanceof FlexError ? `${e.code}: ${e.message}` : String(e);
    throw new FlexError(
      'FLX_PEER_ACK_SIGNATURE',
      `the response of ${expectedSigner} is not validly signed by it (${why})`,
      { cause: e },
    );
  }
  return 'signed ACK verified';
};

/** checkAck with signed ACKs required (FlexLon's own roles to each other). */
export const verifyAck = async (
  body: string,
  header: string | null | undefined,
  resolver: KeyResolver,
  expectedSigner: string,
  nowMs: number,
): Promise<void> => {
  await checkAck(body, header, resolver, expectedSigner, nowMs, 'required');
};
