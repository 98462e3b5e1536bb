// Beckn 2.0 demand flexibility ↔ FlexLon's model (issue 18): the utility's catalogue is the DEG
// index-2026 devkit example, read in place from ../shared (never copied); what FlexLon produces is
// checked against the official 2.0.0 LTS beckn.yaml read the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { FlexError } from '../../src/errors.ts';
import { rankOffers, type FlexOffer } from '../../src/domain/offers.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbp, gbpPerMwh, kw } from '../../src/domain/units.ts';
import { flexNeedsFromCatalog, onDiscoverMessage } from '../../src/beckn/v2/demand-flex.ts';
import { checkV2, detectVersion, loadOfficialSpec } from '../../src/beckn/v2/validate.ts';
import { readSharedJson, sharedPath } from '../helpers/shared.ts';

const SPEC = sharedPath('beckn', 'protocol-specifications-v2', 'core-v2.0.0-lts', 'api', 'v2.0.0', 'beckn.yaml');
type Catalog = {
  resources: { resourceAttributes: Record<string, unknown> }[];
  offers: { offerAttributes: { inputs: { role: string; inputs?: Record<string, unknown> }[] } }[];
};
const published = () =>
  readSharedJson<{ message: { catalogs: Catalog[] } }>(
    'beckn',
    'DEG',
    'index-2026',
    'devkits',
    'demand-flex',
    'uc1-demand-flex',
    'examples',
    'publish-catalog.json',
  ).message.catalogs[0] as Catalog;

const buyerInputs = (c: Catalog) => c.offers[0]!.offerAttributes.inputs.find((x) => x.role === 'buyer')!.inputs!;

const refusal = (fn: () => unknown): FlexError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof FlexError) return e;
    throw e;
  }
  assert.fail('expected a FlexError');
};

test('the DEG DemandFlexNeed example becomes a FlexNeed once priced in GBP; INR and INCREASE are refused with the path', () => {
  // As published: 3.50 INR/kWh for TPDDL, Delhi. FlexLon settles in GBP: refused, not converted.
  const inr = refusal(() => flexNeedsFromCatalog(published()));
  assert.equal(inr.code, 'FLX_REQ_SCHEMA');
  assert.equal(inr.path, 'message.catalogs[0].offers[0].offerAttributes.inputs[0].inputs.currency');
  assert.match(inr.message, /must be "GBP".*got "INR"/);

  const gbpCatalog = published();
  Object.assign(buyerInputs(gbpCatalog), { currency: 'GBP', incentivePerKwh: 0.3 });
  const needs = flexNeedsFromCatalog(gbpCatalog);
  assert.deepEqual(needs, [
    {
      kind: 'price-peak',
      windowStart: Date.parse('2026-04-01T08:30:00Z'), // 14:00 IST: the example's "2-4pm IST"
      windowEnd: Date.parse('2026-04-01T10:30:00Z'),
      wantedKw: 500,
      maxPriceGbpPerMwh: 300, // £0.30/kWh = £300/MWh
    },
  ]);

  // The need ranks FlexLon's offers as any other: in the window and under the price only.
  const offer = (id: string, start: string, priceGbpPerMwh: number): FlexOffer => ({
    id,
    site: 'dc-1',
    region: 'London',
    windowStart: epochMs(Date.parse(start)),
    windowEnd: epochMs(Date.parse(start) + 2 * 3_600_000),
    reductionKw: kw(400),
    priceGbp: gbp(priceGbpPerMwh * 0.8),
    priceGbpPerMwh: gbpPerMwh(priceGbpPerMwh),
    opportunityCostGbp: gbp(10),
    validUntil: epochMs(Date.parse(start)),
  });
  const ranked = rankOffers(
    [
      offer('dear', '2026-04-01T08:30:00Z', 350),
      offer('cheap', '2026-04-01T08:30:00Z', 120),
      offer('later', '2026-04-01T11:00:00Z', 90),
    ],
    needs[0]!,
  );
  assert.deepEqual(
    ranked.map((o) => o.id),
    ['cheap'],
  );

  const increase = published();
  Object.assign(buyerInputs(increase), { currency: 'GBP' });
  increase.resources[0]!.resourceAttributes.direction = 'INCREASE';
  const inc = refusal(() => flexNeedsFromCatalog(increase));
  assert.equal(inc.path, 'message.catalogs[0].resources[0].resourceAttributes.direction');

  const local = published();
  Object.assign(buyerInputs(local), { currency: 'GBP' });
  (local.resources[0]!.resourceAttributes.eventWindow as Record<string, string>).startDate =
    '2026-04-01T14:00:00+05:30';
  assert.equal(
    refusal(() => flexNeedsFromCatalog(local)).path,
    'message.catalogs[0].resources[0].resourceAttributes.eventWindow.startDate',
  );
});

