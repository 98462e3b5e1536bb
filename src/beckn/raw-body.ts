// Beckn signatures cover the exact body bytes, so every signed endpoint receives the raw Buffer
// (useRawJsonBody; safe to call more than once on one app), takes it as bytes (rawBodyOf) and parses
// it itself after verification (parseBody).
//
// What the web framework refuses before any route runs (a body over the limit, a Content-Type it
// cannot read, a broken Content-Length) is answered as a coded NACK too, not the framework's own
// `{statusCode, code: "FST_…"}` JSON (issue 14: every refusal is a coded NACK; the resilience suite
// found these at the registry, the agent and for unreadable Content-Types at the BPP).
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { FlexError } from '../errors.ts';
import { toNack } from './ack.ts';
import type { BecknMessage } from './context.ts';

/** The raw JSON body limit of a Beckn endpoint (8 MiB); the registry passes a smaller one. */
export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

/** The deepest JSON nesting accepted; Beckn core 1.1 messages nest about 12 levels. */
export const MAX_JSON_DEPTH = 64;

const withCodedRefusals = new WeakSet<FastifyInstance>();
/** Refusals raised while reading a body (before any route runs), answered by the error handler. */
const bodyRefusals = new WeakSet<Error>();

/** A refusal by the framework's body parsing (FST_ERR_CTP_*) as a FlexError; undefined for anything else. */
const asRefusal = (e: FastifyError): FlexError | undefined => {
  if (bodyRefusals.has(e)) return e as unknown as FlexError;
  if (!String(e.code ?? '').startsWith('FST_ERR_CTP_') && e.statusCode !== 413 && e.statusCode !== 415)
    return undefined;
  if (e.statusCode === 413)
    return new FlexError('FLX_REQ_TOO_LARGE', `the body is larger than this endpoint accepts: ${e.message}`);
  if (e.statusCode === 415)
    return new FlexError(
      'FLX_REQ_MEDIA_TYPE',
      'the body is not application/json: send the message as JSON with Content-Type: application/json',
    );
  return new FlexError('FLX_REQ_INVALID_JSON', `the request could not be read: ${e.message}`);
};

/**
 * A content-type parser's body callback that hands the raw bytes on, or refuses JSON nested deeper than
 * MAX_JSON_DEPTH. Checked here, for every role's every endpoint (Beckn, registry, provider–agent link),
 * whatever parser read the bytes: a link route also reads what the receiver's catch-all parser takes
 * (a 28,000-deep array sent as text/plain to /internal/agent/report was HTTP 500).
 */
export const depthCheckedBody = (
  _req: unknown,
  body: Buffer | string,
  done: (err: Error | null, body?: unknown) => void,
): void => {
  try {
    assertJsonDepth(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  } catch (e) {
    bodyRefusals.add(e as Error);
    done(e as Error, undefined);
    return;
  }
  done(null, body);
};

export const useRawJsonBody = (app: FastifyInstance, bodyLimit = DEFAULT_BODY_LIMIT): void => {
  if (app.hasContentTypeParser('application/json')) app.removeContentTypeParser('application/json');
  // The framework reads text/plain as a string by default, which let a text/plain body past the
  // checks below into a signed link route (a 200,000-deep array there: HTTP 500, found by the
  // resilience suite). Only JSON is read; anything else is refused (FLX_REQ_MEDIA_TYPE).
  if (app.hasContentTypeParser('text/plain')) app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, depthCheckedBody);
  if (withCodedRefusals.has(app)) return;
  withCodedRefusals.add(app);
  // A POST with no body at all reaches a route with no body (undefined), which a signed route then
  // hashed: HTTP 500 at the agent's link endpoints (found by the resilience suite). Every route sees
  // bytes instead, empty when nothing was sent, and refuses them as it refuses any bad body.
  app.addHook('preValidation', async (req) => {
    if (req.method === 'POST' && req.body === undefined) req.body = Buffer.alloc(0);
  });
  app.setErrorHandler(async (e: FastifyError, _req, reply) => {
    const refusal = asRefusal(e);
    // Errors from a route itself keep the framework's default answer (each route answers its own).
    if (!refusal) throw e;
    const nack = toNack(refusal);
    await reply.code(nack.http).type('application/json').send(nack.body);
  });
};

/**
 * Throws FLX_REQ_INVALID_JSON when the JSON text nests deeper than `max` arrays and objects. A linear
 * scan of the bytes before JSON.parse: a body of 100,000 nested arrays parses, but anything that then
 * walks it recursively (JSON.stringify for the audit trail, schema validation) overflows the stack.
 */
export const assertJsonDepth = (raw: Uint8Array, max = MAX_JSON_DEPTH): void => {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max)
        throw new FlexError('FLX_REQ_INVALID_JSON', `the body nests deeper than ${max} levels of arrays and objects`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
};

/** The request's raw bytes, or a coded refusal when there is no JSON body (empty, text/plain, another type). */
export const rawBodyOf = (req: FastifyRequest): Buffer => {
  const type = /^\s*([^;\s]*)/.exec(String(req.headers['content-type'] ?? ''))?.[1]?.toLowerCase() ?? '';
  if (Buffer.isBuffer(req.body) && req.body.length > 0 && type === 'application/json') return req.body;
  const none = req.body === undefined || (Buffer.isBuffer(req.body) && req.body.length === 0);
  const what = none ? 'the request has no body' : `the body is ${type || 'of no stated type'}`;
  throw new FlexError('FLX_REQ_MEDIA_TYPE', `${what}: send it as JSON with Content-Type: application/json`);
};

/** The body as JSON, or FLX_REQ_INVALID_JSON. */
export const parseBody = <T = BecknMessage>(raw: Buffer): T => {
  try {
    return JSON.parse(raw.toString('utf8')) as T;
  } catch (e) {
    throw new FlexError('FLX_REQ_INVALID_JSON', `the body is not valid JSON: ${(e as Error).message}`);
  }
};
