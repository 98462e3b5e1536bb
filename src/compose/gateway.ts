// A Beckn gateway (BG) as a role: fans a BAP's search out to every BPP of the domain, GET /health.
import { HttpRegistry } from '../adapters/registry-http/client.ts';
import { createGateway } from '../beckn/gateway.ts';
import { registryKeyResolver } from '../beckn/key-resolver.ts';
import { useRawJsonBody } from '../beckn/raw-body.ts';
import { registerOnSubscribe } from '../beckn/registry/on-subscribe.ts';
import { asFlexError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../ports.ts';
import { registryCacheMs, type GatewayConfig } from './config.ts';
import {
  assertPortFree,
  listenOn,
  makeKeys,
  makeLogger,
  openJournal,
  openStore,
  subscriptionOf,
  verifierPool,
  type RunningRole,
} from './parts.ts';

export interface ComposedGateway extends RunningRole {
  readonly store: Store;
}

export const composeGateway = async (
  c: GatewayConfig,
  shared: { readonly log?: Logger; readonly now?: () => number } = {},
): Promise<ComposedGateway> => {
  const log = shared.log ?? makeLogger(c.logLevel, { agent: 'gateway', id: c.id });
  const now = shared.now ?? Date.now;
  await assertPortFree(c.listen);
  const signer = await makeKeys(c.keys).signer(c.id);
  const store = await openStore(c.store, 'gateway');
  // Signed chain heads (issue 17): the audit log holds against someone who can write the database.
  store.signHeadsWith?.(signer, now);
  const journal = await openJournal(c.journal, store, c.store);
  const pool = verifierPool(c.verifyThreads);
  // Signed lookups, and the subscription with its on_subscribe challenge (registry.yaml).
  const registry = new HttpRegistry({ url: c.registry.url, now, cacheTtlMs: registryCacheMs(c.registry) }, signer);
  const resolver = registryKeyResolver(registry);
  const gateway = createGateway({
    signer,
    registry,
    resolver,
    ackResolver: resolver,
    store,
    ...(journal.journal ? { journal: journal.journal } : {}),
    ...(pool ? { signatureCheck: pool.check } : {}),
    ...(c.rateLimit === undefined ? {} : { rateLimit: c.rateLimit }),
    now,
    onForwardError: (e, to, msg) =>
      log.error(
        {
          to,
          transaction_id: msg.context.transaction_id,
          message_id: msg.context.message_id,
          error: asFlexError(e).message,
        },
        `${msg.context.action === 'on_search' ? 'relaying the on_search' : 'forwarding the search'} failed`,
      ),
    onRelayed: (leg, msg) =>
      log.info(
        {
          action: leg.action,
          to: leg.to,
          from: msg.context.action === 'search' ? msg.context.bap_id : msg.context.bpp_id,
          transaction_id: msg.context.transaction_id,
          message_id: msg.context.message_id,
          attempts: leg.attempts,
        },
        leg.action === 'search' ? 'search forwarded (ACK)' : 'on_search relayed to the BAP (ACK)',
      ),
  });
  useRawJsonBody(gateway.app);
  registerOnSubscribe(gateway.app, registry);
  gateway.app.get('/health', async () => ({ ok: true, role: 'gateway', id: c.id, store: store.location }));
  let url: string;
  try {
    url = await listenOn(gateway.app, c.listen);
    if (c.registry.subscribe) await registry.subscribe(subscriptionOf(signer, 'BG', url, now()));
  } catch (e) {
    await gateway.app.close();
    await journal.close();
    await pool?.close();
    await store.close();
    throw e;
  }
  log.info({ url }, 'gateway ready');
  return {
    url,
    store,
    description: `gateway (BG) ${c.id} on ${url}`,
    stop: async () => {
      await gateway.app.close();
      await journal.close();
      await pool?.close();
      await store.close();
    },
  };
};
