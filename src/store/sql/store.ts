// The Store port over any SQL backend (SQLite, PostgreSQL). A backend knows how to open a write
// transaction and how to read committed data; this class adds the transaction handle and its guards:
//   - inside store.transaction(fn), fn must use its `tx`; calling the store itself is refused (it
//     would wait for the very transaction it is part of, or write outside it);
//   - a `tx` used after its transaction ended is refused, and fn resolving while tx calls are still
//     running rolls back (their writes would otherwise land after, or outside, the commit);
//   - a statement that failed inside the transaction fails the whole transaction even if fn caught
//     the error (PostgreSQL would otherwise turn the COMMIT into a silent ROLLBACK).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditEntry, AuditRecord } from '../../audit/chain.ts';
import type { Order } from '../../domain/order.ts';
import { FlexError } from '../../errors.ts';
import type { AuditFilter, Signer, Store, StoreTx } from '../../ports.ts';
import type {
  CommitmentFilter,
  CommitmentKeys,
  DispatchFilter,
  DispatchKeys,
  MeterFilter,
  MeterReading,
  OutboxClaim,
  OutboxFailure,
  OutboxFilter,
  OutboxInput,
  OutboxMessage,
  PlanKeys,
} from '../records.ts';
import type { SqlBackend, SqlConn } from './conn.ts';
export type { SqlBackend } from './conn.ts';
import {
  claimOutbox,
  markOutboxFailed,
  markOutboxSent,
  releaseOutboxLeases,
  signLatest,
  sqlOps,
  type HeadState,
} from './ops.ts';
import { HEAD_PERIOD_MS } from '../../audit/heads.ts';

interface TxState {
  readonly store: object;
  open: boolean;
  inFlight: number;
  failure: unknown;
}

const current = new AsyncLocalStorage<TxState>();

/** The transaction's connection, refusing statements once the transaction is over and remembering failures. */
const guardedConn = (conn: SqlConn, state: TxState, description: string): SqlConn => {
  const guard = async <T>(run: () => Promise<T>): Promise<T> => {
    if (!state.open)
      throw new FlexError(
        'FLX_INTERNAL',
        `a transaction handle of ${description} was used after its transaction ended; use a new store.transaction()`,
      );
    if (state.failure !== undefined) throw state.failure;
    try {
      return await run();
    } catch (e) {
      state.failure ??= e;
      throw e;
    }
  };
  return {
    all: (sql, params) => guard(() => conn.all(sql, params)),
    run: (sql, params) => guard(() => conn.run(sql, params)),
  };
};

/** Counts the calls in flight, so a transaction can refuse to commit under one still running. */
const counted = (tx: StoreTx, state: TxState): StoreTx => {
  const wrap =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      state.inFlight++;
      try {
        return await f(...a);
      } finally {
        state.inFlight--;
      }
    };
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(tx)) out[name] = wrap(f as (...a: unknown[]) => Promise<unknown>);
  return out as unknown as StoreTx;
};

class SqlStore implements Store {
  readonly location: string;
  readonly #b: SqlBackend;
  #heads: HeadState | undefined;
  #headTimer: NodeJS.Timeout | undefined;

  constructor(backend: SqlBackend) {
    this.#b = backend;
    this.location = backend.location;
  }

  #check(method: string): void {
    if (this.#b.closed) throw new FlexError('FLX_INTERNAL', `${this.#b.description} is closed (${method} after close)`);
    const tx = current.getStore();
    if (tx !== undefined && tx.store === this && tx.open) {
      throw new FlexError(
        'FLX_INTERNAL',
        `store.${method}() was called inside a transaction of the same store; use the transaction handle (tx.${method}) there`,
      );
    }
  }

