// The contract every Store adapter must meet, exercised only through the Store port. An adapter's
// test file calls storeContract(name, open) once; `open` gives a fresh, empty store, a way to open
// the same data again (after close, or beside the first), and a cleanup that closes and removes all.
//
// Stored values come back equal to JSON.parse(JSON.stringify(value)), not to the value itself:
// -0 reads back as 0, toJSON() is applied, undefined members vanish. The audit hash covers that
// JSON form, so the trail still verifies. Values JSON cannot carry (NaN, BigInt, cycles) are refused.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GENESIS_HASH, verifyChain } from '../../src/audit/chain.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbp } from '../../src/domain/units.ts';
import { asJson, entry, hasCode, order, T0, type StoreFixture, type WithStore } from './store-fixtures.ts';
import { recordTests } from './store-records.contract.ts';
import { outboxTests, transactionTests } from './store-tx.contract.ts';

export type { StoreFixture } from './store-fixtures.ts';

const auditTests = (withStore: WithStore): void => {
  test('appended records read back in order, equal to what append returned, and verify', () =>
    withStore(async ({ store }) => {
      const appended = [
        await store.appendAudit(entry()),
        await store.appendAudit(
          entry({
            kind: 'beckn.in',
            transactionId: 'tx-1',
            messageId: 'm-1',
            payload: { context: { action: 'search' } },
          }),
        ),
        await store.appendAudit(
          entry({
            kind: 'order',
            transactionId: 'tx-1',
            orderId: 'o-1',
            at: T0 + 0.25,
            payload: [1, 'two', null, true, 1e300, 5e-324],
          }),
        ),
      ];
      assert.deepEqual(
        appended.map((r) => r.seq),
        [1, 2, 3],
      );
      assert.equal(appended[0]?.prevHash, GENESIS_HASH);
      const trail = await store.auditTrail();
      assert.deepEqual(trail, appended);
      assert.equal('transactionId' in (trail[0] ?? {}), false, 'an absent id stays absent, not undefined');
      assert.deepEqual(verifyChain(trail), { ok: true, records: 3 });
    }));

  test('200 appends keep one chain with contiguous seqs', () =>
    withStore(async ({ store }) => {
      for (let i = 0; i < 200; i++) await store.appendAudit(entry({ at: T0 + i, payload: { i } }));
      const trail = await store.auditTrail();
      assert.deepEqual(
        trail.map((r) => r.seq),
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      assert.deepEqual(verifyChain(trail), { ok: true, records: 200 });
    }));

  test('concurrent appends (Promise.all) still make one chain', () =>
    withStore(async ({ store }) => {
      const records = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.appendAudit(entry({ payload: { i } }))),
      );
      assert.deepEqual(
        records.map((r) => r.seq).sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      assert.deepEqual(verifyChain(await store.auditTrail()), { ok: true, records: 50 });
    }));

  // A filtered trail skips other transactions' records, so it is not a chain: verify the full trail.
  test('a trail filtered by transaction holds only that transaction, in seq order', () =>
    withStore(async ({ store }) => {
      for (const tx of ['a', 'b', 'a', undefined, 'a', 'b'])
        await store.appendAudit(entry(tx === undefined ? {} : { transactionId: tx }));
      assert.deepEqual(
        (await store.auditTrail({ transactionId: 'a' })).map((r) => r.seq),
        [1, 3, 5],
      );
      assert.deepEqual(
        (await store.auditTrail({ transactionId: 'b' })).map((r) => r.seq),
        [2, 6],
      );
      assert.deepEqual(await store.auditTrail({ transactionId: 'none' }), []);
      assert.equal((await store.auditTrail({})).length, 6);
    }));

  // A reader following the log (the dashboard's summary) reads on from the last row it saw.
  test('a trail after a seq holds only the later rows, in seq order; with a transaction, both narrow it', () =>
    withStore(async ({ store }) => {
      for (const tx of ['a', 'b', 'a', undefined, 'a', 'b'])
        await store.appendAudit(entry(tx === undefined ? {} : { transactionId: tx }));
      const all = await store.auditTrail();
      assert.deepEqual(await store.auditTrail({ afterSeq: 0 }), all);
      const later = await store.auditTrail({ afterSeq: 4 });
      assert.deepEqual(later, all.slice(4), 'records 5 and 6, equal to the full read');
      assert.equal(later[0]?.prevHash, all[3]?.hash, 'the first row read on links to the last row seen');
      assert.deepEqual(await store.auditTrail({ afterSeq: 6 }), []);
      assert.deepEqual(await store.auditTrail({ afterSeq: 60 }), []);
      assert.deepEqual(
        (await store.auditTrail({ transactionId: 'a', afterSeq: 1 })).map((r) => r.seq),
        [3, 5],
      );
      assert.deepEqual(
        (await store.auditTrail({ transactionId: 'b', afterSeq: 2 })).map((r) => r.seq),
        [6],
      );
      await store.appendAudit(entry({ transactionId: 'a' }));
      assert.deepEqual(
        (await store.auditTrail({ afterSeq: 6 })).map((r) => r.seq),
        [7],
        'a row appended since is read',
      );
      for (const bad of [-1, 1.5, Number.NaN])
        await assert.rejects(store.auditTrail({ afterSeq: bad }), hasCode('FLX_INTERNAL', 'afterSeq'));
    }));

  test('payloads are kept as their JSON form; what JSON cannot carry is refused and leaves the chain intact', () =>
    withStore(async ({ store }) => {
      const tricky = JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}') as unknown;
      const payloads: unknown[] = [{ when: new Date(T0), zero: -0, gone: undefined }, tricky, 'text', 0, null];
      for (const payload of payloads) await store.appendAudit(entry({ payload }));
      const trail = await store.auditTrail();
      assert.deepEqual(
        trail.map((r) => r.payload),
        payloads.map(asJson),
      );
      assert.deepEqual(trail[0]?.payload, { when: '2025-01-01T00:00:00.000Z', zero: 0 });
      assert.ok(
        Object.hasOwn(trail[1]?.payload as object, '__proto__'),
        '"__proto__" reads back as an own key, not a prototype',
      );
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      for (const payload of [{ x: Number.NaN }, [Number.POSITIVE_INFINITY], undefined, 10n, cyclic, () => 1]) {
        await assert.rejects(
          store.appendAudit(entry({ payload })),
          (e: unknown) => (e as { code?: string }).code === 'FLX_INTERNAL',
        );
      }
      assert.equal((await store.appendAudit(entry())).seq, payloads.length + 1);
      assert.deepEqual(verifyChain(await store.auditTrail()), { ok: true, records: payloads.length + 1 });
    }));

  test('property: any sequence of JSON payloads is stored, verifies and reads back equal', () =>
    fc.assert(
      fc.asyncProperty(
        fc.array(fc.jsonValue(), { maxLength: 12 }),
        fc.constantFrom(...(['signal', 'plan', 'meter'] as const)),
        (payloads, kind) =>
          withStore(async ({ store }) => {
            const appended = [];
            for (const [i, payload] of payloads.entries())
              appended.push(await store.appendAudit(entry({ kind, at: T0 + i, payload })));
            const trail = await store.auditTrail();
            assert.deepEqual(verifyChain(trail), { ok: true, records: payloads.length });
            assert.deepEqual(
              trail.map((r) => r.payload),
              payloads.map(asJson),
            );
            assert.deepEqual(trail, appended);
          }),
      ),
      { numRuns: 40 },
    ));
};

