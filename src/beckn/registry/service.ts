// A small Beckn registry (registry.yaml: POST /subscribe, POST /lookup) for loopback and test
// networks. It is an *open* registry: a subscription that passes the signature rules of rules.ts
// becomes SUBSCRIBED at once; a production network's registry also runs the on_subscribe challenge
// and an admin approval (docs/beckn.md says what this one leaves out). Every change is audited.
import Fastify, { type FastifyInstance } from 'fastify';
import { FlexError } from '../../errors.ts';
import type { Store, Subscription } from '../../ports.ts';
import { toNack } from '../ack.ts';
import { useRawJsonBody } from '../raw-body.ts';
import { staticKeyResolver } from '../key-resolver.ts';
import { verifyRequest } from '../verify.ts';
import { matches, parseLookup, parseSubscription, toWire, whoMaySign } from './rules.ts';

export interface RegistryService {
  readonly app: FastifyInstance;
  readonly entries: () => Subscription[];
}

type Stored = Subscription & { created: string; updated: string };

const trusted = (subs: readonly Subscription[]) =>
  staticKeyResolver(
    subs.map((s) => ({
      subscriberId: s.subscriber_id,
      uniqueKeyId: s.unique_key_id,
      publicKeyBase64: s.signing_public_key,
      url: s.subscriber_url,
    })),
  );

const parseJson = (raw: Buffer): unknown => {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new FlexError('FLX_REQ_INVALID_JSON');
  }
};

export const createRegistryService = async (o: { store: Store; now: () => number }): Promise<RegistryService> => {
  const saved = (await o.store.getDocument<Stored[]>('registry', 'subscriptions')) ?? [];
  const entries = new Map(saved.map((s) => [`${s.subscriber_id}|${s.unique_key_id}`, s]));
  const app = Fastify({ logger: false });
  useRawJsonBody(app, 256 * 1024);
  const fail = (reply: { code(n: number): { send(b: unknown): unknown } }, e: unknown) => {
    const n = toNack(e);
    return reply.code(n.http).send(n.body);
  };

  app.post('/subscribe', async (req, reply) => {
    try {
      const raw = req.body as Buffer;
      const sub = parseSubscription(parseJson(raw));
      const now = o.now();
      const auth = whoMaySign(sub, [...entries.values()], now);
      // Proof of possession (and, for an update, that the subscriber's own key asks for it).
      await verifyRequest(raw, req.headers.authorization, trusted(auth.authorization), now);
      if (auth.subscriberAuthorization) {
        const header = req.headers['x-subscriber-authorization'];
        if (typeof header !== 'string')
          throw new FlexError(
            'FLX_SIG_MISSING',
            `${sub.subscriber_id} already has a valid key: adding key ${sub.unique_key_id} needs X-Subscriber-Authorization signed by one of its current keys`,
          );
        await verifyRequest(raw, header, trusted(auth.subscriberAuthorization), now);
      }
      const key = `${sub.subscriber_id}|${sub.unique_key_id}`;
      const stored: Stored = {
        ...sub,
        created: entries.get(key)?.created ?? new Date(now).toISOString(),
        updated: new Date(now).toISOString(),
      };
      entries.set(key, stored);
      await o.store.putDocument('registry', 'subscriptions', [...entries.values()]);
      await o.store.appendAudit({
        kind: 'agent',
        at: now,
        actor: 'registry',
        payload: { event: 'subscribed', subscription: stored, authorization: req.headers.authorization ?? null },
      });
      return reply.send({ status: sub.status });
    } catch (e) {
      return fail(reply, e);
    }
  });

  app.post('/lookup', async (req, reply) => {
    try {
      const q = parseLookup(parseJson(req.body as Buffer));
      return reply.send([...entries.values()].filter((s) => matches(s, q)).map(toWire));
    } catch (e) {
      return fail(reply, e);
    }
  });

  return { app, entries: () => [...entries.values()] };
};
