// Ranking offers by delivery history (issue 16): the buyer's audited statement checks carry each
// provider's delivered share; offers are ranked by price ÷ that share (at least MIN_SHARE), so a
// cheaper provider that delivered half of what it sold ranks after a dearer one that delivers.
// A real SQLite store, read onward from the last row (afterSeq).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import type { FlexOffer } from '../../src/domain/offers.ts';
import { DeliveryHistory, HISTORY_WINDOWS, expectedGbpPerMwh, rankByHistory } from '../../src/agents/grid/history.ts';

const offer = (id: string, priceGbpPerMwh: number, reductionKw = 40): FlexOffer =>
  ({ id, priceGbpPerMwh, reductionKw }) as unknown as FlexOffer;

test('offers rank by price per MWh expected delivered: price ÷ delivered share, a newcomer as delivering in full', () => {
  const cheapButShort = { offer: offer('a', 100), bppId: 'a.example' };
  const dearButReliable = { offer: offer('b', 150), bppId: 'b.example' };
  const newcomer = { offer: offer('c', 160), bppId: 'c.example' };
  const shares = new Map([
    ['a.example', 0.5],
    ['b.example', 1],
  ]);
  assert.deepEqual(
    rankByHistory([cheapButShort, dearButReliable, newcomer], shares).map((x) => x.bppId),
    ['b.example', 'c.example', 'a.example'],
    '£100 at half delivered is £200 per MWh got: after £150 and £160',
  );
  // Delivering 90 %, the cheap one is first again (£111 per MWh got).
  shares.set('a.example', 0.9);
  assert.equal(rankByHistory([dearButReliable, cheapButShort], shares)[0]!.bppId, 'a.example');
  // One bad window does not shut a provider out: the share is taken as at least a half.
  assert.equal(expectedGbpPerMwh(offer('x', 100), 0.05), 200);
  assert.equal(expectedGbpPerMwh(offer('x', 100), undefined), 100);
});

test("the history is each provider's mean over its last checked windows, read onward from the last row", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-history-'));
  const store = await openSqliteStore(join(dir, 'grid.db'));
  try {
    const check = (bpp: string, deliveredShare: number, event = 'statement-agreed') =>
      store.appendAudit({ kind: 'settlement', at: 0, actor: 'grid', payload: { event, bpp, deliveredShare } });
    await check('a.example', 0.4);
    await check('a.example', 0.8, 'statement-disputed');
    // Not a statement check, or without a share: not history.
    await store.appendAudit({
      kind: 'settlement',
      at: 0,
      actor: 'grid',
      payload: { bpp: 'a.example', state: 'DELIVERED' },
    });
    await check('b.example', 1);
    const history = new DeliveryHistory(store);
    let shares = await history.read();
    assert.ok(Math.abs((shares.get('a.example') ?? 0) - 0.6) < 1e-12);
    assert.equal(shares.get('b.example'), 1);
    // Later windows: only the new rows are read, and the mean is over the last HISTORY_WINDOWS.
    for (let i = 0; i < HISTORY_WINDOWS; i++) await check('a.example', 1);
    shares = await history.read();
    assert.equal(shares.get('a.example'), 1, 'the two early windows have aged out');
    assert.equal(shares.get('b.example'), 1);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