const claimTests = (withStore: WithStore): void => {
  test('the first claim of a message key wins; later claims get its outcome', () =>
    withStore(async ({ store }) => {
      assert.deepEqual(await store.claimMessage('bap|m-1|search', 'ack'), { first: true, outcome: 'ack' });
      assert.deepEqual(await store.claimMessage('bap|m-1|search', 'nack'), { first: false, outcome: 'ack' });
      assert.deepEqual(await store.claimMessage('bap|m-1|select', 'nack'), { first: true, outcome: 'nack' });
      assert.deepEqual(await store.claimMessage('bap|m-1|search', 'ack'), { first: false, outcome: 'ack' });
      assert.equal(await store.messageClaim('bap|m-1|search'), 'ack', 'a claim can be read without making one');
      assert.equal(await store.messageClaim('bap|m-2|search'), undefined);
      assert.equal(await store.transaction((tx) => tx.messageClaim('bap|m-1|select')), 'nack');
    }));

  test('20 concurrent claims of one key: exactly one is first and all agree on its outcome', () =>
    withStore(async ({ store }) => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.claimMessage('bap|m-2|confirm', `outcome-${i}`)),
      );
      const firsts = results.filter((r) => r.first);
      assert.equal(firsts.length, 1);
      assert.ok(results.every((r) => r.outcome === firsts[0]?.outcome));
    }));
};

