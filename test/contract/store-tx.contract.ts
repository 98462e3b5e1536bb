// The Store contract, part 2: transactions (all or nothing, idempotent claims inside them, locks)
// and the outbox (messages owed to peers: enqueue once, claim with a lease, mark sent or failed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { verifyChain } from '../../src/audit/chain.ts';
import { epochMs } from '../../src/domain/time.ts';
import type { StoreOps, StoreTx } from '../../src/ports.ts';
import { entry, hasCode, order, outboxMessage, T0, type WithStore } from './store-fixtures.ts';

/** One write of every kind, all about order `id`. */
const writeEverything = async (tx: StoreTx, id: string): Promise<void> => {
  await tx.claimMessage(`bap|m-${id}|confirm`, 'ACK');
  await tx.saveOrder(order(id, { state: 'confirmed' }));
  await tx.putDocument('baseline', id, { importKw: [100, 120] });
  await tx.appendAudit(entry({ kind: 'order', orderId: id, payload: { state: 'confirmed' } }));
  await tx.enqueueOutbox(outboxMessage(`on_confirm|${id}`, { orderId: id }));
  await tx.saveCommitment({ orderId: id, site: 'lon-1', windowStart: epochMs(T0), windowEnd: epochMs(T0 + 3_600_000) });
  await tx.savePlan({ id: `plan-${id}`, createdAt: T0, horizonStart: epochMs(T0), status: 'optimal' });
  await tx.saveDispatch({ id: `dispatch-${id}`, site: 'lon-1', at: T0, planId: `plan-${id}`, orderId: id });
  await tx.saveMeterReadings([
    { site: `site-${id}`, slotStart: epochMs(T0), slotMinutes: 30, importKw: 80, readAt: T0 },
  ]);
};

/** Which of writeEverything's effects are visible (each one true or false). */
const visible = async (tx: StoreOps, id: string) => ({
  order: (await tx.getOrder(id)) !== undefined,
  document: (await tx.getDocument('baseline', id)) !== undefined,
  audit: (await tx.auditTrail()).some((r) => r.orderId === id),
  outbox: (await tx.getOutbox(`on_confirm|${id}`)) !== undefined,
  commitment: (await tx.listCommitments({ orderId: id })).length === 1,
  plan: (await tx.getPlan(`plan-${id}`)) !== undefined,
  dispatch: (await tx.listDispatches({ orderId: id })).length === 1,
  meter: (await tx.meterReadings({ site: `site-${id}` })).length === 1,
});

const ALL = {
  order: true,
  document: true,
  audit: true,
  outbox: true,
  commitment: true,
  plan: true,
  dispatch: true,
  meter: true,
};
const NONE = {
  order: false,
  document: false,
  audit: false,
  outbox: false,
  commitment: false,
  plan: false,
  dispatch: false,
  meter: false,
};

