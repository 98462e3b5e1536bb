// The PostgreSQL schema of one agent's store, built by numbered migrations recorded in
// `schema_version`, inside the agent's own SQL schema. A later migration is appended to MIGRATIONS
// and never edits an earlier one. Key columns use the "C" collation so that ORDER BY id sorts by
// code point, as SQLite does, whatever the database's locale.
import type pg from 'pg';
import { GENESIS_HASH } from '../../audit/chain.ts';
import { FlexError } from '../../errors.ts';

interface Migration {
  readonly version: number;
  readonly sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE audit_log (
        seq bigint PRIMARY KEY,
        kind text NOT NULL,
        at double precision NOT NULL,
        actor text NOT NULL,
        transaction_id text COLLATE "C",
        message_id text COLLATE "C",
        order_id text COLLATE "C",
        payload text NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL
      );
      CREATE INDEX audit_log_transaction ON audit_log (transaction_id, seq);

      -- Append-only, enforced by the database for every role that does not own the table or
      -- disable triggers: no UPDATE, DELETE or TRUNCATE, and an INSERT must follow the head.
      -- The hash chain is what detects a deliberate change by someone who can get past these.
      -- SET search_path FROM CURRENT: the functions find this schema's audit_log whatever the
      -- caller's search_path.
      CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      BEGIN
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
      END $$;
      CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
      CREATE FUNCTION audit_log_at_head() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      DECLARE head_seq bigint; head_hash text;
      BEGIN
        SELECT seq, hash INTO head_seq, head_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
        IF NEW.seq IS DISTINCT FROM COALESCE(head_seq, 0) + 1 OR NEW.prev_hash IS DISTINCT FROM COALESCE(head_hash, '${GENESIS_HASH}') THEN
          RAISE EXCEPTION 'audit_log is append-only: a record must follow the current head (seq and prev_hash)';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER audit_log_append_at_head BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_at_head();

      CREATE TABLE message_claims (key text COLLATE "C" PRIMARY KEY, outcome text NOT NULL);

      CREATE TABLE orders (
        id text COLLATE "C" PRIMARY KEY,
        transaction_id text COLLATE "C" NOT NULL,
        state text NOT NULL,
        updated_at double precision NOT NULL,
        body text NOT NULL
      );
      CREATE INDEX orders_transaction ON orders (transaction_id);
      CREATE INDEX orders_updated ON orders (updated_at, id);

      CREATE TABLE documents (kind text COLLATE "C", id text COLLATE "C", body text NOT NULL, PRIMARY KEY (kind, id));

      CREATE TABLE outbox (
        seq bigserial PRIMARY KEY,
        id text COLLATE "C" NOT NULL UNIQUE,
        destination text NOT NULL,
        action text NOT NULL,
        transaction_id text COLLATE "C",
        message_id text COLLATE "C",
        order_id text COLLATE "C",
        body text NOT NULL,
        created_at double precision NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at double precision NOT NULL,
        lease_until double precision,
        last_error text,
        sent_at double precision,
        response text
      );
      CREATE INDEX outbox_due ON outbox (status, next_attempt_at, seq);
      CREATE INDEX outbox_transaction ON outbox (transaction_id, seq);

      CREATE TABLE commitments (
        order_id text COLLATE "C" NOT NULL,
        site text COLLATE "C" NOT NULL,
        window_start double precision NOT NULL,
        window_end double precision NOT NULL,
        body text NOT NULL,
        PRIMARY KEY (order_id, site)
      );
      CREATE INDEX commitments_window ON commitments (window_end);

      CREATE TABLE plans (
        id text COLLATE "C" PRIMARY KEY,
        created_at double precision NOT NULL,
        horizon_start double precision NOT NULL,
        status text NOT NULL,
        body text NOT NULL
      );
      CREATE INDEX plans_created ON plans (created_at, id);

      CREATE TABLE dispatches (
        id text COLLATE "C" PRIMARY KEY,
        site text COLLATE "C" NOT NULL,
        at double precision NOT NULL,
        plan_id text COLLATE "C",
        order_id text COLLATE "C",
        body text NOT NULL
      );
      CREATE INDEX dispatches_site ON dispatches (site, at);
      CREATE INDEX dispatches_plan ON dispatches (plan_id);
      CREATE INDEX dispatches_order ON dispatches (order_id);

      CREATE TABLE meter_readings (
        site text COLLATE "C" NOT NULL,
        slot_start double precision NOT NULL,
        slot_minutes double precision NOT NULL,
        import_kw double precision NOT NULL,
        read_at double precision NOT NULL,
        source text,
        PRIMARY KEY (site, slot_start)
      );
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);

/**
 * Creates the schema if needed and applies the migrations it lacks, in one transaction under an
 * advisory lock (two processes opening a new store at once must not both run migration 1).
 * Refuses a schema written by a newer FlexLon with FLX_CONFIG_INVALID.
 */
export const migrate = async (
  client: pg.PoolClient,
  schema: string,
  actor: string,
  description: string,
): Promise<void> => {
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('flexlon-migrate:' || $1, 0))", [schema]);
    // The schema name was checked to be a plain lower-case SQL name, so it needs no quoting.
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`SET LOCAL search_path TO ${schema}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at double precision NOT NULL, applied_by text NOT NULL)',
    );
    const current = Number(
      (await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_version')).rows[0]?.v ?? 0,
    );
    if (current > SCHEMA_VERSION) {
      throw new FlexError(
        'FLX_CONFIG_INVALID',
        `${description} has store schema version ${current}, but this FlexLon understands versions up to ${SCHEMA_VERSION}: open it with the newer FlexLon that wrote it, or use another schema`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_version (version, applied_at, applied_by) VALUES ($1, $2, $3)', [
        m.version,
        Date.now(),
        actor,
      ]);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
};
