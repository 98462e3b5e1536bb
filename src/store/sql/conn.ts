// What the SQLite and PostgreSQL adapters have in common: both speak SQL to one connection at a
// time, so the tables (src/adapters/store-sql/*.ts) are written once against this small interface
// and each adapter supplies a connection and the few statements where the dialects differ.
// Statements use PostgreSQL's numbered placeholders ($1, $2, …); the SQLite connection rewrites them.

export type SqlValue = string | number | null;

export interface SqlConn {
  /** The rows a statement returns (SELECT, or INSERT/UPDATE … RETURNING). */
  all<R>(sql: string, params?: readonly SqlValue[]): Promise<R[]>;
  /** Runs a statement that returns no rows; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

export interface Dialect {
  /** For messages: "SQLite" or "PostgreSQL". */
  readonly name: string;
  /**
   * Holds the audit chain's append lock until the transaction ends, so the head read next is still
   * the head when the new record is inserted (two appenders linking to one head would fork the chain).
   */
  lockAuditChain(conn: SqlConn): Promise<void>;
  /** Holds a named lock until the transaction ends (StoreTx.lock). */
  lockKey(conn: SqlConn, key: string): Promise<void>;
  /** Appended to the SELECT that picks outbox messages to claim, so concurrent workers skip each other's. */
  readonly skipLocked: string;
}

export interface SqlBackend {
  /** For messages: "the SQLite store /path/x.db", "the PostgreSQL store postgresql://host/db (schema s)". */
  readonly description: string;
  readonly location: string;
  readonly dialect: Dialect;
  readonly closed: boolean;
  /** Begins a write transaction, runs fn on its connection, commits if fn resolves and rolls back if it throws. */
  transaction<T>(fn: (conn: SqlConn) => Promise<T>): Promise<T>;
  /** Runs fn on a connection that sees committed data only. */
  read<T>(fn: (conn: SqlConn) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** `$1 … $n` placeholders as written in a statement, in order of appearance (for drivers that bind by position). */
export const placeholderOrder = (sql: string): number[] => [...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));

/** `$1, $2, …` for n values starting at `from` (for IN lists and multi-row inserts). */
export const placeholders = (from: number, n: number): string =>
  Array.from({ length: n }, (_, i) => `$${from + i}`).join(', ');
