// A client's beckn.out rows through a group-commit journal (BecknClientOptions.journal, issue 14):
// the outbox sends many callbacks at once, and one store commit (an fsync) per row made them wait
// on each other. Against a real BPP receiver on loopback, with the BAP's SQLite store and the
// journal on its file: every send returns only after its row is written, concurrent sends share
// commits, refused and unreachable sends are audited the same way, and the chain verifies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
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

test('a journal on a full disk fails its batch as FLX_STORE_UNAVAILABLE (a 503), not a raw SQLite error, and writes again once space is freed', async (t) => {
  // A 2 MB tmpfs holds the store; a file then takes every free byte. Mounting needs root.
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-journal-full-'));
  const mnt = join(dir, 'state');
  mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    t.skip('mounting a tmpfs is not allowed here (needs root)');
    return;
  }
  const store = await openSqliteStore(join(mnt, 'full.db'));
  const full = await openSqliteJournal(store.location);
  try {
    const entry = (n: number) => ({
      kind: 'beckn.out' as const,
      at: Date.now(),
      actor: 'bap.full',
      messageId: `full-${n}`,
      // Large rows, so the WAL must grow (SQLite may otherwise reuse pages it already holds).
      payload: { outcome: 'ACK', filler: 'x'.repeat(16_000), n },
    });
    await full.append(entry(0));
    const fd = openSync(join(mnt, 'filler'), 'w');
    try {
      for (const chunk = Buffer.alloc(64 * 1024, 1); ;) writeSync(fd, chunk);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    } finally {
      closeSync(fd);
    }
    let failure: unknown;
    let written = 1;
    for (let n = 1; n < 200 && failure === undefined; n++) {
      // A batch of four, as concurrent sends make: every one fails the same way.
      const batch = await Promise.allSettled([0, 1, 2, 3].map((k) => full.append(entry(n * 10 + k))));
      const refused = batch.filter((b) => b.status === 'rejected');
      written += batch.length - refused.length;
      if (refused.length > 0) {
        assert.equal(refused.length, 4, 'the disk fails the whole batch');
        failure = (refused[0] as PromiseRejectedResult).reason;
      }
    }
    assert.ok(failure !== undefined, 'the full disk refused a batch');
    const { code, message } = failure as { code?: string; message?: string };
    assert.equal(code, 'FLX_STORE_UNAVAILABLE', String(message));
    assert.match(String(message), /SQLITE_(FULL|IOERR)/);
    assert.match(String(message), /free space/);

    unlinkSync(join(mnt, 'filler'));
    await full.append(entry(9_999));
    const rows = (await store.auditTrail()).filter((r) => r.kind === 'beckn.out');
    assert.equal(rows.length, written + 1, 'only what was acknowledged was written, and the freed disk takes more');
    assert.equal(verifyChain(await store.auditTrail()).ok, true);
  } finally {
    await full.close();
    await store.close();
    execFileSync('umount', ['-l', mnt], { stdio: 'pipe' });
    rmSync(dir, { recursive: true, force: true });
  }
});
