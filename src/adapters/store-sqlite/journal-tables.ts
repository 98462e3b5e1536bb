// Synchronous statements on a FlexLon SQLite store file for the group-commit journal, which must run
// many claims and appends inside one better-sqlite3 transaction (the Store port's SQL layer is
// asynchronous). Same tables, same chain rule and same JSON normalisation as the store
// (src/adapters/store-sql/audit.ts, src/audit/stored-json.ts), so both writers extend one chain.
import { link, type AuditEntry, type AuditRecord } from '../../audit/chain.ts';
import { normaliseAuditEntry } from '../../audit/stored-json.ts';
import type { Db } from './schema.ts';

export interface AuditTable {
  append(entry: AuditEntry): AuditRecord;
}

export interface Claims {
  claim(key: string, outcome: string): { first: boolean; outcome: string };
}

export const auditTable = (db: Db, _file: string): AuditTable => {
  const head = db.prepare<[], { seq: number; hash: string }>(
    'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
  );
  const insert = db.prepare(
    'INSERT INTO audit_log (seq, kind, at, actor, transaction_id, message_id, order_id, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  return {
    append(entry) {
      const { entry: clean, payloadText } = normaliseAuditEntry(entry);
      // Callers hold an IMMEDIATE transaction, so the head cannot move between read and insert.
      const r = link(head.get(), clean);
      insert.run(
        r.seq,
        r.kind,
        r.at,
        r.actor,
        r.transactionId ?? null,
        r.messageId ?? null,
        r.orderId ?? null,
        payloadText,
        r.prevHash,
        r.hash,
      );
      return r;
    },
  };
};

export const claimsTable = (db: Db): Claims => {
  const insert = db.prepare('INSERT OR IGNORE INTO message_claims (key, outcome) VALUES (?, ?)');
  const read = db.prepare<[string], { outcome: string }>('SELECT outcome FROM message_claims WHERE key = ?');
  return {
    claim(key, outcome) {
      const first = insert.run(key, outcome).changes === 1;
      return { first, outcome: first ? outcome : (read.get(key)?.outcome ?? outcome) };
    },
  };
};