test("FlexLon's offers as a 2.0 on_discover validate against FlexLon's envelope and the official LTS file", () => {
  const now = epochMs(Date.parse('2026-12-05T16:00:00Z'));
  const offers: FlexOffer[] = [
    {
      id: 'offer-a',
      site: 'dc-london-1',
      region: 'London',
      windowStart: epochMs(Date.parse('2026-12-05T17:00:00Z')),
      windowEnd: epochMs(Date.parse('2026-12-05T19:00:00Z')),
      reductionKw: kw(750),
      priceGbp: gbp(165),
      priceGbpPerMwh: gbpPerMwh(110),
      opportunityCostGbp: gbp(42.5),
      validUntil: epochMs(Date.parse('2026-12-05T16:30:00Z')),
    },
  ];
  const msg = onDiscoverMessage({
    bapId: 'grid.example',
    bapUri: 'https://grid.example/beckn',
    bppId: 'dc.example',
    bppUri: 'https://dc.example/beckn',
    transactionId: randomUUID(),
    messageId: randomUUID(),
    now,
    provider: { id: 'dc.example', name: 'Example DC' },
    offers,
  }) as { message: { catalogs: [{ resources: [{ resourceAttributes: Record<string, unknown> }]; offers: [object] }] } };
  assert.deepEqual(detectVersion(msg), { version: '2.0', dialect: 'lts', action: 'on_discover' });
  assert.deepEqual(checkV2('lts', 'on_discover', msg), []);
  const spec = loadOfficialSpec(SPEC);
  assert.deepEqual(spec.check('on_discover', msg), []);
  const [cat] = msg.message.catalogs;
  // 750 kW for 2 h = 1.5 MWh; £165 / 1.5 MWh = £110/MWh: the figures carried agree.
  assert.deepEqual(cat.resources[0].resourceAttributes.eventWindow, {
    startDate: '2026-12-05T17:00:00Z',
    endDate: '2026-12-05T19:00:00Z',
  });
  assert.equal(cat.resources[0].resourceAttributes.maxCapacityKw, 750);
  assert.match(JSON.stringify(cat.offers[0]), /"totalGbp":"165\.00","gbpPerMwh":"110\.00"/);

  // The check is not vacuous: the same catalogue without its provider fails the official file.
  const broken = structuredClone(msg) as { message: { catalogs: Record<string, unknown>[] } };
  delete broken.message.catalogs[0]!.provider;
  assert.ok(spec.check('on_discover', broken).some((i) => i.path === 'message.catalogs[0].provider'));
});

test('the DEG index-2026 demand-flex devkit examples against the LTS file: what passes and what each fault is', () => {
  const spec = loadOfficialSpec(SPEC);
  const example = (...p: string[]) => {
    const m = readSharedJson<{ context: { action: string } }>(
      'beckn',
      'DEG',
      'index-2026',
      'devkits',
      'demand-flex',
      ...p,
    );
    return spec.check(m.context.action, m).map((i) => `${i.path} ${i.message}`);
  };
  // Recorded in docs/beckn.md "Beckn 2.0": these are the LTS shape, unlike the df-new-flow examples.
  assert.deepEqual(example('uc1-demand-flex', 'examples', 'publish-catalog.json'), []);
  assert.deepEqual(example('uc1-demand-flex', 'examples', 'confirm-request.json'), [
    'context.transactionId must match format "uuid"',
    'context.messageId must match format "uuid"',
  ]);
  assert.deepEqual(example('uc1-demand-flex', 'examples', 'on-status-response-settled.json'), [
    'context.transactionId must match format "uuid"',
    'context.messageId must match format "uuid"',
    'message.contract.id must match format "uuid"',
  ]);
  assert.deepEqual(example('uc2-bid-curve-pac', 'examples', 'confirm-request.json'), [
    'message.contract.consideration[0].status is required',
  ]);
});
