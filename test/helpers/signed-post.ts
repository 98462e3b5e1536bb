// A signed Beckn request as a buyer sends it (BECKN-006 Authorization over the exact body) and its
// answer as the tests read it: the HTTP status, ACK or NACK, the FlexLon code of a refusal, and the
// Retry-After of a 503. One place for what the reliability and resilience tests each built by hand.
import { buildContext, type Context } from '../../src/beckn/context.ts';
import { needToIntent } from '../../src/beckn/flex-codec.ts';
import { signBody } from '../../src/beckn/signing.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import type { Signer } from '../../src/ports.ts';

export interface SignedAnswer {
  readonly status: number;
  /** ACK, NACK, or none when the body carried no ack. */
  readonly ack: string;
  /** The FLX_ code a refusal's error message starts with. */
  readonly code?: string;
  readonly retryAfter: string | null;
  readonly messageId: string;
  /** context.timestamp (epoch ms). */
  readonly at: number;
}

export interface SignedPost {
  /** The receiver's base URL; the action is appended. */
  readonly url: string;
  readonly signer: Signer;
  readonly context: Context;
  readonly message: unknown;
  /** Signature lifetime (default 30 s). */
  readonly expiresInSeconds?: number;
}

export const signedPost = async (p: SignedPost): Promise<SignedAnswer> => {
  const body = JSON.stringify({ context: p.context, message: p.message });
  const created = Math.floor(Date.parse(p.context.timestamp) / 1000);
  const authorization = signBody({
    body,
    subscriberId: p.signer.subscriberId,
    uniqueKeyId: p.signer.uniqueKeyId,
    created,
    expires: created + (p.expiresInSeconds ?? 30),
    sign: (d) => p.signer.sign(d),
  }).header;
  const r = await fetch(`${p.url}/${p.context.action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body,
  });
  const text = await r.text();
  let answer: { message?: { ack?: { status?: string } }; error?: { message?: string } } = {};
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    // Not JSON: no ack, no code.
  }
  const code = /^(FLX_[A-Z_]+)/.exec(answer.error?.message ?? '')?.[1];
  return {
    status: r.status,
    ack: answer.message?.ack?.status ?? 'none',
    ...(code ? { code } : {}),
    retryAfter: r.headers.get('retry-after'),
    messageId: p.context.message_id,
    at: Date.parse(p.context.timestamp),
  };
};

/**
 * A signed search from `signer` (callbacks to `bapUri`) for a price-peak reduction two to three
 * hours ahead, up to 100 kW at 3,000 £/MWh.
 */
export const signedSearch = (url: string, signer: Signer, bapUri: string, ttlSeconds = 30): Promise<SignedAnswer> => {
  const now = Date.now();
  const context = buildContext({ action: 'search', bapId: signer.subscriberId, bapUri, now, ttlSeconds });
  const intent = needToIntent({
    kind: 'price-peak',
    windowStart: epochMs(now + 2 * 3_600_000),
    windowEnd: epochMs(now + 3 * 3_600_000),
    wantedKw: kw(100),
    maxPriceGbpPerMwh: gbpPerMwh(3000),
  });
  return signedPost({ url, signer, context, message: { intent } });
};
