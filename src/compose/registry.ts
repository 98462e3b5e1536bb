// The network's registry as a role: subscriptions and key lookup (registry.yaml), GET /health.
import { OPEN_REGISTRY, createRegistryService } from '../beckn/registry/service.ts';
import type { Store } from '../ports.ts';
import type { RegistryConfig } from './config.ts';
import { assertPortFree, listenOn, makeLogger, openStore, type RunningRole } from './parts.ts';

export interface ComposedRegistry extends RunningRole {
  readonly store: Store;
}

export const composeRegistry = async (c: RegistryConfig, now: () => number = Date.now): Promise<ComposedRegistry> => {
  const log = makeLogger(c.logLevel, { agent: 'registry' });
  await assertPortFree(c.listen);
  const store = await openStore(c.store, 'registry');
  // Still the open policy (SUBSCRIBED at once, unsigned lookups): the roles answer the registry.yaml
  // challenge and sign their lookups, but test networks outside src (test/resilience, test helpers)
  // register peers at URLs that do not answer and look up unsigned. docs/beckn.md, Registry.
  const service = await createRegistryService({ store, now, policy: OPEN_REGISTRY, log });
  service.app.get('/health', async () => ({
    ok: true,
    role: 'registry',
    store: store.location,
    subscriptions: service.entries().length,
  }));
  let url: string;
  try {
    url = await listenOn(service.app, c.listen);
  } catch (e) {
    await store.close();
    throw e;
  }
  log.info({ url, store: store.location }, 'registry ready');
  return {
    url,
    store,
    description: `registry on ${url}, store ${store.location}`,
    stop: async () => {
      await service.app.close();
      await store.close();
    },
  };
};
