// A participant's Beckn 2.0 endpoint (core v2.0.0 LTS): POST <registered URL>/v2/{action} — for a
// BPP discover, select, init, confirm and status; for a BAP (FlexLon's grid buyer) their callbacks
// on_discover … on_status. The same named steps as the 1.1.1 receiver (src/beckn/receiver.ts) and
// the same handlers behind them:
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
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FlexError } from '../../errors.ts';
import type { Signer, Store } from '../../ports.ts';
import { isCallback, type Action, type BecknMessage } from '../context.ts';
import { checkContext } from '../inbound-context.ts';
import { storeJournal } from '../journal.ts';
import type { KeyResolver } from '../key-resolver.ts';
import { DEFAULT_RATE_LIMIT, rateLimiter } from '../rate-limit.ts';
import { useRawJsonBody } from '../raw-body.ts';
import type { BecknHandler, Inbound, TxWork } from '../receiver.ts';
import { becknValidator, schemaError } from '../validator.ts';
import { DEFAULT_SKEW_SECONDS, verifyRequest } from '../verify.ts';
import type { SignatureCheck } from '../verify-pool.ts';
import { counterSignedAck, toV2Nack, type V2Ack } from './ack.ts';
import { fromV2Callback, V2_BAP_CALLBACKS } from './codec-bap.ts';
import {
  V2_BPP_ACTIONS,
  V2_CONTEXT_PATHS,
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
  readonly onOutcome?: (action: string, outcome: string, error?: unknown) => void;
  readonly signatureCheck?: SignatureCheck;
  readonly admission?: () => string | undefined;
}

const MAX_AUDITED_BODY = 512;
const DUPLICATE = 'ACK (duplicate: no effect)';

