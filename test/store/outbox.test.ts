// Sending the outbox: retries with backoff, giving up, at-least-once across a crash, and two
// workers never sending one message twice. Over a real (SQLite) store through the Store port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { FlexError } from '../../src/errors.ts';
import type { Store } from '../../src/ports.ts';
import { DEFAULT_RETRY, drainOutbox, nextAttemptAt, type OutboxSend } from '../../src/store/outbox.ts';
import { OutboxWorker } from '../../src/store/outbox-worker.ts';
import { outboxMessage, T0 } from '../contract/store-fixtures.ts';

const withStore = async (fn: (store: Store, file: string) => Promise<void>): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-outbox-'));
  const store = await openSqliteStore(join(dir, 'outbox.db'));
  try {
    await fn(store, join(dir, 'outbox.db'));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

test('the retry delay doubles from the first delay up to the cap, and gives up after the last attempt', () => {
  const p = { firstDelayMs: 1000, maxDelayMs: 5000, maxAttempts: 5 };
  assert.deepEqual(
    [1, 2, 3, 4].map((a) => nextAttemptAt(p, a, T0)! - T0),
    [1000, 2000, 4000, 5000],
  );
  assert.equal(nextAttemptAt(p, 5, T0), undefined);
  assert.equal(nextAttemptAt(DEFAULT_RETRY, 1, 0), 1000);
});

test('drain sends due messages oldest first and records answers, retries and refusals', () =>
  withStore(async (store) => {
    for (const id of ['a', 'b', 'c']) await store.enqueueOutbox(outboxMessage(id));
    await store.enqueueOutbox(outboxMessage('later', { notBefore: T0 + 60_000 }));
    const seen: string[] = [];
    const send: OutboxSend = async (m) => {
      seen.push(m.id);
      if (m.id === 'b') throw new Error('ECONNREFUSED');
      if (m.id === 'c') throw new FlexError('FLX_PEER_NACK', 'peer said 30000');
      return { ack: m.id };
    };
    let now = T0;
    assert.deepEqual(await drainOutbox(store, send, { now: () => now }), { sent: ['a'], retrying: ['b'], dead: ['c'] });
    assert.deepEqual(seen, ['a', 'b', 'c']);
    assert.deepEqual((await store.getOutbox('a'))?.response, { ack: 'a' });
    assert.deepEqual((await store.getOutbox('c'))?.lastError, 'FLX_PEER_NACK: peer said 30000');
    assert.equal((await store.getOutbox('b'))?.nextAttemptAt, T0 + 1000);
    now = T0 + 999;
    assert.deepEqual(await drainOutbox(store, send, { now: () => now }), { sent: [], retrying: [], dead: [] });
    now = T0 + 1000;
    assert.deepEqual(await drainOutbox(store, send, { now: () => now }), { sent: [], retrying: ['b'], dead: [] });
    assert.equal((await store.getOutbox('b'))?.nextAttemptAt, T0 + 3000, 'the second failure waits twice as long');
  }));

test('a message that keeps failing is given up after the last attempt', () =>
  withStore(async (store) => {
    await store.enqueueOutbox(outboxMessage('flaky'));
    const policy = { firstDelayMs: 10, maxDelayMs: 10, maxAttempts: 3 };
    const fail: OutboxSend = async () => {
      throw new Error('timeout');
    };
    let now = T0;
    const outcomes = [];
    for (let i = 0; i < 4; i++, now += 10) outcomes.push(await drainOutbox(store, fail, { now: () => now, policy }));
    assert.deepEqual(
      outcomes.map((r) => [r.retrying.length, r.dead.length]),
      [
        [1, 0],
        [1, 0],
        [0, 1],
        [0, 0],
      ],
    );
    assert.deepEqual(
      [(await store.getOutbox('flaky'))?.status, (await store.getOutbox('flaky'))?.attempts],
      ['dead', 3],
    );
  }));

test('a worker that dies mid-send leaves the message owed: it is sent again once the lease ends', () =>
  withStore(async (store, file) => {
    await store.enqueueOutbox(outboxMessage('owed'));
    const dying: OutboxSend = async () => new Promise(() => undefined); // the process is killed during the send
    void drainOutbox(store, dying, { now: () => T0, leaseMs: 30_000 });
    await new Promise((r) => setTimeout(r, 20));
    const restarted = await openSqliteStore(file);
    try {
      const sent: string[] = [];
      const send: OutboxSend = async (m) => {
        sent.push(`${m.id}#${m.attempts}`);
        return 'ACK';
      };
      assert.deepEqual((await drainOutbox(restarted, send, { now: () => T0 + 29_999 })).sent, []);
      assert.deepEqual((await drainOutbox(restarted, send, { now: () => T0 + 30_000 })).sent, ['owed']);
      assert.deepEqual(sent, ['owed#2']);
    } finally {
      await restarted.close();
    }
  }));

test('two workers draining at once send every message exactly once', () =>
  withStore(async (store, file) => {
    for (let i = 0; i < 20; i++) await store.enqueueOutbox(outboxMessage(`m${i}`));
    const other = await openSqliteStore(file);
    try {
      const sent: string[] = [];
      const send: OutboxSend = async (m) => {
        sent.push(m.id);
        await new Promise((r) => setImmediate(r));
        return 'ACK';
      };
      await Promise.all([store, other, store, other].map((s) => drainOutbox(s, send, { now: () => T0, batch: 6 })));
      assert.equal(sent.length, 20);
      assert.equal(new Set(sent).size, 20);
    } finally {
      await other.close();
    }
  }));

test('the worker counts what is still owed after each drain (admission control reads it)', () =>
  withStore(async (store) => {
    for (const id of ['a', 'b', 'c']) await store.enqueueOutbox(outboxMessage(id));
    await store.enqueueOutbox(outboxMessage('later', { notBefore: T0 + 60_000 }));
    // The peer is down: every due message stays owed, retrying; the one not yet due is owed too.
    const worker = new OutboxWorker({
      store,
      send: async () => Promise.reject(new Error('ECONNREFUSED')),
      now: () => T0,
    });
    assert.equal(worker.owed, 0, 'nothing counted before the first drain');
    await worker.nudge();
    assert.equal(worker.owed, 4);
    const up = new OutboxWorker({ store, send: async (m) => ({ ack: m.id }), now: () => T0 + 1000 });
    await up.nudge();
    assert.equal(up.owed, 1, 'only the message not yet due is still owed');
    await Promise.all([worker.stop(), up.stop()]);
  }));
