// `flexlon audit verify --postgres URL`: a market whose stores are schemas of a real PostgreSQL
// server (FLEXLON_STORE=postgres), a real procurement through it, delivered and settled, then the
// audit trails verified from the database alone: every schema's chain and every stored inbound
// signature; a tampered row is named; a schema that holds no store is refused, and not created. Then
// the insider tamper cases of issue 17 (test/audit/tamper-cases.ts, the same ones SQLite runs). The
// market runs once; every test edits its own copy of the run's database.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { link, type AuditEntry, type AuditRecord } from '../../src/audit/chain.ts';
import { main } from '../../src/cli/main.ts';
import { SLOT_MINUTES } from '../../src/compose/index.ts';
import { MINUTE_MS } from '../../src/domain/time.ts';
import pg from 'pg';
import { buyEarlyWindow, openMarket, runThrough } from '../helpers/market.ts';
import { startPostgres, type PgCluster } from '../helpers/postgres.ts';
import {
  assertDetected,
  AUDIT_COLUMNS,
  auditRowValues,
  entryOfRow,
  TAMPER_CASES,
  type TamperDb,
} from '../audit/tamper-cases.ts';

const SLOT = SLOT_MINUTES * MINUTE_MS;
const RUN_DB = 'flexlon_run';

let cluster: PgCluster;
/** The settled run every test works on a copy of (it stays untouched). */
let runUrl: string;
/** The provider's schema in it, and its store's location as the market named it. */
let flex: string;
let flexLocation: string;

/** Runs `fn` with the market's stores in PostgreSQL at `url` (FLEXLON_STORE=postgres), restoring the environment after. */
const withPostgresStores = async <T>(url: string, fn: () => Promise<T>): Promise<T> => {
  const env = { FLEXLON_STORE: process.env.FLEXLON_STORE, FLEXLON_PG_URL: process.env.FLEXLON_PG_URL };
  process.env.FLEXLON_STORE = 'postgres';
  process.env.FLEXLON_PG_URL = url;
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(env))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
};

