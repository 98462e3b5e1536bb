// A native Beckn 2.0 endpoint for participants with no 1.1.1 form (DEG compute-energy: the grid
// agent and the compute agent's callbacks). The steps of receiver.ts without the mapping to the
// internal form: raw body → signature (BECKN-006 = 2.0) → parse → 2.0 LTS context → FlexLon's 2.0
// envelope → who sent it (bapId for requests, bppId for callbacks, the signer; its URI the registered
// URL or that + /v2) and for whom → ttl → dedupe (same messageId and bytes: the same ACK, nothing
// else; other bytes: refused) → claim + `beckn.in` audit row (journal.ts) → counter-signed Ack → the
// handler's work after it. Refusals are counter-signed NACKs with the 2.0 codes (ack.ts).
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FlexError } from '../../errors.ts';
import type { Signer, Store } from '../../ports.ts';
import { checkTtl } from '../inbound-context.ts';
import { storeJournal } from '../journal.ts';
import type { KeyResolver, ResolvedKey } from '../key-resolver.ts';
import { useRawJsonBody } from '../raw-body.ts';
import { schemaError } from '../validator.ts';
import { DEFAULT_SKEW_SECONDS, verifyRequest } from '../verify.ts';
import { counterSignedAck, toV2Nack, type V2Ack } from './ack.ts';
import { V2_PATH } from './receiver.ts';
import { checkV2, detectVersion } from './validate.ts';

export type V2Obj = Record<string, unknown>;
export interface V2Inbound {
  readonly context: V2Obj & { action: string; transactionId: string; messageId: string };
  readonly message: V2Obj;
  readonly sender: ResolvedKey;
}
/** Validates (throw a FlexError to NACK) and returns the work to do after the ACK. */
export type V2Handler = (m: V2Inbound) => Promise<() => Promise<void>>;

export interface V2EndpointOptions {
  readonly subscriberId: string;
  readonly resolver: KeyResolver;
  readonly store: Store;
  readonly signer: Signer;
  readonly now: () => number;
  /** By 2.0 action name; a request action is a BPP's, an on_* one a BAP's. */
  readonly handlers: Record<string, V2Handler>;
  readonly onBackgroundError: (e: unknown) => void;
}

const bad = (path: string, why: string) => new FlexError('FLX_REQ_CONTEXT', why, { path });

export const registerV2Endpoint = (app: FastifyInstance, o: V2EndpointOptions): void => {
  useRawJsonBody(app);
  const journal = storeJournal(o.store);
  const handle = async (action: string, req: FastifyRequest, res: FastifyReply): Promise<void> => {
    const nowMs = o.now();
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let messageId = '';
    const answer = async (http: number, ack: Omit<V2Ack, 'signature'>) =>
      res
        .code(http)
        .type('application/json')
        .send(counterSignedAck(ack, o.signer, o.now(), raw, messageId));
    try {
      if (
        String(req.headers['content-type'] ?? '')
          .split(';')[0]
          ?.trim() !== 'application/json' ||
        raw.length === 0
      )
        throw new FlexError('FLX_REQ_MEDIA_TYPE', 'send the Beckn 2.0 message as JSON');
      const { key: sender, digest } = await verifyRequest(raw, req.headers.authorization, o.resolver, nowMs);
      let msg: V2Inbound;
      try {
        msg = { ...(JSON.parse(raw.toString('utf8')) as Omit<V2Inbound, 'sender'>), sender };
      } catch (e) {
        throw new FlexError('FLX_REQ_INVALID_JSON', `the body is not valid JSON: ${(e as Error).message}`);
      }
      const c = (msg.context ?? {}) as V2Inbound['context'];
      if (typeof c.messageId === 'string') messageId = c.messageId;
      const version = detectVersion(msg);
      if ('path' in version || version.version !== '2.0' || version.dialect !== 'lts')
        throw bad('context', 'this endpoint reads the Beckn 2.0 LTS context (camelCase ids)');
      const issues = checkV2('lts', action, msg);
      if (issues.length > 0) throw schemaError(`the 2.0 ${action} message`, issues);
      const callback = action.startsWith('on_');
      const [who, uri, me] = callback ? ['bppId', 'bppUri', 'bapId'] : ['bapId', 'bapUri', 'bppId'];
      if (c[who] !== sender.subscriberId)
        throw new FlexError(
          'FLX_SIG_WRONG_SUBSCRIBER',
          `signed by ${sender.subscriberId} but context.${who} is ${String(c[who])}`,
        );
      const registered = sender.url.replace(/\/+$/, '');
      const claimed = String(c[uri] ?? '').replace(/\/+$/, '');
      if (claimed !== registered && claimed !== `${registered}${V2_PATH}`)
        throw bad(`context.${uri}`, `${claimed} is not the URL registered for ${sender.subscriberId}`);
      if (c[me] !== undefined && c[me] !== o.subscriberId)
        throw bad(`context.${me}`, `this message is for ${String(c[me])}, not ${o.subscriberId}`);
      checkTtl({ context: { timestamp: String(c.timestamp), ttl: c.ttl } } as never, nowMs, DEFAULT_SKEW_SECONDS);
      const handler = o.handlers[action];
      if (!handler) throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `no 2.0 /${action} here`);
      const key = `${sender.subscriberId}|${messageId}|${action}`;
      const outcome = `ACK ${digest}`;
      const previous = await journal.seen(key);
      if (previous !== undefined && previous !== outcome)
        throw new FlexError('FLX_REQ_DUPLICATE', `messageId ${messageId} was already used for another message`, {
          path: 'context.messageId',
        });
      const then = previous === undefined ? await handler(msg) : undefined;
      const claim = await journal.accept(
        key,
        outcome,
        {
          kind: 'beckn.in',
          at: nowMs,
          actor: o.subscriberId,
          transactionId: c.transactionId,
          messageId,
          payload: { action, version: '2.0.0', from: sender.subscriberId, body: raw.toString('utf8'), outcome: 'ACK' },
        },
        'ACK (duplicate: no effect)',
      );
      await answer(200, { status: 'ACK' });
      if (claim.first && then) setImmediate(() => void then().catch(o.onBackgroundError));
    } catch (e) {
      const nack = toV2Nack(e);
      await journal.append({
        kind: 'beckn.rejected',
        at: nowMs,
        actor: o.subscriberId,
        payload: {
          action,
          version: '2.0.0',
          code: nack.error.code,
          reason: nack.error.message,
          bodySha256: createHash('sha256').update(raw).digest('hex'),
          body: raw.subarray(0, 512).toString('utf8'),
        },
      });
      await answer(nack.http, nack.body);
    }
  };
  for (const action of Object.keys(o.handlers))
    app.post(`${V2_PATH}/${action}`, (req, res) => handle(action, req, res));
};
