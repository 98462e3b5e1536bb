// Sending the outbox: retries with backoff, giving up, at-least-once across a crash, and two
// workers never sending one message twice. Over a real (SQLite) store through the Store port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { FlexError } from '../../src/errors.ts';
import type { Store, StoreTx } from '../../src/ports.ts';
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

/** A send that holds every message until `release(id)` (or releaseAll), counting what is in flight. */
const heldSend = () => {
  const gates = new Map<string, () => void>();
  const inFlight = new Map<string, number>();
  let total = 0;
  let most = 0;
  const mostTo = new Map<string, number>();
  const started: string[] = [];
  const send: OutboxSend = async (m) => {
    started.push(m.id);
    total++;
    most = Math.max(most, total);
    const n = (inFlight.get(m.destination) ?? 0) + 1;
    inFlight.set(m.destination, n);
    mostTo.set(m.destination, Math.max(mostTo.get(m.destination) ?? 0, n));
    await new Promise<void>((r) => gates.set(m.id, r));
    total--;
    inFlight.set(m.destination, (inFlight.get(m.destination) ?? 1) - 1);
    return { ack: m.id };
  };
  const settle = () => new Promise((r) => setTimeout(r, 30));
  return {
    send,
    started,
    stats: () => ({ most, mostTo: Object.fromEntries(mostTo) }),
    waiting: () => [...gates.keys()],
    release: (ids: readonly string[]) => {
      for (const id of ids) {
        gates.get(id)?.();
        gates.delete(id);
      }
    },
    /** Lets every send through, those started later too, until `drained` (the drain) resolves. */
    releaseAll: async <T>(drained: Promise<T>): Promise<T> => {
      let done = false;
      void drained.finally(() => (done = true)).catch(() => undefined);
      while (!done) {
        for (const [id, g] of [...gates]) {
          g();
          gates.delete(id);
        }
        await new Promise((r) => setImmediate(r));
      }
      return drained;
    },
    settle,
  };
};

test('sends run concurrently: at most 32 at once, at most 16 to one peer, local work one at a time', () =>
  withStore(async (store) => {
    for (let i = 0; i < 30; i++)
      await store.enqueueOutbox(
        outboxMessage(`a${i}`, { destination: 'https://a.example/beckn', transactionId: `ta${i}` }),
      );
    for (let i = 0; i < 30; i++)
      await store.enqueueOutbox(
        outboxMessage(`b${i}`, { destination: 'https://b.example/beckn', transactionId: `tb${i}` }),
      );
    for (let i = 0; i < 3; i++)
      await store.enqueueOutbox(outboxMessage(`task${i}`, { destination: 'local:', transactionId: `tt${i}` }));
    const h = heldSend();
    const drained = drainOutbox(store, h.send, { now: () => T0 });
    await h.settle();
    // 16 to a (its cap) and 16 to b fill the pool: a's backlog does not keep b waiting.
    assert.equal(h.waiting().length, 32, 'the pool is full');
    assert.deepEqual(h.stats().mostTo, { 'https://a.example/beckn': 16, 'https://b.example/beckn': 16 });
    const r = await h.releaseAll(drained);
    assert.equal(r.sent.length, 63);
    assert.deepEqual(r.sent.slice(0, 3), ['a0', 'a1', 'a2'], 'results in claim order (oldest first)');
    const s = h.stats();
    assert.equal(s.most, 32);
    assert.equal(s.mostTo['https://a.example/beckn'], 16);
    assert.equal(s.mostTo['local:'], 1, 'the offers tasks price one after another');
    assert.equal((await store.listOutbox({ status: 'pending' })).length, 0);
    // With concurrency 1 everything goes one at a time, as before.
    for (let i = 0; i < 4; i++)
      await store.enqueueOutbox(
        outboxMessage(`c${i}`, { destination: 'https://c.example/beckn', transactionId: `tc${i}` }),
      );
    const one = heldSend();
    const serial = drainOutbox(store, one.send, { now: () => T0, concurrency: 1 });
    assert.deepEqual((await one.releaseAll(serial)).sent, ['c0', 'c1', 'c2', 'c3']);
    assert.equal(one.stats().most, 1);
  }));

test('a buyer whose sends hang holds half the pool at most: every other buyer is served meanwhile', () =>
  withStore(async (store) => {
    for (let i = 0; i < 40; i++)
      await store.enqueueOutbox(
        outboxMessage(`dead${i}`, { destination: 'https://dead.example/beckn', transactionId: `td${i}` }),
      );
    for (let i = 0; i < 40; i++)
      await store.enqueueOutbox(
        outboxMessage(`live${i}`, { destination: 'https://live.example/beckn', transactionId: `tl${i}` }),
      );
    const h = heldSend();
    const drained = drainOutbox(store, h.send, { now: () => T0 });
    // Only the live buyer answers; the dead one's 16 sends stay in flight throughout.
    for (let round = 0; round < 20; round++) {
      await h.settle();
      h.release(h.waiting().filter((id) => id.startsWith('live')));
    }
    await h.settle();
    assert.deepEqual(
      h.waiting().filter((id) => id.startsWith('dead')).length,
      16,
      'the dead buyer holds 16 slots, no more',
    );
    assert.equal(h.started.filter((id) => id.startsWith('live')).length, 40, 'every live callback was sent');
    assert.equal(
      (await store.listOutbox({ status: 'sent' })).length,
      40,
      'and marked sent while the dead buyer still hangs',
    );
    assert.equal((await h.releaseAll(drained)).sent.length, 80);
  }));

