// Message claims, orders and documents, for any SQL adapter: small keyed tables, each row a JSON
// body plus the columns that are queried.
import { fromStoredJson, toStoredJson } from '../../audit/stored-json.ts';
import type { Order } from '../../domain/order.ts';
import { FlexError } from '../../errors.ts';
import { finite, noNul, text } from './check.ts';
import type { SqlConn } from './conn.ts';

export const claimMessage = async (
  conn: SqlConn,
  key: string,
  outcome: string,
): Promise<{ first: boolean; outcome: string }> => {
  text('a message claim', 'key', key);
  if (typeof outcome !== 'string')
    throw new FlexError('FLX_INTERNAL', `a message claim: outcome must be a string, got ${typeof outcome}`);
  noNul('a message claim', 'outcome', outcome);
  // The INSERT is the claim: the primary key lets exactly one connection's insert change a row,
  // whichever process it runs in. The SELECT only fetches the winner's outcome, which never changes.
  if (
    (await conn.run('INSERT INTO message_claims (key, outcome) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [
      key,
      outcome,
    ])) === 1
  )
    return { first: true, outcome };
  const [row] = await conn.all<{ outcome: string }>('SELECT outcome FROM message_claims WHERE key = $1', [key]);
  if (row === undefined)
    throw new FlexError('FLX_INTERNAL', `message claim ${JSON.stringify(key)} was neither inserted nor found`);
  return { first: false, outcome: row.outcome };
};

export const messageClaim = async (conn: SqlConn, key: string): Promise<string | undefined> => {
  text('a message claim', 'key', key);
  return (await conn.all<{ outcome: string }>('SELECT outcome FROM message_claims WHERE key = $1', [key]))[0]?.outcome;
};

const parseOrder =
  (location: string) =>
  (row: { body: string }): Order =>
    fromStoredJson(row.body, `an order in ${location}`) as Order;

export const saveOrder = async (conn: SqlConn, order: Order): Promise<void> => {
  const what = `order ${String(order?.id)}`;
  const body = toStoredJson(order, what);
  const o = body.value as Order;
  await conn.run(
    `INSERT INTO orders (id, transaction_id, state, updated_at, body) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO UPDATE SET transaction_id = excluded.transaction_id, state = excluded.state,
       updated_at = excluded.updated_at, body = excluded.body`,
    [
      text(what, 'id', o.id),
      text(what, 'transactionId', o.transactionId),
      text(what, 'state', o.state),
      finite(what, 'updatedAt', o.updatedAt),
      body.text,
    ],
  );
};

export const getOrder = async (conn: SqlConn, location: string, id: string): Promise<Order | undefined> =>
  (await conn.all<{ body: string }>('SELECT body FROM orders WHERE id = $1', [id])).map(parseOrder(location))[0];

// One order per transaction is the norm; if there are several, the most recently updated wins.
export const findOrderByTransaction = async (
  conn: SqlConn,
  location: string,
  transactionId: string,
): Promise<Order | undefined> =>
  (
    await conn.all<{ body: string }>(
      'SELECT body FROM orders WHERE transaction_id = $1 ORDER BY updated_at DESC, id DESC LIMIT 1',
      [transactionId],
    )
  ).map(parseOrder(location))[0];

export const listOrders = async (conn: SqlConn, location: string): Promise<Order[]> =>
  (await conn.all<{ body: string }>('SELECT body FROM orders ORDER BY updated_at, id')).map(parseOrder(location));

export const putDocument = async (conn: SqlConn, kind: string, id: string, doc: unknown): Promise<void> => {
  const what = `document ${String(kind)}/${String(id)}`;
  const body = toStoredJson(doc, what).text;
  await conn.run(
    'INSERT INTO documents (kind, id, body) VALUES ($1, $2, $3) ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body',
    [text(what, 'kind', kind), text(what, 'id', id), body],
  );
};

export const getDocument = async (conn: SqlConn, location: string, kind: string, id: string): Promise<unknown> => {
  const [row] = await conn.all<{ body: string }>('SELECT body FROM documents WHERE kind = $1 AND id = $2', [kind, id]);
  return row === undefined ? undefined : fromStoredJson(row.body, `document ${kind}/${id} in ${location}`);
};
