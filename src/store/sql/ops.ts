// Every StoreTx operation over one SQL connection: the same code serves a transaction's handle and
// the Store's one-call-at-a-time methods (which run each call in its own transaction or read).
import type { Order } from '../../domain/order.ts';
import type { StoreTx } from '../../ports.ts';
import { appendAudit, auditTrail } from './audit.ts';
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

export const sqlOps = (conn: SqlConn, dialect: Dialect, location: string): StoreTx => ({
  appendAudit: (entry) => appendAudit(conn, dialect, entry),
  auditTrail: (filter = {}) => auditTrail(conn, location, filter.transactionId),
  claimMessage: (key, outcome) => claimMessage(conn, key, outcome),
  messageClaim: (key) => messageClaim(conn, key),
  saveOrder: (order: Order) => saveOrder(conn, order),
  getOrder: (id) => getOrder(conn, location, id),
  findOrderByTransaction: (transactionId) => findOrderByTransaction(conn, location, transactionId),
  listOrders: () => listOrders(conn, location),
  putDocument: (kind, id, doc) => putDocument(conn, kind, id, doc),
  getDocument: async <T>(kind: string, id: string) => (await getDocument(conn, location, kind, id)) as T | undefined,
  enqueueOutbox: (message) => enqueueOutbox(conn, location, message),
  getOutbox: (id) => getOutbox(conn, location, id),
  listOutbox: (filter) => listOutbox(conn, location, filter),
  saveCommitment: (c) => saveCommitment(conn, c),
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
