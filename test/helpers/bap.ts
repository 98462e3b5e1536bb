// A BAP for end-to-end tests: a receiver that accepts every callback and records it (after its own
// dedupe and durable claim by message_id, as any Beckn participant does), subscribed in the registry
// so BPPs can verify it, and a signing client to send requests with.
import Fastify from 'fastify';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { BecknClient } from '../../src/beckn/client.ts';
import { FLEXLON_DOMAIN, REQUEST_ACTIONS, callbackOf, type BecknMessage } from '../../src/beckn/context.ts';
import type { KeyResolver } from '../../src/beckn/key-resolver.ts';
import { useRawJsonBody } from '../../src/beckn/raw-body.ts';
import { registerReceiver } from '../../src/beckn/receiver.ts';
import type { Signer, Store } from '../../src/ports.ts';

/** Every callback that got past the BAP's own dedupe, by message_id. */
export class Callbacks {
  readonly got = new Map<string, BecknMessage>();
  private readonly waiting = new Map<string, (m: BecknMessage) => void>();
  record(m: BecknMessage): void {
    if (!this.got.has(m.context.message_id)) this.got.set(m.context.message_id, m);
    this.waiting.get(m.context.message_id)?.(m);
  }
  wait(messageId: string, ms: number): Promise<BecknMessage> {
    const have = this.got.get(messageId);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(messageId);
        reject(new Error(`no callback for ${messageId} within ${ms} ms`));
      }, ms);
      this.waiting.set(messageId, (m) => {
        clearTimeout(timer);
        this.waiting.delete(messageId);
        resolve(m);
      });
    });
  }
}

export interface TestBap {
  readonly url: string;
  readonly callbacks: Callbacks;
  readonly client: BecknClient;
  stop(): Promise<void>;
}

export const startTestBap = async (o: {
  signer: Signer;
  store: Store;
  registryUrl: string;
  resolver: KeyResolver;
}): Promise<TestBap> => {
  const callbacks = new Callbacks();
  const app = Fastify({ logger: false });
  useRawJsonBody(app);
  const accept = async ({ msg }: { msg: BecknMessage }) => {
    callbacks.record(msg);
  };
  registerReceiver(app, {
    subscriberId: o.signer.subscriberId,
    role: 'BAP',
    resolver: o.resolver,
    store: o.store,
    now: Date.now,
    ackSigner: o.signer,
    onBackgroundError: () => {},
    handlers: Object.fromEntries(REQUEST_ACTIONS.map((a) => [callbackOf(a), accept])),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const now = Date.now();
  await new HttpRegistry({ url: o.registryUrl, now: Date.now }, o.signer).subscribe({
    subscriber_id: o.signer.subscriberId,
    subscriber_url: url,
    type: 'BAP',
    domain: FLEXLON_DOMAIN,
    unique_key_id: o.signer.uniqueKeyId,
    signing_public_key: o.signer.publicKeyBase64,
    valid_from: new Date(now - 60_000).toISOString(),
    valid_until: new Date(now + 86_400_000).toISOString(),
    status: 'SUBSCRIBED',
  });
  const client = new BecknClient({
    signer: o.signer,
    store: o.store,
    now: Date.now,
    ackResolver: o.resolver,
    timeoutMs: 5000,
    retry: { baseMs: 100, maxAttempts: 4 },
  });
  return { url, callbacks, client, stop: () => app.close() };
};
