// The SQLite implementation of the Store port: one file per agent (or shared by several agents on
// one host), safe for several connections and processes at once. The tables are the shared SQL
// layer (src/adapters/store-sql); this file supplies the connection and its transactions.
//
// better-sqlite3 is synchronous and one connection has one transaction at a time, so every call on
// a store waits its turn in a queue: a transaction awaiting its fn must not let another call's
// statements run inside it. Write transactions are BEGIN IMMEDIATE, which takes the file's write
// lock before the first read.
//
// Waiting for that lock must not block the event loop: a transaction's fn is async, so the holder
// of the lock may be another store in this same process, waiting for its next turn on the loop.
// SQLite's busy handler sleeps synchronously (that would deadlock until the timeout), so BEGIN
// runs with no busy timeout and is retried on timers until BUSY_TIMEOUT_MS has passed.
import { resolve } from 'node:path';
import { FlexError } from '../../errors.ts';
import type { Store } from '../../ports.ts';
import type { SqlBackend } from '../../store/sql/conn.ts';
import { sqlStore } from '../../store/sql/store.ts';
import { isBusy, SQLITE_DIALECT, sqliteCall, sqliteConn } from './conn.ts';
import { BUSY_TIMEOUT_MS, openDatabase, type Db } from './schema.ts';

export { SCHEMA_VERSION } from './schema.ts';

export interface SqliteStoreOptions {
  /** Who opens the store (an agent's subscriber id); recorded against any migration it applies. */
  readonly actor?: string;
}

/** Runs queued calls one at a time, in order; a failed call does not stop the ones after it. */
class Queue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** BEGIN IMMEDIATE, waiting for another connection's write lock without blocking the event loop. */
const beginImmediate = async (db: Db, file: string): Promise<void> => {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      db.pragma('busy_timeout = 0');
      db.exec('BEGIN IMMEDIATE');
      return;
    } catch (e) {
      if (!isBusy(e) || Date.now() >= deadline)
        sqliteCall(file, () => {
          throw e;
        });
    } finally {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
    await new Promise((r) => setTimeout(r, Math.min(20, 2 ** Math.min(attempt, 5))));
  }
};

const sqliteBackend = (file: string, db: Db): SqlBackend => {
  const conn = sqliteConn(db, file);
  const queue = new Queue();
  let closing = false;
  const description = `the SQLite store ${file}`;
  const ensureOpen = (): void => {
    if (!db.open) throw new FlexError('FLX_INTERNAL', `${description} is closed`);
  };
  return {
    description,
    location: file,
    dialect: SQLITE_DIALECT,
    get closed() {
      return closing;
    },
    transaction: (fn) =>
      queue.run(async () => {
        ensureOpen();
        await beginImmediate(db, file);
        try {
          const result = await fn(conn);
          sqliteCall(file, () => db.exec('COMMIT'));
          return result;
        } catch (e) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw e;
        }
      }),
    read: (fn) =>
      queue.run(async () => {
        ensureOpen();
        return fn(conn);
      }),
    close: async () => {
      closing = true;
      // Queued: a transaction in progress finishes (commits or rolls back) before the file closes.
      await queue.run(async () => {
        if (db.open) db.close();
      });
    },
  };
};

/**
 * Opens the store in the SQLite file at `path` (relative paths resolve against the working
 * directory), creating the file and its parent directories if needed. Refuses a file written by a
 * newer schema version, or one that is not a SQLite database, with FLX_CONFIG_INVALID.
 */
export const openSqliteStore = async (path: string, options: SqliteStoreOptions = {}): Promise<Store> => {
  // better-sqlite3 reads "" and ":memory:" as throwaway databases; a Store is meant to be durable.
  if (path === '' || path === ':memory:') {
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `the SQLite store needs a file path, not ${JSON.stringify(path)}; for a throwaway store use a file in a temporary directory`,
    );
  }
  const location = resolve(path);
  return sqlStore(sqliteBackend(location, await openDatabase(location, options.actor ?? 'flexlon')));
};
