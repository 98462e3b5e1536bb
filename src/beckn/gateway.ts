// A Beckn gateway (BG) for FlexLon networks. It receives a BAP's search through the same receiver
// pipeline as any participant (verify → schema → context/ttl → dedupe → audit → signed ACK), then
// forwards the exact bytes to every BPP subscribed in the registry for the search's domain (or only
// the BPP named in context.bpp_id), with the BAP's Authorization header untouched and its own
// X-Gateway-Authorization over the same bytes (BECKN-006 Step 3: expires − created = the ttl).
// A BPP may answer on_search straight to the BAP's bap_uri or through the gateway; an on_search
// posted to the gateway is relayed to the BAP the same way (BECKN-006 Steps 7–9).
import Fastify, { type FastifyInstance } from 'fastify';
import { FlexError } from '../errors.ts';
import type { Registry, Signer, Store, Subscription } from '../ports.ts';
import { ACK_SIGNATURE_OPTIONAL, checkAck, type AckCheck, type AckPolicy } from './ack-signature.ts';
import { durationSeconds, type BecknMessage } from './context.ts';
import { signatureHeader } from './http.ts';
import type { InboundJournal } from './journal.ts';
import type { SignatureCheck } from './verify-pool.ts';
import { checkSubscription, type KeyResolver } from './key-resolver.ts';
import type { RateLimit } from './rate-limit.ts';
import type { Inbound } from './inbound.ts';
import { registerReceiver } from './receiver.ts';
import { postWithRetry, type RetryPolicy } from './retry.ts';
import { versionOfRecord } from './v2/versions.ts';

export interface GatewayOptions {
  readonly signer: Signer;
  readonly registry: Registry;
  readonly resolver: KeyResolver;
  readonly store: Store;
  readonly now: () => number;
  readonly journal?: InboundJournal;
  /** Signature arithmetic on worker threads (verify-pool.ts); on the event loop when absent. */
  readonly signatureCheck?: SignatureCheck;
  /** Verify a BPP's ACK signature, when present, with this resolver. */
  readonly ackResolver?: KeyResolver;
  /** Which BPPs must sign their ACKs (default: none, as core 1.1.1). */
  readonly ackPolicy?: AckPolicy;
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
  readonly onForwardError?: (e: unknown, bpp: string, msg: BecknMessage) => void;
  /**
   * After each leg is ACKed: what went where (the role's log line, so that one search can be
   * followed by its transaction_id across the BAP's, the gateway's and each BPP's logs).
   */
  readonly onRelayed?: (
    leg: { action: 'search' | 'on_search'; to: string; attempts: number },
    msg: BecknMessage,
  ) => void;
  /**
   * Requests a second per verified subscriber (receiver.ts ReceiverOptions.rateLimit): over it, 429
   * FLX_RATE_LIMITED with Retry-After, nothing forwarded. Absent or `false`: none.
   */
  readonly rateLimit?: RateLimit | false;
}

/**
 * The BPPs a search goes to: SUBSCRIBED and inside their key validity, of the search's domain, and
 * speaking 1.1.1. A record that says it speaks Beckn 2.0 (versions.ts) is left out: its URL is its
 * 2.0 base, where a 1.1.1 search would be refused, and 2.0 has no gateway (14_Signing "removes legacy
 * gateway-specific steps"): 2.0 buyers discover such a BPP directly.
 */