  async #write<T>(method: string, fn: (tx: StoreTx, conn: SqlConn) => Promise<T>): Promise<T> {
    this.#check(method);
    return this.#b.transaction((conn) => fn(sqlOps(conn, this.#b.dialect, this.location, this.#heads), conn));
  }

  async #read<T>(method: string, fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    this.#check(method);
    return this.#b.read((conn) => fn(sqlOps(conn, this.#b.dialect, this.location, this.#heads)));
  }

  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    this.#check('transaction');
    return this.#b.transaction(async (conn) => {
      const state: TxState = { store: this, open: true, inFlight: 0, failure: undefined };
      const tx = counted(
        sqlOps(guardedConn(conn, state, this.#b.description), this.#b.dialect, this.location, this.#heads),
        state,
      );
      try {
        const result = await current.run(state, () => fn(tx));
        if (state.inFlight > 0)
          throw new FlexError(
            'FLX_INTERNAL',
            `store.transaction(fn): fn resolved while ${state.inFlight} tx call(s) were still running; await every tx call`,
          );
        if (state.failure !== undefined) throw state.failure;
        return result;
      } finally {
        state.open = false;
      }
    });
  }

  signHeadsWith(signer: Signer, now: () => number = Date.now): void {
    this.#heads = { signer, now, lastHeadAt: now() };
    // At least a head a settlement period while records are written, even with no settlement.
    clearInterval(this.#headTimer);
    this.#headTimer = setInterval(() => {
      const heads = this.#heads;
      if (!heads || this.#b.closed) return;
      this.#b.transaction((conn) => signLatest(conn, this.#b.dialect, this.location, heads)).catch(() => {});
    }, HEAD_PERIOD_MS);
    this.#headTimer.unref();
  }

  latestHead() {
    return this.#read('latestHead', (tx) => tx.latestHead());
  }

  appendAudit(entry: AuditEntry): Promise<AuditRecord> {
    return this.#write('appendAudit', (tx) => tx.appendAudit(entry));
  }
  auditTrail(filter?: AuditFilter): Promise<AuditRecord[]> {
    return this.#read('auditTrail', (tx) => tx.auditTrail(filter));
  }
  claimMessage(key: string, outcome: string): Promise<{ first: boolean; outcome: string }> {
    return this.#write('claimMessage', (tx) => tx.claimMessage(key, outcome));
  }
  messageClaim(key: string): Promise<string | undefined> {
    return this.#read('messageClaim', (tx) => tx.messageClaim(key));
  }
  saveOrder(order: Order): Promise<void> {
    return this.#write('saveOrder', (tx) => tx.saveOrder(order));
  }
  getOrder(id: string): Promise<Order | undefined> {
    return this.#read('getOrder', (tx) => tx.getOrder(id));
  }
  findOrderByTransaction(transactionId: string): Promise<Order | undefined> {
    return this.#read('findOrderByTransaction', (tx) => tx.findOrderByTransaction(transactionId));
  }
  listOrders(): Promise<Order[]> {
    return this.#read('listOrders', (tx) => tx.listOrders());
  }
  putDocument(kind: string, id: string, doc: unknown): Promise<void> {
    return this.#write('putDocument', (tx) => tx.putDocument(kind, id, doc));
  }
  getDocument<T>(kind: string, id: string): Promise<T | undefined> {
    return this.#read('getDocument', (tx) => tx.getDocument<T>(kind, id));
  }
  enqueueOutbox(message: OutboxInput): Promise<{ message: OutboxMessage; created: boolean }> {
    return this.#write('enqueueOutbox', (tx) => tx.enqueueOutbox(message));
  }
  getOutbox(id: string): Promise<OutboxMessage | undefined> {
    return this.#read('getOutbox', (tx) => tx.getOutbox(id));
  }
  listOutbox(filter?: OutboxFilter): Promise<OutboxMessage[]> {
    return this.#read('listOutbox', (tx) => tx.listOutbox(filter));
  }
  saveCommitment(commitment: CommitmentKeys): Promise<void> {
    return this.#write('saveCommitment', (tx) => tx.saveCommitment(commitment));
  }
  listCommitments<C extends CommitmentKeys = CommitmentKeys>(filter?: CommitmentFilter): Promise<C[]> {
    return this.#read('listCommitments', (tx) => tx.listCommitments<C>(filter));
  }
  savePlan(plan: PlanKeys): Promise<void> {
    return this.#write('savePlan', (tx) => tx.savePlan(plan));
  }
  getPlan<P extends PlanKeys = PlanKeys>(id: string): Promise<P | undefined> {
    return this.#read('getPlan', (tx) => tx.getPlan<P>(id));
  }
  latestPlan<P extends PlanKeys = PlanKeys>(): Promise<P | undefined> {
    return this.#read('latestPlan', (tx) => tx.latestPlan<P>());
  }
  saveDispatch(dispatch: DispatchKeys): Promise<void> {
    return this.#write('saveDispatch', (tx) => tx.saveDispatch(dispatch));
  }
  listDispatches<D extends DispatchKeys = DispatchKeys>(filter?: DispatchFilter): Promise<D[]> {
    return this.#read('listDispatches', (tx) => tx.listDispatches<D>(filter));
  }
  saveMeterReadings(readings: readonly MeterReading[]): Promise<void> {
    return this.#write('saveMeterReadings', (tx) => tx.saveMeterReadings(readings));
  }
  meterReadings(filter: MeterFilter): Promise<MeterReading[]> {
    return this.#read('meterReadings', (tx) => tx.meterReadings(filter));
  }
  claimOutbox(claim: OutboxClaim): Promise<OutboxMessage[]> {
    return this.#write('claimOutbox', (_, conn) => claimOutbox(conn, this.#b.dialect, this.location, claim));
  }
  markOutboxSent(id: string, result: { at: number; response?: unknown }): Promise<boolean> {
    return this.#write('markOutboxSent', (_, conn) => markOutboxSent(conn, id, result));
  }
  markOutboxFailed(id: string, failure: OutboxFailure): Promise<boolean> {
    return this.#write('markOutboxFailed', (_, conn) => markOutboxFailed(conn, id, failure));
  }
  releaseOutboxLeases(): Promise<number> {
    return this.#write('releaseOutboxLeases', (_, conn) => releaseOutboxLeases(conn));
  }

  /** Idempotent, so shutdown paths need not track whether the store was already closed. */
  close(): Promise<void> {
    clearInterval(this.#headTimer);
    return this.#b.close();
  }
}

export const sqlStore = (backend: SqlBackend): Store => new SqlStore(backend);