/** Polls `ok` every 100 ms for up to 15 s. */
const until = async (ok: () => Promise<boolean>, what: string): Promise<void> => {
  for (const end = Date.now() + 15_000; !(await ok());) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/**
 * One market for the whole file, its stores schemas of one database: a deal bought and settled, as
 * in test/audit/insider.test.ts (market time runs through the window; the BPP pushes on_status with
 * its signed head, which the buyer keeps). Each test edits a fresh copy (CREATE DATABASE … TEMPLATE),
 * so the file composes one market, not one per test.
 */
before(
  async () => {
    cluster = await startPostgres();
    runUrl = await cluster.createDatabase(RUN_DB);
    await withPostgresStores(runUrl, async () => {
      const market = await openMarket('auditpg', { secondsPerDay: '20' });
      try {
        const m = market.m;
        flexLocation = m.stores.flex.location;
        const { windowEnd } = await buyEarlyWindow(m);
        await runThrough(m, windowEnd + SLOT);
        // Wait on the conditions, not a timer: the provider completed the order, and its DELIVERED
        // on_status (pushed unasked, with its signed head) reached the buyer and was audited there.
        await until(async () => (await m.stores.flex.listOrders())[0]?.state === 'completed', 'the order completed');
        await until(
          async () =>
            (await m.stores.grid.auditTrail()).some(
              (r) =>
                r.kind === 'settlement' &&
                (r.payload as { unsolicited?: boolean; state?: string }).unsolicited === true &&
                (r.payload as { state?: string }).state === 'DELIVERED',
            ),
          'the DELIVERED on_status reached the buyer',
        );
      } finally {
        await market.stop();
      }
    });
    flex = (
      await cluster.sql<{ table_schema: string }>(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'audit_log' AND table_schema LIKE '%_flex_orchestrator'",
        [],
        runUrl,
      )
    )[0]?.table_schema as string;
  },
  { timeout: 120_000 },
);

after(async () => {
  await cluster?.stop();
});

/** A fresh copy of the whole run (every schema), to tamper with; its connection string. */
const copyOfRun = async (name: string): Promise<string> => {
  await cluster.sql(`CREATE DATABASE ${name} TEMPLATE ${RUN_DB}`);
  return runUrl.replace(new RegExp(`${RUN_DB}$`), name);
};

const verify = async (...args: string[]): Promise<{ code: number; out: string[] }> => {
  const out: string[] = [];
  const code = await main(['audit', 'verify', ...args], { out: (l) => out.push(l), err: (l) => out.push(l) });
  return { code, out };
};

test(
  'audit verify --postgres checks every schema of a run: chains intact, inbound signatures verify; tampering is named',
  { timeout: 180_000 },
  async () => {
    const dbUrl = await copyOfRun('flexlon_audit');
    assert.match(flexLocation, /\(schema flexlon_[a-z0-9]+_flex_orchestrator\)$/);
    const schemas = (
      await cluster.sql<{ table_schema: string }>(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'audit_log' ORDER BY 1",
        [],
        dbUrl,
      )
    ).map((r) => r.table_schema);
    assert.equal(schemas.length, 5, `registry, gateway, grid, flex and one agent: ${schemas.join(', ')}`);

    const ok = await verify('--postgres', dbUrl);
    assert.equal(ok.code, 0, ok.out.join('\n'));
    for (const s of schemas)
      assert.ok(
        ok.out.some((l) => l.startsWith(`intact  schema ${s}: `)),
        `${s}\n${ok.out.join('\n')}`,
      );
    const checked = ok.out
      .map((l) => /^\s+(\d+) of (\d+) inbound signatures verify$/.exec(l))
      .filter((x) => x !== null);
    assert.ok(checked.length >= 2 && checked.every((x) => x[1] === x[2] && Number(x[1]) > 0), ok.out.join('\n'));

    // One schema only, as JSON.
    assert.ok(schemas.includes(flex), flex);
    const one = await verify('--postgres', dbUrl, '--schema', flex, '--json');
    assert.equal(one.code, 0);
    const parsed = JSON.parse(one.out.join('\n')) as { file: string; chain: { ok: boolean }; records: number }[];
    assert.deepEqual(
      parsed.map((r) => [r.file, r.chain.ok]),
      [[`schema ${flex}`, true]],
    );

    // An insider edits a stored message and re-hashes every later record, so the chain alone reads
    // intact: the signed heads (issue 17) name it.
    const stored = await cluster.sql<{
      kind: string;
      at: string;
      actor: string;
      transaction_id: string | null;
      message_id: string | null;
      order_id: string | null;
      payload: string;
    }>(
      `SELECT kind, at, actor, transaction_id, message_id, order_id, payload FROM ${flex}.audit_log ORDER BY seq`,
      [],
      dbUrl,
    );
    const edited = stored.findLastIndex((r) => r.kind === 'beckn.in');
    let prev: AuditRecord | undefined;
    const relinked = stored.map((r, i) => {
      prev = link(prev, {
        kind: r.kind as AuditEntry['kind'],
        at: Number(r.at),
        actor: r.actor,
        ...(r.transaction_id === null ? {} : { transactionId: r.transaction_id }),
        ...(r.message_id === null ? {} : { messageId: r.message_id }),
        ...(r.order_id === null ? {} : { orderId: r.order_id }),
        payload: i === edited ? { edited: true } : (JSON.parse(r.payload) as unknown),
      });
      return prev;
    });
    await cluster.sql(`ALTER TABLE ${flex}.audit_log DISABLE TRIGGER USER; DELETE FROM ${flex}.audit_log`, [], dbUrl);
    for (const r of relinked)
      await cluster.sql(
        `INSERT INTO ${flex}.audit_log (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        auditRowValues(r),
        dbUrl,
      );
    const rehashed = await verify('--postgres', dbUrl);
    assert.equal(rehashed.code, 1, rehashed.out.join('\n'));
    assert.ok(
      rehashed.out.some((l) => l.startsWith(`TAMPERED  schema ${flex}: `)),
      rehashed.out.join('\n'),
    );
    assert.ok(
      rehashed.out.some((l) => /^\s+TAMPERED at record \d+: /.test(l)),
      rehashed.out.join('\n'),
    );

    // An insider edits a stored message: the chain breaks at that record.
    await cluster.sql(
      `ALTER TABLE ${flex}.audit_log DISABLE TRIGGER USER; UPDATE ${flex}.audit_log SET payload = replace(payload, 'search', 'select') WHERE seq = (SELECT min(seq) FROM ${flex}.audit_log WHERE kind = 'beckn.in')`,
      [],
      dbUrl,
    );
    const bad = await verify('--postgres', dbUrl);
    assert.equal(bad.code, 1);
    assert.ok(
      bad.out.some((l) => l.startsWith(`BROKEN  schema ${flex}: `)),
      bad.out.join('\n'),
    );

    // A schema with no store is refused by name, and nothing is created.
    const missing = await verify('--postgres', dbUrl, '--schema', 'no_such_store');
    assert.equal(missing.code, 2, missing.out.join('\n'));
    assert.match(missing.out.join('\n'), /^flexlon audit: FLX_CLI_USAGE: no FlexLon store in schema no_such_store/m);
    const after = await cluster.sql(
      "SELECT 1 FROM information_schema.schemata WHERE schema_name = 'no_such_store'",
      [],
      dbUrl,
    );
    assert.equal(after.length, 0, 'verifying never creates a schema');
  },
);

/** The provider's schema in a copy of the run, as the tamper cases see it (one connection, guards dropped). */
const pgTamperDb = (client: pg.Client): TamperDb => ({
  entries: async () =>
    (await client.query<Parameters<typeof entryOfRow>[0]>('SELECT * FROM audit_log ORDER BY seq')).rows.map(entryOfRow),
  rewrite: async (records) => {
    await client.query('DELETE FROM audit_log');
    for (const r of records)
      await client.query(
        `INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        auditRowValues(r),
      );
  },
  exec: async (sql) => (await client.query(sql)).rowCount ?? 0,
});

