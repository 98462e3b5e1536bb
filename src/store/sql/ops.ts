// Every StoreTx operation over one SQL connection: the same code serves a transaction's handle and
// the Store's one-call-at-a-time methods (which run each call in its own transaction or read).
import type { AuditEntry, AuditRecord } from '../../audit/chain.ts';
import {
  HEAD_KIND,
  HEAD_PERIOD_MS,
  HEADED_KINDS,
  headEntry,
  isSignedHead,
  rowDigest,
  STATE_KIND,
  type SignedHead,
  type StateRecordPayload,
} from '../../audit/heads.ts';
import type { Order } from '../../domain/order.ts';
import type { Signer, StoreTx } from '../../ports.ts';
import type { CommitmentKeys } from '../records.ts';
import { appendAudit, auditTail, auditTrail } from './audit.ts';
import type { Dialect, SqlConn } from './conn.ts';
import {
  claimOutbox,
  enqueueOutbox,
  getOutbox,
  listOutbox,
  markOutboxFailed,
  markOutboxSent,
  releaseOutboxLeases,
} from './outbox.ts';
import {
  getPlan,
  latestPlan,
  listCommitments,
  listDispatches,
  meterReadings,
  saveCommitment,
  saveDispatch,
  saveMeterReadings,
  savePlan,
} from './records.ts';
import {
  claimMessage,
  messageClaim,
  findOrderByTransaction,
  getDocument,
  getOrder,
  listOrders,
  putDocument,
  saveOrder,
} from './tables.ts';
import { text } from './check.ts';

export { claimOutbox, markOutboxFailed, markOutboxSent, releaseOutboxLeases };

/**
 * Signed heads (src/audit/heads.ts), when the store's owner gave it its key: a head after every
 * settlement and state record and at least every HEAD_PERIOD_MS, and a state record (the row's
 * digest) for every order and commitment written, each in the same transaction as the write.
 */
export interface HeadState {
  readonly signer: Signer;
  readonly now: () => number;
  lastHeadAt: number;
}

const appendHeaded = async (
  conn: SqlConn,
  dialect: Dialect,
  heads: HeadState | undefined,
  entry: AuditEntry,
): Promise<AuditRecord> => {
  const r = await appendAudit(conn, dialect, entry);
  if (!heads || r.kind === HEAD_KIND) return r;
  const at = heads.now();
  if (HEADED_KINDS.includes(r.kind) || at - heads.lastHeadAt >= HEAD_PERIOD_MS) {
    await appendAudit(conn, dialect, headEntry(r, heads.signer, at));
    heads.lastHeadAt = at;
  }
  return r;
};

/** Appends a head for the newest record unless it is one already (the store's periodic pass). */
export const signLatest = async (
  conn: SqlConn,
  dialect: Dialect,
  location: string,
  heads: HeadState,
): Promise<boolean> => {
  await dialect.lockAuditChain(conn);
  const tail = await auditTail(conn, location);
  if (!tail || tail.kind === HEAD_KIND) return false;
  const at = heads.now();
  await appendAudit(conn, dialect, headEntry(tail, heads.signer, at));
  heads.lastHeadAt = at;
  return true;
};

const stateRecord = (
  heads: HeadState,
  table: StateRecordPayload['table'],
  key: string,
  row: unknown,
  about: { transactionId?: string; orderId?: string },
): AuditEntry => ({
  kind: STATE_KIND as AuditEntry['kind'],
  at: heads.now(),
  actor: heads.signer.subscriberId,
  ...about,
  payload: { table, key, digest: rowDigest(row) } satisfies StateRecordPayload,
});

/** The newest head in the log, or undefined (for messages that carry it to the counterparty). */
export const latestHead = async (conn: SqlConn): Promise<SignedHead | undefined> => {
  const [row] = await conn.all<{ payload: string }>(
    `SELECT payload FROM audit_log WHERE kind = '${HEAD_KIND}' ORDER BY seq DESC LIMIT 1`,
  );
  if (!row) return undefined;
  const h: unknown = JSON.parse(row.payload);
  return isSignedHead(h) ? h : undefined;
};

export const sqlOps = (conn: SqlConn, dialect: Dialect, location: string, heads?: HeadState): StoreTx => ({
  appendAudit: (entry) => appendHeaded(conn, dialect, heads, entry),
  latestHead: () => latestHead(conn),
  auditTrail: (filter = {}) => auditTrail(conn, location, filter),
  claimMessage: (key, outcome) => claimMessage(conn, key, outcome),
  messageClaim: (key) => messageClaim(conn, key),
  saveOrder: async (order: Order) => {
    await saveOrder(conn, order);
    if (!heads) return;
    const stored = await getOrder(conn, location, order.id);
    await appendHeaded(
      conn,
      dialect,
      heads,
      stateRecord(heads, 'orders', order.id, stored, { transactionId: order.transactionId, orderId: order.id }),
    );
  },
  getOrder: (id) => getOrder(conn, location, id),
  findOrderByTransaction: (transactionId) => findOrderByTransaction(conn, location, transactionId),
  listOrders: () => listOrders(conn, location),
  putDocument: (kind, id, doc) => putDocument(conn, kind, id, doc),
  getDocument: async <T>(kind: string, id: string) => (await getDocument(conn, location, kind, id)) as T | undefined,
  enqueueOutbox: (message) => enqueueOutbox(conn, location, message),
  getOutbox: (id) => getOutbox(conn, location, id),
  listOutbox: (filter) => listOutbox(conn, location, filter),
  markOutboxSent: (id, r) => markOutboxSent(conn, id, r),
  markOutboxFailed: (id, f) => markOutboxFailed(conn, id, f),
  saveCommitment: async (c: CommitmentKeys) => {
    await saveCommitment(conn, c);
    if (!heads) return;
    const stored = (await listCommitments(conn, location, { orderId: c.orderId, site: c.site }))[0];
    await appendHeaded(
      conn,
      dialect,
      heads,
      stateRecord(heads, 'commitments', `${c.orderId}|${c.site}`, stored, { orderId: c.orderId }),
    );
  },
  listCommitments: (filter) => listCommitments(conn, location, filter),
  savePlan: (p) => savePlan(conn, p),
  getPlan: (id) => getPlan(conn, location, id),
  latestPlan: () => latestPlan(conn, location),
  saveDispatch: (d) => saveDispatch(conn, d),
  listDispatches: (filter) => listDispatches(conn, location, filter),
  saveMeterReadings: (readings) => saveMeterReadings(conn, readings),
  meterReadings: (filter) => meterReadings(conn, filter),
  lock: async (key) => dialect.lockKey(conn, text('a transaction lock', 'key', key)),
});
