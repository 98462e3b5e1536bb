// FlexLon's domain ↔ Beckn v1.1 objects for compute flexibility. A flexibility offer is an Item:
// quantity = kW of reduction, time.range = the window, price = £ for the whole window, location =
// the site's grid region; details ride in the `flex-offer` tag group. The need is the search Intent.
import { FlexError } from '../errors.ts';
import type { FlexNeed, FlexOffer } from '../domain/offers.ts';
import { epochMs, isoOf } from '../domain/time.ts';
import { gbp, gbpPerMwh, kw } from '../domain/units.ts';
import { decimal, readTag, tagGroup, type Catalog, type Intent, type Item, type TagGroup } from './wire.ts';

export const FLEX_ITEM_CODE = 'demand-reduction';
export const FULFILLMENT_TYPE = 'DEMAND_RESPONSE';

const need = (cond: boolean, path: string, why: string): void => {
  if (!cond) throw new FlexError('FLX_REQ_SCHEMA', why, { path });
};

const num = (s: string | undefined, path: string): number => {
  const n = s === undefined ? NaN : Number(s);
  need(
    s !== undefined && /^[+-]?([0-9]*[.])?[0-9]+$/.test(s) && Number.isFinite(n),
    path,
    `${path} must be a decimal number, got ${JSON.stringify(s)}`,
  );
  return n;
};

const time = (s: string | undefined, path: string): number => {
  const t = s === undefined ? NaN : Date.parse(s);
  need(!Number.isNaN(t), path, `${path} must be an RFC 3339 date-time, got ${JSON.stringify(s)}`);
  return t;
};

/** The longest window a need may cover (h): the planning horizon (issue 14 finding 5). */
export const MAX_NEED_WINDOW_HOURS = 48;
/** The most a need may ask for, or set as an import limit (kW): a gigawatt. */
export const MAX_NEED_KW = 1_000_000;

export const needToIntent = (n: FlexNeed): Intent => ({
  descriptor: { code: FLEX_ITEM_CODE, name: 'Demand reduction' },
  fulfillment: {
    type: FULFILLMENT_TYPE,
    stops: [
      { type: 'start', time: { timestamp: isoOf(n.windowStart) } },
      { type: 'end', time: { timestamp: isoOf(n.windowEnd) } },
    ],
  },
  tags: [
    tagGroup('flex-need', 'Flexibility need', {
      kind: n.kind,
      'wanted-kw': decimal(n.wantedKw),
      'max-price-gbp-per-mwh': decimal(n.maxPriceGbpPerMwh, 2),
      ...(n.importLimitKw === undefined ? {} : { 'import-limit-kw': decimal(n.importLimitKw) }),
    }),
  ],
});

export const intentToNeed = (intent: Intent | undefined): FlexNeed => {
  need(typeof intent === 'object' && intent !== null, 'message.intent', 'message.intent is required');
  const i = intent as Intent;
  const stops = i.fulfillment?.stops ?? [];
  const start = time(
    stops.find((s) => s.type === 'start')?.time?.timestamp,
    'message.intent.fulfillment.stops[start].time.timestamp',
  );
  const end = time(
    stops.find((s) => s.type === 'end')?.time?.timestamp,
    'message.intent.fulfillment.stops[end].time.timestamp',
  );
  need(end > start, 'message.intent.fulfillment.stops', 'the end of the window must be after its start');
  need(
    end - start <= MAX_NEED_WINDOW_HOURS * 3_600_000,
    'message.intent.fulfillment.stops',
    `the window is ${((end - start) / 3_600_000).toFixed(1)} h long; a need covers at most ${MAX_NEED_WINDOW_HOURS} h (the planning horizon)`,
  );
  const kind = readTag(i.tags, 'flex-need', 'kind') ?? 'price-peak';
  need(
    ['price-peak', 'carbon-peak', 'import-limit'].includes(kind),
    'message.intent.tags[flex-need].kind',
    `unknown need kind ${kind}`,
  );
  const limitTag = readTag(i.tags, 'flex-need', 'import-limit-kw');
  const limit = limitTag === undefined ? undefined : num(limitTag, 'message.intent.tags[flex-need].import-limit-kw');
  need(
    limit === undefined || limit >= 0,
    'message.intent.tags[flex-need].import-limit-kw',
    'an import limit cannot be negative',
  );
  need(
    limit === undefined || limit <= MAX_NEED_KW,
    'message.intent.tags[flex-need].import-limit-kw',
    `an import limit is at most ${MAX_NEED_KW} kW`,
  );
  const wanted = num(readTag(i.tags, 'flex-need', 'wanted-kw') ?? '0', 'message.intent.tags[flex-need].wanted-kw');
  need(
    wanted >= 0 && wanted <= MAX_NEED_KW,
    'message.intent.tags[flex-need].wanted-kw',
    `wanted-kw must be from 0 to ${MAX_NEED_KW} kW, got ${wanted}`,
  );
  const ceiling = num(
    readTag(i.tags, 'flex-need', 'max-price-gbp-per-mwh') ?? '1000000',
    'message.intent.tags[flex-need].max-price-gbp-per-mwh',
  );
  need(
    ceiling >= 0 && ceiling <= 1_000_000,
    'message.intent.tags[flex-need].max-price-gbp-per-mwh',
    `max-price-gbp-per-mwh must be from 0 to 1000000, got ${ceiling}`,
  );
  return {
    ...(limit === undefined ? {} : { importLimitKw: kw(limit) }),
    kind: kind as FlexNeed['kind'],
    windowStart: epochMs(start),
    windowEnd: epochMs(end),
    wantedKw: kw(wanted),
    maxPriceGbpPerMwh: gbpPerMwh(ceiling),
  };
};