test(
  'the insider tamper cases on PostgreSQL: re-hashed insert, edit and delete, truncation, orders edit, forged settlement',
  { timeout: 240_000 },
  async () => {
    const base = runUrl;
    assert.ok(flex, 'the provider has a schema');
    const settled = await cluster.sql(`SELECT 1 FROM ${flex}.audit_log WHERE kind = 'settlement'`, [], base);
    assert.equal(settled.length, 1, 'the provider settled the order');
    const untouched = await verify('--postgres', base);
    assert.equal(untouched.code, 0, untouched.out.join('\n'));
    assert.ok(
      untouched.out.some((l) =>
        /signed heads verify \(records 1–\d+ vouched for; [1-9]\d* held by counterparties/.test(l),
      ),
      untouched.out.join('\n'),
    );

    // The order settled again from the database (flexlon settle --order --postgres) is what the provider recorded.
    const [order] = await cluster.sql<{ id: string }>(`SELECT id FROM ${flex}.orders`, [], base);
    const [recorded] = await cluster.sql<{ payload: string }>(
      `SELECT payload FROM ${flex}.audit_log WHERE kind = 'settlement' ORDER BY seq DESC LIMIT 1`,
      [],
      base,
    );
    const answer: string[] = [];
    const code = await main(['settle', '--order', order?.id as string, '--postgres', base, '--format', 'json'], {
      out: (l) => answer.push(l),
      err: (l) => answer.push(l),
    });
    assert.equal(code, 0, answer.join('\n'));
    const report = JSON.parse(answer.join('\n')) as {
      order: { store: string; role: string; differences: string[] };
      settlement: { paymentGbp: number; deliveredKwh: number };
    };
    const want = JSON.parse(recorded?.payload as string) as { paymentGbp: number; deliveredKwh: number };
    assert.deepEqual(
      [report.order.store, report.order.role, report.order.differences],
      [`schema ${flex}`, 'provider', []],
    );
    assert.deepEqual(
      [report.settlement.paymentGbp, report.settlement.deliveredKwh],
      [want.paymentGbp, want.deliveredKwh],
    );

    for (const [i, c] of TAMPER_CASES.entries()) {
      // A fresh copy of the whole run (every schema), then the insider's edit on the provider's.
      const url = await copyOfRun(`flexlon_tamper_${i}`);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`SET search_path TO ${flex}`);
        // The insider, owning the tables, switches the append-only triggers off first.
        await client.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
        await c.edit(pgTamperDb(client));
      } finally {
        await client.end();
      }
      const got = await verify('--postgres', url);
      assertDetected(c, `schema ${flex}`, { code: got.code, text: got.out.join('\n') });
    }
  },
);
