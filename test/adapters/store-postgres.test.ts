// The PostgreSQL store against a real server: a throwaway cluster started for this file (see
// test/helpers/postgres.ts), one SQL schema per test. The shared contract runs first; then what is
// particular to PostgreSQL: configuration and secrets, schema versions, the database's own guard on
// the audit table, tamper detection, and several processes writing one chain.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyChain, type AuditEntry } from '../../src/audit/chain.ts';
import {
  openPostgresStore,
  postgresOptionsFromEnv,
  SCHEMA_VERSION,
  type PostgresStoreOptions,
} from '../../src/adapters/store-postgres/index.ts';
import type { Store } from '../../src/ports.ts';
import { storeOpener } from '../../src/compose/index.ts';
import { storeContract } from '../contract/store.contract.ts';
import { hasCode, order } from '../contract/store-fixtures.ts';
import { startPostgres, type PgCluster } from '../helpers/postgres.ts';
import { checkNothingHalfWritten, killMidTransaction } from '../helpers/store-crash.ts';

const STORE_MODULE = new URL('../../src/adapters/store-postgres/index.ts', import.meta.url).href;
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

let cluster: PgCluster;
let dbUrl: string;
let schemas = 0;

before(
  async () => {
    cluster = await startPostgres();
    dbUrl = await cluster.createDatabase('flexlon_test');
  },
  { timeout: 120_000 },
);

after(async () => {
  await cluster?.stop();
});

const entry = (actor: string, payload: unknown): AuditEntry => ({
  kind: 'agent',
  at: 1_735_689_600_000,
  actor,
  payload,
});

/** A fresh schema for one test, every store opened on it closed and the schema dropped afterwards. */
const inSchema = async (
  fn: (schema: string, open: (o?: Partial<PostgresStoreOptions>) => Promise<Store>) => Promise<void>,
): Promise<void> => {
  const schema = `t_${++schemas}`;
  const opened: Store[] = [];
  try {
    await fn(schema, async (o = {}) => {
      const store = await openPostgresStore({ url: dbUrl, schema, maxConnections: 4, ...o });
      opened.push(store);
      return store;
    });
  } finally {
    for (const s of opened) await s.close();
    await cluster.sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`, [], dbUrl);
  }
};

storeContract('PostgreSQL', async () => {
  const schema = `contract_${++schemas}`;
  const opened: Store[] = [];
  const open = async (): Promise<Store> => {
    const store = await openPostgresStore({ url: dbUrl, schema, maxConnections: 4 });
    opened.push(store);
    return store;
  };
  return {
    store: await open(),
    reopen: open,
    cleanup: async () => {
      for (const s of opened) await s.close();
      await cluster.sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`, [], dbUrl);
    },
  };
});

