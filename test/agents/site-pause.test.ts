// An operator's pause of a site (the dashboard's action, issue 19) stops the BPP offering it: a search
// gets no offer for a paused site, and offers again once it is resumed. Signed HTTP in a market.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SITE_PAUSE_DOC } from '../../src/agents/flex/offer-task.ts';
import { SLOT_MINUTES } from '../../src/compose/index.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;

before(async () => {
  market = await openMarket('pause');
});

after(async () => {
  await market.stop();
});

test('a paused site is offered in nothing; resumed, it is offered again', { timeout: 120_000 }, async () => {
  const m = market.m;
  const windowStart = epochMs(m.dayStart + 36 * SLOT_MINUTES * MINUTE_MS);
  const need = {
    kind: 'price-peak' as const,
    windowStart,
    windowEnd: epochMs(windowStart + 2 * SLOT_MINUTES * MINUTE_MS),
    wantedKw: kw(20),
    maxPriceGbpPerMwh: gbpPerMwh(100_000),
  };
  const offers = async () => {
    const found = await m.bap.search(need, randomUUID());
    return 'none' in found ? [] : found.offers.map((o) => o.offer.site);
  };
  assert.deepEqual(await offers(), ['lon'], 'the evening window is offered');
  await m.stores.flex.putDocument(SITE_PAUSE_DOC, 'lon', { site: 'lon', paused: true, at: 0 });
  assert.deepEqual(await offers(), [], 'paused: no offer');
  await m.stores.flex.putDocument(SITE_PAUSE_DOC, 'lon', { site: 'lon', paused: false, at: 1 });
  assert.deepEqual(await offers(), ['lon'], 'resumed');
});
