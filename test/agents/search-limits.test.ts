// Limits on what a search may ask for (issue 14 finding 5): a window that is over, one that starts
// beyond the planning horizon, one longer than the horizon, and a wanted reduction below 0 or above a
// gigawatt are refused before the ACK with FLX_REQ_SCHEMA naming the field, so none triggers planning.
// Sent by the grid orchestrator's own signed client to the BPP, as any buyer would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildContext } from '../../src/beckn/context.ts';
import { needToIntent } from '../../src/beckn/flex-codec.ts';
import type { Market } from '../../src/compose/index.ts';
import type { FlexNeed } from '../../src/domain/offers.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
let m: Market;
before(async () => {
  market = await openMarket('search-limits');
  m = market.m;
});
after(async () => {
  await market.stop();
});

const HOUR = 3_600_000;
const search = (need: FlexNeed) =>
  m.bap.deps.client.send(m.urls.bpp, {
    context: buildContext({
      action: 'search',
      bapId: m.bap.deps.id,
      bapUri: m.urls.bap,
      bppId: m.bpp.id,
      bppUri: m.urls.bpp,
      now: Date.now(),
    }),
    message: { intent: needToIntent(need) },
  });

test('a search outside what can be planned is NACKed, naming the field; a sound one is ACKed', async () => {
  const now = m.clock.now();
  const ok: FlexNeed = {
    kind: 'price-peak',
    windowStart: epochMs(now + 18 * HOUR),
    windowEnd: epochMs(now + 19 * HOUR),
    wantedKw: kw(100),
    maxPriceGbpPerMwh: gbpPerMwh(3000),
  };
  const cases: [string, FlexNeed, RegExp][] = [
    ['over', { ...ok, windowStart: epochMs(now - 3 * HOUR), windowEnd: epochMs(now - 2 * HOUR) }, /is over/],
    [
      'year 9999',
      {
        ...ok,
        windowStart: epochMs(Date.parse('9999-01-01T00:00:00Z')),
        windowEnd: epochMs(Date.parse('9999-01-01T01:00:00Z')),
      },
      /more than 48 h ahead/,
    ],
    ['two years long', { ...ok, windowEnd: epochMs(now + 2 * 365 * 24 * HOUR) }, /a need covers at most 48 h/],
    ['−100 kW', { ...ok, wantedKw: kw(-100) }, /wanted-kw must be from 0 to 1000000 kW, got -100/],
    ['1e23 kW', { ...ok, wantedKw: kw(1e23) }, /wanted-kw must be (a decimal number|from 0 to 1000000 kW)/],
  ];
  for (const [what, need, reason] of cases)
    await assert.rejects(search(need), (e: Error) => /FLX_REQ_SCHEMA/.test(e.message) && reason.test(e.message), what);
  const ack = await search(ok);
  assert.equal(ack.message.ack.status, 'ACK');
});
