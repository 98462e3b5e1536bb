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
import { itemToOffer, offerToItem } from '../../src/beckn/flex-codec.ts';

const HOUR = 3_600_000;
const offer = (id: string, priceGbpPerMwh: number, reductionKw = 40, more: Partial<FlexOffer> = {}): FlexOffer =>
  ({ id, priceGbpPerMwh, reductionKw, region: 'GB', windowStart: 0, windowEnd: HOUR, ...more }) as unknown as FlexOffer;

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

test('carbon effect and location fit: a re-plan that adds CO2 costs £70/t more per MWh; in-area offers first when asked', () => {
  // 40 kW for an hour is 0.04 MWh: +20 kg is 500 kg/MWh, £35/MWh at £70/t.
  const dirty = { offer: offer('d', 100, 40, { carbonEffectKg: 20 }), bppId: 'd.example' };
  const clean = { offer: offer('c', 120, 40, { carbonEffectKg: -4 }), bppId: 'c.example' };
  assert.equal(expectedGbpPerMwh(dirty.offer, undefined), 135);
  assert.equal(expectedGbpPerMwh(clean.offer, undefined), 113);
  assert.deepEqual(
    rankByHistory([dirty, clean], new Map()).map((x) => x.bppId),
    ['c.example', 'd.example'],
  );
  // A network constraint in the buyer's area: a site elsewhere ranks after every site behind it.
  const elsewhere = { offer: offer('e', 50, 40, { region: 'North Scotland' }), bppId: 'e.example' };
  assert.deepEqual(
    rankByHistory([elsewhere, clean], new Map(), 'GB').map((x) => x.bppId),
    ['c.example', 'e.example'],
  );
  assert.equal(rankByHistory([elsewhere, clean], new Map())[0]!.bppId, 'e.example', 'no area: price alone');
});

test('the carbon effect travels in the flex-offer tags and reads back, negative included; absent stays absent', () => {
  const sent = {
    ...offer('x', 80.5, 12.3, { site: 'lon', carbonEffectKg: -3.4 }),
    priceGbp: 0.99,
    opportunityCostGbp: 0.5,
    validUntil: HOUR,
  } as unknown as FlexOffer;
  const back = itemToOffer(offerToItem(sent), '$.item');
  assert.equal(back.carbonEffectKg, -3.4);
  const { carbonEffectKg: _c, ...without } = sent;
  assert.equal(itemToOffer(offerToItem(without as FlexOffer), '$.item').carbonEffectKg, undefined);
});

test('a site-move part travels as opportunity-cost-moves-gbp only when there is one; an offer without the tag reads £0 of moves', () => {
  const parts = { energyGbp: 1.5, latenessGbp: 0.25, capsGbp: 0, batteryGbp: 0, movesGbp: 4.2 };
  const sent = {
    ...offer('x', 80.5, 12.3, { site: 'lon' }),
    priceGbp: 6.5,
    opportunityCostGbp: 5.95,
    costComponents: parts,
    validUntil: HOUR,
  } as unknown as FlexOffer;
  const item = offerToItem(sent);
  assert.deepEqual(itemToOffer(item, '$.item').costComponents, parts);
  const noMoves = offerToItem({ ...sent, costComponents: { ...parts, movesGbp: 0 } } as FlexOffer);
  const tags = JSON.stringify(noMoves.tags);
  assert.ok(!tags.includes('opportunity-cost-moves-gbp') && tags.includes('opportunity-cost-caps-gbp'), tags);
  assert.equal(itemToOffer(noMoves, '$.item').costComponents?.movesGbp, 0);
});
