// A small Beckn network on loopback for tests: a real registry service, participants with real keys
// subscribed through it (signed, proof of possession), real SQLite stores in a temporary folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { signerFromPrivateKey } from '../../src/adapters/keystore-file/keystore.ts';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { FLEXLON_DOMAIN } from '../../src/beckn/context.ts';
import { registryKeyResolver, type KeyResolver } from '../../src/beckn/key-resolver.ts';
import { generateKeyPair } from '../../src/beckn/keys.ts';
import { OPEN_REGISTRY, createRegistryService } from '../../src/beckn/registry/service.ts';
import type { Signer, Store, Subscription } from '../../src/ports.ts';

export const listen = async (app: FastifyInstance): Promise<string> => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
};

export interface TestNetwork {
  readonly dir: string;
  readonly registryUrl: string;
  /** A registry client without a cache, so tests see changes at once. */
  readonly registry: HttpRegistry;
  readonly resolver: KeyResolver;
  store(name: string): Promise<Store>;
  signer(id: string, keyId?: string): Signer;
  subscribe(s: Signer, type: Subscription['type'], url: string, patch?: Partial<Subscription>): Promise<Subscription>;
  /** An app whose close() is taken care of by stop(). */
  app(): FastifyInstance;
  stop(): Promise<void>;
}

export const startNetwork = async (): Promise<TestNetwork> => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-net-'));
  const stores: Store[] = [];
  const apps: FastifyInstance[] = [];
  const store = async (name: string) => {
    const s = await openSqliteStore(join(dir, `${name}.db`));
    stores.push(s);
    return s;
  };
  // Open (SUBSCRIBED at once, unsigned lookups): tests register peers at URLs that do not answer.
  // The registry.yaml onboarding is tested in test/beckn/registry-onboarding.test.ts.
  const service = await createRegistryService({ store: await store('registry'), now: Date.now, policy: OPEN_REGISTRY });
  apps.push(service.app);
  const registryUrl = await listen(service.app);
  const registry = new HttpRegistry({ url: registryUrl, now: Date.now, cacheTtlMs: 0 });
  return {
    dir,
    registryUrl,
    registry,
    resolver: registryKeyResolver(registry),
    store,
    signer: (id, keyId = `${id}-k1`) => signerFromPrivateKey(id, keyId, generateKeyPair().seedBase64),
    async subscribe(s, type, url, patch = {}) {
      const sub: Subscription = {
        subscriber_id: s.subscriberId,
        subscriber_url: url,
        type,
        domain: FLEXLON_DOMAIN,
        unique_key_id: s.uniqueKeyId,
        signing_public_key: s.publicKeyBase64,
        valid_from: new Date(Date.now() - 60_000).toISOString(),
        valid_until: new Date(Date.now() + 86_400_000).toISOString(),
        status: 'SUBSCRIBED',
        ...patch,
      };
      await new HttpRegistry({ url: registryUrl, now: Date.now }, s).subscribe(sub);
      return sub;
    },
    app: () => {
      const a = Fastify({ logger: false });
      apps.push(a);
      return a;
    },
    async stop() {
      await Promise.allSettled(apps.map((a) => a.close()));
      await Promise.allSettled(stores.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** Resolves when `check` returns true (polled every 10 ms), or rejects after `ms` with `what`. */
export const eventually = async (check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> => {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};
