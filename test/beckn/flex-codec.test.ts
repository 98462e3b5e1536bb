// Core 1.1.1 fields instead of FlexLon tags (issue 18 item 4): the need's quantity and price ceiling,
// the offers' site, region and expiry are where core puts them, a counterparty that sends only core
// fields is understood, and messages in the older all-tags form are still read. What FlexLon writes
// is checked against the official transaction.yaml (read from ../shared at run time).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { buildContext } from '../../src/beckn/context.ts';
import { catalogToOffers, intentToNeed, needToIntent, offersToCatalog } from '../../src/beckn/flex-codec.ts';
import type { Catalog, Intent } from '../../src/beckn/wire.ts';
import type { FlexNeed, FlexOffer } from '../../src/domain/offers.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbp, gbpPerMwh, kw } from '../../src/domain/units.ts';
import { officialValidator } from '../helpers/official-beckn.ts';

const START = Date.parse('2026-12-05T17:00:00Z');
const HOUR = 3_600_000;

const need: FlexNeed = {
  kind: 'price-peak',
  windowStart: epochMs(START),
  windowEnd: epochMs(START + 2 * HOUR),
  wantedKw: kw(250),
  maxPriceGbpPerMwh: gbpPerMwh(180),
};

const offer = (id: string, site: string, region: string): FlexOffer => ({
  id,
  site,
  region,
  windowStart: epochMs(START),
  windowEnd: epochMs(START + 2 * HOUR),
  reductionKw: kw(120),
  priceGbp: gbp(36),
  priceGbpPerMwh: gbpPerMwh(150),
  opportunityCostGbp: gbp(20),
  validUntil: epochMs(START),
});

const codes = (groups: { list: { descriptor: { code?: string } }[] }[] | undefined) =>
  (groups ?? []).flatMap((g) => g.list.map((t) => t.descriptor.code));

test('the search intent carries the quantity wanted and the price ceiling in core fields; only what core lacks is tagged', () => {
  const intent = needToIntent(need);
  assert.deepEqual(intent.item?.quantity?.selected?.measure, { type: 'CONSTANT', value: '250', unit: 'kW' });
  // 250 kW for 2 h = 0.5 MWh, at most £180/MWh: at most £90 for the window (the unit of an offer's price).
  assert.deepEqual(intent.item?.price, { currency: 'GBP', maximum_value: '90' });
  assert.deepEqual(codes(intent.tags), ['kind', 'max-price-gbp-per-mwh']);
  assert.deepEqual(intentToNeed(intent), need);
  const search = {
    context: buildContext({ action: 'search', bapId: 'bap.example', bapUri: 'https://bap.example', now: START }),
    message: { intent },
  };
  assert.deepEqual(officialValidator()('search', search), []);
});

test('a buyer that sends only core fields (no FlexLon tags) is understood: kW wanted, and its £ ceiling per MWh', () => {
  const plain: Intent = {
    descriptor: { code: 'demand-reduction' },
    fulfillment: {
      type: 'DEMAND_RESPONSE',
      stops: [
        { type: 'start', time: { timestamp: new Date(START).toISOString() } },
        { type: 'end', time: { timestamp: new Date(START + HOUR).toISOString() } },
      ],
    },
    item: {
      id: 'want',
      quantity: { selected: { measure: { type: 'CONSTANT', value: '200', unit: 'kW' } } },
      price: { currency: 'GBP', maximum_value: '30' },
    },
  };
  const n = intentToNeed(plain);
  assert.equal(n.wantedKw, 200);
  assert.equal(n.maxPriceGbpPerMwh, 150, '£30 for 0.2 MWh');
  assert.equal(n.kind, 'price-peak');
  assert.throws(
    () =>
      intentToNeed({
        ...plain,
        item: { id: 'want', quantity: { selected: { measure: { type: 'CONSTANT', value: '0.2', unit: 'MW' } } } },
      }),
    /the quantity wanted must be in kW, got "MW"/,
  );
});

test('an intent in the older all-tags form is still read', () => {
  const { descriptor, fulfillment } = needToIntent(need);
  const old: Intent = {
    ...(descriptor ? { descriptor } : {}),
    ...(fulfillment ? { fulfillment } : {}),
    tags: [
      {
        descriptor: { code: 'flex-need' },
        list: [
          { descriptor: { code: 'kind' }, value: 'carbon-peak' },
          { descriptor: { code: 'wanted-kw' }, value: '75' },
          { descriptor: { code: 'max-price-gbp-per-mwh' }, value: '99.5' },
        ],
      },
    ],
  };
  assert.deepEqual(intentToNeed(old), { ...need, kind: 'carbon-peak', wantedKw: 75, maxPriceGbpPerMwh: 99.5 });
});

