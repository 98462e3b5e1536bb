// Signed synchronous responses. Core 1.1.1 does not sign ACKs; FlexLon does, the way beckn-onix
// does for v2 (NFH-004 draft, its `signAck` / `validateAckSign` steps): a `Signature` response header
// over the exact bytes of the ACK/NACK body, with the same parameters and signing string as a
// BECKN-006 request signature. The header value follows draft-cavage-http-signatures-12 §4 (the
// `Signature` header carries the parameters without the "Signature" auth-scheme word); a value with
// the scheme word is accepted too. A client that knows the peer verifies it (BecknClient).
import { FlexError } from '../errors.ts';
import type { Signer } from '../ports.ts';
import type { KeyResolver } from './key-resolver.ts';
import { signBody } from './signing.ts';
import { verifyRequest } from './verify.ts';

export const ACK_SIGNATURE_HEADER = 'Signature';
/** Lifetime of an ACK signature: long enough for a slow client to check it, short enough to limit replay. */
export const ACK_SIGNATURE_SECONDS = 30;

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

/**
 * Checks that the ACK body `body` is signed by `expectedSigner` (the subscriber the request went to).
 * Throws FLX_PEER_ACK_SIGNATURE naming what is wrong.
 */
export const verifyAck = async (
  body: string,
  header: string | null | undefined,
  resolver: KeyResolver,
  expectedSigner: string,
  nowMs: number,
): Promise<void> => {
  if (header === null || header === undefined || header.trim() === '') {
    throw new FlexError(
      'FLX_PEER_ACK_SIGNATURE',
      `the response of ${expectedSigner} has no ${ACK_SIGNATURE_HEADER} header`,
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
};
