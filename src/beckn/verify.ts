// Verifying an inbound signed request (BECKN-006 "Step 2: BG verifies BAP signature"): parse the
// header strictly, check created/expires against the clock with a small skew allowance, resolve the
// key, recompute the digest over the raw body bytes, verify the ed25519 signature.
import { FlexError } from '../errors.ts';
import { parseAuthorization } from './auth-header.ts';
import type { KeyResolver, ResolvedKey } from './key-resolver.ts';
import { blake512Base64, signingString, verifySignature } from './signing.ts';
import type { SignatureCheck } from './verify-pool.ts';

/** The longest a signature may be valid for (expires − created, s). */
export const MAX_SIGNATURE_LIFETIME_SECONDS = 3600;

/** Seconds a signature's `created` may lie in the future (clock skew between hosts). */
export const DEFAULT_SKEW_SECONDS = 5;

export interface VerifiedSender {
  readonly key: ResolvedKey;
  readonly signature: string;
  /** base64 BLAKE2b-512 of the body (what the signature covers). */
  readonly digest: string;
}

export const verifyRequest = async (
  rawBody: Uint8Array,
  authorization: string | undefined,
  resolver: KeyResolver,
  nowMs: number,
  skewSeconds = DEFAULT_SKEW_SECONDS,
  check?: SignatureCheck,
): Promise<VerifiedSender> => {
  const params = parseAuthorization(authorization);
  const nowS = Math.floor(nowMs / 1000);
  // BECKN-006 Step 1 items 2–3: a created in the future or an expires in the past MUST NOT be processed.
  if (params.created > nowS + skewSeconds)
    throw new FlexError(
      'FLX_SIG_NOT_YET_VALID',
      `the signature was created at ${params.created}, ${params.created - nowS} s in the future`,
    );
  if (params.expires < nowS)
    throw new FlexError(
      'FLX_SIG_EXPIRED',
      `the signature expired at ${params.expires}, ${nowS - params.expires} s ago`,
    );
  // A signature valid for years can be replayed for years wherever the body is still acceptable
  // (issue 14 finding 5): BECKN-006 leaves the lifetime to the sender; FlexLon's own last seconds.
  if (params.expires - params.created > MAX_SIGNATURE_LIFETIME_SECONDS)
    throw new FlexError(
      'FLX_SIG_MALFORMED',
      `the signature is valid for ${params.expires - params.created} s (created ${params.created}, expires ${params.expires}); at most ${MAX_SIGNATURE_LIFETIME_SECONDS} s is accepted`,
    );
  const key = await resolver.resolve(params.subscriberId, params.uniqueKeyId, nowMs);
  // The arithmetic (digest + ed25519) may run on a worker thread (verify-pool.ts); same result.
  if (check && key.publicKeyBase64 !== undefined) {
    const digest = await check(rawBody, params.created, params.expires, params.signature, key.publicKeyBase64);
    if (digest === undefined) throw new FlexError('FLX_SIG_INVALID');
    return { key, signature: params.signature, digest };
  }
  const digest = blake512Base64(rawBody);
  if (!verifySignature(key.publicKey, signingString(params.created, params.expires, digest), params.signature))
    throw new FlexError('FLX_SIG_INVALID');
  return { key, signature: params.signature, digest };
};

/** The header a BG signs a forwarded request with (BECKN-006 Step 4). */
export const GATEWAY_HEADER = 'x-gateway-authorization';

/** BECKN-006 Step 4: the BG's X-Gateway-Authorization over the same bytes, by a subscriber registered as BG. */
export const verifyGateway = async (
  rawBody: Uint8Array,
  header: string,
  resolver: KeyResolver,
  nowMs: number,
  skewSeconds?: number,
  check?: SignatureCheck,
): Promise<ResolvedKey> => {
  try {
    const { key } = await verifyRequest(rawBody, header, resolver, nowMs, skewSeconds, check);
    if (key.type !== 'BG')
      throw new FlexError('FLX_SIG_WRONG_SUBSCRIBER', `${key.subscriberId} is registered as ${key.type}, not BG`);
    return key;
  } catch (e) {
    const inner = e instanceof FlexError ? `${e.code}: ${e.message}` : String(e);
    throw new FlexError('FLX_SIG_GATEWAY', `X-Gateway-Authorization: ${inner}`, { cause: e });
  }
};
