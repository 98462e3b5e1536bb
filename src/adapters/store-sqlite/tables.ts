// Message claims, orders and documents: small keyed tables, each row a JSON body plus the columns
// that are queried. Statements are prepared once per connection.
import type { Order } from '../../domain/order.ts';
import { FlexError } from '../../errors.ts';
import { fromStoredJson, toStoredJson } from './json.ts';
import type { Db } from './schema.ts';

export interface Claims {
  claim(key: string, outcome: string): { first: boolean; outcome: string };
}

export const claimsTable = (db: Db): Claims => {
  const insert = db.prepare<[string, string]>('INSERT OR IGNORE INTO message_claims (key, outcome) VALUES (?, ?)');
  const select = db.prepare<[string], { outcome: string }>('SELECT outcome FROM message_claims WHERE key = ?');
  // The INSERT is the claim: the primary key lets exactly one connection's insert change a row,
  // whichever process it runs in. The SELECT only fetches the winner's outcome, which never changes.
  const claim = db.transaction((key: string, outcome: string) => {
    if (insert.run(key, outcome).changes === 1) return { first: true, outcome };
    const row = select.get(key);
    if (row === undefined) throw new FlexError('FLX_INTERNAL', `message claim ${JSON.stringify(key)} was neither inserted nor found`);
    return { first: false, outcome: row.outcome };
  });
  return { claim: (key, outcome) => claim.immediate(key, outcome) };
};

export interface Orders {
  save(order: Order): void;
  get(id: string): Order | undefined;
  byTransaction(transactionId: string): Order | undefined;
  list(): Order[];
}

export const ordersTable = (db: Db, file: string): Orders => {
  const upsert = db.prepare<{ id: string; transactionId: string; state: string; updatedAt: number; body: string }>(
    `INSERT INTO orders (id, transaction_id, state, updated_at, body) VALUES (@id, @transactionId, @state, @updatedAt, @body)
     ON CONFLICT (id) DO UPDATE SET transaction_id = excluded.transaction_id, state = excluded.state,
       updated_at = excluded.updated_at, body = excluded.body`,
  );
  const byId = db.prepare<[string], { body: string }>('SELECT body FROM orders WHERE id = ?');
  // One order per transaction is the norm; if there are several, the most recently updated wins.
  const byTx = db.prepare<[string], { body: string }>('SELECT body FROM orders WHERE transaction_id = ? ORDER BY updated_at DESC, id DESC LIMIT 1');
  const all = db.prepare<[], { body: string }>('SELECT body FROM orders ORDER BY updated_at, id');
  const parse = (row: { body: string } | undefined): Order | undefined =>
    row === undefined ? undefined : (fromStoredJson(row.body, `an order in ${file}`) as Order);
  return {
    save: (order) => {
      const body = toStoredJson(order, `order ${order.id}`).text;
      upsert.run({ id: order.id, transactionId: order.transactionId, state: order.state, updatedAt: order.updatedAt, body });
    },
    get: (id) => parse(byId.get(id)),
    byTransaction: (transactionId) => parse(byTx.get(transactionId)),
    list: () => all.all().map((row) => fromStoredJson(row.body, `an order in ${file}`) as Order),
  };
};

export interface Documents {
  put(kind: string, id: string, doc: unknown): void;
  get(kind: string, id: string): unknown;
}

export const documentsTable = (db: Db, file: string): Documents => {
  const upsert = db.prepare<[string, string, string]>('INSERT INTO documents (kind, id, body) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body');
  const select = db.prepare<[string, string], { body: string }>('SELECT body FROM documents WHERE kind = ? AND id = ?');
  return {
    put: (kind, id, doc) => {
      upsert.run(kind, id, toStoredJson(doc, `document ${kind}/${id}`).text);
    },
    get: (kind, id) => {
      const row = select.get(kind, id);
      return row === undefined ? undefined : fromStoredJson(row.body, `document ${kind}/${id} in ${file}`);
    },
  };
};
