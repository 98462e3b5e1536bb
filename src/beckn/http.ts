// Signed HTTP POST: serialise once, sign exactly those bytes, send them. Used for Beckn messages and
// for the operator-internal agent links, which are signed the same way.
import { FlexError } from '../errors.ts';
import type { Signer } from '../ports.ts';
import { signBody } from './signing.ts';

export interface SignedPostResult {
  readonly status: number;
  readonly text: string;
  readonly authorization: string;
  readonly body: string;
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

export const postSigned = async (url: string, body: string, o: SignedPostOptions): Promise<SignedPostResult> => {
  const created = Math.floor(o.nowMs / 1000);
  const signed = signBody({
    body, subscriberId: o.signer.subscriberId, uniqueKeyId: o.signer.uniqueKeyId,
    created, expires: created + o.lifetimeSeconds, sign: (d) => o.signer.sign(d),
  });
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [o.headerName ?? 'Authorization']: signed.header, ...o.extraHeaders },
      body,
      signal: AbortSignal.timeout(o.timeoutMs),
    });
  } catch (e) {
    const why = e instanceof Error ? (e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : (e.cause as Error | undefined)?.message ?? e.message) : String(e);
    throw new FlexError('FLX_PEER_UNREACHABLE', `POST ${url} failed: ${why}`, { cause: e });
  }
  return { status: res.status, text: await res.text(), authorization: signed.header, body };
};
