// The insider tamper cases of issue 17, once, for every store adapter: someone with write access to
// the provider's database but not to its key drops the append-only guards and then inserts, edits
// or deletes a record mid-log re-hashing every later one, cuts off the last 10 records, edits the
// orders table, or appends a forged settlement with a correctly computed hash. Each adapter's test
// (test/audit/insider.test.ts: SQLite; test/cli/audit-postgres.test.ts: PostgreSQL) gives a fresh
// copy of a settled run's provider store as a TamperDb, applies `edit`, runs `flexlon audit verify`
// over the whole run and checks `expect` and that the provider's store is the one named.
import assert from 'node:assert/strict';
import { link, type AuditEntry, type AuditRecord } from '../../src/audit/chain.ts';

/** The provider's store in one copy of a run, guards already dropped. */
export interface TamperDb {
  /** Its audit log as entries, in order. */
  entries(): Promise<AuditEntry[]>;
  /** Replaces the whole log with the records of `entries`, each re-linked and re-hashed. */
  rewrite(records: readonly AuditRecord[]): Promise<void>;
  /** Runs one SQL statement on its tables (unqualified names); the number of rows changed. */
  exec(sql: string): Promise<number>;
}

/** Re-links and re-hashes a whole log, as an insider without the key would. */
export const relink = (entries: readonly AuditEntry[]): AuditRecord[] => {
  let prev: AuditRecord | undefined;
  return entries.map((e) => (prev = link(prev, e)));
};

/** A stored row of audit_log as an entry (both adapters store the same columns). */
export const entryOfRow = (r: {
  kind: string;
  at: number | string;
  actor: string;
  transaction_id: string | null;
  message_id: string | null;
  order_id: string | null;
  payload: string;
}): AuditEntry => ({
  kind: r.kind as AuditEntry['kind'],
  at: Number(r.at),
  actor: r.actor,
  ...(r.transaction_id === null ? {} : { transactionId: r.transaction_id }),
  ...(r.message_id === null ? {} : { messageId: r.message_id }),
  ...(r.order_id === null ? {} : { orderId: r.order_id }),
  payload: JSON.parse(r.payload) as unknown,
});

/** The audit_log columns a re-inserted record fills, in order, and a record's values for them. */
export const AUDIT_COLUMNS = 'seq, kind, at, actor, transaction_id, message_id, order_id, payload, prev_hash, hash';
export const auditRowValues = (r: AuditRecord): unknown[] => [
  r.seq,
  r.kind,
  r.at,
  r.actor,
  r.transactionId ?? null,
  r.messageId ?? null,
  r.orderId ?? null,
  JSON.stringify(r.payload),
  r.prevHash,
  r.hash,
];

export interface TamperCase {
  readonly name: string;
  edit(db: TamperDb): Promise<void>;
  /** What `audit verify` must say (the provider's store is checked to be the one reported). */
  readonly expect: RegExp;
}

const rewriteWith = async (db: TamperDb, change: (es: AuditEntry[]) => void): Promise<void> => {
  const es = await db.entries();
  change(es);
  await db.rewrite(relink(es));
};

const firstInbound = (es: readonly AuditEntry[]): number => {
  const i = es.findIndex((e) => e.kind === 'beckn.in');
  assert.ok(i >= 0, 'the provider received Beckn messages');
  return i;
};

export const TAMPER_CASES: readonly TamperCase[] = [
  {
    name: 'a record inserted mid-log, the rest re-hashed',
    edit: (db) =>
      rewriteWith(db, (es) => {
        es.splice(Math.floor(es.length / 3), 0, {
          kind: 'beckn.in',
          at: Date.now(),
          actor: 'someone',
          payload: { forged: true },
        });
      }),
    expect:
      /TAMPERED at record \d+: record \d+ (is not the one the head in record \d+ vouches for|\(state\) is not followed by a head signing it)/,
  },
  {
    name: 'a record edited mid-log, the rest re-hashed',
    edit: (db) =>
      rewriteWith(db, (es) => {
        const i = firstInbound(es);
        es[i] = { ...(es[i] as AuditEntry), payload: { edited: true } };
      }),
    expect: /TAMPERED at record \d+: /,
  },
  {
    name: 'a record deleted mid-log, the rest re-hashed',
    edit: (db) => rewriteWith(db, (es) => void es.splice(firstInbound(es), 1)),
    expect: /TAMPERED at record \d+: /,
  },
  {
    name: 'the last 10 records cut off (caught by the head the buyer holds)',
    edit: async (db) => {
      assert.equal(await db.exec('DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 10 FROM audit_log)'), 10);
    },
    expect:
      /the head the counterparty holds \([^)]*\) vouches for record \d+, .* but the log ends at record \d+: it was truncated/,
  },
  {
    name: 'the orders table edited',
    edit: async (db) => {
      const changed = await db.exec('UPDATE orders SET body = replace(body, \'"reductionKw":\', \'"reductionKw":1\') ');
      assert.equal(changed, 1);
    },
    expect: /TAMPERED state table: orders row \S+ differs from what record \d+ says was written/,
  },
  {
    name: 'a forged settlement row with a correctly computed hash',
    edit: (db) =>
      rewriteWith(db, (es) => {
        const real = es.find((e) => e.kind === 'settlement');
        assert.ok(real, 'the provider settled the order');
        es.push({ ...real, at: Date.now(), payload: { ...(real.payload as object), paymentGbp: 1_000_000 } });
      }),
    expect: /\(settlement\) is not followed by a head signing it/,
  },
];

/**
 * Checks a verify run over a tampered copy: exit 1, the provider's store (`store`, as the report
 * names it) reported TAMPERED, and the case's words.
 */
export const assertDetected = (c: TamperCase, store: string, result: { code: number; text: string }): void => {
  assert.equal(result.code, 1, `${c.name}: ${result.text}`);
  assert.ok(
    result.text.split('\n').some((l) => l.startsWith(`TAMPERED  ${store}: `)),
    `${c.name}: ${result.text}`,
  );
  assert.match(result.text, c.expect, c.name);
};
