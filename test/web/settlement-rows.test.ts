// The dashboard's settlement reads (src/web/api.ts transaction, src/web/reports.ts settlements) over
// the rows a buyer really writes, in a real SQLite store: the statement in each status that carries
// it, then the buyer's check of it (whose `periods` is a count). A new user found the buyer's page for
// its order a 500 (FLX_INTERNAL) and each order's statement listed twice, its payment summed double.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { transaction } from '../../src/web/api.ts';
import { AuditIndex } from '../../src/web/audit-index.ts';
import { settlements } from '../../src/web/reports.ts';

const T0 = Date.UTC(2023, 0, 24, 18);
const statement = {
  baselineMethod: 'FLX-CF-FIFO-1',
  periods: [
    { start: T0, baselineKw: 278.246, meteredKw: 170.172, deliveredKwh: 54.037, committedKwh: 28.25, shortfallKwh: 0 },
    {
      start: T0 + 1_800_000,
      baselineKw: 282.484,
      meteredKw: 174.7,
      deliveredKwh: 53.892,
      committedKwh: 28.25,
      shortfallKwh: 0,
    },
  ],
  deliveredKwh: 107.929,
  committedKwh: 56.5,
  shortfallKwh: 0,
  performance: 1,
  paymentGbp: 2.83,
};

test("a buyer's settlement rows: its transaction page shows the statement's periods, and the list shows the order once", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-settlement-rows-'));
  const store = await openSqliteStore(join(dir, 'grid.db'));
  try {
    const row = (payload: unknown, at: number) =>
      store.appendAudit({
        kind: 'settlement',
        at,
        actor: 'grid.test',
        transactionId: 'tx-1',
        orderId: 'flx-1',
        payload,
      });
    await row({ state: 'DELIVERING', unsolicited: true }, 1);
    await row({ state: 'DELIVERED', settlement: statement }, 2); // pushed, unasked
    await row({ state: 'DELIVERED', settlement: statement }, 3); // status → on_status
    await row(
      { event: 'statement-agreed', bpp: 'dc.test', deliveredShare: 1, agreed: true, periods: 2, paymentGbp: 2.83 },
      4,
    );
    const page = await transaction(
      { store, now: () => Date.now() } as unknown as Parameters<typeof transaction>[0],
      'tx-1',
    );
    assert.ok(page);
    assert.equal(page.source, 'settlement');
    assert.deepEqual(
      page.periods.map((p) => [p.baselineKw, p.meteredKw, p.deliveredKwh]),
      statement.periods.map((p) => [p.baselineKw, p.meteredKw, p.deliveredKwh]),
    );
    const list = await settlements({ index: new AuditIndex(store, () => undefined) } as unknown as Parameters<
      typeof settlements
    >[0]);
    assert.equal(list.length, 1, 'one statement per order');
    assert.equal(list[0]?.paymentGbp, 2.83);
    assert.equal(list[0]?.orderId, 'flx-1');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
