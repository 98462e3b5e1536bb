// The SQLite side of the shared SQL layer: one better-sqlite3 connection behind an async SqlConn,
// statements prepared once and cached, `$n` placeholders rewritten to `?` and bound in order.
import Database from 'better-sqlite3';
import { FlexError } from '../../errors.ts';
import { placeholderOrder, type Dialect, type SqlConn, type SqlValue } from '../../store/sql/conn.ts';
import { BUSY_TIMEOUT_MS, type Db } from './schema.ts';

export const isBusy = (e: unknown): boolean => e instanceof Database.SqliteError && e.code.startsWith('SQLITE_BUSY');

/**
 * The disk under the store failed the write: full (SQLITE_FULL, also a WAL that cannot grow) or an
 * I/O error (SQLITE_IOERR and its extended codes, e.g. SQLITE_IOERR_WRITE, _FSYNC). The transaction
 * rolled back, nothing was written; once the operator frees space or the device recovers, the same
 * request succeeds. So it is the store being unavailable (503, which a Beckn peer retries), not a
 * fault in FlexLon (issue 14: a full disk was answered 500 FLX_INTERNAL).
 */
export const isDiskFault = (e: unknown): boolean =>
  e instanceof Database.SqliteError && (e.code === 'SQLITE_FULL' || e.code.startsWith('SQLITE_IOERR'));

/**
 * Runs one SQLite call, turning a lock timeout, a full disk or an I/O error into
 * FLX_STORE_UNAVAILABLE (the request changed nothing and may be retried) and other faults into
 * FLX_INTERNAL.
 */
export const sqliteCall = <T>(file: string, f: () => T): T => {
  try {
    return f();
  } catch (e) {
    if (e instanceof FlexError) throw e;
    if (isBusy(e))
      throw new FlexError(
        'FLX_STORE_UNAVAILABLE',
        `the SQLite store ${file} stayed locked by another writer for more than ${BUSY_TIMEOUT_MS} ms`,
        { cause: e },
      );
    if (isDiskFault(e))
      throw new FlexError(
        'FLX_STORE_UNAVAILABLE',
        `the SQLite store ${file} could not write: ${(e as { code: string }).code} (${(e as Error).message}); free space on its disk or check the device, then retry`,
        { cause: e },
      );
    throw new FlexError('FLX_INTERNAL', `the SQLite store ${file}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
};

export const sqliteConn = (db: Db, file: string): SqlConn => {
  const cache = new Map<string, { stmt: Database.Statement<SqlValue[]>; order: number[] }>();
  const prepared = (sql: string, params: readonly SqlValue[]): [Database.Statement<SqlValue[]>, SqlValue[]] => {
    let c = cache.get(sql);
    if (c === undefined) {
      c = { stmt: db.prepare<SqlValue[]>(sql.replace(/\$\d+/g, '?')), order: placeholderOrder(sql) };
      cache.set(sql, c);
    }
    const values = c.order.map((n) => {
      const v = params[n - 1];
      if (v === undefined) throw new FlexError('FLX_INTERNAL', `statement parameter $${n} has no value: ${sql}`);
      return v;
    });
    return [c.stmt, values];
  };
  return {
    all: async <R>(sql: string, params: readonly SqlValue[] = []) =>
      sqliteCall(file, () => {
        const [stmt, values] = prepared(sql, params);
        return stmt.all(...values) as R[];
      }),
    run: async (sql, params = []) =>
      sqliteCall(file, () => {
        const [stmt, values] = prepared(sql, params);
        return stmt.run(...values).changes;
      }),
  };
};

// Every write transaction is BEGIN IMMEDIATE: it holds the file's write lock from its first
// statement, so the chain head and the locked keys cannot change under it, in this or any process.
export const SQLITE_DIALECT: Dialect = {
  name: 'SQLite',
  lockAuditChain: async () => {},
  lockKey: async () => {},
  skipLocked: '',
};
