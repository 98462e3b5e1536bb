// The offers a BPP holds between on_search and confirm (src/agents/flex/held-offers.ts), over a real
// SQLite store: an offer is held until it expires or is bought, and once one offer of a search is
// bought the search's other offers are released too (a buyer takes one offer per search); a hold
// stored before offers named their search still reads, releasing only the offer bought.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { HeldOffers } from '../../src/agents/flex/held-offers.ts';
import type { HeldOffer } from '../../src/agents/flex/context.ts';
import type { Order } from '../../src/domain/order.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbp, kw } from '../../src/domain/units.ts';

const dir = mkdtempSync(join(tmpdir(), 'flexlon-held-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NOW = epochMs(Date.parse('2023-01-24T13:00:00Z'));
const UNTIL = epochMs(Date.parse('2023-01-24T18:00:00Z'));

const held = (offerId: string, search?: string): HeldOffer => ({
  offerId,
  ...(search ? { search } : {}),
  until: UNTIL,
  commitments: [],
});

const order = (offerId: string, transactionId: string): Order => ({
  id: `order-${offerId}`,
  transactionId,
  bapId: 'grid.test.local',
  bapUri: 'http://127.0.0.1:1',
  offerId,
  site: 'edi',
  windowStart: UNTIL,
  windowEnd: epochMs(UNTIL + 3_600_000),
  reductionKw: kw(10),
  priceGbp: gbp(1),
  state: 'confirmed',
  updatedAt: NOW,
});

test('buying one offer of a search releases the search’s other offers; other searches stay held', async () => {
  const store = await openSqliteStore(join(dir, 'a.db'));
  try {
    const offers = new HeldOffers(store);
    await store.transaction((tx) =>
      offers.hold(tx, [held('edi-1', 'tx-1'), held('lon-1', 'tx-1'), held('portfolio-1', 'tx-1')], NOW),
    );
    await store.transaction((tx) => offers.hold(tx, [held('man-2', 'tx-2')], NOW));
    assert.deepEqual(
      (await offers.live(NOW)).map((h) => h.offerId),
      ['edi-1', 'lon-1', 'portfolio-1', 'man-2'],
    );
    await store.saveOrder(order('edi-1', 'tx-1'));
    assert.deepEqual(
      (await offers.live(NOW)).map((h) => h.offerId),
      ['man-2'],
      'the bought offer and the rest of its search are no longer held',
    );
    // Expired holds go too.
    assert.deepEqual(await offers.live(epochMs(UNTIL + 1)), []);
  } finally {
    await store.close();
  }
});

test('an order cancelled before it was bought leaves the search’s other offers held', async () => {
  const store = await openSqliteStore(join(dir, 'c.db'));
  try {
    const offers = new HeldOffers(store);
    await store.transaction((tx) => offers.hold(tx, [held('edi-1', 'tx-1'), held('lon-1', 'tx-1')], NOW));
    await store.saveOrder({ ...order('edi-1', 'tx-1'), state: 'cancelled' });
    assert.deepEqual(
      (await offers.live(NOW)).map((h) => h.offerId),
      ['lon-1'],
    );
  } finally {
    await store.close();
  }
});

test('a hold stored without the search (before it was kept) releases only the offer bought', async () => {
  const store = await openSqliteStore(join(dir, 'b.db'));
  try {
    const offers = new HeldOffers(store);
    await store.transaction((tx) => offers.hold(tx, [held('edi-1'), held('lon-1')], NOW));
    await store.saveOrder(order('edi-1', 'tx-1'));
    assert.deepEqual(
      (await offers.live(NOW)).map((h) => h.offerId),
      ['lon-1'],
    );
  } finally {
    await store.close();
  }
});
