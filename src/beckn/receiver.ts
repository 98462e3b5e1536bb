// Inbound Beckn endpoints as a pipeline of small named steps (the beckn-onix shape):
//   raw body → verify signature → parse → check context → handler validates → dedupe → audit → ACK
//   → the handler's continuation runs after the ACK (the asynchronous callback).
// Any step's error becomes a NACK in exactly one place (toNack) and an audit row; nothing else happens.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FlexError } from '../errors.ts';
import type { Store } from '../ports.ts';
import { ACK, toNack } from './ack.ts';
import { useRawJsonBody } from './raw-body.ts';
import { FLEXLON_DOMAIN, REQUEST_ACTIONS, callbackOf, durationSeconds, isCallback, isRequest, type Action, type BecknMessage } from './context.ts';
import type { KeyResolver, ResolvedKey } from './key-resolver.ts';
import { DEFAULT_SKEW_SECONDS, verifyRequest } from './verify.ts';

export interface Inbound {
  readonly action: Action;
  readonly msg: BecknMessage;
  readonly sender: ResolvedKey;
}

/** Validates the message (throw a FlexError to NACK, with no side effects) and returns the work to do after the ACK. */
export type BecknHandler = (inbound: Inbound) => Promise<(() => Promise<void>) | void>;

export interface ReceiverOptions {
  readonly subscriberId: string;
  readonly role: 'BAP' | 'BPP';
  readonly resolver: KeyResolver;
  readonly store: Store;
  readonly now: () => number;
  readonly handlers: Partial<Record<Action, BecknHandler>>;
  readonly skewSeconds?: number;
  readonly onBackgroundError: (e: unknown, inbound: Inbound) => void;
}

const MAX_AUDITED_BODY = 64 * 1024;

const checkContext = (o: ReceiverOptions, action: Action, msg: BecknMessage, sender: ResolvedKey, nowMs: number): void => {
  const c = msg.context;
  const bad = (path: string, why: string) => new FlexError('FLX_REQ_CONTEXT', why, { path });
  if (typeof c !== 'object' || c === null) throw bad('context', 'the message has no context object');
  if (c.action !== action) throw bad('context.action', `context.action is "${String(c.action)}" but the endpoint is /${action}`);
  if (c.domain !== FLEXLON_DOMAIN) throw bad('context.domain', `domain "${String(c.domain)}" is not served here (expected ${FLEXLON_DOMAIN})`);
  if (typeof c.version !== 'string' || !c.version.startsWith('1.1')) throw bad('context.version', `version "${String(c.version)}" is not supported (expected 1.1.x)`);
  for (const f of ['transaction_id', 'message_id', 'bap_id', 'bap_uri', 'timestamp'] as const) {
    if (typeof c[f] !== 'string' || c[f] === '') throw bad(`context.${f}`, `context.${f} is missing`);
  }
  // The signer must be the party the context says sent the message (BAP for requests, BPP for callbacks).
  const claimed = isRequest(action) ? c.bap_id : c.bpp_id;
  if (sender.subscriberId !== claimed) {
    throw new FlexError('FLX_SIG_WRONG_SUBSCRIBER', `signed by ${sender.subscriberId} but context.${isRequest(action) ? 'bap_id' : 'bpp_id'} is ${String(claimed)}`);
  }
  // Callbacks go only to the URL the registry holds for the subscriber (no callback to arbitrary URLs).
  const claimedUri = isRequest(action) ? c.bap_uri : c.bpp_uri;
  if (sender.type !== 'AGENT' && claimedUri !== undefined && claimedUri.replace(/\/+$/, '') !== sender.url.replace(/\/+$/, '')) {
    throw bad(isRequest(action) ? 'context.bap_uri' : 'context.bpp_uri', `${claimedUri} is not the URL registered for ${sender.subscriberId}`);
  }
  if (isCallback(action) && c.bap_id !== o.subscriberId) throw bad('context.bap_id', `this callback is for ${c.bap_id}, not ${o.subscriberId}`);
  if (isRequest(action) && c.bpp_id !== undefined && c.bpp_id !== o.subscriberId) throw bad('context.bpp_id', `this request is for ${c.bpp_id}, not ${o.subscriberId}`);
  const sent = Date.parse(c.timestamp);
  if (Number.isNaN(sent)) throw bad('context.timestamp', 'context.timestamp is not an RFC 3339 date-time');
  const ttl = c.ttl === undefined ? undefined : durationSeconds(c.ttl);
  if (c.ttl !== undefined && ttl === undefined) throw bad('context.ttl', `context.ttl "${c.ttl}" is not an ISO 8601 duration`);
  if (ttl !== undefined && nowMs > sent + ttl * 1000 + (o.skewSeconds ?? DEFAULT_SKEW_SECONDS) * 1000) {
    throw new FlexError('FLX_REQ_EXPIRED', `the message was sent at ${c.timestamp} with ttl ${c.ttl}; it arrived too late`, { path: 'context.ttl' });
  }
};

