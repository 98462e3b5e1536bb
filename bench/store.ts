// Store throughput on both adapters, printed as JSON: audit appends and BPP-like units of work
// (claim + order + document + audit + outbox in one transaction), one writer and four concurrent
// writers. SQLite runs with synchronous=FULL as shipped; PostgreSQL is a throwaway local cluster
// with fsync on (test/helpers/postgres.ts, durable). The load average is printed alongside: on a
// shared machine the numbers move with it.
// Usage: node --import tsx bench/store.ts [appends] [units]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { openPostgresStore } from '../src/adapters/store-postgres/index.ts';
import { openSqliteStore } from '../src/adapters/store-sqlite/index.ts';
import { epochMs } from '../src/domain/time.ts';
import { gbp, kw } from '../src/domain/units.ts';
import type { Store } from '../src/ports.ts';
import { startPostgres } from '../test/helpers/postgres.ts';

const [appends, units] = [Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 500)];
const T0 = 1_735_689_600_000;

const unit = (store: Store, w: number, i: number) =>
  store.transaction(async (tx) => {
    const id = `o-${w}-${i}`;
    const claim = await tx.claimMessage(`bap|m-${id}|confirm`, 'ACK');
    if (!claim.first) return;
    await tx.saveOrder({
      id,
      transactionId: `tx-${id}`,
      bapId: 'grid',
      bapUri: 'http://grid',
      offerId: 'f',
      site: 'lon',
      windowStart: epochMs(T0),
      windowEnd: epochMs(T0 + 1),
      reductionKw: kw(40),
      priceGbp: gbp(2),
      state: 'confirmed',
      updatedAt: epochMs(T0),
    });
    await tx.putDocument('baseline', id, { importKw: [100, 120] });
    await tx.appendAudit({
      kind: 'order',
      at: Date.now(),
      actor: 'bench',
      orderId: id,
      payload: { state: 'confirmed' },
    });
    await tx.enqueueOutbox({
      id: `on_confirm|${id}`,
      destination: 'http://grid/on_confirm',
      action: 'on_confirm',
      body: { order: { id } },
      createdAt: Date.now(),
    });
  });

/** Runs `count` operations split over `writers` concurrent loops; ops per second. */
const rate = async (
  count: number,
  writers: number,
  op: (w: number, i: number) => Promise<unknown>,
): Promise<number> => {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < count / writers; i++) await op(w, i);
    }),
  );
  return Math.round(count / ((performance.now() - started) / 1000));
};

const measure = async (open: () => Promise<Store>) => {
  const out: Record<string, number> = {};
  for (const writers of [1, 4]) {
    const store = await open();
    out[`appendAudit_per_s_${writers}w`] = await rate(appends, writers, (w, i) =>
      store.appendAudit({ kind: 'agent', at: Date.now(), actor: `w${w}`, payload: { i, pad: 'x'.repeat(200) } }),
    );
    out[`unit_of_work_per_s_${writers}w`] = await rate(units, writers, (w, i) => unit(store, w, i));
    await store.close();
  }
  return out;
};

const dir = mkdtempSync(join(tmpdir(), 'flexlon-bench-'));
const cluster = await startPostgres({ durable: true });
try {
  const url = await cluster.createDatabase('bench');
  let n = 0;
  const result = {
    machine: { cpus: cpus().length, loadavgBefore: loadavg().map((x) => Math.round(x * 100) / 100) },
    appends,
    units,
    sqlite: await measure(() => openSqliteStore(join(dir, `bench-${++n}.db`))),
    postgres: await measure(() => openPostgresStore({ url, schema: `bench_${++n}`, maxConnections: 4 })),
    loadavgAfter: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