export const transactionTests = (withStore: WithStore): void => {
  test('a transaction commits every kind of write together and returns what fn returns', () =>
    withStore(async ({ store }) => {
      const result = await store.transaction(async (tx) => {
        await writeEverything(tx, 'o-1');
        assert.deepEqual(await visible(tx, 'o-1'), ALL, 'a transaction reads its own writes');
        return 'done';
      });
      assert.equal(result, 'done');
      assert.deepEqual(await visible(store, 'o-1'), ALL);
      assert.deepEqual(await store.claimMessage('bap|m-o-1|confirm', 'NACK'), { first: false, outcome: 'ACK' });
      assert.deepEqual(verifyChain(await store.auditTrail()), { ok: true, records: 1 });
    }));

  test('a transaction that throws rolls every write back, rethrows, and uses no audit seq', () =>
    withStore(async ({ store }) => {
      await store.appendAudit(entry());
      const boom = new Error('boom');
      await assert.rejects(
        store.transaction(async (tx) => {
          await writeEverything(tx, 'o-2');
          throw boom;
        }),
        (e) => e === boom,
      );
      assert.deepEqual(await visible(store, 'o-2'), NONE);
      assert.deepEqual(
        await store.claimMessage('bap|m-o-2|confirm', 'NACK'),
        { first: true, outcome: 'NACK' },
        'the rolled-back claim is free again',
      );
      assert.equal((await store.appendAudit(entry())).seq, 2);
      assert.deepEqual(verifyChain(await store.auditTrail()), { ok: true, records: 2 });
    }));

  test('a bad value inside a transaction rolls back the writes before it', () =>
    withStore(async ({ store }) => {
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.saveOrder(order('o-3'));
          await tx.appendAudit(entry({ payload: { x: Number.NaN } }));
        }),
        hasCode('FLX_INTERNAL', 'NaN'),
      );
      assert.equal(await store.getOrder('o-3'), undefined);
      assert.deepEqual(await store.auditTrail(), []);
    }));

  test('duplicate messages in concurrent transactions: exactly one has an effect, all see its outcome', () =>
    withStore(async ({ store }) => {
      const handle = (i: number) =>
        store.transaction(async (tx) => {
          const claim = await tx.claimMessage('bap|m-dup|confirm', `ACK from handler ${i}`);
          if (!claim.first) return claim.outcome;
          await tx.saveOrder(order('o-dup', { state: 'confirmed', reason: `handler ${i}` }));
          await tx.appendAudit(entry({ kind: 'beckn.in', messageId: 'm-dup', payload: { i } }));
          await tx.enqueueOutbox(outboxMessage('on_confirm|m-dup', { body: { i } }));
          return claim.outcome;
        });
      const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => handle(i)));
      assert.equal(new Set(outcomes).size, 1, 'every duplicate gets the first outcome');
      const winner = Number(/handler (\d+)/.exec(outcomes[0] ?? '')?.[1]);
      assert.equal((await store.getOrder('o-dup'))?.reason, `handler ${winner}`);
      assert.deepEqual(
        (await store.auditTrail()).map((r) => r.payload),
        [{ i: winner }],
      );
      assert.deepEqual(
        (await store.listOutbox()).map((m) => m.body),
        [{ i: winner }],
      );
    }));

  test('tx.lock serialises read-check-write on one key: no update is lost', () =>
    withStore(async ({ store }) => {
      const bump = () =>
        store.transaction(async (tx) => {
          await tx.lock('counter');
          const n = (await tx.getDocument<number>('counter', 'c')) ?? 0;
          await new Promise((r) => setImmediate(r)); // let the other transactions run in between
          await tx.putDocument('counter', 'c', n + 1);
        });
      await Promise.all(Array.from({ length: 10 }, bump));
      assert.equal(await store.getDocument('counter', 'c'), 10);
      await assert.rejects(
        store.transaction((tx) => tx.lock('')),
        hasCode('FLX_INTERNAL', 'key'),
      );
    }));

  test('calling the store inside its own transaction, or a handle after its transaction, is refused clearly', () =>
    withStore(async ({ store }) => {
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.saveOrder(order('o-4'));
          await store.getOrder('o-4');
        }),
        hasCode('FLX_INTERNAL', 'store.getOrder() was called inside a transaction', 'tx.getOrder'),
      );
      await assert.rejects(
        store.transaction(() => store.transaction(async () => 1)),
        hasCode('FLX_INTERNAL', 'store.transaction() was called inside'),
      );
      assert.equal(await store.getOrder('o-4'), undefined, 'the refused transaction rolled back');
      let leaked: StoreTx | undefined;
      await store.transaction(async (tx) => {
        leaked = tx;
      });
      await assert.rejects(leaked!.saveOrder(order('o-5')), hasCode('FLX_INTERNAL', 'after its transaction ended'));
      assert.equal(await store.getOrder('o-5'), undefined);
    }));

  test('fn resolving before its tx calls finish rolls back instead of committing half', () =>
    withStore(async ({ store }) => {
      await assert.rejects(
        store.transaction(async (tx) => {
          void tx.saveOrder(order('o-6'));
        }),
        hasCode('FLX_INTERNAL', 'still running'),
      );
      assert.equal(await store.getOrder('o-6'), undefined);
    }));

  test('property: after any mix of committed and failed transactions, the store holds exactly the committed writes', () =>
    fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            ids: fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 3 }),
            fails: fc.boolean(),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (steps) =>
          withStore(async ({ store }) => {
            const committed = new Set<string>();
            for (const [n, step] of steps.entries()) {
              const ids = step.ids.map((i) => `o-${n}-${i}`);
              const run = store.transaction(async (tx) => {
                for (const id of ids) {
                  await tx.saveOrder(order(id));
                  await tx.appendAudit(entry({ orderId: id }));
                  await tx.enqueueOutbox(outboxMessage(id));
                }
                if (step.fails) throw new Error('abort');
              });
              if (step.fails) await assert.rejects(run, /abort/);
              else {
                await run;
                ids.forEach((id) => committed.add(id));
              }
            }
            const sorted = [...committed].sort();
            assert.deepEqual((await store.listOrders()).map((o) => o.id).sort(), sorted);
            assert.deepEqual((await store.listOutbox()).map((m) => m.id).sort(), sorted);
            const trail = await store.auditTrail();
            assert.deepEqual(trail.map((r) => r.orderId).sort(), sorted);
            assert.deepEqual(verifyChain(trail), { ok: true, records: committed.size });
          }),
      ),
      { numRuns: 20 },
    ));
};

