// A subscriber's /on_subscribe endpoint (registry.yaml): the registry posts its challenge, signed by
// its key and encrypted for the subscriber's encr_public_key; the answer is the decrypted challenge.
// The work is done by whoever subscribed (HttpRegistry.answerChallenge, which holds the encryption
// key); this only routes it. Mounted on the participant's app, at its subscriber_url.
import type { FastifyInstance } from 'fastify';
import { toNack } from '../ack.ts';

export interface ChallengeAnswerer {
  /** Verifies the registry's signature over `raw`, decrypts the challenge and returns registry.yaml's `{ answer }`. */
  answerChallenge(raw: Buffer, authorization: string | undefined): Promise<{ answer: string }>;
}

/** `base`: the path the subscriber_url adds to the app's root ('' or, for a 2.0 record, '/v2'). */
export const registerOnSubscribe = (app: FastifyInstance, subscriber: ChallengeAnswerer, base = ''): void => {
  app.post(`${base}/on_subscribe`, async (req, reply) => {
    try {
      // The signature covers the exact bytes: the app must keep them (useRawJsonBody).
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.from(JSON.stringify(req.body ?? null));
      return reply.send(await subscriber.answerChallenge(raw, req.headers.authorization));
    } catch (e) {
      const n = toNack(e);
      return reply.code(n.http).send(n.body);
    }
  });
};
