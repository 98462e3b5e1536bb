// The SQLite implementation of the Store port: one file per agent (or shared by several agents on
// one host), safe for several connections and processes at once. better-sqlite3 is synchronous;
// the methods are async to fit the port, and each call holds the event loop for one statement
// (and one fsync per write, see synchronous=FULL in schema.ts).
import { resolve } from 'node:path';
import type { AuditEntry, AuditRecord } from '../../audit/chain.ts';
import type { Order } from '../../domain/order.ts';
import { FlexError } from '../../errors.ts';
import type { Store } from '../../ports.ts';
import { auditTable, type AuditTable } from './audit.ts';
import { openDatabase, type Db } from './schema.ts';
import { claimsTable, documentsTable, ordersTable, type Claims, type Documents, type Orders } from './tables.ts';

export { SCHEMA_VERSION } from './schema.ts';

export interface SqliteStoreOptions {
  /** Who opens the store (an agent's subscriber id); recorded against any migration it applies. */
  readonly actor?: string;
}

class SqliteStore implements Store {
  readonly location: string;
  readonly #db: Db;
  readonly #audit: AuditTable;
  readonly #claims: Claims;
  readonly #orders: Orders;
  readonly #documents: Documents;

  constructor(location: string, db: Db) {
    this.location = location;
    this.#db = db;
    this.#audit = auditTable(db, location);
    this.#claims = claimsTable(db);
    this.#orders = ordersTable(db, location);
    this.#documents = documentsTable(db, location);
  }

  /** Fails with a message naming the store, where better-sqlite3 would say only "not open". */
  #open(): void {
    if (!this.#db.open) throw new FlexError('FLX_INTERNAL', `the SQLite store ${this.location} is closed`);
  }

  async appendAudit(entry: AuditEntry): Promise<AuditRecord> {
    this.#open();
    return this.#audit.append(entry);
  }

  async auditTrail(filter: { transactionId?: string } = {}): Promise<AuditRecord[]> {
    this.#open();
    return this.#audit.trail(filter.transactionId);
  }

  async claimMessage(key: string, outcome: string): Promise<{ first: boolean; outcome: string }> {
    this.#open();
    return this.#claims.claim(key, outcome);
  }

  async saveOrder(order: Order): Promise<void> {
    this.#open();
    this.#orders.save(order);
  }

  async getOrder(id: string): Promise<Order | undefined> {
    this.#open();
    return this.#orders.get(id);
  }

  async findOrderByTransaction(transactionId: string): Promise<Order | undefined> {
    this.#open();
    return this.#orders.byTransaction(transactionId);
  }

  async listOrders(): Promise<Order[]> {
    this.#open();
    return this.#orders.list();
  }

  async putDocument(kind: string, id: string, doc: unknown): Promise<void> {
    this.#open();
    this.#documents.put(kind, id, doc);
  }

  async getDocument<T>(kind: string, id: string): Promise<T | undefined> {
    this.#open();
    return this.#documents.get(kind, id) as T | undefined;
  }

  /** Idempotent, so shutdown paths need not track whether the store was already closed. */
  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

/**
 * Opens the store in the SQLite file at `path` (relative paths resolve against the working
 * directory), creating the file and its parent directories if needed. Refuses a file written by a
 * newer schema version, or one that is not a SQLite database, with FLX_CONFIG_INVALID.
 */
export const openSqliteStore = async (path: string, options: SqliteStoreOptions = {}): Promise<Store> => {
  // better-sqlite3 reads "" and ":memory:" as throwaway databases; a Store is meant to be durable.
  if (path === '' || path === ':memory:') {
    throw new FlexError('FLX_CONFIG_INVALID', `the SQLite store needs a file path, not ${JSON.stringify(path)}; for a throwaway store use a file in a temporary directory`);
  }
  const location = resolve(path);
  return new SqliteStore(location, await openDatabase(location, options.actor ?? 'flexlon'));
};
