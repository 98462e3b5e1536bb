// The PostgreSQL implementation of the Store port: one SQL schema per agent in a shared database,
// a pool of connections, tables from the shared SQL layer (src/adapters/store-sql). Transactions
// are READ COMMITTED; what keeps them correct under concurrency is explicit: the audit table lock
// (one chain), the claim's primary key (one first claim), SKIP LOCKED (one claimer per outbox
// message) and StoreTx.lock (advisory locks for read-check-write on one order).
import pg from 'pg';
import { FlexError } from '../../errors.ts';
import type { Store } from '../../ports.ts';
import type { SqlBackend } from '../../store/sql/conn.ts';
import { sqlStore } from '../../store/sql/store.ts';
import { checkOptions, readPassword, redactUrl, type PostgresStoreOptions } from './config.ts';
import { pgConn, pgError, POSTGRES_DIALECT, TYPES } from './conn.ts';
import { migrate } from './schema.ts';

export { SCHEMA_VERSION } from './schema.ts';
export { postgresOptionsFromEnv, redactUrl, type PostgresStoreOptions } from './config.ts';

const ignore = (): void => undefined;

const postgresBackend = (pool: pg.Pool, location: string): SqlBackend => {
  const description = `the PostgreSQL store ${location}`;
  let closed = false;
  const ensureOpen = (): void => {
    if (closed) throw new FlexError('FLX_INTERNAL', `${description} is closed`);
  };
  const connect = async (): Promise<pg.PoolClient> => {
    try {
      return await pool.connect();
    } catch (e) {
      throw pgError(e, description);
    }
  };
  return {
    description,
    location,
    dialect: POSTGRES_DIALECT,
    get closed() {
      return closed;
    },
    transaction: async (fn) => {
      ensureOpen();
      const client = await connect();
      // A checked-out client emits 'error' when its connection drops; the query in flight fails
      // with it, so the event itself is only kept from crashing the process.
      client.on('error', ignore);
      const conn = pgConn(client, description);
      let broken: Error | undefined;
      try {
        await conn.run('BEGIN');
        const result = await fn(conn);
        await conn.run('COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch((r: unknown) => {
          broken = r instanceof Error ? r : new Error(String(r));
        });
        throw e;
      } finally {
        client.off('error', ignore);
        // A client whose ROLLBACK failed is discarded, not handed to the next transaction.
        client.release(broken);
      }
    },
    read: async (fn) => {
      ensureOpen();
      return fn(pgConn(pool, description));
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
};

/**
 * Opens the store in `options.schema` of the database at `options.url`, creating the schema and its
 * tables if needed. Fails with FLX_CONFIG_INVALID for bad options, a wrong password, a missing
 * database or a schema from a newer FlexLon, and FLX_STORE_UNAVAILABLE when the server cannot be reached.
 */
export const openPostgresStore = async (options: PostgresStoreOptions): Promise<Store> => {
  const url = checkOptions(options);
  const location = `${redactUrl(options.url)} (schema ${options.schema})`;
  // pg lets the connection string override a separate `password` (even with none in it), so the
  // password from the file goes into the (in-memory) connection string.
  if (options.passwordFile !== undefined) url.password = encodeURIComponent(readPassword(options.passwordFile));
  const pool = new pg.Pool({
    connectionString: url.toString(),
    max: options.maxConnections ?? 5,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    options: `-c search_path=${options.schema}`,
    application_name: 'flexlon',
    types: TYPES,
  });
  // Idle clients report a dropped connection here; the next query reports it to its caller.
  pool.on('error', ignore);
  const description = `the PostgreSQL store ${location}`;
  try {
    const client = await pool.connect();
    try {
      await migrate(client, options.schema, options.actor ?? 'flexlon', description);
    } finally {
      client.release();
    }
  } catch (e) {
    await pool.end().catch(ignore);
    throw pgError(e, description);
  }
  return sqlStore(postgresBackend(pool, location));
};

/**
 * The schemas in the database at `url` that hold a FlexLon store (an audit_log table), sorted: what
 * `flexlon audit verify --postgres` checks when no schema is named. Opens nothing else and creates nothing.
 */
export const listPostgresStores = async (options: Omit<PostgresStoreOptions, 'schema'>): Promise<string[]> => {
  const url = checkOptions({ ...options, schema: 'public' });
  if (options.passwordFile !== undefined) url.password = encodeURIComponent(readPassword(options.passwordFile));
  const client = new pg.Client({
    connectionString: url.toString(),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    application_name: 'flexlon',
  });
  client.on('error', ignore);
  const description = `the PostgreSQL database ${redactUrl(options.url)}`;
  try {
    await client.connect();
    const r = await client.query<{ table_schema: string }>(
      "SELECT table_schema FROM information_schema.tables WHERE table_name = 'audit_log' ORDER BY table_schema",
    );
    return r.rows.map((x) => x.table_schema);
  } catch (e) {
    throw pgError(e, description);
  } finally {
    await client.end().catch(ignore);
  }
};
