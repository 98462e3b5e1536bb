// Opening a FlexLon SQLite file: connection settings first, then the schema, built by numbered
// migrations recorded in `schema_version`. A later migration is appended to MIGRATIONS and never
// edits an earlier one, so every file can be brought forward from whatever version it holds.
import Database from 'better-sqlite3';
import { dirname } from 'node:path';
import { GENESIS_HASH } from '../../audit/chain.ts';
import { FlexError } from '../../errors.ts';
import { makeDirs } from '../../make-dirs.ts';

export type Db = Database.Database;

/** How long a writer waits for another connection's write lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

interface Migration {
  readonly version: number;
  readonly sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE IF NOT EXISTS audit_log (
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        transaction_id TEXT,
        message_id TEXT,
        order_id TEXT,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS audit_log_transaction ON audit_log (transaction_id, seq);

      -- Append-only. These triggers stop accidental edits (a stray UPDATE from a console, an
      -- older build); they are no defence against someone who can rewrite the file, which is
      -- what the hash chain is for. The INSERT check is needed as well as the DELETE trigger:
      -- INSERT OR REPLACE deletes the row it replaces without firing DELETE triggers (unless
      -- recursive_triggers is on), so a replace would otherwise rewrite history silently.
      CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END;
      CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END;
      CREATE TRIGGER IF NOT EXISTS audit_log_append_at_head BEFORE INSERT ON audit_log
      WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log)
        OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit_log WHERE seq = NEW.seq - 1), '${GENESIS_HASH}')
      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: a record must follow the current head (seq and prev_hash)'); END;

      CREATE TABLE IF NOT EXISTS message_claims (
        key TEXT PRIMARY KEY,
        outcome TEXT NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE IF NOT EXISTS orders (
        id TEXT PRIMARY KEY,
        transaction_id TEXT NOT NULL,
        state TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS orders_transaction ON orders (transaction_id);
      CREATE INDEX IF NOT EXISTS orders_updated ON orders (updated_at, id);

      CREATE TABLE IF NOT EXISTS documents (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, id)
      ) WITHOUT ROWID;
    `,
  },
  {
    // The outbox (messages owed to peers, sent after commit) and the BPP's typed records.
    version: 2,
    sql: `
      CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        destination TEXT NOT NULL,
        action TEXT NOT NULL,
        transaction_id TEXT,
        message_id TEXT,
        order_id TEXT,
        body TEXT NOT NULL,
        created_at REAL NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        lease_until REAL,
        last_error TEXT,
        sent_at REAL,
        response TEXT
      );
      CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at, seq);
      CREATE INDEX IF NOT EXISTS outbox_transaction ON outbox (transaction_id, seq);

      CREATE TABLE IF NOT EXISTS commitments (
        order_id TEXT NOT NULL,
        site TEXT NOT NULL,
        window_start REAL NOT NULL,
        window_end REAL NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (order_id, site)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS commitments_window ON commitments (window_end);

      CREATE TABLE IF NOT EXISTS plans (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        horizon_start REAL NOT NULL,
        status TEXT NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS plans_created ON plans (created_at, id);

      CREATE TABLE IF NOT EXISTS dispatches (
        id TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        at REAL NOT NULL,
        plan_id TEXT,
        order_id TEXT,
        body TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS dispatches_site ON dispatches (site, at);
      CREATE INDEX IF NOT EXISTS dispatches_plan ON dispatches (plan_id);
      CREATE INDEX IF NOT EXISTS dispatches_order ON dispatches (order_id);

      CREATE TABLE IF NOT EXISTS meter_readings (
        site TEXT NOT NULL,
        slot_start REAL NOT NULL,
        slot_minutes REAL NOT NULL,
        import_kw REAL NOT NULL,
        read_at REAL NOT NULL,
        source TEXT,
        PRIMARY KEY (site, slot_start)
      ) WITHOUT ROWID;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);

const configure = (db: Db, file: string): void => {
  // Set first, so that the statements after it wait for another connection's lock, not fail.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // WAL lets readers (dashboard, verifier) run while an agent writes, and is persistent in the file.
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal')
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `${file}: SQLite refused WAL journal mode (got ${String(mode)}); is it on a network file system?`,
    );
  // In WAL mode synchronous=NORMAL survives an application crash but may lose the last commits on
  // power loss, since the WAL is not fsynced at each commit. An audit record may already have been
  // acknowledged to a Beckn peer when it is written, so FULL: fsync the WAL at every commit.
  db.pragma('synchronous = FULL');
  // No foreign keys yet; on so that a later migration adding one is enforced from the first row.
  db.pragma('foreign_keys = ON');
};

const migrate = (db: Db, file: string, actor: string): void => {
  // IMMEDIATE: two processes opening a new file at once must not both run migration 1.
  db.transaction(() => {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL, applied_by TEXT NOT NULL)',
    );
    const row = db.prepare<[], { v: number | null }>('SELECT MAX(version) AS v FROM schema_version').get();
    const current = row?.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new FlexError(
        'FLX_CONFIG_INVALID',
        `${file} has store schema version ${current}, but this FlexLon understands versions up to ${SCHEMA_VERSION}: open it with the newer FlexLon that wrote it, or use another file`,
      );
    }
    const record = db.prepare<[number, number, string]>(
      'INSERT INTO schema_version (version, applied_at, applied_by) VALUES (?, ?, ?)',
    );
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      record.run(m.version, Date.now(), actor);
    }
  }).immediate();
};

const isBusy = (e: unknown): boolean => e instanceof Database.SqliteError && e.code.startsWith('SQLITE_BUSY');

/**
 * Connection settings and migrations, retried while another connection holds the file. Switching
 * a new file to WAL needs an exclusive lock and SQLite reports SQLITE_BUSY at once there instead
 * of calling the busy handler, so several processes opening a new file together would otherwise
 * fail; the retry honours the same BUSY_TIMEOUT_MS as every other statement.
 */
const prepare = async (db: Db, file: string, actor: string): Promise<void> => {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      configure(db, file);
      migrate(db, file, actor);
      return;
    } catch (e) {
      if (!isBusy(e) || Date.now() >= deadline) throw e;
      await new Promise((r) => setTimeout(r, Math.min(100, 5 * attempt)));
    }
  }
};

/** Opens (creating if needed) and migrates the store file at the absolute path `file`. */
export const openDatabase = async (file: string, actor: string): Promise<Db> => {
  let db: Db;
  try {
    makeDirs(dirname(file));
    db = new Database(file);
  } catch (e) {
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `cannot open the store file ${file}: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  try {
    await prepare(db, file, actor);
    return db;
  } catch (e) {
    db.close();
    if (e instanceof FlexError) throw e;
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `${file} cannot be used as a FlexLon store: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
};
