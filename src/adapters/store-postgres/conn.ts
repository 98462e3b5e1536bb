// The PostgreSQL side of the shared SQL layer: SqlConn over a pg client or pool, the dialect's
// locks, and one place that turns a pg error into a coded FlexError.
import pg from 'pg';
import { FlexError } from '../../errors.ts';
import type { Dialect, SqlConn, SqlValue } from '../../store/sql/conn.ts';

interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

// SQLSTATE classes (PostgreSQL manual, appendix A) that mean "the server cannot serve us now":
// 08 connection exception, 53 insufficient resources, 57P0x shutdown / starting up, and 40
// (deadlock, serialisation failure) where the transaction was rolled back and can be retried.
const UNAVAILABLE = /^(08|53|57P0|40)/;
// Fixable in the configuration: 28 invalid authorisation, 3D000 no such database.
const CONFIG = /^(28|3D000)/;
// What pg says (with no code) when the connection is lost or cannot be had in time.
const DROPPED = /timeout exceeded when trying to connect|Connection terminated|connection error|not queryable/i;
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** A pg or network error as a FlexError naming the store (by its redacted location). */
export const pgError = (e: unknown, description: string): FlexError => {
  if (e instanceof FlexError) return e;
  const err = e as { code?: string; message?: string };
  const message = err.message ?? String(e);
  const code = err.code ?? '';
  if (CONFIG.test(code)) return new FlexError('FLX_CONFIG_INVALID', `${description}: ${message}`, { cause: e });
  if (UNAVAILABLE.test(code) || NETWORK.has(code) || (code === '' && DROPPED.test(message))) {
    return new FlexError('FLX_STORE_UNAVAILABLE', `${description} is unavailable: ${message || code}`, { cause: e });
  }
  return new FlexError('FLX_INTERNAL', `${description}: ${message}`, { cause: e });
};

export const pgConn = (q: Queryable, description: string): SqlConn => ({
  all: async <R>(sql: string, params: readonly SqlValue[] = []) => {
    try {
      return (await q.query(sql, [...params])).rows as R[];
    } catch (e) {
      throw pgError(e, description);
    }
  },
  run: async (sql, params = []) => {
    try {
      return (await q.query(sql, [...params])).rowCount ?? 0;
    } catch (e) {
      throw pgError(e, description);
    }
  },
});

export const POSTGRES_DIALECT: Dialect = {
  name: 'PostgreSQL',
  // SHARE ROW EXCLUSIVE conflicts with itself and with every write, but not with reads: appenders
  // queue one behind the other until commit, while readers (verifier, dashboard) carry on.
  lockAuditChain: async (conn) => {
    await conn.run('LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE');
  },
  // Advisory locks are per database; the schema in the key keeps agents sharing one database apart.
  lockKey: async (conn, key) => {
    await conn.all("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || $1, 0))", [key]);
  },
  skipLocked: ' FOR UPDATE SKIP LOCKED',
};

/** bigint (int8) columns as numbers: audit and outbox seqs stay far below 2^53. */
const int8 = (text: string): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n))
    throw new FlexError('FLX_INTERNAL', `bigint ${text} is beyond what a JavaScript number holds exactly`);
  return n;
};

export const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 && format !== 'binary'
      ? int8
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};
