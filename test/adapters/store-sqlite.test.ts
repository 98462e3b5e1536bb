import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { verifyChain, type AuditEntry } from '../../src/audit/chain.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { BUSY_TIMEOUT_MS, openDatabase, SCHEMA_VERSION } from '../../src/adapters/store-sqlite/schema.ts';
import type { Store } from '../../src/ports.ts';
import { storeContract } from '../contract/store.contract.ts';
import { checkNothingHalfWritten, killMidTransaction } from '../helpers/store-crash.ts';

const STORE_MODULE = new URL('../../src/adapters/store-sqlite/index.ts', import.meta.url).href;
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'flexlon-store-'));

const entry = (actor: string, payload: unknown): AuditEntry => ({
  kind: 'agent',
  at: 1_735_689_600_000,
  actor,
  payload,
});

const hasCode =
  (code: string, ...parts: string[]) =>
  (e: unknown): boolean => {
    const { code: actual, message } = e as { code?: string; message?: string };
    return actual === code && parts.every((p) => message?.includes(p) === true);
  };

/** A temp dir for one test, removed (with every store opened in it closed) afterwards. */
const inTempDir = async (fn: (dir: string, open: (file: string) => Promise<Store>) => Promise<void>): Promise<void> => {
  const dir = tempDir();
  const opened: Store[] = [];
  try {
    await fn(dir, async (file) => {
      const store = await openSqliteStore(file);
      opened.push(store);
      return store;
    });
  } finally {
    for (const s of opened) await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

storeContract('SQLite', async () => {
  const dir = tempDir();
  const file = join(dir, 'nested', 'agent', 'flexlon.db');
  const opened: Store[] = [];
  const open = async (): Promise<Store> => {
    const store = await openSqliteStore(file);
    opened.push(store);
    return store;
  };
  return {
    store: await open(),
    reopen: open,
    cleanup: async () => {
      for (const s of opened) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

/** Appends `count` records from a separate Node process, starting at `startAt` (epoch ms). */
const appendFromChild = (file: string, actor: string, count: number, startAt: number): Promise<number | null> => {
  const code = `
    const { openSqliteStore } = await import(${JSON.stringify(STORE_MODULE)});
    const { FLX_FILE, FLX_ACTOR, FLX_COUNT, FLX_START_AT } = process.env;
    await new Promise((r) => setTimeout(r, Math.max(0, Number(FLX_START_AT) - Date.now())));
    const store = await openSqliteStore(FLX_FILE, { actor: FLX_ACTOR });
    for (let i = 0; i < Number(FLX_COUNT); i++) {
      await store.appendAudit({ kind: 'agent', at: Date.now(), actor: FLX_ACTOR, payload: { i } });
      await new Promise((r) => setTimeout(r, 1)); // as an agent would between events; lets the others in
    }
    await store.close();`;
  const env = {
    ...process.env,
    FLX_FILE: file,
    FLX_ACTOR: actor,
    FLX_COUNT: String(count),
    FLX_START_AT: String(startAt),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', resolve);
  });
};

describe('SQLite store: file and connection', () => {
  test('location is the absolute file path, and missing parent directories are created', () =>
    inTempDir(async (dir, open) => {
      const store = await open(join(dir, 'a', 'b', '..', 'c', 'store.db'));
      assert.equal(store.location, join(dir, 'a', 'c', 'store.db'));
      await store.appendAudit(entry('x', 1));
    }));

  test('connections use WAL, synchronous=FULL, foreign keys and a busy timeout; the schema version is recorded', () =>
    inTempDir(async (dir) => {
      const db = await openDatabase(join(dir, 'store.db'), 'flex.example');
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL');
        assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
        assert.equal(db.pragma('busy_timeout', { simple: true }), BUSY_TIMEOUT_MS);
        assert.deepEqual(db.prepare('SELECT version, applied_by FROM schema_version').all(), [
          { version: 1, applied_by: 'flex.example' },
          { version: 2, applied_by: 'flex.example' },
        ]);
        assert.equal(SCHEMA_VERSION, 2);
      } finally {
        db.close();
      }
    }));

  test('a file from a newer schema version is refused, naming the file and both versions', () =>
    inTempDir(async (dir, open) => {
      const file = join(dir, 'store.db');
      await (await open(file)).close();
      const raw = new Database(file);
      raw.prepare("INSERT INTO schema_version (version, applied_at, applied_by) VALUES (3, 0, 'future')").run();
      raw.close();
      await assert.rejects(openSqliteStore(file), hasCode('FLX_CONFIG_INVALID', file, 'version 3', 'up to 2'));
    }));

  test('a file at schema version 1 is brought to version 2 with its data kept', () =>
    inTempDir(async (dir, open) => {
      const file = join(dir, 'v1.db');
      const store = await open(file);
      await store.appendAudit(entry('old', { i: 1 }));
      await store.saveOrder({
        id: 'o-1',
        transactionId: 't',
        bapId: 'b',
        bapUri: 'u',
        offerId: 'f',
        site: 's',
        windowStart: 0,
        windowEnd: 1,
        reductionKw: 1,
        priceGbp: 1,
        state: 'confirmed',
        updatedAt: 0,
      } as never);
      await store.close();
      // What a version-1 file looks like: none of migration 2's tables, and only version 1 recorded.
      const raw = new Database(file);
      raw.exec(
        'DROP TABLE outbox; DROP TABLE commitments; DROP TABLE plans; DROP TABLE dispatches; DROP TABLE meter_readings; DELETE FROM schema_version WHERE version = 2',
      );
      raw.close();
      const again = await open(file);
      assert.equal((await again.getOrder('o-1'))?.state, 'confirmed');
      assert.equal(
        (await again.enqueueOutbox({ id: 'x', destination: 'd', action: 'a', body: {}, createdAt: 0 })).created,
        true,
      );
      assert.deepEqual(verifyChain(await again.auditTrail()), { ok: true, records: 1 });
      const check = new Database(file);
      assert.deepEqual(check.prepare('SELECT version FROM schema_version ORDER BY version').all(), [
        { version: 1 },
        { version: 2 },
      ]);
      check.close();
    }));

  test('a file that is not a SQLite database, and a path that is not a file, are refused clearly', () =>
    inTempDir(async (dir) => {
      const file = join(dir, 'notes.txt');
      writeFileSync(file, 'this is not a database, just some text that is long enough to have a header\n'.repeat(20));
      await assert.rejects(openSqliteStore(file), hasCode('FLX_CONFIG_INVALID', file));
      await assert.rejects(
        openSqliteStore(join(file, 'store.db')),
        hasCode('FLX_CONFIG_INVALID', join(file, 'store.db')),
      );
      await assert.rejects(openSqliteStore(''), hasCode('FLX_CONFIG_INVALID', 'file path'));
      await assert.rejects(openSqliteStore(':memory:'), hasCode('FLX_CONFIG_INVALID', 'file path'));
    }));
});

describe('SQLite store: several writers on one file', () => {
  test('two stores on one file, appending interleaved, keep one valid chain', () =>
    inTempDir(async (dir, open) => {
      const file = join(dir, 'shared.db');
      const [a, b] = [await open(file), await open(file)];
      for (let i = 0; i < 20; i++)
        await Promise.all([a.appendAudit(entry('a', { i })), b.appendAudit(entry('b', { i }))]);
      const trail = await a.auditTrail();
      assert.deepEqual(verifyChain(trail), { ok: true, records: 40 });
      assert.deepEqual(await b.auditTrail(), trail);
      assert.deepEqual(
        trail.slice(0, 4).map((r) => r.actor),
        ['a', 'b', 'a', 'b'],
      );
    }));

  test('four processes appending to one new file at once keep one valid chain', { timeout: 60_000 }, (t) =>
    inTempDir(async (dir, open) => {
      const file = join(dir, 'fresh', 'shared.db');
      const actors = ['p1', 'p2', 'p3', 'p4'];
      // Children take a few hundred ms to boot; a common start time makes their writes overlap.
      const startAt = Date.now() + 1500;
      const codes = await Promise.all(actors.map((actor) => appendFromChild(file, actor, 50, startAt)));
      assert.deepEqual(codes, [0, 0, 0, 0]);
      const trail = await (await open(file)).auditTrail();
      assert.deepEqual(verifyChain(trail), { ok: true, records: 200 });
      for (const actor of actors) assert.equal(trail.filter((r) => r.actor === actor).length, 50);
      const switches = trail.filter((r, i) => i > 0 && trail[i - 1]?.actor !== r.actor).length;
      t.diagnostic(`writer changed ${switches} times along the chain`);
    }),
  );
});

describe('SQLite store: a writer killed mid-transaction', () => {
  test(
    'leaves every transaction whole or absent, and the chain intact (SIGKILL at three points)',
    { timeout: 120_000 },
    (t) =>
      inTempDir(async (dir, open) => {
        for (const delayMs of [0, 3, 11]) {
          const file = join(dir, `crash-${delayMs}.db`);
          await killMidTransaction(STORE_MODULE, 'mod.openSqliteStore(env.FLX_FILE)', { FLX_FILE: file }, delayMs);
          const store = await open(file);
          t.diagnostic(`killed after ${await checkNothingHalfWritten(store)} transactions`);
          await store.appendAudit(entry('after-restart', 1)); // and the chain goes on from where it was
          assert.equal(verifyChain(await store.auditTrail()).ok, true);
        }
      }),
  );
});

describe('SQLite store: the audit table is append-only and tampering is detected', () => {
  const seeded = async (
    dir: string,
    open: (file: string) => Promise<Store>,
  ): Promise<{ file: string; store: Store }> => {
    const file = join(dir, 'audit.db');
    const store = await open(file);
    for (let i = 1; i <= 6; i++) await store.appendAudit(entry('flex', { i }));
    return { file, store };
  };

  test('UPDATE, DELETE, INSERT OR REPLACE and out-of-place inserts are refused by triggers', () =>
    inTempDir(async (dir, open) => {
      const { file, store } = await seeded(dir, open);
      const raw = new Database(file);
      try {
        assert.throws(
          () => raw.prepare('UPDATE audit_log SET payload = \'{"i":99}\' WHERE seq = 3').run(),
          /append-only: UPDATE refused/,
        );
        assert.throws(() => raw.prepare('DELETE FROM audit_log WHERE seq = 6').run(), /append-only: DELETE refused/);
        assert.throws(() => raw.prepare('DELETE FROM audit_log').run(), /append-only: DELETE refused/);
        const row = raw.prepare('SELECT * FROM audit_log WHERE seq = 3').get() as Record<string, unknown>;
        const replace = raw.prepare(
          'INSERT OR REPLACE INTO audit_log (seq, kind, at, actor, payload, prev_hash, hash) VALUES (@seq, @kind, @at, @actor, @payload, @prev_hash, @hash)',
        );
        assert.throws(
          () => replace.run({ ...row, payload: '{"i":99}' }),
          /append-only: a record must follow the current head/,
        );
        assert.throws(
          () => replace.run({ ...row, seq: 7 }),
          /must follow the current head/,
          'a wrong prev_hash at the head',
        );
      } finally {
        raw.close();
      }
      const trail = await store.auditTrail();
      assert.deepEqual(
        trail.map((r) => r.payload),
        [1, 2, 3, 4, 5, 6].map((i) => ({ i })),
      );
      assert.deepEqual(verifyChain(trail), { ok: true, records: 6 });
    }));

  test('a payload changed behind the triggers is reported at its seq', () =>
    inTempDir(async (dir, open) => {
      const { file, store } = await seeded(dir, open);
      const raw = new Database(file);
      raw.exec('DROP TRIGGER audit_log_no_update');
      raw.prepare('UPDATE audit_log SET payload = ? WHERE seq = 4').run('{"i":40}');
      raw.close();
      const verdict = verifyChain(await store.auditTrail());
      assert.equal(verdict.ok, false);
      assert.equal(verdict.ok ? 0 : verdict.seq, 4);
    }));

  test('a deleted record is reported as a gap, and a payload that is no longer JSON names its seq', () =>
    inTempDir(async (dir, open) => {
      const { file, store } = await seeded(dir, open);
      const raw = new Database(file);
      raw.exec('DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_log_no_update');
      raw.prepare('DELETE FROM audit_log WHERE seq = 2').run();
      const verdict = verifyChain(await store.auditTrail());
      assert.deepEqual(verdict.ok ? undefined : [verdict.seq, verdict.reason], [3, 'gap: expected record 2, found 3']);
      raw.prepare("UPDATE audit_log SET payload = '{not json' WHERE seq = 5").run();
      raw.close();
      await assert.rejects(store.auditTrail(), hasCode('FLX_DATA_INVALID', 'audit record 5', file));
    }));
});