test("offers put the site in location_ids, its region and country on the provider's Location, expiry in Catalog.exp", () => {
  const offers = [offer('o-lon', 'lon', 'London'), offer('o-man', 'man', 'North West')];
  const catalog = offersToCatalog('dc.example', 'DC', offers);
  assert.equal(catalog.exp, new Date(START).toISOString());
  assert.deepEqual(catalog.providers?.[0]?.locations, [
    { id: 'lon', descriptor: { name: 'lon' }, area_code: 'London', country: { code: 'GBR' } },
    { id: 'man', descriptor: { name: 'man' }, area_code: 'North West', country: { code: 'GBR' } },
  ]);
  const item = catalog.providers?.[0]?.items?.[0];
  assert.deepEqual(item?.location_ids, ['lon']);
  assert.deepEqual(codes(item?.tags), ['price-gbp-per-mwh', 'opportunity-cost-gbp']);
  assert.deepEqual(
    catalogToOffers(catalog).map((x) => x.offer),
    offers,
  );
  const onSearch = {
    context: buildContext({
      action: 'on_search',
      bapId: 'bap.example',
      bapUri: 'https://bap.example',
      bppId: 'dc.example',
      bppUri: 'https://dc.example',
      messageId: randomUUID(),
      now: START,
    }),
    message: { catalog },
  };
  assert.deepEqual(officialValidator()('on_search', onSearch), []);
});

test('a catalog in the older form (site, region, valid-until in tags; region as the location name) is still read', () => {
  const old: Catalog = {
    providers: [
      {
        id: 'dc.example',
        locations: [{ id: 'lon', descriptor: { name: 'London' } }],
        items: [
          {
            id: 'o-old',
            descriptor: { code: 'demand-reduction' },
            price: { currency: 'GBP', value: '36' },
            quantity: { available: { measure: { type: 'CONSTANT', value: '120', unit: 'kW' } } },
            time: { range: { start: new Date(START).toISOString(), end: new Date(START + 2 * HOUR).toISOString() } },
            tags: [
              {
                descriptor: { code: 'flex-offer' },
                list: [
                  { descriptor: { code: 'reduction-kw' }, value: '120' },
                  { descriptor: { code: 'price-gbp-per-mwh' }, value: '150' },
                  { descriptor: { code: 'opportunity-cost-gbp' }, value: '20' },
                  { descriptor: { code: 'site' }, value: 'lon' },
                  { descriptor: { code: 'region' }, value: 'London' },
                  { descriptor: { code: 'valid-until' }, value: new Date(START - HOUR).toISOString() },
                ],
              },
            ],
          },
        ],
      },
    ],
  };
  assert.deepEqual(
    catalogToOffers(old).map((x) => x.offer),
    [{ ...offer('o-old', 'lon', 'London'), validUntil: epochMs(START - HOUR) }],
  );
});

test('a quantity too large for toFixed still goes out as a DecimalValue, and is refused by its size, not its form', () => {
  const huge = needToIntent({ ...need, wantedKw: kw(1e23) });
  assert.match(huge.item?.quantity?.selected?.measure.value ?? '', /^[0-9]{23}$/);
  assert.throws(() => intentToNeed(huge), /wanted-kw must be from 0 to 1000000 kW, got 1e\+23/);
});

test("an offer's cost parts are sent in pence that add up to its opportunity cost as sent (the rounding's penny in the largest part)", () => {
  // -1.504 + 0 + 4.767 = 3.263: each rounded alone, -1.50 + 4.77 = 3.27 beside a total of 3.26.
  const o: FlexOffer = {
    ...offer('o-pence', 'lon-1', 'GB-London'),
    opportunityCostGbp: gbp(3.263),
    costComponents: {
      energyGbp: gbp(-1.504),
      latenessGbp: gbp(0),
      capsGbp: gbp(4.767),
      batteryGbp: gbp(0),
      movesGbp: gbp(0),
    },
  };
  const catalog = offersToCatalog('dc.example', 'DC', [o]);
  const tags = Object.fromEntries(
    (catalog.providers?.[0]?.items?.[0]?.tags ?? []).flatMap((g) => g.list.map((t) => [t.descriptor.code, t.value])),
  );
  assert.equal(tags['opportunity-cost-gbp'], '3.26');
  assert.deepEqual(
    [tags['opportunity-cost-energy-gbp'], tags['opportunity-cost-lateness-gbp'], tags['opportunity-cost-caps-gbp']],
    ['-1.5', '0', '4.76'],
  );
  const [back] = catalogToOffers(catalog);
  const c = back?.offer.costComponents;
  assert.ok(c);
  assert.equal(Math.round((c.energyGbp + c.latenessGbp + c.capsGbp + c.batteryGbp + c.movesGbp) * 100), 326);
});