const orderTests = (withStore: WithStore): void => {
  test('orders round-trip exactly, optional fields present or absent', () =>
    withStore(async ({ store }) => {
      const plain = order('o-1');
      const full = order('o-2', {
        state: 'initialised',
        quoteExpiresAt: epochMs(T0 + 60_000),
        baselineMethod: 'BL01',
        reason: 'ünïcode ✓',
        priceGbp: gbp(0.1 + 0.2),
      });
      await store.saveOrder(plain);
      await store.saveOrder(full);
      assert.deepEqual(await store.getOrder('o-1'), plain);
      assert.deepEqual(await store.getOrder('o-2'), full);
      assert.equal(await store.getOrder('o-missing'), undefined);
      assert.deepEqual(await store.findOrderByTransaction('tx-o-2'), full);
      assert.equal(await store.findOrderByTransaction('tx-missing'), undefined);
    }));

  test('saving an order again updates it in place; the list is ordered by updatedAt, then id', () =>
    withStore(async ({ store }) => {
      await store.saveOrder(order('o-b', { updatedAt: epochMs(T0 + 10) }));
      await store.saveOrder(order('o-a', { updatedAt: epochMs(T0 + 10) }));
      await store.saveOrder(order('o-c', { updatedAt: epochMs(T0 + 5) }));
      const confirmed = order('o-c', { state: 'confirmed', updatedAt: epochMs(T0 + 20), baselineMethod: 'BL01' });
      await store.saveOrder(confirmed);
      assert.deepEqual(await store.getOrder('o-c'), confirmed);
      assert.deepEqual(await store.findOrderByTransaction('tx-o-c'), confirmed);
      assert.deepEqual(
        (await store.listOrders()).map((o) => o.id),
        ['o-a', 'o-b', 'o-c'],
      );
      assert.deepEqual(await store.listOrders(), [
        order('o-a', { updatedAt: epochMs(T0 + 10) }),
        order('o-b', { updatedAt: epochMs(T0 + 10) }),
        confirmed,
      ]);
    }));
};

const documentTests = (withStore: WithStore): void => {
  test('documents are upserted by (kind, id) and read back equal', () =>
    withStore(async ({ store }) => {
      const plan = { slots: [1.5, 2, 0], site: 'lon-1', nested: { ok: true, none: null } };
      await store.putDocument('plan', 'latest', plan);
      await store.putDocument('offer', 'latest', ['o-1']);
      assert.deepEqual(await store.getDocument('plan', 'latest'), plan);
      assert.deepEqual(await store.getDocument('offer', 'latest'), ['o-1']);
      await store.putDocument('plan', 'latest', { slots: [] });
      assert.deepEqual(await store.getDocument('plan', 'latest'), { slots: [] });
      assert.equal(await store.getDocument('plan', 'other'), undefined);
      await store.putDocument('flag', 'x', false);
      assert.equal(await store.getDocument('flag', 'x'), false);
      await assert.rejects(store.putDocument('plan', 'bad', { x: Number.NaN }), /NaN/);
    }));
};

