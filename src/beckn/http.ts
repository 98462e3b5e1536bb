// Signed HTTP POST: serialise once, sign exactly those bytes, send them. Used for Beckn messages and
// for the operator-internal agent links, which are signed the same way. Signing and sending are
// separate so a retry resends the very same signed bytes (and a gateway can forward a request with
// the sender's header untouched and its own added).
import { FlexError } from '../errors.ts';
import type { Signer } from '../ports.ts';
import { signBody } from './signing.ts';

export interface SignedPostResult {
  readonly status: number;
  readonly text: string;
  readonly authorization: string;
  readonly body: string;
  /** The response's `Signature` header (signed ACK), if any. */
  readonly signature: string | null;
}

export interface SignedPostOptions {
  readonly signer: Signer;
  readonly nowMs: number;
  /** Signature lifetime; BECKN-006 says expires − created should equal the message ttl. */
  readonly lifetimeSeconds: number;
  readonly timeoutMs: number;
  readonly headerName?: 'Authorization' | 'X-Gateway-Authorization';
  readonly extraHeaders?: Record<string, string>;
}

/** The BECKN-006 header value signing `body` now, valid for `lifetimeSeconds`. */
export const signatureHeader = (body: string, signer: Signer, nowMs: number, lifetimeSeconds: number): string => {
  const created = Math.floor(nowMs / 1000);
  return signBody({
    body,
    subscriberId: signer.subscriberId,
    uniqueKeyId: signer.uniqueKeyId,
    created,
    expires: created + lifetimeSeconds,
    sign: (d) => signer.sign(d),
  }).header;
};

export interface RawResponse {
  readonly status: number;
  readonly text: string;
  readonly signature: string | null;
}

/** POSTs `body` with `headers` as they are; transport failures and timeouts are FLX_PEER_UNREACHABLE. */
export const postRaw = async (
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<RawResponse> => {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      // A peer's URL comes from an open registry: a redirect could point a signed callback anywhere
      // (issue 14 finding 6), so none is followed.
      redirect: 'error',
      signal: AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs))),
    });
  } catch (e) {
    const why =
      e instanceof Error
        ? e.name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : ((e.cause as Error | undefined)?.message ?? e.message)
        : String(e);
    throw new FlexError('FLX_PEER_UNREACHABLE', `POST ${url} failed: ${why}`, { cause: e });
  }
  try {
    return { status: res.status, text: await res.text(), signature: res.headers.get('signature') };
  } catch (e) {
    throw new FlexError('FLX_PEER_UNREACHABLE', `POST ${url}: the answer broke off: ${(e as Error).message}`, {
      cause: e,
    });
  }
};

export const postSigned = async (url: string, body: string, o: SignedPostOptions): Promise<SignedPostResult> => {
  const authorization = signatureHeader(body, o.signer, o.nowMs, o.lifetimeSeconds);
  const r = await postRaw(
    url,
    body,
    { [o.headerName ?? 'Authorization']: authorization, ...o.extraHeaders },
    o.timeoutMs,
  );
  return { ...r, authorization, body };
};
