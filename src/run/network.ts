// `flexlon run registry` and `flexlon run gateway`: the network's registry (subscriptions and key
// lookup, registry.yaml) and a Beckn gateway (BG) that fans a BAP's search out to every BPP of the
// domain. Config: registry {"listen", "store", "logLevel"?}; gateway {"id", "listen", "publicUrl"?,
// "store", "keys", "registry": {"url", "subscribe"?}, "logLevel"?}. Both answer GET /health.
import { HttpRegistry } from '../adapters/registry-http/client.ts';
import { FLEXLON_DOMAIN } from '../beckn/context.ts';
import { createGateway } from '../beckn/gateway.ts';
import { registryKeyResolver } from '../beckn/key-resolver.ts';
import { useRawJsonBody } from '../beckn/raw-body.ts';
import { createRegistryService } from '../beckn/registry/service.ts';
import { asFlexError } from '../errors.ts';
import type { Signer, Subscription } from '../ports.ts';
import type { ConfigReader } from './config-reader.ts';
import { listenOn, readKeys, readListen, readLogger, readStore, type RunningRole } from './common.ts';

export const startRegistry = async (c: ConfigReader): Promise<RunningRole> => {
  const listen = readListen(c);
  const openStore = readStore(c, 'registry');
  const log = readLogger(c, { agent: 'registry' });
  c.optionalString('role');
  c.done();
  const store = await openStore();
  const service = await createRegistryService({ store, now: () => Date.now() });
  service.app.get('/health', async () => ({
    ok: true,
    role: 'registry',
    store: store.location,
    subscriptions: service.entries().length,
  }));
  try {
    await listenOn(service.app, listen);
  } catch (e) {
    await store.close();
    throw e;
  }
  log.info({ url: listen.publicUrl, store: store.location }, 'registry ready');
  return {
    url: listen.publicUrl,
    description: `registry on ${listen.publicUrl}, store ${store.location}`,
    stop: async () => {
      await service.app.close();
      await store.close();
    },
  };
};

export const subscriptionOf = (signer: Signer, type: Subscription['type'], url: string, now: number): Subscription => ({
  subscriber_id: signer.subscriberId,
  subscriber_url: url,
  type,
  domain: FLEXLON_DOMAIN,
  unique_key_id: signer.uniqueKeyId,
  signing_public_key: signer.publicKeyBase64,
  valid_from: new Date(now - 60_000).toISOString(),
  valid_until: new Date(now + 365 * 86_400_000).toISOString(),
  status: 'SUBSCRIBED',
});

export const startGateway = async (c: ConfigReader): Promise<RunningRole> => {
  const id = c.string('id');
  const listen = readListen(c);
  const openStore = readStore(c, 'gateway');
  const keys = readKeys(c);
  const reg = c.object('registry');
  const registryUrl = reg.url('url');
  const subscribe = reg.boolean('subscribe', true);
  reg.done();
  const log = readLogger(c, { agent: 'gateway', id });
  c.optionalString('role');
  c.done();
  const signer = await keys.signer(id);
  const store = await openStore();
  const now = () => Date.now();
  const registry = new HttpRegistry({ url: registryUrl, now, cacheTtlMs: 30_000 });
  const resolver = registryKeyResolver(registry);
  const gateway = createGateway({
    signer,
    registry,
    resolver,
    ackResolver: resolver,
    store,
    now,
    onForwardError: (e, to, msg) =>
      log.error(
        {
          to,
          transaction_id: msg.context.transaction_id,
          message_id: msg.context.message_id,
          error: asFlexError(e).message,
        },
        'forwarding the search failed',
      ),
  });
  useRawJsonBody(gateway.app);
  gateway.app.get('/health', async () => ({ ok: true, role: 'gateway', id, store: store.location }));
  try {
    await listenOn(gateway.app, listen);
    if (subscribe)
      await new HttpRegistry({ url: registryUrl, now }, signer).subscribe(
        subscriptionOf(signer, 'BG', listen.publicUrl, now()),
      );
  } catch (e) {
    await gateway.app.close();
    await store.close();
    throw e;
  }
  log.info({ url: listen.publicUrl }, 'gateway ready');
  return {
    url: listen.publicUrl,
    description: `gateway (BG) ${id} on ${listen.publicUrl}`,
    stop: async () => {
      await gateway.app.close();
      await store.close();
    },
  };
};
