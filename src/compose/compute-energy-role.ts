// What the two compute-energy roles (compute-energy.ts) share: each is a native Beckn 2.0 endpoint
// with its own key, store, app and registry record, registered in the DEG compute-energy domain with
// `beckn_version: "2.0.0"` and its 2.0 base URL (<url>/v2) as `subscriber_url` (versions.ts: a 2.0
// record's URL is its 2.0 base), answering the registry's on_subscribe challenge there.
import Fastify, { type FastifyInstance } from 'fastify';
import { HttpRegistry } from '../adapters/registry-http/client.ts';
import { useRawJsonBody } from '../beckn/raw-body.ts';
import { registerOnSubscribe } from '../beckn/registry/on-subscribe.ts';
import { V2_PATH } from '../beckn/v2/receiver.ts';
import type { LogLevel } from '../log.ts';
import type { Signer, Store, Subscription } from '../ports.ts';
import { registryCacheMs, type KeysConfig, type ListenConfig, type RegistryRef, type StoreConfig } from './config.ts';
import { assertPortFree, listenOn, makeKeys, openStore, subscriptionOf } from './parts.ts';

/** The network domain of DEG compute-energy (the DEG examples' context.domain). */
export const COMPUTE_ENERGY_DOMAIN = 'beckn.one:DEG:compute-energy:1.0';

export interface RoleConfig {
  readonly id: string;
  readonly listen: ListenConfig;
  readonly store: StoreConfig;
  readonly keys: KeysConfig;
  readonly registry: RegistryRef;
  readonly logLevel: LogLevel;
}

/** A role's app, store, signer and registry client, listening, and subscribed as a 2.0 participant. */
export const startRole = async (
  c: RoleConfig,
  type: Subscription['type'],
  actor: string,
  mount: (
    app: FastifyInstance,
    p: { signer: Signer; store: Store; registry: HttpRegistry; uri: () => string },
  ) => Promise<void> | void,
  now: () => number,
) => {
  await assertPortFree(c.listen);
  const signer = await makeKeys(c.keys).signer(c.id);
  const store = await openStore(c.store, actor);
  const registry = new HttpRegistry({ url: c.registry.url, now, cacheTtlMs: registryCacheMs(c.registry) }, signer);
  const app = Fastify({ logger: false });
  useRawJsonBody(app);
  // registry.yaml: the challenge goes to <subscriber_url>/on_subscribe, and the URL registered is the
  // 2.0 base.
  await app.register(async (v2) => registerOnSubscribe(v2, registry), { prefix: V2_PATH });
  await mount(app, { signer, store, registry, uri: () => c.listen.publicUrl });
  // Liveness for an operator's probe, as the other roles answer it.
  app.get('/health', async () => ({ ok: true, role: actor, id: c.id }));
  const close = async () => {
    await app.close();
    await store.close();
  };
  try {
    await listenOn(app, c.listen);
    if (c.registry.subscribe)
      await registry.subscribe({
        ...subscriptionOf(signer, type, `${c.listen.publicUrl.replace(/\/+$/, '')}${V2_PATH}`, now()),
        domain: COMPUTE_ENERGY_DOMAIN,
        beckn_version: '2.0.0',
      });
  } catch (e) {
    await close();
    throw e;
  }
  return { signer, store, registry, close };
};
