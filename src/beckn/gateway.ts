// A Beckn gateway (BG) for FlexLon networks. It receives a BAP's search through the same receiver
// pipeline as any participant (verify → schema → context/ttl → dedupe → audit → signed ACK), then
// forwards the exact bytes to every BPP subscribed in the registry for the search's domain (or only
// the BPP named in context.bpp_id), with the BAP's Authorization header untouched and its own
// X-Gateway-Authorization over the same bytes (BECKN-006 Step 3: expires − created = the ttl).
// BPPs answer on_search straight to the BAP's bap_uri, so the gateway's /on_search answers 40001.
import Fastify, { type FastifyInstance } from 'fastify';
import { FlexError } from '../errors.ts';
import type { Registry, Signer, Store, Subscription } from '../ports.ts';
import { verifyAck } from './ack-signature.ts';
import { durationSeconds, type BecknMessage } from './context.ts';
import { signatureHeader } from './http.ts';
import type { InboundJournal } from './journal.ts';
import type { SignatureCheck } from './verify-pool.ts';
import { checkSubscription, type KeyResolver } from './key-resolver.ts';
import { registerReceiver, type Inbound } from './receiver.ts';
import { postWithRetry, type RetryPolicy } from './retry.ts';

export interface GatewayOptions {
  readonly signer: Signer;
  readonly registry: Registry;
  readonly resolver: KeyResolver;
  readonly store: Store;
  readonly now: () => number;
  readonly journal?: InboundJournal;
  /** Signature arithmetic on worker threads (verify-pool.ts); on the event loop when absent. */
  readonly signatureCheck?: SignatureCheck;
  /** Verify every BPP's signed ACK with this resolver. */
  readonly ackResolver?: KeyResolver;
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
  readonly onForwardError?: (e: unknown, bpp: string, msg: BecknMessage) => void;
}

/** The BPPs a search goes to: SUBSCRIBED and inside their key validity, of the search's domain. */
export const searchTargets = async (registry: Registry, msg: BecknMessage, nowMs: number): Promise<Subscription[]> => {
  const c = msg.context;
  const found = await registry.lookup({
    type: 'BPP',
    domain: c.domain,
    ...(c.bpp_id ? { subscriber_id: c.bpp_id } : {}),
  });
  const live = found.filter((s) => {
    try {
      checkSubscription(s, nowMs);
      return true;
    } catch {
      return false;
    }
  });
  // One target per subscriber even when it has several keys registered (key rotation).
  return [...new Map(live.map((s) => [s.subscriber_id, s])).values()];
};

const forward = async (o: GatewayOptions, i: Inbound, bpp: Subscription): Promise<void> => {
  const c = i.msg.context;
  const ttl = durationSeconds(c.ttl ?? 'PT30S') ?? 30;
  const deadline = Date.parse(c.timestamp) + ttl * 1000;
  const body = i.raw.toString('utf8');
  const url = `${bpp.subscriber_url.replace(/\/+$/, '')}/search`;
  const gatewayAuthorization = signatureHeader(body, o.signer, o.now(), ttl);
  const sent = await postWithRetry(
    url,
    body,
    { Authorization: i.authorization, 'X-Gateway-Authorization': gatewayAuthorization },
    deadline,
    {
      now: o.now,
      timeoutMs: o.timeoutMs ?? 10_000,
      ...(o.retry ? { retry: o.retry } : {}),
    },
  );
  const r = sent.result;
  await o.store.appendAudit({
    kind: 'beckn.out',
    at: o.now(),
    actor: o.signer.subscriberId,
    transactionId: c.transaction_id,
    messageId: c.message_id,
    payload: {
      action: 'search',
      to: bpp.subscriber_id,
      url,
      body,
      authorization: i.authorization,
      gatewayAuthorization,
      attempts: sent.attempts,
      ...(r
        ? { httpStatus: r.status, response: r.text.slice(0, 4096), ackSignature: r.signature }
        : { reason: sent.failure?.message }),
      outcome: r ? (r.status === 200 ? 'ACK' : 'NACK') : 'unreachable',
    },
  });
  if (!r) throw sent.failure ?? new FlexError('FLX_PEER_UNREACHABLE', `search to ${url}: the ttl ran out`);
  if (o.ackResolver) await verifyAck(r.text, r.signature, o.ackResolver, bpp.subscriber_id, o.now());
  if (r.status !== 200)
    throw new FlexError(
      'FLX_PEER_NACK',
      `${bpp.subscriber_id} refused the search: HTTP ${r.status} ${r.text.slice(0, 200)}`,
    );
};

export interface Gateway {
  readonly app: FastifyInstance;
}

/** A gateway app with /search (fan-out) and /on_search (40001: callbacks go to the BAP directly). */
export const createGateway = (o: GatewayOptions): Gateway => {
  const app = Fastify({ logger: false });
  registerReceiver(app, {
    subscriberId: o.signer.subscriberId,
    role: 'BG',
    resolver: o.resolver,
    store: o.store,
    now: o.now,
    ackSigner: o.signer,
    ...(o.journal ? { journal: o.journal } : {}),
    ...(o.signatureCheck ? { signatureCheck: o.signatureCheck } : {}),
    onBackgroundError: () => {},
    handlers: {
      search: async (i) => {
        if (i.sender.type !== 'BAP')
          throw new FlexError(
            'FLX_SIG_WRONG_SUBSCRIBER',
            `${i.sender.subscriberId} is registered as ${i.sender.type}; only a BAP may search through the gateway`,
          );
        const targets = await searchTargets(o.registry, i.msg, o.now());
        if (targets.length === 0)
          throw new FlexError(
            'FLX_REQ_CONTEXT',
            `no BPP of domain ${i.msg.context.domain}${i.msg.context.bpp_id ? ` named ${i.msg.context.bpp_id}` : ''} is subscribed`,
            { path: 'context.domain' },
          );
        return async () => {
          const results = await Promise.allSettled(targets.map((bpp) => forward(o, i, bpp)));
          results.forEach((res, k) => {
            if (res.status === 'rejected')
              o.onForwardError?.(res.reason, (targets[k] as Subscription).subscriber_id, i.msg);
          });
        };
      },
    },
  });
  return { app };
};