export const offerTags = (o: FlexOffer): TagGroup[] => [
  tagGroup('flex-offer', 'Flexibility offer', {
    'reduction-kw': decimal(o.reductionKw),
    'price-gbp-per-mwh': decimal(o.priceGbpPerMwh, 2),
    'opportunity-cost-gbp': decimal(o.opportunityCostGbp, 2),
    // What the opportunity cost is made of (docs/cost-model.md): energy moved, and work made late.
    ...(o.costComponents
      ? {
          'opportunity-cost-energy-gbp': decimal(o.costComponents.energyGbp, 2),
          'opportunity-cost-lateness-gbp': decimal(o.costComponents.latenessGbp, 2),
          'opportunity-cost-caps-gbp': decimal(o.costComponents.capsGbp, 2),
          'opportunity-cost-battery-gbp': decimal(o.costComponents.batteryGbp, 2),
        }
      : {}),
    site: o.site,
    region: o.region,
    'valid-until': isoOf(o.validUntil),
  }),
];

export const offerToItem = (o: FlexOffer): Item => ({
  id: o.id,
  descriptor: { code: FLEX_ITEM_CODE, name: `Reduce import by up to ${decimal(o.reductionKw, 0)} kW at ${o.site}` },
  price: { currency: 'GBP', value: decimal(o.priceGbp, 2) },
  quantity: { available: { measure: { type: 'CONSTANT', value: decimal(o.reductionKw), unit: 'kW' } } },
  time: { range: { start: isoOf(o.windowStart), end: isoOf(o.windowEnd) } },
  location_ids: [o.site],
  fulfillment_ids: ['dr'],
  tags: offerTags(o),
});

export const offersToCatalog = (providerId: string, providerName: string, offers: readonly FlexOffer[]): Catalog => ({
  descriptor: { name: providerName },
  providers: [
    {
      id: providerId,
      descriptor: { name: providerName },
      locations: [...new Set(offers.map((o) => o.site))].map((site) => ({
        id: site,
        descriptor: { name: offers.find((o) => o.site === site)?.region ?? site },
      })),
      fulfillments: [{ id: 'dr', type: FULFILLMENT_TYPE }],
      items: offers.map(offerToItem),
    },
  ],
});

/** The opportunity cost's parts, when the offer states them (both or neither). */
const componentsOf = (item: Item, path: string): Pick<FlexOffer, 'costComponents'> => {
  const energy = readTag(item.tags, 'flex-offer', 'opportunity-cost-energy-gbp');
  const lateness = readTag(item.tags, 'flex-offer', 'opportunity-cost-lateness-gbp');
  if (energy === undefined && lateness === undefined) return {};
  // Caps and battery parts came later: an offer without them has none (0).
  const caps = readTag(item.tags, 'flex-offer', 'opportunity-cost-caps-gbp');
  const battery = readTag(item.tags, 'flex-offer', 'opportunity-cost-battery-gbp');
  return {
    costComponents: {
      energyGbp: gbp(num(energy, `${path}.tags[flex-offer].opportunity-cost-energy-gbp`)),
      latenessGbp: gbp(num(lateness, `${path}.tags[flex-offer].opportunity-cost-lateness-gbp`)),
      capsGbp: gbp(caps === undefined ? 0 : num(caps, `${path}.tags[flex-offer].opportunity-cost-caps-gbp`)),
      batteryGbp: gbp(
        battery === undefined ? 0 : num(battery, `${path}.tags[flex-offer].opportunity-cost-battery-gbp`),
      ),
    },
  };
};

export const itemToOffer = (item: Item, path: string): FlexOffer => {
  const reductionKw = num(item.quantity?.available?.measure?.value, `${path}.quantity.available.measure.value`);
  const windowStart = time(item.time?.range?.start, `${path}.time.range.start`);
  const windowEnd = time(item.time?.range?.end, `${path}.time.range.end`);
  return {
    id: item.id,
    site: readTag(item.tags, 'flex-offer', 'site') ?? item.location_ids?.[0] ?? '',
    region: readTag(item.tags, 'flex-offer', 'region') ?? '',
    windowStart: epochMs(windowStart),
    windowEnd: epochMs(windowEnd),
    reductionKw: kw(reductionKw),
    priceGbp: gbp(num(item.price?.value, `${path}.price.value`)),
    priceGbpPerMwh: gbpPerMwh(
      num(readTag(item.tags, 'flex-offer', 'price-gbp-per-mwh'), `${path}.tags[flex-offer].price-gbp-per-mwh`),
    ),
    opportunityCostGbp: gbp(
      num(
        readTag(item.tags, 'flex-offer', 'opportunity-cost-gbp') ?? '0',
        `${path}.tags[flex-offer].opportunity-cost-gbp`,
      ),
    ),
    ...componentsOf(item, path),
    validUntil: epochMs(
      time(
        readTag(item.tags, 'flex-offer', 'valid-until') ?? item.time?.range?.start,
        `${path}.tags[flex-offer].valid-until`,
      ),
    ),
  };
};

/** Every offer in a catalog, with the provider that made it. */
export const catalogToOffers = (catalog: Catalog | undefined): { providerId: string; offer: FlexOffer }[] =>
  (catalog?.providers ?? []).flatMap((p, pi) =>
    (p.items ?? [])
      .filter((i) => i.descriptor?.code === FLEX_ITEM_CODE)
      .map((item, ii) => ({
        providerId: p.id,
        offer: itemToOffer(item, `message.catalog.providers[${pi}].items[${ii}]`),
      })),
  );
