// The audit rows of what came in: `beckn.in` for a message taken (its outcome ACK, or a duplicate
// with no effect), with the exact body and Authorization header as received, so its signature can be
// checked again later; `beckn.rejected` for a refusal, with its code and reason and only an excerpt of
// the body: unsigned junk stored whole filled the disk (issue 14 finding 4: 327 MB in 10 s).
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { FlexError } from '../errors.ts';
import type { BecknMessage } from './context.ts';
import type { Inbound } from './inbound.ts';
import { GATEWAY_HEADER } from './verify.ts';

// A refused request leaves its digest, length and this much of its start in the audit trail, never the
// whole body.
const MAX_AUDITED_BODY = 512;

/** A refused body for the audit trail: sha-256, length and a short excerpt. */
const bodyExcerpt = (body: unknown): { bodySha256: string; bodyBytes: number; body: string } => {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : '', 'utf8');
  const excerpt = bytes.subarray(0, MAX_AUDITED_BODY).toString('utf8');
  return { bodySha256: createHash('sha256').update(bytes).digest('hex'), bodyBytes: bytes.length, body: excerpt };
};

/** The row of a message taken by `actor`, received as `req` at `nowMs`. */
export const inboundEntry = (
  actor: string,
  i: Inbound,
  { req, nowMs }: { readonly req: FastifyRequest; readonly nowMs: number },
  outcome: string,
) => ({
  kind: 'beckn.in' as const,
  at: nowMs,
  actor,
  transactionId: i.msg.context.transaction_id,
  messageId: i.msg.context.message_id,
  payload: {
    action: i.wire?.action ?? i.action,
    ...(i.wire ? { version: i.wire.version } : {}),
    from: i.sender.subscriberId,
    authorization: req.headers.authorization,
    body: i.raw.toString('utf8'),
    outcome,
    ...(i.gateway ? { gateway: i.gateway.subscriberId, gatewayAuthorization: req.headers[GATEWAY_HEADER] } : {}),
  },
});

/** What was refused: the action as the wire names it, the wire version, and the context as far as it was read. */
export interface Refused {
  readonly action: string;
  readonly version: string | undefined;
  readonly context: Partial<BecknMessage['context']>;
}

/** The row of a request refused by `actor` at `nowMs` with `error`. */
export const rejectedEntry = (actor: string, nowMs: number, r: Refused, error: FlexError, req: FastifyRequest) => {
  const ctx = r.context;
  const authorization = req.headers.authorization;
  return {
    kind: 'beckn.rejected' as const,
    at: nowMs,
    actor,
    ...(ctx.transaction_id ? { transactionId: ctx.transaction_id } : {}),
    ...(ctx.message_id ? { messageId: ctx.message_id } : {}),
    payload: {
      action: r.action,
      ...(r.version ? { version: r.version } : {}),
      code: error.code,
      reason: error.message,
      authorization: typeof authorization === 'string' ? authorization.slice(0, MAX_AUDITED_BODY) : null,
      ...bodyExcerpt(req.body),
    },
  };
};
