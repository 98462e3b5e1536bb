// A small Beckn registry (registry.yaml: POST /subscribe, POST /lookup) for loopback and test
// networks. It is an *open* registry: a subscription signed with the key it registers (proof of
// possession) becomes SUBSCRIBED at once. A production network's registry also runs the
// on_subscribe challenge and an admin approval; docs/beckn.md says what this one leaves out.
import Fastify, { type FastifyInstance } from 'fastify';
import { FlexError } from '../../errors.ts';
import type { LookupQuery, Store, Subscription } from '../../ports.ts';
import { toNack } from '../ack.ts';
import { useRawJsonBody } from '../raw-body.ts';
import { staticKeyResolver } from '../key-resolver.ts';
import { verifyRequest } from '../verify.ts';

const TYPES = ['BAP', 'BPP', 'BG'] as const;
const STATUSES = ['INITIATED', 'UNDER_SUBSCRIPTION', 'SUBSCRIBED', 'EXPIRED', 'UNSUBSCRIBED', 'INVALID_SSL'] as const;

const validSubscription = (x: unknown): Subscription => {
  const s = x as Record<string, unknown>;
  const need = (f: string): string => {
    if (typeof s?.[f] !== 'string' || s[f] === '') throw new FlexError('FLX_REQ_SCHEMA', `${f} is required and must be a string`, { path: f });
    return s[f] as string;
  };
  const type = need('type');
  if (!(TYPES as readonly string[]).includes(type)) throw new FlexError('FLX_REQ_SCHEMA', `type must be one of ${TYPES.join(', ')}`, { path: 'type' });
  const status = typeof s.status === 'string' ? s.status : 'SUBSCRIBED';
  if (!(STATUSES as readonly string[]).includes(status)) throw new FlexError('FLX_REQ_SCHEMA', `status must be one of ${STATUSES.join(', ')}`, { path: 'status' });
  for (const f of ['valid_from', 'valid_until']) if (Number.isNaN(Date.parse(need(f)))) throw new FlexError('FLX_REQ_SCHEMA', `${f} must be an RFC 3339 date-time`, { path: f });
  return {
    subscriber_id: need('subscriber_id'), subscriber_url: need('subscriber_url'), type: type as Subscription['type'], domain: need('domain'),
    unique_key_id: need('unique_key_id'), signing_public_key: need('signing_public_key'), valid_from: need('valid_from'), valid_until: need('valid_until'),
    status: status as Subscription['status'],
  };
};

const matches = (s: Subscription, q: LookupQuery): boolean =>
  (q.subscriber_id === undefined || q.subscriber_id === s.subscriber_id) &&
  (q.unique_key_id === undefined || q.unique_key_id === s.unique_key_id) &&
  (q.type === undefined || q.type === s.type) &&
  (q.domain === undefined || q.domain === s.domain);

export interface RegistryService {
  readonly app: FastifyInstance;
  readonly entries: () => Subscription[];
}

export const createRegistryService = async (o: { store: Store; now: () => number }): Promise<RegistryService> => {
  const saved = (await o.store.getDocument<Subscription[]>('registry', 'subscriptions')) ?? [];
  const entries = new Map(saved.map((s) => [`${s.subscriber_id}|${s.unique_key_id}`, s]));
  const app = Fastify({ logger: false });
  useRawJsonBody(app, 256 * 1024);

  app.post('/subscribe', async (req, reply) => {
    try {
      const raw = req.body as Buffer;
      let parsed: unknown;
      try { parsed = JSON.parse(raw.toString('utf8')); } catch { throw new FlexError('FLX_REQ_INVALID_JSON'); }
      const sub = validSubscription(parsed);
      // Proof of possession: the request must be signed by the very key being registered.
      await verifyRequest(raw, req.headers.authorization, staticKeyResolver([{ subscriberId: sub.subscriber_id, uniqueKeyId: sub.unique_key_id, publicKeyBase64: sub.signing_public_key, url: sub.subscriber_url }]), o.now());
      entries.set(`${sub.subscriber_id}|${sub.unique_key_id}`, sub);
      await o.store.putDocument('registry', 'subscriptions', [...entries.values()]);
      await o.store.appendAudit({ kind: 'agent', at: o.now(), actor: 'registry', payload: { event: 'subscribed', subscription: sub } });
      return reply.send({ status: sub.status });
    } catch (e) {
      const nack = toNack(e);
      return reply.code(nack.http).send(nack.body);
    }
  });

  app.post('/lookup', async (req, reply) => {
    let q: LookupQuery;
    try { q = JSON.parse((req.body as Buffer).toString('utf8')) as LookupQuery; } catch { const n = toNack(new FlexError('FLX_REQ_INVALID_JSON')); return reply.code(n.http).send(n.body); }
    if (typeof q !== 'object' || q === null) { const n = toNack(new FlexError('FLX_REQ_SCHEMA', 'the lookup body must be an object')); return reply.code(n.http).send(n.body); }
    return reply.send([...entries.values()].filter((s) => matches(s, q)));
  });

  return { app, entries: () => [...entries.values()] };
};
