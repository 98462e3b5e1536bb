// A client's beckn.out rows through a group-commit journal (BecknClientOptions.journal, issue 14):
// the outbox sends many callbacks at once, and one store commit (an fsync) per row made them wait
// on each other. Against a real BPP receiver on loopback, with the BAP's SQLite store and the
// journal on its file: every send returns only after its row is written, concurrent sends share
// commits, refused and unreachable sends are audited the same way, and the chain verifies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { verifyChain } from '../../src/audit/chain.ts';
import { openSqliteJournal, type SqliteJournal } from '../../src/adapters/store-sqlite/journal.ts';
import { BecknClient } from '../../src/beckn/client.ts';
import { buildContext, type BecknMessage } from '../../src/beckn/context.ts';
import { registerReceiver } from '../../src/beckn/receiver.ts';
import type { Signer, Store } from '../../src/ports.ts';
import { listen, startNetwork, type TestNetwork } from '../helpers/network.ts';

let net: TestNetwork;
let bap: Signer;
let bpp: Signer;
let bppUrl: string;
let bapStore: Store;
let journal: SqliteJournal;

const select = (n: number, to = bppUrl): BecknMessage => ({
  context: buildContext({
    action: 'select',
    bapId: bap.subscriberId,
    bapUri: 'http://127.0.0.1:9/bap',
    bppId: bpp.subscriberId,
    bppUri: to,
    now: Date.now(),
  }),
  message: { order: { items: [{ id: `offer-${n}` }] } },
});

before(async () => {
  net = await startNetwork();
  bap = net.signer('bap.journal');
  bpp = net.signer('bpp.journal');
  bapStore = await net.store('bap');
  journal = await openSqliteJournal(bapStore.location);
  const app = net.app();
  registerReceiver(app, {
    subscriberId: bpp.subscriberId,
    role: 'BPP',
    resolver: net.resolver,
    store: await net.store('bpp'),
    now: Date.now,
    onBackgroundError: () => {},
    handlers: { select: async () => undefined },
  });
  bppUrl = await listen(app);
  await net.subscribe(bap, 'BAP', 'http://127.0.0.1:9/bap');
  await net.subscribe(bpp, 'BPP', bppUrl);
});
after(async () => {
  await journal.close();
  await net.stop();
});

test('concurrent sends write their beckn.out rows through the journal, sharing commits; each row is there when its send returns', async () => {
  const client = new BecknClient({ signer: bap, store: bapStore, now: Date.now, journal });
  const before = journal.stats();
  const messages = Array.from({ length: 24 }, (_, n) => select(n));
  const answers = await Promise.all(
    messages.map(async (m) => {
      const ack = await client.send(bppUrl, m);
      // Written before send resolved: read at once, from the store's own connection.
      const rows = (await bapStore.auditTrail({ transactionId: m.context.transaction_id })).filter(
        (r) => r.kind === 'beckn.out',
      );
      return { ack: ack.message.ack.status, rows: rows.length };
    }),
  );
  assert.deepEqual(
    answers.map((a) => `${a.ack} ${a.rows}`),
    messages.map(() => 'ACK 1'),
  );
  const after = journal.stats();
  assert.equal(after.entries - before.entries, 24, 'every row went through the journal');
  assert.ok(after.batches - before.batches < 24, `rows shared commits: ${after.batches - before.batches} for 24`);

  // Unreachable: the row says so, through the journal too, and the error is the client's own.
  const dead = select(0, 'http://127.0.0.1:9/nobody');
  await assert.rejects(
    new BecknClient({
      signer: bap,
      store: bapStore,
      now: Date.now,
      journal,
      retry: { baseMs: 1, maxAttempts: 1 },
    }).send('http://127.0.0.1:9/nobody', dead),
    (e: Error & { code?: string }) => e.code === 'FLX_PEER_UNREACHABLE',
  );
  const deadRow = (await bapStore.auditTrail({ transactionId: dead.context.transaction_id })).find(
    (r) => r.kind === 'beckn.out',
  );
  assert.equal((deadRow?.payload as { outcome?: string } | undefined)?.outcome, 'unreachable');
  assert.equal(journal.stats().entries - after.entries, 1);

  const trail = await bapStore.auditTrail();
  assert.equal(verifyChain(trail).ok, true, 'rows from the journal and the store make one chain');
});
