// The BPP side of `npm run bench:beckn`, in its own process so the load generator does not share its
// event loop: a registry service and a BPP receiver whose pipeline is the production one — verify
// (key from the registry through the caching client) → parse → schema → context/ttl → dedupe →
// claim + durable audit append (SQLite, synchronous=FULL) → ACK. The search handler accepts and
// schedules nothing, so what is measured is the protocol layer, not the optimiser.
// Signature arithmetic runs on BENCH_VERIFY_THREADS worker threads (default 1; 0 = on the event loop).
// With BENCH_LOOP=1 the search handler owes an on_search (an empty catalogue) in the same transaction
// as the claim and audit row, as the BPP's handlers do, and an outbox worker sends it, signed, to the
// buyer's registered URL, with the BPP's admission control (503 FLX_BUSY past DEFAULT_MAX_OWED owed):
// the whole loop but the planning. GET /bench/outbox then says how many callbacks are owed, sent, dead.
// Prints one JSON line {bpp, registry} when listening; on SIGTERM prints {auditRows, batches} and exits.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { HttpRegistry } from '../src/adapters/registry-http/client.ts';
import { signerFromPrivateKey } from '../src/adapters/keystore-file/keystore.ts';
import { openSqliteJournal } from '../src/adapters/store-sqlite/journal.ts';
import { openSqliteStore } from '../src/adapters/store-sqlite/index.ts';
import { registryKeyResolver } from '../src/beckn/key-resolver.ts';
import { generateKeyPair } from '../src/beckn/keys.ts';
import { registerReceiver } from '../src/beckn/receiver.ts';
import { createRegistryService } from '../src/beckn/registry/service.ts';
import { becknValidator } from '../src/beckn/validator.ts';
import { storeJournal } from '../src/beckn/journal.ts';
import { createVerifierPool } from '../src/beckn/verify-pool.ts';
import { owe, owedCallback, requesterOf } from '../src/agents/flex/callbacks.ts';
import { BecknClient } from '../src/beckn/client.ts';
import { FLEXLON_DOMAIN } from '../src/beckn/context.ts';
import { registerOnSubscribe } from '../src/beckn/registry/on-subscribe.ts';
import { offersToCatalog } from '../src/beckn/flex-codec.ts';
import type { TxWork } from '../src/beckn/receiver.ts';
import { DEFAULT_MAX_OWED, OutboxWorker } from '../src/store/outbox-worker.ts';
import { OwedCallbacks } from '../src/beckn/admission.ts';

const signAcks = process.env.BENCH_SIGN_ACKS === '1';
const verifyThreads = Number(process.env.BENCH_VERIFY_THREADS ?? '1');
const pool = verifyThreads > 0 ? createVerifierPool(verifyThreads) : undefined;
const dir = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'flexlon-bench-'));

const registryStore = await openSqliteStore(join(dir, 'registry.db'));
const registry = await createRegistryService({ store: registryStore, now: Date.now });
await registry.app.listen({ host: '127.0.0.1', port: 0 });
const registryUrl = `http://127.0.0.1:${(registry.app.server.address() as { port: number }).port}`;

