// The operator-internal link between the Flexibility Orchestrator and its Compute-Flex agents:
// JSON over HTTP, each request signed exactly as a Beckn message is (BECKN-006), verified against a
// fixed list of trusted keys. Agents can therefore run on their clusters' own hosts. The bodies are
// those of flexlon-link/1 (link-protocol.ts); the HTTP implementations of the AgentLink and
// ProviderLink ports below check every answer before returning it.
import type { FastifyInstance } from 'fastify';
import { toNack } from '../beckn/ack.ts';
import { postSigned } from '../beckn/http.ts';
import type { KeyResolver, ResolvedKey } from '../beckn/key-resolver.ts';
import { verifyRequest } from '../beckn/verify.ts';
import { asFlexError, FlexError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { AgentLink, ProviderLink, Signer, Store } from '../ports.ts';
import {
  LINK_PATHS,
  parseDispatchMessage,
  parseDispatchResults,
  parseSlotReadings,
  versioned,
} from './link-protocol.ts';

export interface LinkOptions {
  readonly resolver: KeyResolver;
  readonly now: () => number;
  readonly store: Store;
  readonly actor: string;
  /** Where a fault behind a request is logged: the peer sees only "internal error". */
  readonly log?: Logger;
}

/** POST `path`: verify the signature over the raw body, parse, run the handler, reply with its JSON. */
export const signedRoute = <T>(
  app: FastifyInstance,
  path: string,
  o: LinkOptions,
  handler: (body: unknown, sender: ResolvedKey) => Promise<T>,
): void => {
  app.post(path, async (req, reply) => {
    const raw = req.body as Buffer;
    try {
      const { key } = await verifyRequest(raw, req.headers.authorization, o.resolver, o.now());
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new FlexError('FLX_REQ_INVALID_JSON');
      }
      return reply.send(await handler(body, key));
    } catch (e) {
      const nack = toNack(e);
      // The peer sees only "internal error"; the operator needs the cause (as for Beckn requests).
      if (nack.error.code === 'FLX_INTERNAL')
        o.log?.error(
          { path, error: asFlexError(e).message, stack: (e as Error | undefined)?.stack },
          'internal error answering a link request',
        );
      await o.store.appendAudit({
        kind: 'beckn.rejected',
        at: o.now(),
        actor: o.actor,
        payload: { path, code: nack.error.code, reason: nack.error.message },
      });
      return reply.code(nack.http).send(nack.body);
    }
  });
};

export const callSigned = async <T>(
  url: string,
  payload: unknown,
  signer: Signer,
  now: () => number,
  timeoutMs = 10_000,
): Promise<T> => {
  const r = await postSigned(url, JSON.stringify(payload), { signer, nowMs: now(), lifetimeSeconds: 60, timeoutMs });
  let body: unknown;
  try {
    body = JSON.parse(r.text);
  } catch {
    throw new FlexError('FLX_PEER_NACK', `${url} answered HTTP ${r.status} with a body that is not JSON`);
  }
  if (r.status !== 200) {
    const err = (body as { error?: { message?: string } }).error;
    throw new FlexError('FLX_PEER_NACK', `${url} refused: HTTP ${r.status} ${err?.message ?? ''}`.trim());
  }
  return body as T;
};

/** The provider's side of the link over signed HTTP: each agent is addressed by its base URL. */
export const httpAgentLink = (signer: Signer, now: () => number): AgentLink => ({
  dispatch: async (agentUrl, message) =>
    parseDispatchResults(await callSigned(`${agentUrl}${LINK_PATHS.dispatch}`, versioned(message), signer, now)),
  baseline: async (agentUrl, read) =>
    parseSlotReadings(await callSigned(`${agentUrl}${LINK_PATHS.baseline}`, versioned(read), signer, now)),
  meter: async (agentUrl, read) =>
    parseSlotReadings(await callSigned(`${agentUrl}${LINK_PATHS.meter}`, versioned(read), signer, now)),
});

/** The agent's side of the link over signed HTTP, to the orchestrator at `orchestratorUrl`. */
export const httpProviderLink = (orchestratorUrl: string, signer: Signer, now: () => number): ProviderLink => ({
  report: async (report) =>
    parseDispatchMessage(await callSigned(`${orchestratorUrl}${LINK_PATHS.report}`, versioned(report), signer, now)),
});