describe('PostgreSQL store: configuration, secrets and schema versions', () => {
  test('location names server, database and schema but never the password; a password file works', async () => {
    await cluster.sql("CREATE ROLE flexlon_pw LOGIN PASSWORD 's3cret/p@w:%d'", [], dbUrl);
    await cluster.sql('GRANT CREATE ON DATABASE flexlon_test TO flexlon_pw', [], dbUrl);
    // Password authentication for this role only; everyone else keeps trust.
    const hba = join(cluster.dir, 'data', 'pg_hba.conf');
    writeFileSync(hba, `host all flexlon_pw 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    await cluster.sql('SELECT pg_reload_conf()');
    const dir = mkdtempSync(join(tmpdir(), 'flexlon-pw-'));
    try {
      const base = `postgresql://flexlon_pw@127.0.0.1:${cluster.port}/flexlon_test`;
      writeFileSync(join(dir, 'good'), 's3cret/p@w:%d\n');
      writeFileSync(join(dir, 'bad'), 'wrong-pw\n');
      const store = await openPostgresStore({ url: base, passwordFile: join(dir, 'good'), schema: 'pw_store' });
      assert.equal(store.location, `${base} (schema pw_store)`);
      await store.appendAudit(entry('pw', 1));
      await store.close();
      const inline = await openPostgresStore({
        url: `postgresql://flexlon_pw:${encodeURIComponent('s3cret/p@w:%d')}@127.0.0.1:${cluster.port}/flexlon_test?sslmode=disable`,
        schema: 'pw_store',
      });
      assert.doesNotMatch(inline.location, /s3cret/);
      assert.equal((await inline.auditTrail()).length, 1);
      await inline.close();
      await assert.rejects(
        openPostgresStore({ url: base, passwordFile: join(dir, 'bad'), schema: 'pw_store' }),
        (e: unknown) =>
          hasCode('FLX_CONFIG_INVALID', 'password authentication failed', 'pw_store')(e) &&
          !/wrong-pw|s3cret/.test((e as Error).message),
      );
      await assert.rejects(
        openPostgresStore({ url: base, passwordFile: join(dir, 'missing'), schema: 'pw_store' }),
        hasCode('FLX_CONFIG_INVALID', 'FLEXLON_PG_PASSWORD_FILE', 'missing', 'ENOENT'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await cluster.sql('DROP SCHEMA IF EXISTS pw_store CASCADE', [], dbUrl);
    }
  });

  test('bad options are refused before connecting, naming the field and never echoing a secret', async () => {
    const refuse = (o: Partial<PostgresStoreOptions>, ...parts: string[]) =>
      assert.rejects(
        openPostgresStore({ url: dbUrl, schema: 'x', ...o }),
        (e: unknown) => hasCode('FLX_CONFIG_INVALID', ...parts)(e) && !(e as Error).message.includes('hunter2'),
      );
    await refuse({ url: 'not a url with hunter2' }, 'url', 'not a URL');
    await refuse({ url: 'mysql://u:hunter2@h/db' }, 'postgresql://');
    await refuse({ url: 'postgresql://u:hunter2@h/db', passwordFile: '/etc/pw' }, 'use one of them');
    await refuse({ url: `${dbUrl}?options=-c%20search_path%3Dpublic` }, 'options');
    await refuse({ schema: 'Robert"; DROP TABLE x' }, 'schema');
    await refuse({ schema: '' }, 'schema');
    assert.throws(() => postgresOptionsFromEnv({}, 'flex'), hasCode('FLX_CONFIG_INVALID', 'FLEXLON_PG_URL', 'not set'));
    assert.throws(
      () =>
        postgresOptionsFromEnv(
          { FLEXLON_PG_URL: 'postgresql://u:hunter2@h/db', FLEXLON_PG_PASSWORD_FILE: '/run/secrets/pg' },
          'flex',
        ),
      (e: unknown) =>
        hasCode('FLX_CONFIG_INVALID', 'FLEXLON_PG_URL', 'use one of them')(e) &&
        !(e as Error).message.includes('hunter2'),
    );
    assert.deepEqual(
      postgresOptionsFromEnv({ FLEXLON_PG_URL: dbUrl, FLEXLON_PG_PASSWORD_FILE: '/run/secrets/pg' }, 'flex'),
      { url: dbUrl, schema: 'flex', passwordFile: '/run/secrets/pg' },
    );
  });

  test('the composition root opens one schema per agent and run with FLEXLON_STORE=postgres, and refuses unknown stores', async () => {
    const env = { FLEXLON_STORE: 'postgres', FLEXLON_PG_URL: dbUrl };
    const store = await storeOpener('/unused', '2025-01-01T00-00-00-000Z-3fa2b1c9', env)('flex-orchestrator');
    try {
      assert.match(store.location, /\(schema flexlon_3fa2b1c9_flex_orchestrator\)$/);
      assert.equal((await store.appendAudit(entry('flex', 1))).seq, 1);
    } finally {
      await store.close();
      await cluster.sql('DROP SCHEMA flexlon_3fa2b1c9_flex_orchestrator CASCADE', [], dbUrl);
    }
    assert.throws(
      () => storeOpener('/unused', 'run', { FLEXLON_STORE: 'mongodb' }),
      hasCode('FLX_CONFIG_INVALID', 'FLEXLON_STORE', 'sqlite or postgres'),
    );
    assert.throws(
      () => storeOpener('/unused', 'run', { FLEXLON_STORE: 'postgres' }),
      hasCode('FLX_CONFIG_INVALID', 'FLEXLON_PG_URL'),
    );
  });

  test('an unreachable server or a missing database fails clearly', async () => {
    const closedPort = cluster.port === 1 ? 2 : 1;
    await assert.rejects(
      openPostgresStore({ url: `postgresql://postgres@127.0.0.1:${closedPort}/x`, schema: 's' }),
      hasCode('FLX_STORE_UNAVAILABLE', `127.0.0.1:${closedPort}`, 'ECONNREFUSED'),
    );
    await assert.rejects(
      openPostgresStore({ url: `postgresql://postgres@127.0.0.1:${cluster.port}/no_such_db`, schema: 's' }),
      hasCode('FLX_CONFIG_INVALID', 'no_such_db', 'does not exist'),
    );
  });

  test('the schema version is recorded; a schema from a newer FlexLon is refused', () =>
    inSchema(async (schema, open) => {
      await (await open({ actor: 'flex.example' })).close();
      assert.deepEqual(await cluster.sql(`SELECT version, applied_by FROM ${schema}.schema_version`, [], dbUrl), [
        { version: 1, applied_by: 'flex.example' },
      ]);
      assert.equal(SCHEMA_VERSION, 1);
      await cluster.sql(`INSERT INTO ${schema}.schema_version VALUES (99, 0, 'future')`, [], dbUrl);
      await assert.rejects(open(), hasCode('FLX_CONFIG_INVALID', `schema ${schema}`, 'version 99', 'up to 1'));
    }));

  test('several stores opening one new schema at once migrate it once', () =>
    inSchema(async (schema, open) => {
      const stores = await Promise.all(Array.from({ length: 4 }, () => open()));
      await Promise.all(stores.map((s, i) => s.appendAudit(entry(`s${i}`, i))));
      assert.deepEqual(verifyChain(await stores[0]!.auditTrail()), { ok: true, records: 4 });
      assert.deepEqual(await cluster.sql(`SELECT version FROM ${schema}.schema_version`, [], dbUrl), [{ version: 1 }]);
    }));
});

describe('PostgreSQL store: a server outage', () => {
  test('while the server is down calls fail with FLX_STORE_UNAVAILABLE and change nothing; afterwards the store carries on', () =>
    inSchema(async (_schema, open) => {
      const store = await open({ connectTimeoutMs: 2000 });
      await store.appendAudit(entry('before', 1));
      await cluster.stopServer();
      try {
        await assert.rejects(store.appendAudit(entry('during', 2)), hasCode('FLX_STORE_UNAVAILABLE', 'is unavailable'));
        await assert.rejects(store.listOrders(), hasCode('FLX_STORE_UNAVAILABLE'));
        await assert.rejects(
          store.transaction((tx) => tx.saveOrder(order('o-down'))),
          hasCode('FLX_STORE_UNAVAILABLE'),
        );
      } finally {
        await cluster.restartServer();
      }
      // A pooled connection may still be the dead one once; the call after it uses a new one.
      await store.appendAudit(entry('after', 3)).catch((e: unknown) => assert.ok(hasCode('FLX_STORE_UNAVAILABLE')(e)));
      await store.appendAudit(entry('after', 4));
      const trail = await store.auditTrail();
      assert.deepEqual(verifyChain(trail), { ok: true, records: trail.length });
      assert.equal(trail[0]?.actor, 'before');
      assert.equal(
        trail.some((r) => r.actor === 'during'),
        false,
      );
      assert.equal(await store.getOrder('o-down'), undefined);
    }));
});

describe('PostgreSQL store: the audit table is append-only in the database, and tampering is detected', () => {
  const seeded = async (open: () => Promise<Store>): Promise<Store> => {
    const store = await open();
    for (let i = 1; i <= 6; i++) await store.appendAudit(entry('flex', { i }));
    return store;
  };

  test('UPDATE, DELETE, TRUNCATE and out-of-place INSERTs are refused, even for the superuser', () =>
    inSchema(async (schema, open) => {
      const store = await seeded(open);
      const t = `${schema}.audit_log`;
      await assert.rejects(
        cluster.sql(`UPDATE ${t} SET payload = '{"i":99}' WHERE seq = 3`, [], dbUrl),
        /append-only: UPDATE refused/,
      );
      await assert.rejects(cluster.sql(`DELETE FROM ${t} WHERE seq = 6`, [], dbUrl), /append-only: DELETE refused/);
      await assert.rejects(cluster.sql(`TRUNCATE ${t}`, [], dbUrl), /append-only: TRUNCATE refused/);
      await assert.rejects(
        cluster.sql(
          `INSERT INTO ${t} SELECT seq + 10, kind, at, actor, transaction_id, message_id, order_id, payload, prev_hash, hash FROM ${t} WHERE seq = 6`,
          [],
          dbUrl,
        ),
        /must follow the current head/,
      );
      await assert.rejects(
        cluster.sql(
          `INSERT INTO ${t} SELECT 7, kind, at, actor, transaction_id, message_id, order_id, payload, prev_hash, hash FROM ${t} WHERE seq = 6`,
          [],
          dbUrl,
        ),
        /must follow the current head/,
      );
      const trail = await store.auditTrail();
      assert.deepEqual(
        trail.map((r) => r.payload),
        [1, 2, 3, 4, 5, 6].map((i) => ({ i })),
      );
      assert.deepEqual(verifyChain(trail), { ok: true, records: 6 });
    }));

  test('a change or deletion made with the triggers disabled is reported at its seq', () =>
    inSchema(async (schema, open) => {
      const store = await seeded(open);
      const t = `${schema}.audit_log`;
      await cluster.sql(
        `ALTER TABLE ${t} DISABLE TRIGGER USER; UPDATE ${t} SET payload = '{"i":40}' WHERE seq = 4`,
        [],
        dbUrl,
      );
      const changed = verifyChain(await store.auditTrail());
      assert.deepEqual(changed.ok ? undefined : changed.seq, 4);
      await cluster.sql(`DELETE FROM ${t} WHERE seq = 2`, [], dbUrl);
      const gap = verifyChain(await store.auditTrail());
      assert.deepEqual(gap.ok ? undefined : [gap.seq, gap.reason], [3, 'gap: expected record 2, found 3']);
      await cluster.sql(`UPDATE ${t} SET payload = '{not json' WHERE seq = 5`, [], dbUrl);
      await assert.rejects(store.auditTrail(), hasCode('FLX_DATA_INVALID', 'audit record 5', `schema ${schema}`));
    }));
});

/** Appends `count` records from a separate Node process to `schema`. */
const appendFromChild = (schema: string, actor: string, count: number, startAt: number): Promise<number | null> => {
  const code = `
    const { openPostgresStore } = await import(${JSON.stringify(STORE_MODULE)});
    const { FLX_URL, FLX_SCHEMA, FLX_ACTOR, FLX_COUNT, FLX_START_AT } = process.env;
    await new Promise((r) => setTimeout(r, Math.max(0, Number(FLX_START_AT) - Date.now())));
    const store = await openPostgresStore({ url: FLX_URL, schema: FLX_SCHEMA, actor: FLX_ACTOR, maxConnections: 2 });
    for (let i = 0; i < Number(FLX_COUNT); i++) {
      await store.transaction(async (tx) => {
        const claim = await tx.claimMessage('shared-key', FLX_ACTOR);
        await tx.appendAudit({ kind: 'agent', at: Date.now(), actor: FLX_ACTOR, payload: { i, first: claim.first } });
      });
    }
    await store.close();`;
  const env = {
    ...process.env,
    FLX_URL: dbUrl,
    FLX_SCHEMA: schema,
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

describe('PostgreSQL store: a writer killed mid-transaction', () => {
  test(
    'leaves every transaction whole or absent, and the chain intact (SIGKILL at three points)',
    { timeout: 120_000 },
    (t) =>
      inSchema(async (schema, open) => {
        await (await open()).close();
        for (const delayMs of [0, 3, 11]) {
          const s = `${schema}_${delayMs}`;
          await killMidTransaction(
            STORE_MODULE,
            'mod.openPostgresStore({ url: env.FLX_URL, schema: env.FLX_SCHEMA })',
            { FLX_URL: dbUrl, FLX_SCHEMA: s },
            delayMs,
          );
          const store = await openPostgresStore({ url: dbUrl, schema: s });
          try {
            t.diagnostic(`killed after ${await checkNothingHalfWritten(store)} transactions`);
            await store.appendAudit(entry('after-restart', 1));
            assert.equal(verifyChain(await store.auditTrail()).ok, true);
          } finally {
            await store.close();
            await cluster.sql(`DROP SCHEMA ${s} CASCADE`, [], dbUrl);
          }
        }
      }),
  );
});

describe('PostgreSQL store: several writers', () => {
  test('two stores (two pools) appending interleaved keep one valid chain', () =>
    inSchema(async (_schema, open) => {
      const [a, b] = [await open(), await open()];
      for (let i = 0; i < 20; i++)
        await Promise.all([
          a.appendAudit(entry('a', { i })),
          b.appendAudit(entry('b', { i })),
          a.appendAudit(entry('a2', { i })),
        ]);
      const trail = await a.auditTrail();
      assert.deepEqual(verifyChain(trail), { ok: true, records: 60 });
      assert.deepEqual(await b.auditTrail(), trail);
    }));

  test(
    'four processes writing transactions to one schema keep one valid chain and one first claim',
    { timeout: 120_000 },
    (t) =>
      inSchema(async (schema, open) => {
        await (await open()).close(); // migrate first, so the children race on writes, not on set-up
        const actors = ['p1', 'p2', 'p3', 'p4'];
        const startAt = Date.now() + 1500;
        const codes = await Promise.all(actors.map((actor) => appendFromChild(schema, actor, 40, startAt)));
        assert.deepEqual(codes, [0, 0, 0, 0]);
        const trail = await (await open()).auditTrail();
        assert.deepEqual(verifyChain(trail), { ok: true, records: 160 });
        for (const actor of actors) assert.equal(trail.filter((r) => r.actor === actor).length, 40);
        assert.equal(
          trail.filter((r) => (r.payload as { first: boolean }).first).length,
          1,
          'exactly one process claimed the key first',
        );
        t.diagnostic(
          `writer changed ${trail.filter((r, i) => i > 0 && trail[i - 1]?.actor !== r.actor).length} times along the chain`,
        );
      }),
  );
});
