// Beckn signatures cover the exact body bytes, so every signed endpoint receives the raw Buffer and
// parses it itself after verification. Safe to call more than once on one app.
import type { FastifyInstance } from 'fastify';

export const useRawJsonBody = (app: FastifyInstance, bodyLimit = 8 * 1024 * 1024): void => {
  if (app.hasContentTypeParser('application/json')) app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_r, body, done) => done(null, body));
};
