// The audit log table: append (read the head and link inside one IMMEDIATE transaction) and read.
import { link, type AuditEntry, type AuditKind, type AuditRecord } from '../../audit/chain.ts';
import { fromStoredJson, toStoredJson } from './json.ts';
import type { Db } from './schema.ts';

interface AuditRow {
  readonly seq: number;
  readonly kind: string;
  readonly at: number;
  readonly actor: string;
  readonly transaction_id: string | null;
  readonly message_id: string | null;
  readonly order_id: string | null;
  readonly payload: string;
  readonly prev_hash: string;
  readonly hash: string;
}

const COLUMNS = 'seq, kind, at, actor, transaction_id, message_id, order_id, payload, prev_hash, hash';

export interface AuditTable {
  append(entry: AuditEntry): AuditRecord;
  trail(transactionId: string | undefined): AuditRecord[];
}

/** The entry as it will read back: optional ids only when present, payload as parsed JSON. */
const normalise = (entry: AuditEntry): { entry: AuditEntry; payloadText: string } => {
  const payload = toStoredJson(entry.payload, `the payload of a ${entry.kind} audit entry`);
  return {
    payloadText: payload.text,
    entry: {
      kind: entry.kind,
      at: entry.at,
      actor: entry.actor,
      ...(entry.transactionId === undefined ? {} : { transactionId: entry.transactionId }),
      ...(entry.messageId === undefined ? {} : { messageId: entry.messageId }),
      ...(entry.orderId === undefined ? {} : { orderId: entry.orderId }),
      payload: payload.value,
    },
  };
};

const toRow = (r: AuditRecord, payloadText: string): AuditRow => ({
  seq: r.seq,
  kind: r.kind,
  at: r.at,
  actor: r.actor,
  transaction_id: r.transactionId ?? null,
  message_id: r.messageId ?? null,
  order_id: r.orderId ?? null,
  payload: payloadText,
  prev_hash: r.prevHash,
  hash: r.hash,
});

const fromRow = (file: string) => (r: AuditRow): AuditRecord => ({
  seq: r.seq,
  // Not checked against AUDIT_KINDS: a kind added later must still read (and verify) here.
  kind: r.kind as AuditKind,
  at: r.at,
  actor: r.actor,
  ...(r.transaction_id === null ? {} : { transactionId: r.transaction_id }),
  ...(r.message_id === null ? {} : { messageId: r.message_id }),
  ...(r.order_id === null ? {} : { orderId: r.order_id }),
  payload: fromStoredJson(r.payload, `the payload of audit record ${r.seq} in ${file}`),
  prevHash: r.prev_hash,
  hash: r.hash,
});

export const auditTable = (db: Db, file: string): AuditTable => {
  const head = db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
  const insert = db.prepare<AuditRow>(`INSERT INTO audit_log (${COLUMNS}) VALUES (@seq, @kind, @at, @actor, @transaction_id, @message_id, @order_id, @payload, @prev_hash, @hash)`);
  const all = db.prepare<[], AuditRow>(`SELECT ${COLUMNS} FROM audit_log ORDER BY seq`);
  const byTransaction = db.prepare<[string], AuditRow>(`SELECT ${COLUMNS} FROM audit_log WHERE transaction_id = ? ORDER BY seq`);
  // IMMEDIATE takes the write lock before reading the head, so a second connection (another
  // process on the same file) waits (busy_timeout) instead of linking to the same head and
  // forking the chain. A DEFERRED transaction would read first and then fail to upgrade.
  const appendAtHead = db.transaction((entry: AuditEntry, payloadText: string): AuditRecord => {
    const record = link(head.get(), entry);
    insert.run(toRow(record, payloadText));
    return record;
  });
  const read = fromRow(file);
  return {
    append: (entry) => {
      // Serialised outside the transaction so the write lock is held only for the insert.
      const { entry: clean, payloadText } = normalise(entry);
      return appendAtHead.immediate(clean, payloadText);
    },
    trail: (transactionId) => (transactionId === undefined ? all.all() : byTransaction.all(transactionId)).map(read),
  };
};
