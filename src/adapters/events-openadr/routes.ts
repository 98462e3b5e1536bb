// HTTP routes through which a grid-side system (a DSO flexibility platform, an aggregator's VTN)
// gives the Grid Orchestrator its programs and events, OpenADR 3 style: POST /openadr/programs,
// POST /openadr/events (201 with the stored object, id assigned), GET the lists and single events.
// Every request needs `Authorization: Bearer <token>`; errors are problem JSON (RFC 9457, as OpenADR
// 3 uses) carrying the FLX code.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FlexError, asFlexError } from '../../errors.ts';
import { parseJsonText } from '../../formats/json.ts';
import type { GridEventStore } from './store.ts';

export interface GridEventRouteOptions {
  readonly events: GridEventStore;
  /** The bearer token callers must present. */
  readonly token: string;
}

const problem = (reply: FastifyReply, e: unknown) => {
  const err = asFlexError(e);
  const status = err.http;
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: 'about:blank',
      title: err.code,
      status,
      detail: err.code === 'FLX_INTERNAL' ? 'internal error' : err.message,
      ...(err.path ? { path: err.path } : {}),
    });
};

const authorised = (req: FastifyRequest, token: string): void => {
  const got = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const a = Buffer.from(got);
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    throw new FlexError(
      'FLX_EVENT_UNAUTHORIZED',
      "send Authorization: Bearer <token> with the Grid Orchestrator's OpenADR token",
    );
};

const bodyOf = (req: FastifyRequest): unknown => {
  const raw = req.body;
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : '';
  try {
    return parseJsonText(text, 'request body');
  } catch (e) {
    throw new FlexError('FLX_EVENT_INVALID', (e as Error).message);
  }
};

export const registerGridEventRoutes = (app: FastifyInstance, o: GridEventRouteOptions): void => {
  const guard =
    (fn: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        authorised(req, o.token);
        return await fn(req, reply);
      } catch (e) {
        return problem(reply, e);
      }
    };
  const from = (req: FastifyRequest) => `POST ${req.url} from ${req.ip}`;
  app.post(
    '/openadr/programs',
    guard(async (req, reply) => reply.code(201).send(await o.events.addProgram(bodyOf(req), from(req)))),
  );
  app.post(
    '/openadr/events',
    guard(async (req, reply) => reply.code(201).send(await o.events.addEvent(bodyOf(req), from(req)))),
  );
  app.get(
    '/openadr/programs',
    guard(async () => o.events.programs()),
  );
  app.get(
    '/openadr/events',
    guard(async () => o.events.events()),
  );
  app.get(
    '/openadr/events/:id',
    guard(async (req) => {
      const id = (req.params as { id: string }).id;
      const e = await o.events.event(id);
      if (!e) throw new FlexError('FLX_EVENT_NOT_FOUND', `no event with id ${id}`);
      return e;
    }),
  );
};