export const outboxTests = (withStore: WithStore): void => {
  test('enqueue is idempotent by id; the same id with other content is refused and changes nothing', () =>
    withStore(async ({ store }) => {
      const first = await store.enqueueOutbox(outboxMessage('a', { notBefore: T0 + 500 }));
      assert.equal(first.created, true);
      assert.deepEqual(
        { ...first.message, seq: 0 },
        {
          seq: 0,
          id: 'a',
          destination: 'https://grid.example/beckn/on_confirm',
          action: 'on_confirm',
          transactionId: 'tx-1',
          messageId: 'm-a',
          body: outboxMessage('a').body,
          createdAt: T0,
          status: 'pending',
          attempts: 0,
          nextAttemptAt: T0 + 500,
        },
      );
      assert.deepEqual(await store.enqueueOutbox(outboxMessage('a', { notBefore: T0 + 500 })), {
        message: first.message,
        created: false,
      });
      await assert.rejects(
        store.enqueueOutbox(outboxMessage('a', { body: { other: true } })),
        hasCode('FLX_STORE_CONFLICT', 'a'),
      );
      await assert.rejects(
        store.enqueueOutbox(outboxMessage('a', { destination: 'https://elsewhere.example' })),
        hasCode('FLX_STORE_CONFLICT'),
      );
      assert.deepEqual(await store.getOutbox('a'), first.message);
      await assert.rejects(store.enqueueOutbox(outboxMessage('', {})), hasCode('FLX_INTERNAL', 'id'));
      await assert.rejects(
        store.enqueueOutbox(outboxMessage('b', { body: { x: Number.POSITIVE_INFINITY } })),
        hasCode('FLX_INTERNAL', 'Infinity'),
      );
      assert.equal(await store.getOutbox('b'), undefined);
    }));

  test('claims hand out due messages oldest first, with a lease and a counted attempt', () =>
    withStore(async ({ store }) => {
      for (const [id, notBefore] of [
        ['m1', T0],
        ['m2', T0 + 10],
        ['m3', T0 - 10],
        ['later', T0 + 60_000],
      ] as const)
        await store.enqueueOutbox(outboxMessage(id, { notBefore }));
      const batch = await store.claimOutbox({ now: T0 + 10, leaseMs: 30_000, limit: 2 });
      assert.deepEqual(
        batch.map((m) => [m.id, m.attempts, m.leaseUntil]),
        [
          ['m3', 1, T0 + 30_010],
          ['m1', 1, T0 + 30_010],
        ],
      );
      assert.deepEqual(
        (await store.claimOutbox({ now: T0 + 10, leaseMs: 30_000, limit: 10 })).map((m) => m.id),
        ['m2'],
        'leased messages are not handed out again',
      );
      assert.deepEqual(await store.claimOutbox({ now: T0 + 20, leaseMs: 30_000, limit: 10 }), []);
      // The worker holding m3 died: once its lease is over, another worker gets m3 (and m1, m2).
      assert.deepEqual(
        (await store.claimOutbox({ now: T0 + 30_010, leaseMs: 1000, limit: 10 })).map((m) => [m.id, m.attempts]),
        [
          ['m3', 2],
          ['m1', 2],
          ['m2', 2],
        ],
      );
      await assert.rejects(store.claimOutbox({ now: T0, leaseMs: 0, limit: 1 }), hasCode('FLX_INTERNAL', 'leaseMs'));
    }));

  test('releasing leases at start-up makes leased pending messages due at once (not sent or dead ones)', () =>
    withStore(async ({ store }) => {
      for (const id of ['a', 'b', 'c']) await store.enqueueOutbox(outboxMessage(id));
      await store.claimOutbox({ now: T0, leaseMs: 60_000, limit: 10 });
      await store.markOutboxSent('c', { at: T0 + 1 });
      assert.deepEqual(await store.claimOutbox({ now: T0 + 2, leaseMs: 60_000, limit: 10 }), [], 'still leased');
      assert.equal(await store.releaseOutboxLeases(), 2);
      assert.deepEqual(
        (await store.claimOutbox({ now: T0 + 3, leaseMs: 60_000, limit: 10 })).map((m) => [m.id, m.attempts]),
        [
          ['a', 2],
          ['b', 2],
        ],
      );
    }));

  test('sent messages keep the peer answer and are never handed out again; failures retry or die', () =>
    withStore(async ({ store }) => {
      for (const id of ['ok', 'retry', 'dead']) await store.enqueueOutbox(outboxMessage(id));
      await store.claimOutbox({ now: T0, leaseMs: 1000, limit: 10 });
      assert.equal(
        await store.markOutboxSent('ok', { at: T0 + 5, response: { message: { ack: { status: 'ACK' } } } }),
        true,
      );
      assert.equal(await store.markOutboxSent('ok', { at: T0 + 6 }), false, 'a second mark changes nothing');
      assert.equal(await store.markOutboxFailed('retry', { error: 'ECONNREFUSED', retryAt: T0 + 2000 }), true);
      assert.equal(await store.markOutboxFailed('dead', { error: 'NACK 30000', giveUp: true }), true);
      assert.equal(await store.markOutboxFailed('dead', { error: 'again', retryAt: T0 }), false);
      const ok = await store.getOutbox('ok');
      assert.deepEqual(
        [ok?.status, ok?.sentAt, ok?.response, ok?.leaseUntil],
        ['sent', T0 + 5, { message: { ack: { status: 'ACK' } } }, undefined],
      );
      assert.deepEqual(await store.claimOutbox({ now: T0 + 1999, leaseMs: 1000, limit: 10 }), []);
      const [retry] = await store.claimOutbox({ now: T0 + 2000, leaseMs: 1000, limit: 10 });
      assert.deepEqual([retry?.id, retry?.attempts, retry?.lastError], ['retry', 2, 'ECONNREFUSED']);
      assert.deepEqual(
        (await store.listOutbox({ status: 'dead' })).map((m) => [m.id, m.lastError]),
        [['dead', 'NACK 30000']],
      );
      assert.deepEqual(
        (await store.listOutbox({ status: 'sent' })).map((m) => m.id),
        ['ok'],
      );
      assert.deepEqual(
        (await store.listOutbox({ transactionId: 'tx-1', status: 'pending' })).map((m) => m.id),
        ['retry'],
      );
      await assert.rejects(store.markOutboxSent('nope', { at: T0 }), hasCode('FLX_INTERNAL', 'nope'));
    }));

  test('concurrent claimers never get the same message, and between them get every due one', () =>
    withStore(async ({ store }) => {
      for (let i = 0; i < 12; i++) await store.enqueueOutbox(outboxMessage(`c${i}`));
      const batches = await Promise.all(
        Array.from({ length: 5 }, () => store.claimOutbox({ now: T0, leaseMs: 60_000, limit: 3 })),
      );
      const ids = batches.flat().map((m) => m.id);
      assert.equal(new Set(ids).size, ids.length, 'no message in two batches');
      assert.equal(ids.length, 12);
    }));

  test('a message owed survives close and reopen, as does the lease on it', () =>
    withStore(async ({ store, reopen }) => {
      await store.transaction(async (tx) => {
        await tx.enqueueOutbox(outboxMessage('owed'));
      });
      await store.claimOutbox({ now: T0, leaseMs: 5000, limit: 1 });
      await store.close();
      const again = await reopen();
      assert.deepEqual(await again.claimOutbox({ now: T0 + 4999, leaseMs: 5000, limit: 1 }), []);
      assert.deepEqual(
        (await again.claimOutbox({ now: T0 + 5000, leaseMs: 5000, limit: 1 })).map((m) => [m.id, m.attempts]),
        [['owed', 2]],
      );
    }));
};
