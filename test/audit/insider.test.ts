// The audit trail against an insider (issue 17): someone with write access to a store's database
// but not to the participant's key. A whole market runs a deal to settlement over signed HTTP; then
// copies of its SQLite files are tampered with the way the tamper test did — a record
// inserted, edited or deleted mid-log with every later record re-hashed, the last 10 records cut
// off, the orders table edited, a settlement row forged with a correctly computed hash — and
// `flexlon audit verify` must name each (before signed heads, each of these verified "intact").
import { MINUTE_MS } from '../../src/domain/time.ts';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { headFromTags } from '../../src/audit/heads.ts';
import { main } from '../../src/cli/main.ts';
import { SLOT_MINUTES } from '../../src/compose/index.ts';
import { buyEarlyWindow, openMarket, runThrough, type TestMarket } from '../helpers/market.ts';
import {
  assertDetected,
  AUDIT_COLUMNS,
  auditRowValues,
  entryOfRow,
  TAMPER_CASES,
  type TamperDb,
} from './tamper-cases.ts';

const SLOT = SLOT_MINUTES * MINUTE_MS;
let market: TestMarket;
let runDir: string;
const work = mkdtempSync(join(tmpdir(), 'flexlon-insider-'));

before(
  async () => {
    market = await openMarket('insider', { secondsPerDay: '20' });
    const m = market.m;
    runDir = dirname(m.stores.flex.location);
    // A deal settled: market time runs through the window; the BPP pushes on_status with its signed head.
    const { windowEnd } = await buyEarlyWindow(m);
    await runThrough(m, windowEnd + SLOT);
    for (let i = 0; i < 100; i++) {
      const order = (await m.stores.flex.listOrders())[0];
      if (order?.state === 'completed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1_500)); // the DELIVERED on_status reaches the buyer
    await m.stop();
  },
  { timeout: 120_000 },
);

after(async () => {
  await market?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A fresh copy of the run folder, tampered by `edit` on its flex-orchestrator.db. */
const tampered = async (name: string, edit: (db: TamperDb) => Promise<void>): Promise<string> => {
  const dir = join(work, name);
  cpSync(runDir, dir, { recursive: true });
  const db = new Database(join(dir, 'flex-orchestrator.db'));
  try {
    // The insider drops the append-only guards first.
    for (const t of db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as { name: string }[])
      db.exec(`DROP TRIGGER "${t.name}"`);
    await edit(sqliteTamperDb(db));
  } finally {
    db.close();
  }
  return dir;
};

/** The SQLite store as the tamper cases see it. */
const sqliteTamperDb = (db: Database.Database): TamperDb => ({
  entries: async () =>
    (db.prepare('SELECT * FROM audit_log ORDER BY seq').all() as Parameters<typeof entryOfRow>[0][]).map(entryOfRow),
  rewrite: async (records) => {
    db.exec('DELETE FROM audit_log');
    const insert = db.prepare(`INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const r of records) insert.run(...auditRowValues(r));
  },
  exec: async (sql) => db.prepare(sql).run().changes,
});

const verify = async (dir: string, ...extra: string[]): Promise<{ code: number; text: string }> => {
  const out: string[] = [];
  const code = await main(['audit', 'verify', dir, ...extra], { out: (l) => out.push(l), err: (l) => out.push(l) });
  return { code, text: out.join('\n') };
};

test('the untouched run verifies: chains, signed heads, state rows, and the head the buyer holds', async () => {
  assert.ok(readdirSync(runDir).includes('flex-orchestrator.db'));
  const { code, text } = await verify(runDir);
  assert.equal(code, 0, text);
  assert.match(text, /signed heads verify \(records 1–\d+ vouched for; [1-9]\d* held by counterparties among them\)/);
});

// The same cases run on PostgreSQL in test/cli/audit-postgres.test.ts.
for (const [i, c] of TAMPER_CASES.entries())
  test(`${c.name} is detected`, async () => {
    assertDetected(c, 'flex-orchestrator.db', await verify(await tampered(`case-${i}`, c.edit)));
  });

test("a head given on the command line catches truncation without the buyer's store beside it", async () => {
  const dir = await tampered('truncate-given', async (db) => {
    await db.exec('DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 10 FROM audit_log)');
  });
  // The head the buyer kept, exported to a file; the buyer's store itself is not there.
  const grid = new Database(join(dir, 'grid-orchestrator.db'), { readonly: true });
  const bodies = grid.prepare("SELECT payload FROM audit_log WHERE kind = 'beckn.in'").all() as { payload: string }[];
  grid.close();
  const heads = bodies
    .map((b) => (JSON.parse(b.payload) as { body: string }).body)
    .map((body) =>
      headFromTags((JSON.parse(body) as { message?: { order?: { tags?: unknown } } }).message?.order?.tags),
    )
    .filter((h) => h !== undefined);
  assert.ok(heads.length > 0, "the buyer kept the provider's heads");
  rmSync(join(dir, 'grid-orchestrator.db'));
  const file = join(work, 'heads.json');
  writeFileSync(file, JSON.stringify(heads));
  // Without the buyer's head the cut shows only where a table row outlived its record (the order's
  // last state record was cut off with the rest).
  const alone = await verify(dir);
  assert.doesNotMatch(alone.text, /truncated/);
  assert.match(alone.text, /TAMPERED state table: orders row/);
  const { code, text } = await verify(dir, '--head', file);
  assert.equal(code, 1, text);
  assert.match(text, /but the log ends at record \d+: it was truncated/);
  const junk = join(work, 'junk.json');
  writeFileSync(junk, '{"v": 2}');
  const refused = await verify(dir, '--head', junk);
  assert.equal(refused.code, 2, refused.text);
  assert.match(refused.text, /FLX_CLI_USAGE: --head .*junk\.json: entry 0 is not a signed head/);
});

test('audit export: one transaction with its chain and signed heads, checkable offline; a changed export is named', async () => {
  const db = new Database(join(runDir, 'flex-orchestrator.db'), { readonly: true });
  const { transaction_id: tx } = db.prepare('SELECT transaction_id FROM orders LIMIT 1').get() as {
    transaction_id: string;
  };
  db.close();
  const file = join(work, 'export.json');
  const out: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
  assert.equal(await main(['audit', 'export', runDir, '--transaction', tx, '--out', file], io), 0, out.join('\n'));
  const e = JSON.parse(readFileSync(file, 'utf8')) as {
    stores: {
      store: string;
      records: { seq: number; kind: string; transactionId?: string; context?: boolean; payload: unknown }[];
    }[];
  };
  assert.deepEqual(
    e.stores.map((s) => s.store).sort(),
    ['flex-orchestrator.db', 'gateway.db', 'grid-orchestrator.db'],
    'the buyer, the gateway and the provider each hold part of the transaction',
  );
  for (const s of e.stores)
    for (const r of s.records) assert.ok(r.context === true || r.transactionId === tx, `${s.store} ${r.seq}`);
  const ok = await verify('--export', file);
  assert.equal(ok.code, 0, ok.text);
  assert.match(ok.text, /^intact {2}export of transaction .*: \d+ records, [1-9]\d* vouched for by signed heads/);

  // Someone edits the provider's settlement in the export: the record no longer hashes to its hash.
  const flex = e.stores.find((s) => s.store === 'flex-orchestrator.db');
  const settlement = flex?.records.find((r) => r.kind === 'settlement');
  assert.ok(settlement, 'the provider’s settlement is in the export');
  settlement.payload = { ...(settlement.payload as object), paymentGbp: 1_000_000 };
  const bad = join(work, 'export-bad.json');
  writeFileSync(bad, JSON.stringify(e));
  const tampered = await verify('--export', bad);
  assert.equal(tampered.code, 1, tampered.text);
  assert.match(
    tampered.text,
    new RegExp(`TAMPERED {2}export .*flex-orchestrator\\.db record ${settlement.seq}: .*content was changed`),
  );

  const csv: string[] = [];
  assert.equal(
    await main(['audit', 'export', runDir, '--transaction', tx, '--format', 'csv'], {
      out: (l) => csv.push(l),
      err: (l) => csv.push(l),
    }),
    0,
  );
  const rows = csv.join('\n').split('\n');
  assert.match(rows[0] ?? '', /^store,seq,kind,at_utc,actor,transaction_id,/);
  assert.equal(
    rows.length - 1,
    e.stores.reduce((a, s) => a + s.records.length, 0),
  );
});