const lifecycleTests = (withStore: WithStore): void => {
  test('everything survives close and reopen, and the chain continues', () =>
    withStore(async ({ store, reopen }) => {
      for (let i = 0; i < 3; i++) await store.appendAudit(entry({ transactionId: 'tx-r', payload: { i } }));
      await store.claimMessage('k', 'ack');
      await store.saveOrder(order('o-r'));
      await store.putDocument('plan', 'latest', { v: 1 });
      const before = await store.auditTrail();
      await store.close();
      const again = await reopen();
      assert.deepEqual(await again.auditTrail(), before);
      assert.deepEqual(await again.claimMessage('k', 'nack'), { first: false, outcome: 'ack' });
      assert.deepEqual(await again.getOrder('o-r'), order('o-r'));
      assert.deepEqual(await again.getDocument('plan', 'latest'), { v: 1 });
      const next = await again.appendAudit(entry());
      assert.equal(next.seq, 4);
      assert.equal(next.prevHash, before[2]?.hash);
      assert.deepEqual(verifyChain(await again.auditTrail()), { ok: true, records: 4 });
    }));

  test('after close every call fails clearly, and close may be called again', () =>
    withStore(async ({ store }) => {
      await store.close();
      await store.close();
      const calls: [string, () => Promise<unknown>][] = [
        ['appendAudit', () => store.appendAudit(entry())],
        ['auditTrail', () => store.auditTrail()],
        ['claimMessage', () => store.claimMessage('k', 'ack')],
        ['messageClaim', () => store.messageClaim('k')],
        ['saveOrder', () => store.saveOrder(order('o'))],
        ['getOrder', () => store.getOrder('o')],
        ['findOrderByTransaction', () => store.findOrderByTransaction('t')],
        ['listOrders', () => store.listOrders()],
        ['putDocument', () => store.putDocument('k', 'i', 1)],
        ['getDocument', () => store.getDocument('k', 'i')],
        ['transaction', () => store.transaction(async () => 1)],
        [
          'enqueueOutbox',
          () => store.enqueueOutbox({ id: 'x', destination: 'd', action: 'a', body: 1, createdAt: T0 }),
        ],
        ['getOutbox', () => store.getOutbox('x')],
        ['listOutbox', () => store.listOutbox()],
        ['claimOutbox', () => store.claimOutbox({ now: T0, leaseMs: 1, limit: 1 })],
        ['markOutboxSent', () => store.markOutboxSent('x', { at: T0 })],
        ['markOutboxFailed', () => store.markOutboxFailed('x', { error: 'e', giveUp: true })],
        ['releaseOutboxLeases', () => store.releaseOutboxLeases()],
        [
          'saveCommitment',
          () => store.saveCommitment({ orderId: 'o', site: 's', windowStart: epochMs(T0), windowEnd: epochMs(T0 + 1) }),
        ],
        ['listCommitments', () => store.listCommitments()],
        ['savePlan', () => store.savePlan({ id: 'p', createdAt: T0, horizonStart: epochMs(T0), status: 'optimal' })],
        ['getPlan', () => store.getPlan('p')],
        ['latestPlan', () => store.latestPlan()],
        ['saveDispatch', () => store.saveDispatch({ id: 'd', site: 's', at: T0 })],
        ['listDispatches', () => store.listDispatches()],
        ['saveMeterReadings', () => store.saveMeterReadings([])],
        ['meterReadings', () => store.meterReadings({ site: 's' })],
      ];
      for (const [name, call] of calls) await assert.rejects(call(), /closed/, `${name} after close`);
    }));
};

export const storeContract = (name: string, open: () => Promise<StoreFixture>): void => {
  const withStore: WithStore = async (fn) => {
    const fixture = await open();
    try {
      await fn(fixture);
    } finally {
      await fixture.cleanup();
    }
  };
  describe(`Store contract: ${name}`, () => {
    auditTests(withStore);
    claimTests(withStore);
    orderTests(withStore);
    documentTests(withStore);
    lifecycleTests(withStore);
    transactionTests(withStore);
    outboxTests(withStore);
    recordTests(withStore);
  });
};