test('messages of one transaction go one at a time, oldest first, while other transactions overtake', () =>
  withStore(async (store) => {
    const to = 'https://buyer.example/beckn';
    await store.enqueueOutbox(
      outboxMessage('confirm', { destination: to, transactionId: 'order-1', action: 'on_confirm' }),
    );
    await store.enqueueOutbox(
      outboxMessage('status', { destination: to, transactionId: 'order-1', action: 'on_status' }),
    );
    await store.enqueueOutbox(outboxMessage('other', { destination: to, transactionId: 'order-2' }));
    const h = heldSend();
    const drained = drainOutbox(store, h.send, { now: () => T0 });
    await h.settle();
    assert.deepEqual(h.waiting().sort(), ['confirm', 'other'], 'on_status waits for its on_confirm');
    h.release(['other']);
    await h.settle();
    assert.deepEqual(h.waiting(), ['confirm']);
    h.release(['confirm']);
    await h.settle();
    assert.deepEqual(h.waiting(), ['status']);
    assert.deepEqual((await h.releaseAll(drained)).sent, ['confirm', 'status', 'other']);
    assert.deepEqual(h.started, ['confirm', 'other', 'status']);
  }));

test('a mark that fails stops new sends, lets those in flight end, and is thrown; the rest stays owed', () =>
  withStore(async (store) => {
    for (let i = 0; i < 6; i++)
      await store.enqueueOutbox(
        outboxMessage(`m${i}`, { destination: 'https://x.example/beckn', transactionId: `t${i}` }),
      );
    const marks: string[] = [];
    // The marks commit in store transactions: m1's fails there, as on a full disk.
    const failing = new Proxy(store, {
      get(target, name, receiver) {
        if (name === 'transaction')
          return <T>(fn: (tx: StoreTx) => Promise<T>) =>
            target.transaction((tx) =>
              fn({
                ...tx,
                markOutboxSent: async (id: string, r: { at: number }) => {
                  marks.push(id);
                  if (id === 'm1') throw new FlexError('FLX_STORE_UNAVAILABLE', 'the disk is full');
                  return tx.markOutboxSent(id, r);
                },
              }),
            );
        const v = Reflect.get(target, name, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const sent: string[] = [];
    await assert.rejects(
      drainOutbox(failing, async (m) => (sent.push(m.id), 'ACK'), { now: () => T0, concurrency: 2 }),
      /FLX_STORE_UNAVAILABLE|the disk is full/,
    );
    assert.deepEqual(sent.sort(), ['m0', 'm1'], 'no send starts after the failed mark');
    assert.deepEqual(marks, ['m0', 'm1']);
    assert.deepEqual(
      (await store.listOutbox({ status: 'sent' })).map((m) => m.id),
      ['m0'],
    );
    assert.equal((await store.listOutbox({ status: 'pending' })).length, 5, 'm1 and the unsent stay owed');
    // Owed means sent again once the lease ends (at least once; the buyer dedupes on message_id).
    const again = await drainOutbox(store, async () => 'ACK', { now: () => T0 + 120_000 });
    assert.deepEqual(again.sent, ['m1', 'm2', 'm3', 'm4', 'm5']);
  }));

test('marks of sends that end together commit in one transaction; a hanging send does not hold them back', () =>
  withStore(async (store) => {
    for (let i = 0; i < 20; i++)
      await store.enqueueOutbox(outboxMessage(`g${i}`, { destination: `https://b${i}.example/beckn` }));
    await store.enqueueOutbox(outboxMessage('slow', { destination: 'https://slow.example/beckn' }));
    let transactions = 0;
    const counting = new Proxy(store, {
      get(target, name, receiver) {
        if (name === 'transaction') transactions++;
        const v = Reflect.get(target, name, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    let release: () => void = () => {};
    const hanging = new Promise<void>((r) => (release = r));
    const drained = drainOutbox(
      counting,
      async (m) => {
        if (m.id === 'slow') await hanging;
        return 'ACK';
      },
      { now: () => T0 },
    );
    // The 20 quick sends are marked (durably) while 'slow' is still in flight.
    for (let i = 0; i < 100 && (await store.listOutbox({ status: 'sent' })).length < 20; i++)
      await new Promise((r) => setTimeout(r, 5));
    assert.equal((await store.listOutbox({ status: 'sent' })).length, 20);
    assert.equal(transactions, 1, 'the 20 marks in one commit, not 20');
    assert.equal((await store.getOutbox('slow'))?.status, 'pending');
    release();
    const r = await drained;
    assert.equal(r.sent.length, 21);
    assert.equal(transactions, 2, "the slow send's mark in a commit of its own");
  }));
