// The outbox table, for any SQL adapter: messages owed to peers, written in the same transaction
// as the effect that owes them and sent by a worker after commit (see src/store/records.ts).
import { fromStoredJson, toStoredJson } from '../../audit/stored-json.ts';
import { FlexError } from '../../errors.ts';
import type { OutboxClaim, OutboxFailure, OutboxFilter, OutboxInput, OutboxMessage, OutboxStatus } from '../records.ts';
import { count, finite, optionalText, text } from './check.ts';
import type { Dialect, SqlConn, SqlValue } from './conn.ts';

interface OutboxRow {
  readonly seq: number;
  readonly id: string;
  readonly destination: string;
  readonly action: string;
  readonly transaction_id: string | null;
  readonly message_id: string | null;
  readonly order_id: string | null;
  readonly body: string;
  readonly created_at: number;
  readonly status: string;
  readonly attempts: number;
  readonly next_attempt_at: number;
  readonly lease_until: number | null;
  readonly last_error: string | null;
  readonly sent_at: number | null;
  readonly response: string | null;
}

const COLUMNS =
  'seq, id, destination, action, transaction_id, message_id, order_id, body, created_at, status, attempts, next_attempt_at, lease_until, last_error, sent_at, response';

const fromRow =
  (location: string) =>
  (r: OutboxRow): OutboxMessage => {
    const where = `outbox message ${r.id} in ${location}`;
    return {
      seq: r.seq,
      id: r.id,
      destination: r.destination,
      action: r.action,
      ...(r.transaction_id === null ? {} : { transactionId: r.transaction_id }),
      ...(r.message_id === null ? {} : { messageId: r.message_id }),
      ...(r.order_id === null ? {} : { orderId: r.order_id }),
      body: fromStoredJson(r.body, where),
      createdAt: r.created_at,
      status: r.status as OutboxStatus,
      attempts: r.attempts,
      nextAttemptAt: r.next_attempt_at,
      ...(r.lease_until === null ? {} : { leaseUntil: r.lease_until }),
      ...(r.last_error === null ? {} : { lastError: r.last_error }),
      ...(r.sent_at === null ? {} : { sentAt: r.sent_at }),
      ...(r.response === null ? {} : { response: fromStoredJson(r.response, `the response to ${where}`) }),
    };
  };

export const getOutbox = async (conn: SqlConn, location: string, id: string): Promise<OutboxMessage | undefined> =>
  (await conn.all<OutboxRow>(`SELECT ${COLUMNS} FROM outbox WHERE id = $1`, [id])).map(fromRow(location))[0];

export const enqueueOutbox = async (
  conn: SqlConn,
  location: string,
  m: OutboxInput,
): Promise<{ message: OutboxMessage; created: boolean }> => {
  const what = `outbox message ${String(m?.id)}`;
  const body = toStoredJson(m?.body, `the body of ${what}`).text;
  const createdAt = finite(what, 'createdAt', m.createdAt);
  const row: SqlValue[] = [
    text(what, 'id', m.id),
    text(what, 'destination', m.destination),
    text(what, 'action', m.action),
    optionalText(what, 'transactionId', m.transactionId),
    optionalText(what, 'messageId', m.messageId),
    optionalText(what, 'orderId', m.orderId),
    body,
    createdAt,
    m.notBefore === undefined ? createdAt : finite(what, 'notBefore', m.notBefore),
  ];
  const created = await conn.run(
    `INSERT INTO outbox (id, destination, action, transaction_id, message_id, order_id, body, created_at, next_attempt_at, status, attempts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0) ON CONFLICT (id) DO NOTHING`,
    row,
  );
  const [stored] = await conn.all<OutboxRow>(`SELECT ${COLUMNS} FROM outbox WHERE id = $1`, [m.id]);
  if (stored === undefined) throw new FlexError('FLX_INTERNAL', `${what} was neither inserted nor found`);
  // The same id must mean the same message: a different one under a used id would never be sent.
  const same =
    stored.destination === m.destination &&
    stored.action === m.action &&
    stored.body === body &&
    stored.transaction_id === row[3] &&
    stored.message_id === row[4] &&
    stored.order_id === row[5];
  if (created === 0 && !same)
    throw new FlexError(
      'FLX_STORE_CONFLICT',
      `${what} is already in the outbox with different content; each message owed needs its own id`,
    );
  return { message: fromRow(location)(stored), created: created === 1 };
};

