// The group-commit journal on a real SQLite file (a worker-thread variant was measured and removed,
// docs/benchmarks.md "Bench-only code"): many messages per transaction, each promise resolving only once its rows
// are committed; one bad entry fails alone; appends from the journal's connection and the Store's own
// interleave into one valid hash chain; a key is claimed once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { openSqliteJournal } from '../../src/adapters/store-sqlite/journal.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { verifyChain, type AuditEntry } from '../../src/audit/chain.ts';

const entry = (n: number, extra: Record<string, unknown> = {}): AuditEntry => ({
  kind: 'beckn.in',
  at: n,
  actor: 'bpp',
  messageId: `m${n}`,
  payload: { n, ...extra },
});

const withFiles = async (fn: (path: string) => Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-journal-'));
  try {
    await fn(join(dir, 'bpp.db'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

for (const [name, open] of [['event loop', openSqliteJournal]] as const) {
  test(`${name}: concurrent accepts are committed in batches; every row is there, in one valid chain, when its promise resolves`, () =>
    withFiles(async (path) => {
      const store = await openSqliteStore(path);
      const journal = await open(path);
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, n) => journal.accept(`k${n}`, 'ACK', entry(n), 'dup')),
      );
      assert.ok(results.every((r) => r.first));
      const { batches, entries } = journal.stats();
      assert.equal(entries, 300);
      assert.ok(batches < 300, `${batches} commits for 300 messages`);
      const trail = await store.auditTrail();
      assert.equal(trail.length, 300);
      assert.ok(verifyChain(trail).ok);
      await journal.close();
      await store.close();
    }));

  test(`${name}: a key already claimed keeps its first outcome, also within one batch, and seen() reports it`, () =>
    withFiles(async (path) => {
      const journal = await open(path);
      const store = await openSqliteStore(path);
      const [a, b] = await Promise.all([
        journal.accept('k', 'ACK first', entry(1, { outcome: 'ACK' }), 'dup'),
        journal.accept('k', 'ACK second', entry(2, { outcome: 'ACK' }), 'dup'),
      ]);
      assert.deepEqual([a.first, b.first, b.outcome], [true, false, 'ACK first']);
      assert.deepEqual(
        (await store.auditTrail()).map((r) => (r.payload as { outcome: string }).outcome),
        ['ACK', 'dup'],
        'the second copy is audited as a duplicate',
      );
      await store.close();
      assert.equal(await journal.seen('k'), 'ACK first');
      assert.equal(await journal.seen('other'), undefined);
      await journal.close();
    }));

  test(`${name}: an entry that cannot be stored fails alone; the rest of its batch commits`, () =>
    withFiles(async (path) => {
      const store = await openSqliteStore(path);
      const journal = await open(path);
      const outcomes = await Promise.allSettled([
        journal.append(entry(1)),
        journal.append(entry(2, { bad: Number.NaN })),
        journal.append(entry(3)),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      const trail = await store.auditTrail();
      assert.deepEqual(
        trail.map((r) => (r.payload as { n: number }).n),
        [1, 3],
      );
      assert.ok(verifyChain(trail).ok);
      await journal.close();
      await store.close();
    }));

  test(`${name}: property: journal appends and the Store's own appends, in any interleaving, make one valid chain`, () =>
    withFiles(async (path) => {
      const store = await openSqliteStore(path);
      const journal = await open(path);
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }), async (viaJournal) => {
          await Promise.all(viaJournal.map((j) => (j ? journal.append(entry(n++)) : store.appendAudit(entry(n++)))));
          const trail = await store.auditTrail();
          return trail.length === n && verifyChain(trail).ok;
        }),
        { numRuns: 25 },
      );
      await journal.close();
      await store.close();
    }));

  test(`${name}: the journal waits for a Store transaction that holds the write lock across awaits, without blocking the event loop`, () =>
    withFiles(async (path) => {
      const store = await openSqliteStore(path);
      const journal = await open(path);
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      // The Store takes the write lock and keeps it over several event-loop turns.
      const tx = store.transaction(async (t) => {
        await t.appendAudit(entry(1));
        await held;
        await t.appendAudit(entry(2));
      });
      await new Promise((r) => setTimeout(r, 20));
      const viaJournal = journal.append(entry(3));
      let ticks = 0;
      const ticker = setInterval(() => {
        ticks++;
      }, 1);
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(ticks > 5, 'the event loop kept turning while the journal waited');
      release();
      await tx;
      await viaJournal;
      clearInterval(ticker);
      const trail = await store.auditTrail();
      assert.deepEqual(
        trail.map((r) => (r.payload as { n: number }).n),
        [1, 2, 3],
      );
      assert.ok(verifyChain(trail).ok);
      await journal.close();
      await store.close();
    }));
}