export const searchTargets = async (registry: Registry, msg: BecknMessage, nowMs: number): Promise<Subscription[]> => {
  const c = msg.context;
  const found = await registry.lookup({
    type: 'BPP',
    domain: c.domain,
    ...(c.bpp_id ? { subscriber_id: c.bpp_id } : {}),
  });
  const live = found.filter((s) => {
    if (versionOfRecord(s) === '2.0') return false;
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

/** One relay leg: where to, under which action, and who must answer its ACK. */
interface Leg {
  readonly action: 'search' | 'on_search';
  readonly to: Subscription;
}

/**
 * Sends the exact bytes received on to `leg.to` with the sender's Authorization untouched and the
 * gateway's own X-Gateway-Authorization over the same bytes (BECKN-006 Step 3 for search, Step 8 for
 * on_search; expires − created = the ttl), retried like the client inside the message's ttl, audited,
 * and the peer's ACK checked (its signature verified when present, required per ackPolicy).
 */
const relay = async (o: GatewayOptions, i: Inbound, leg: Leg): Promise<void> => {
  const c = i.msg.context;
  const ttl = durationSeconds(c.ttl ?? 'PT30S') ?? 30;
  const deadline = Date.parse(c.timestamp) + ttl * 1000;
  const body = i.raw.toString('utf8');
  const url = `${leg.to.subscriber_url.replace(/\/+$/, '')}/${leg.action}`;
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
  let ackCheck: AckCheck | 'not checked' = 'not checked';
  let refused: FlexError | undefined;
  if (r && o.ackResolver) {
    const rule = (o.ackPolicy ?? ACK_SIGNATURE_OPTIONAL)(leg.to.subscriber_id);
    try {
      ackCheck = await checkAck(r.text, r.signature, o.ackResolver, leg.to.subscriber_id, o.now(), rule);
    } catch (e) {
      if (!(e instanceof FlexError)) throw e;
      refused = e;
    }
  }
  const answered = r ? (r.status === 200 ? 'ACK' : 'NACK') : 'unreachable';
  await o.store.appendAudit({
    kind: 'beckn.out',
    at: o.now(),
    actor: o.signer.subscriberId,
    transactionId: c.transaction_id,
    messageId: c.message_id,
    payload: {
      action: leg.action,
      to: leg.to.subscriber_id,
      url,
      body,
      authorization: i.authorization,
      gatewayAuthorization,
      attempts: sent.attempts,
      ...(r
        ? {
            httpStatus: r.status,
            response: r.text.slice(0, 4096),
            ackSignature: r.signature,
            ackCheck: refused ? (r.signature ? 'bad signature refused' : 'unsigned ACK refused by policy') : ackCheck,
          }
        : {}),
      ...(refused || !r ? { reason: (refused ?? sent.failure)?.message } : {}),
      outcome: refused ? `${answered} refused (${refused.code})` : answered,
    },
  });
  if (!r) throw sent.failure ?? new FlexError('FLX_PEER_UNREACHABLE', `${leg.action} to ${url}: the ttl ran out`);
  if (refused) throw refused;
  if (r.status !== 200)
    throw new FlexError(
      'FLX_PEER_NACK',
      `${leg.to.subscriber_id} refused the ${leg.action}: HTTP ${r.status} ${r.text.slice(0, 200)}`,
    );
  o.onRelayed?.({ action: leg.action, to: leg.to.subscriber_id, attempts: sent.attempts }, i.msg);
};

/** The BAP an on_search is relayed to: context.bap_id, SUBSCRIBED as BAP and inside its key validity. */
export const callbackTarget = async (registry: Registry, msg: BecknMessage, nowMs: number): Promise<Subscription> => {
  const c = msg.context;
  const found = (await registry.lookup({ type: 'BAP', subscriber_id: c.bap_id })).find((s) => {
    try {
      checkSubscription(s, nowMs);
      return true;
    } catch {
      return false;
    }
  });
  if (!found)
    throw new FlexError('FLX_REQ_CONTEXT', `no BAP ${c.bap_id} is subscribed with a valid key`, {
      path: 'context.bap_id',
    });
  return found;
};

export interface Gateway {
  readonly app: FastifyInstance;
}

/** A gateway app with /search (fan-out to the BPPs) and /on_search (relayed to the BAP). */
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
    ...(o.rateLimit === undefined ? {} : { rateLimit: o.rateLimit }),
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
            `no BPP of domain ${i.msg.context.domain}${i.msg.context.bpp_id ? ` named ${i.msg.context.bpp_id}` : ''} is subscribed for Beckn 1.1.1 (one registered as 2.0 is searched directly, not through the gateway)`,
            { path: 'context.domain' },
          );
        return async () => {
          const results = await Promise.allSettled(targets.map((bpp) => relay(o, i, { action: 'search', to: bpp })));
          results.forEach((res, k) => {
            if (res.status === 'rejected')
              o.onForwardError?.(res.reason, (targets[k] as Subscription).subscriber_id, i.msg);
          });
        };
      },
      // BECKN-006 Steps 7–8: the receiver has verified the BPP's signature (Step 7: signer =
      // context.bpp_id, bpp_uri its registered URL); the gateway relays the exact bytes to the BAP
      // at the URL the registry holds for context.bap_id, adding its own X-Gateway-Authorization,
      // which the BAP checks (Step 9) before the BPP's own signature (Step 10).
      on_search: async (i) => {
        if (i.sender.type !== 'BPP')
          throw new FlexError(
            'FLX_SIG_WRONG_SUBSCRIBER',
            `${i.sender.subscriberId} is registered as ${i.sender.type}; only a BPP sends on_search`,
          );
        const bap = await callbackTarget(o.registry, i.msg, o.now());
        return async () => {
          try {
            await relay(o, i, { action: 'on_search', to: bap });
          } catch (e) {
            o.onForwardError?.(e, bap.subscriber_id, i.msg);
          }
        };
      },
    },
  });
  return { app };
};