const rawOf = (req: FastifyRequest): Buffer => {
  const type =
    String(req.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase() ?? '';
  if (Buffer.isBuffer(req.body) && req.body.length > 0 && type === 'application/json') return req.body;
  throw new FlexError('FLX_REQ_MEDIA_TYPE', 'send the Beckn 2.0 message as JSON with Content-Type: application/json');
};

/** A context refusal from the shared 1.1.1 checks, with the path as the 2.0 sender spelled it. */
const inV2Terms = (e: unknown): unknown =>
  e instanceof FlexError && e.path && V2_CONTEXT_PATHS[e.path]
    ? new FlexError(e.code, e.message.replaceAll(e.path.slice(8), (V2_CONTEXT_PATHS[e.path] ?? '').slice(8)), {
        path: V2_CONTEXT_PATHS[e.path] as string,
        cause: e,
      })
    : e;

interface Admitted {
  readonly inbound: Inbound;
  readonly claimKey: string;
  readonly outcome: string;
  /** The bapUri (BPP) or bppUri (BAP) as sent: where 2.0 messages to the peer go. */
  readonly peerUri: string;
  readonly parsed: { context: Record<string, unknown>; message?: unknown };
}

const ACTIONS = { BPP: Object.keys(V2_BPP_ACTIONS), BAP: Object.keys(V2_BAP_CALLBACKS) } as const;

export const registerV2Receiver = (app: FastifyInstance, o: V2ReceiverOptions): void => {
  useRawJsonBody(app);
  const journal = storeJournal(o.store);
  // As in 1.1.1 (receiver.ts): a BPP limits each subscriber's requests; a BAP takes callbacks unlimited.
  const limiter = o.role === 'BPP' ? rateLimiter(DEFAULT_RATE_LIMIT) : undefined;

  const reply = async (
    res: FastifyReply,
    http: number,
    ack: Omit<V2Ack, 'signature'>,
    raw: Buffer,
    messageId: string,
  ) => {
    const text = counterSignedAck(ack, o.signer, o.now(), raw, messageId);
    await res.code(http).type('application/json').send(text);
  };

  /** `seen.messageId` is set as soon as the body parses, so a NACK after that binds the request's messageId. */
  const admit = async (
    action: string,
    req: FastifyRequest,
    nowMs: number,
    seen: { messageId: string },
  ): Promise<Admitted> => {
    const raw = rawOf(req);
    const { key: sender, digest } = await verifyRequest(
      raw,
      req.headers.authorization,
      o.resolver,
      nowMs,
      DEFAULT_SKEW_SECONDS,
      o.signatureCheck,
    );
    const wait = limiter?.take(sender.subscriberId, nowMs);
    if (wait !== undefined) throw new FlexError('FLX_RATE_LIMITED', `${sender.subscriberId}: retry in ${wait} s`);
    let parsed: { context: Record<string, unknown>; message?: unknown };
    try {
      parsed = JSON.parse(raw.toString('utf8')) as typeof parsed;
    } catch (e) {
      throw new FlexError('FLX_REQ_INVALID_JSON', `the body is not valid JSON: ${(e as Error).message}`);
    }
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
    let msg: BecknMessage;
    let internal: Action;
    if (o.role === 'BPP') {
      if (!isV2BppAction(action)) throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `no 2.0 /${action} here`);
      msg = await fromV2Request(action, parsed, o.subscriberId, o.findOrder ?? (async () => undefined));
      internal = V2_BPP_ACTIONS[action];
    } else {
      const cb = V2_BAP_CALLBACKS[action];
      if (!cb) throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `no 2.0 /${action} here`);
      msg = { context: contextFromV2(parsed.context, cb), message: fromV2Callback(action, parsed.message) as object };
      internal = cb;
    }
    // The peer's URI may be its registered URL + /v2 (FlexLon's convention); checked as the URL itself.
    const uriKey = isCallback(internal) ? 'bpp_uri' : 'bap_uri';
    const peerUri = String(msg.context[uriKey] ?? '');
    const registered = sender.url.replace(/\/+$/, '');
    if (peerUri.replace(/\/+$/, '') === `${registered}${V2_PATH}`) msg.context[uriKey] = sender.url;
    becknValidator().assert(internal, msg);
    try {
      checkContext(
        { subscriberId: o.subscriberId, role: o.role, skewSeconds: DEFAULT_SKEW_SECONDS },
        internal,
        msg,
        sender,
        nowMs,
      );
    } catch (e) {
      throw inV2Terms(e);
    }
    const inbound: Inbound = {
      action: internal,
      msg,
      sender,
      raw,
      authorization: req.headers.authorization as string,
      digest,
    };
    // The same claim namespace as 1.1.1 (signer|message id|internal action): a messageId used in
    // either version is used.
    return {
      inbound,
      claimKey: `${sender.subscriberId}|${msg.context.message_id}|${internal}`,
      outcome: `ACK ${digest}`,
      peerUri,
      parsed,
    };
  };

  const entry = (a: Admitted, action: string, req: FastifyRequest, nowMs: number, outcome: string) => ({
    kind: 'beckn.in' as const,
    at: nowMs,
    actor: o.subscriberId,
    transactionId: a.inbound.msg.context.transaction_id,
    messageId: a.inbound.msg.context.message_id,
    payload: {
      action,
      version: '2.0.0',
      from: a.inbound.sender.subscriberId,
      authorization: req.headers.authorization,
      body: a.inbound.raw.toString('utf8'),
      outcome,
    },
  });

  const duplicateOf = async (a: Admitted): Promise<boolean> => {
    const previous = await journal.seen(a.claimKey);
    if (previous === undefined) return false;
    if (previous !== a.outcome && previous !== 'ACK')
      throw new FlexError(
        'FLX_REQ_DUPLICATE',
        `messageId ${a.inbound.msg.context.message_id} was already used by ${a.inbound.sender.subscriberId} for a different message`,
        { path: 'context.messageId' },
      );
    return true;
  };

  /** Claim, audit, the 2.0 records and the handler's effect in one transaction; true if this copy was first. */
  const commit = async (a: Admitted, work: TxWork, action: string, req: FastifyRequest, nowMs: number) => {
    const c = a.inbound.msg.context;
    try {
      return await o.store.transaction(async (tx) => {
        for (const key of [`beckn:${c.transaction_id}`, ...(work.locks ?? [])]) await tx.lock(key);
        const claim = await tx.claimMessage(a.claimKey, a.outcome);
        if (!claim.first) {
          await tx.appendAudit(entry(a, action, req, nowMs, DUPLICATE));
          return false;
        }
        await tx.appendAudit(entry(a, action, req, nowMs, 'ACK'));
        await recordV2Request(
          tx,
          c.transaction_id,
          c.message_id,
          a.inbound.sender.subscriberId,
          a.peerUri,
          a.inbound.digest,
        );
        await work.commit(tx);
        return true;
      });
    } finally {
      work.settle?.();
    }
  };

  /** A BAP keeps each confirmed Contract's commitment: its status requests repeat it (LTS Contract requires one). */
  const rememberContract = async (message: unknown): Promise<void> => {
    const contract = (message as { contract?: { id?: unknown; commitments?: unknown[] } } | undefined)?.contract;
    const commitment = contract?.commitments?.[0];
    if (typeof contract?.id === 'string' && typeof commitment === 'object' && commitment !== null)
      await o.store.putDocument(V2_CONTRACT_DOC, contract.id, {
        commitment: commitment as Record<string, unknown>,
      } satisfies V2ContractRecord);
  };

  const handle = async (action: string, req: FastifyRequest, res: FastifyReply): Promise<void> => {
    const nowMs = o.now();
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const seen = { messageId: '' };
    let messageId = '';
    let admitted: Admitted | undefined;
    try {
      const busy = o.admission?.();
      if (busy !== undefined) throw new FlexError('FLX_BUSY', busy);
      admitted = await admit(action, req, nowMs, seen);
      messageId = admitted.inbound.msg.context.message_id;
      if (await duplicateOf(admitted)) {
        await journal.append(entry(admitted, action, req, nowMs, DUPLICATE));
        o.onOutcome?.(action, 'duplicate');
        return await reply(res, 200, { status: 'ACK' }, raw, messageId);
      }
      const internal = admitted.inbound.action;
      const handler = o.handlers[internal];
      if (!handler)
        throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `this ${o.role} does not implement 2.0 /${action}`);
      const then = await handler(admitted.inbound);
      const done = admitted.inbound;
      if (typeof then === 'object') {
        const first = await commit(admitted, then, action, req, nowMs);
        o.onOutcome?.(action, first ? 'ACK' : 'duplicate');
        await reply(res, 200, { status: 'ACK' }, raw, messageId);
        if (first && then.after)
          setImmediate(() => {
            then.after?.().catch((e: unknown) => o.onBackgroundError(e, done));
          });
        return;
      }
      // A continuation (a BAP's handler): claim + audit durably, the ACK, then the continuation.
      const claim = await journal.accept(
        admitted.claimKey,
        admitted.outcome,
        entry(admitted, action, req, nowMs, 'ACK'),
        DUPLICATE,
      );
      if (claim.first && action === 'on_confirm') await rememberContract(admitted.parsed.message);
      o.onOutcome?.(action, claim.first ? 'ACK' : 'duplicate');
      await reply(res, 200, { status: 'ACK' }, raw, messageId);
      if (claim.first && then)
        setImmediate(() => {
          then().catch((e: unknown) => o.onBackgroundError(e, done));
        });
    } catch (e) {
      const nack = toV2Nack(e);
      o.onOutcome?.(action, `NACK:${nack.error.code}`, e);
      if (nack.error.code !== 'FLX_RATE_LIMITED' && nack.error.code !== 'FLX_BUSY')
        await journal.append({
          kind: 'beckn.rejected',
          at: nowMs,
          actor: o.subscriberId,
          ...(admitted ? { transactionId: admitted.inbound.msg.context.transaction_id, messageId } : {}),
          payload: {
            action,
            version: '2.0.0',
            code: nack.error.code,
            reason: nack.error.message,
            authorization: String(req.headers.authorization ?? '').slice(0, MAX_AUDITED_BODY) || null,
            bodySha256: createHash('sha256').update(raw).digest('hex'),
            bodyBytes: raw.length,
            body: raw.subarray(0, MAX_AUDITED_BODY).toString('utf8'),
          },
        });
      if (nack.http === 401)
        res.header('WWW-Authenticate', `Signature realm="${o.subscriberId}",headers="(created) (expires) digest"`);
      await reply(res, nack.http, nack.body, raw, messageId || seen.messageId);
    }
  };

  for (const action of ACTIONS[o.role]) app.post(`${V2_PATH}/${action}`, (req, res) => handle(action, req, res));
  // Any other 2.0 action (on_*, track, cancel, update, rate, support): a coded NACK, not a 404 page.
  app.post(`${V2_PATH}/:action`, async (req, res) => {
    const action = (req.params as { action: string }).action.slice(0, 64);
    const nack = toV2Nack(
      new FlexError(
        'FLX_ACTION_NOT_APPLICABLE',
        `this BPP's 2.0 endpoint receives ${Object.keys(V2_BPP_ACTIONS)
          .map((a) => `/${a}`)
          .join(', ')}, not /${action}`,
      ),
    );
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    await reply(res, 404, nack.body, raw, '');
  });
};