const store = await openSqliteStore(join(dir, 'bpp.db'));
// BENCH_JOURNAL: 'loop' (group commit on the event loop, default), 'store' (one claim + one append
// per message through the Store port).
const journalKind = process.env.BENCH_JOURNAL ?? 'loop';
if (journalKind !== 'loop' && journalKind !== 'store') throw new Error(`BENCH_JOURNAL must be loop or store`);
const journal = journalKind === 'loop' ? await openSqliteJournal(join(dir, 'bpp.db')) : storeJournal(store);
const app = Fastify({ logger: false });
const loop = process.env.BENCH_LOOP === '1';
const bppSigner = signerFromPrivateKey('bpp.bench', 'k1', generateKeyPair().seedBase64);
const provider = { id: 'bpp.bench', uri: '', wallNow: Date.now };
// The callbacks' beckn.out rows go through the same group-commit journal as the inbound rows
// (BecknClientOptions.journal) unless BENCH_OUT_JOURNAL=store: one commit per row.
const outJournal = journalKind === 'loop' && process.env.BENCH_OUT_JOURNAL !== 'store';
const client = new BecknClient({ signer: bppSigner, store, now: Date.now, ...(outJournal ? { journal } : {}) });
const outbox = new OutboxWorker({
  store,
  now: Date.now,
  send: async (m) => {
    const { message, inReplyTo } = owedCallback(m.body);
    return client.send(m.destination, message, { inReplyTo });
  },
  onDrained: () => owed.drained(),
});
// As the BPP counts it (src/agents/flex/bpp.ts): the last count plus the ACKs since.
const owed = new OwedCallbacks(outbox, DEFAULT_MAX_OWED);
const catalog = offersToCatalog('bpp.bench', 'Bench provider', []);
const owedSearch = async (i: Parameters<typeof requesterOf>[0]): Promise<TxWork> => ({
  commit: (tx) => owe(tx, provider, requesterOf(i), 'on_search', { catalog }),
  after: async () => void outbox.nudge(),
});
registerReceiver(app, {
  subscriberId: 'bpp.bench',
  role: 'BPP',
  store,
  journal,
  now: Date.now,
  validator: becknValidator(),
  // Signed lookups (registry.yaml: the registry answers only signed ones).
  resolver: registryKeyResolver(new HttpRegistry({ url: registryUrl, now: Date.now, cacheTtlMs: 300_000 }, bppSigner)),
  ...(pool ? { signatureCheck: pool.check } : {}),
  ...(signAcks ? { ackSigner: bppSigner } : {}),
  handlers: { search: loop ? owedSearch : async () => undefined },
  onBackgroundError: () => {},
  ...(loop
    ? {
        admission: () => owed.check(),
        onOutcome: (_action: string, outcome: string) => {
          if (outcome === 'ACK') owed.acked();
        },
      }
    : {}),
});
// The registry's on_subscribe challenge (registry.yaml) when the BPP subscribes itself.
const bppRegistry = new HttpRegistry({ url: registryUrl, now: Date.now }, bppSigner);
registerOnSubscribe(app, bppRegistry);
app.get('/bench/outbox', async () => {
  const rows = await store.listOutbox();
  const by: Record<string, number> = {};
  for (const r of rows) by[r.status] = (by[r.status] ?? 0) + 1;
  return { total: rows.length, ...by };
});
// CPU used by the whole process (all threads) from the first request on: a figure that depends much
// less on what else the machine is running than req/s does.
let cpuAtFirst: NodeJS.CpuUsage | undefined;
app.addHook('onRequest', async () => {
  cpuAtFirst ??= process.cpuUsage();
});
await app.listen({ host: '127.0.0.1', port: 0 });
const bppUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
// Subscribed, so its registry lookups are signed by a known key (registry.yaml); in the loop, the
// buyer also checks each callback's signature against this key and its bpp_uri against this URL.
{
  (provider as { uri: string }).uri = bppUrl;
  const now = Date.now();
  await bppRegistry.subscribe({
    subscriber_id: bppSigner.subscriberId,
    subscriber_url: bppUrl,
    type: 'BPP',
    domain: FLEXLON_DOMAIN,
    unique_key_id: bppSigner.uniqueKeyId,
    signing_public_key: bppSigner.publicKeyBase64,
    valid_from: new Date(now - 60_000).toISOString(),
    valid_until: new Date(now + 86_400_000).toISOString(),
    status: 'SUBSCRIBED',
  });
  if (loop) await outbox.start();
}
process.stdout.write(`${JSON.stringify({ bpp: bppUrl, registry: registryUrl, dir })}\n`);

process.once('SIGTERM', () => {
  void (async () => {
    try {
      const cpu = process.cpuUsage(cpuAtFirst);
      await app.close();
      await outbox.stop();
      await registry.app.close();
      await pool?.close();
      const stats =
        'stats' in journal ? (journal as { stats(): { batches: number; entries: number } }).stats() : undefined;
      if ('close' in journal) await (journal as { close(): Promise<void> }).close();
      const rows = (await store.auditTrail()).filter((r) => r.kind === 'beckn.in').length;
      await store.close();
      await registryStore.close();
      process.stdout.write(
        `${JSON.stringify({ auditRows: rows, cpuMs: Math.round((cpu.user + cpu.system) / 1000), ...(stats ? { batches: stats.batches } : {}) })}\n`,
      );
      process.exit(0);
    } catch (e) {
      process.stdout.write(`${JSON.stringify({ error: (e as Error).message })}\n`);
      process.exit(1);
    }
  })();
});