export const listOutbox = async (
  conn: SqlConn,
  location: string,
  filter: OutboxFilter = {},
): Promise<OutboxMessage[]> => {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (filter.status !== undefined) {
    params.push(filter.status);
    where.push(`status = $${params.length}`);
  }
  if (filter.transactionId !== undefined) {
    params.push(filter.transactionId);
    where.push(`transaction_id = $${params.length}`);
  }
  const sql = `SELECT ${COLUMNS} FROM outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`;
  return (await conn.all<OutboxRow>(sql, params)).map(fromRow(location));
};

export const claimOutbox = async (
  conn: SqlConn,
  dialect: Dialect,
  location: string,
  c: OutboxClaim,
): Promise<OutboxMessage[]> => {
  const what = 'an outbox claim';
  const now = finite(what, 'now', c.now);
  const leaseUntil = now + count(what, 'leaseMs', c.leaseMs);
  const rows = await conn.all<OutboxRow>(
    `UPDATE outbox SET attempts = attempts + 1, lease_until = $2
     WHERE seq IN (SELECT seq FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                   ORDER BY next_attempt_at, seq LIMIT $3${dialect.skipLocked})
     RETURNING ${COLUMNS}`,
    [now, leaseUntil, count(what, 'limit', c.limit)],
  );
  // RETURNING gives no order; hand them out oldest first.
  return rows.sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.seq - b.seq).map(fromRow(location));
};

/** Clears every lease of a pending message, so it is due again at once; the number cleared. */
export const releaseOutboxLeases = async (conn: SqlConn): Promise<number> =>
  conn.run("UPDATE outbox SET lease_until = NULL WHERE status = 'pending' AND lease_until IS NOT NULL", []);

const changedOrMissing = async (conn: SqlConn, id: string, changed: number): Promise<boolean> => {
  if (changed === 1) return true;
  const [row] = await conn.all<{ status: string }>('SELECT status FROM outbox WHERE id = $1', [id]);
  if (row === undefined) throw new FlexError('FLX_INTERNAL', `no outbox message ${JSON.stringify(id)}`);
  return false;
};

export const markOutboxSent = async (
  conn: SqlConn,
  id: string,
  result: { at: number; response?: unknown },
): Promise<boolean> => {
  const what = `outbox message ${String(id)}`;
  const response = result.response === undefined ? null : toStoredJson(result.response, `the response to ${what}`).text;
  const changed = await conn.run(
    "UPDATE outbox SET status = 'sent', sent_at = $2, response = $3, lease_until = NULL WHERE id = $1 AND status = 'pending'",
    [text(what, 'id', id), finite(what, 'at', result.at), response],
  );
  return changedOrMissing(conn, id, changed);
};

export const markOutboxFailed = async (conn: SqlConn, id: string, f: OutboxFailure): Promise<boolean> => {
  const what = `outbox message ${String(id)}`;
  // Free text from a network error: U+0000 (which PostgreSQL text cannot hold) is replaced, not refused.
  const error = (typeof f.error === 'string' ? f.error : String(f.error)).replaceAll('\u0000', '\uFFFD');
  text(what, 'id', id);
  const changed =
    'giveUp' in f
      ? await conn.run(
          "UPDATE outbox SET status = 'dead', last_error = $2, lease_until = NULL WHERE id = $1 AND status = 'pending'",
          [id, error],
        )
      : await conn.run(
          "UPDATE outbox SET next_attempt_at = $2, last_error = $3, lease_until = NULL WHERE id = $1 AND status = 'pending'",
          [id, finite(what, 'retryAt', f.retryAt), error],
        );
  return changedOrMissing(conn, id, changed);
};