const handle = async (o: ReceiverOptions, action: Action, req: FastifyRequest, reply: FastifyReply): Promise<void> => {
  const raw = req.body as Buffer;
  const authorization = req.headers.authorization;
  const nowMs = o.now();
  let inbound: Inbound | undefined;
  try {
    const { key: sender } = await verifyRequest(raw, authorization, o.resolver, nowMs, o.skewSeconds);
    let msg: BecknMessage;
    try { msg = JSON.parse(raw.toString('utf8')) as BecknMessage; } catch (e) { throw new FlexError('FLX_REQ_INVALID_JSON', `the body is not valid JSON: ${(e as Error).message}`); }
    checkContext(o, action, msg, sender, nowMs);
    inbound = { action, msg, sender };
    const handler = o.handlers[action];
    if (!handler) throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `${o.role} ${o.subscriberId} does not implement /${action}`);
    const then = await handler(inbound);
    const claim = await o.store.claimMessage(`${sender.subscriberId}|${msg.context.message_id}|${action}`, 'ACK');
    await o.store.appendAudit({
      kind: 'beckn.in', at: nowMs, actor: o.subscriberId, transactionId: msg.context.transaction_id, messageId: msg.context.message_id,
      payload: { action, from: sender.subscriberId, authorization, body: raw.toString('utf8'), outcome: claim.first ? 'ACK' : 'ACK (duplicate: no effect)' },
    });
    await reply.code(200).send(ACK);
    if (claim.first && then) {
      const done = inbound;
      setImmediate(() => { then().catch((e: unknown) => o.onBackgroundError(e, done)); });
    }
  } catch (e) {
    const nack = toNack(e);
    const ctx = (inbound?.msg.context ?? {}) as Partial<BecknMessage['context']>;
    await o.store.appendAudit({
      kind: 'beckn.rejected', at: nowMs, actor: o.subscriberId,
      ...(ctx.transaction_id ? { transactionId: ctx.transaction_id } : {}), ...(ctx.message_id ? { messageId: ctx.message_id } : {}),
      payload: { action, code: nack.error.code, reason: nack.error.message, authorization: authorization ?? null, body: raw.subarray(0, MAX_AUDITED_BODY).toString('utf8') },
    });
    // BECKN-006 Step 2 item 8: a failed signature gets 401 with WWW-Authenticate.
    if (nack.http === 401) reply.header('WWW-Authenticate', `Signature realm="${o.subscriberId}",headers="(created) (expires) digest"`);
    await reply.code(nack.http).send(nack.body);
  }
};

/** Registers POST /<action> for every action the role can receive; actions without a handler NACK with 40001. */
export const registerReceiver = (app: FastifyInstance, o: ReceiverOptions): void => {
  useRawJsonBody(app);
  const actions: Action[] = o.role === 'BPP' ? [...REQUEST_ACTIONS] : REQUEST_ACTIONS.map(callbackOf);
  for (const action of actions) app.post(`/${action}`, (req, reply) => handle(o, action, req, reply));
};
