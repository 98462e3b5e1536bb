// The guards of the shared SQL store, with a scripted backend: what happens when a statement fails
// inside a transaction is the same for every adapter, and easier to provoke here than in a database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sqlStore } from '../../src/store/sql/store.ts';
import type { SqlConn } from '../../src/store/sql/conn.ts';
import { FlexError } from '../../src/errors.ts';
import { order } from '../contract/store-fixtures.ts';

const scripted = (failOn: RegExp) => {
  const log: string[] = [];
  const conn: SqlConn = {
    all: async (sql) => {
      log.push(sql);
      return [];
    },
    run: async (sql) => {
      log.push(sql);
      if (failOn.test(sql)) throw new FlexError('FLX_INTERNAL', 'statement failed');
      return 1;
    },
  };
  const outcome: string[] = [];
  const store = sqlStore({
    description: 'the scripted store',
    location: 'scripted',
    closed: false,
    dialect: { name: 'scripted', lockAuditChain: async () => {}, lockKey: async () => {}, skipLocked: '' },
    transaction: async (fn) => {
      try {
        const r = await fn(conn);
        outcome.push('commit');
        return r;
      } catch (e) {
        outcome.push('rollback');
        throw e;
      }
    },
    read: (fn) => fn(conn),
    close: async () => {},
  });
  return { store, log, outcome };
};

test('a statement that failed inside a transaction fails it, even when fn catches the error', async () => {
  const { store, log, outcome } = scripted(/INSERT INTO orders/);
  await assert.rejects(
    store.transaction(async (tx) => {
      await tx.saveOrder(order('o-1')).catch(() => undefined);
      await tx.putDocument('k', 'i', 1);
    }),
    /statement failed/,
  );
  assert.deepEqual(outcome, ['rollback']);
  assert.equal(
    log.some((s) => s.includes('documents')),
    false,
    'no statement runs after a failed one',
  );
});

test('errors fn throws on its own (not from a statement) leave later statements allowed', async () => {
  const { store, outcome } = scripted(/never/);
  await store.transaction(async (tx) => {
    await assert.rejects(tx.saveOrder({ ...order('o-2'), id: '' }), /id must be a non-empty string/);
    await tx.saveOrder(order('o-3'));
  });
  assert.deepEqual(outcome, ['commit']);
});
