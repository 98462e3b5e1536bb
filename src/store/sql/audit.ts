// The audit log table, for any SQL adapter: append (take the chain lock, read the head, link, insert)
// and read. The database adds its own guard (append-only triggers, see each adapter's migrations).
import { link, type AuditEntry, type AuditKind, type AuditRecord } from '../../audit/chain.ts';
import { fromStoredJson, normaliseAuditEntry } from '../../audit/stored-json.ts';
import { bad } from './check.ts';
import type { Dialect, SqlConn, SqlValue } from './conn.ts';

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

const fromRow =
  (location: string) =>
  (r: AuditRow): AuditRecord => ({
    seq: r.seq,
    // Not checked against AUDIT_KINDS: a kind added later must still read (and verify) here.
    kind: r.kind as AuditKind,
    at: r.at,
    actor: r.actor,
    ...(r.transaction_id === null ? {} : { transactionId: r.transaction_id }),
    ...(r.message_id === null ? {} : { messageId: r.message_id }),
    ...(r.order_id === null ? {} : { orderId: r.order_id }),
    payload: fromStoredJson(r.payload, `the payload of audit record ${r.seq} in ${location}`),
    prevHash: r.prev_hash,
    hash: r.hash,
  });

export const appendAudit = async (conn: SqlConn, dialect: Dialect, entry: AuditEntry): Promise<AuditRecord> => {
  // Normalised before the lock is taken, so a payload JSON cannot carry fails without waiting.
  const { entry: clean, payloadText } = normaliseAuditEntry(entry);
  await dialect.lockAuditChain(conn);
  const [head] = await conn.all<{ seq: number; hash: string }>(
    'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
  );
  const r = link(head, clean);
  await conn.run(`INSERT INTO audit_log (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
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
  ]);
  return r;
};

/**
 * The log in seq order, narrowed by transaction and/or to the rows after `afterSeq`. Reading on from
 * the last row seen is what lets a reader follow the log without reading it whole each time (the
 * dashboard's summary, src/web/audit-index.ts); seq is the primary key, so `seq > $n` is a range scan.
 */
export const auditTrail = async (
  conn: SqlConn,
  location: string,
  filter: { readonly transactionId?: string | undefined; readonly afterSeq?: number | undefined },
): Promise<AuditRecord[]> => {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (filter.transactionId !== undefined) {
    params.push(filter.transactionId);
    where.push(`transaction_id = $${params.length}`);
  }
  if (filter.afterSeq !== undefined) {
    // An integer seq, compared as one by both databases (a fraction or NaN would be a caller's fault).
    if (!Number.isSafeInteger(filter.afterSeq) || filter.afterSeq < 0)
      throw bad(
        `the audit trail of ${location}`,
        'afterSeq',
        `must be a whole number ≥ 0, got ${String(filter.afterSeq)}`,
      );
    params.push(filter.afterSeq);
    where.push(`seq > $${params.length}`);
  }
  const rows = await conn.all<AuditRow>(
    `SELECT ${COLUMNS} FROM audit_log ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')} `}ORDER BY seq`,
    params,
  );
  return rows.map(fromRow(location));
};

/** The newest record, or undefined for an empty log. */
export const auditTail = async (conn: SqlConn, location: string): Promise<AuditRecord | undefined> =>
  (await conn.all<AuditRow>(`SELECT ${COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1`)).map(fromRow(location))[0];
