// FlexLon's domain ↔ Beckn v1.1 objects for compute flexibility. A flexibility offer is an Item:
// quantity = kW of reduction, time.range = the window, price = £ for the whole window, location_ids
// = the site, whose provider Location carries the grid region (area_code) and country; the catalog's
// exp is when the offers expire. The need is the search Intent: its item's quantity = kW wanted and
// price.maximum_value = the most it would pay for that over the window (£).
//
// Core fields first (issue 18): a counterparty reads these without FlexLon code. What core 1.1.1
// has no field for rides in one tag group per object (docs/beckn.md): `flex-need` (kind, the price
// ceiling per MWh, an import limit) and `flex-offer` (the price per MWh, the opportunity cost and its
// parts). Messages from FlexLon before this change put wanted-kw, reduction-kw, site, region and
// valid-until in those tag groups too; they are still read, after the core fields.
import { FlexError } from '../errors.ts';
import { penniesAddingUp } from '../domain/decimal.ts';
import type { FlexNeed, FlexOffer } from '../domain/offers.ts';
import { epochMs, isoOf } from '../domain/time.ts';
import { gbp, gbpPerMwh, kw } from '../domain/units.ts';
import {
  decimal,
  readTag,
  tagGroup,
  type Catalog,
  type Intent,
  type Item,
  type Location,
  type TagGroup,
} from './wire.ts';

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

/** MWh of `kw` held over the window. */
const mwhOver = (kwValue: number, start: number, end: number): number => (kwValue / 1000) * ((end - start) / 3_600_000);

export const needToIntent = (n: FlexNeed): Intent => ({
  descriptor: { code: FLEX_ITEM_CODE, name: 'Demand reduction' },
  item: {
    id: FLEX_ITEM_CODE,
    descriptor: { code: FLEX_ITEM_CODE },
    quantity: { selected: { measure: { type: 'CONSTANT', value: decimal(n.wantedKw), unit: 'kW' } } },
    // The ceiling for the whole window (as an offer's price is), when the need names a quantity.
    ...(n.wantedKw > 0
      ? {
          price: {
            currency: 'GBP',
            maximum_value: decimal(n.maxPriceGbpPerMwh * mwhOver(n.wantedKw, n.windowStart, n.windowEnd), 2),
          },
        }
      : {}),
  },
  fulfillment: {
    type: FULFILLMENT_TYPE,
    stops: [
      { type: 'start', time: { timestamp: isoOf(n.windowStart) } },
      { type: 'end', time: { timestamp: isoOf(n.windowEnd) } },
    ],
  },
  tags: [
    // Core 1.1.1 has no need kind, price per unit or import limit.
    tagGroup('flex-need', 'Flexibility need', {
      kind: n.kind,
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
  const measure = i.item?.quantity?.selected?.measure;
  const wantedPath = measure
    ? 'message.intent.item.quantity.selected.measure.value'
    : 'message.intent.tags[flex-need].wanted-kw';
  need(
    measure === undefined || measure.unit === 'kW',
    'message.intent.item.quantity.selected.measure.unit',
    `the quantity wanted must be in kW, got ${JSON.stringify(measure?.unit)}`,
  );
  const wantedText = measure?.value ?? readTag(i.tags, 'flex-need', 'wanted-kw') ?? '0';
  need(
    /^[+-]?([0-9]*[.])?[0-9]+$/.test(wantedText) && Number.isFinite(Number(wantedText)),
    wantedPath,
    `wanted-kw must be a decimal number, got ${JSON.stringify(wantedText)} (${wantedPath})`,
  );
  const wanted = Number(wantedText);
  need(
    wanted >= 0 && wanted <= MAX_NEED_KW,
    wantedPath,
    `wanted-kw must be from 0 to ${MAX_NEED_KW} kW, got ${wanted} (${wantedPath})`,
  );
  // The ceiling per MWh (the tag), else the whole-window ceiling (Price.maximum_value) per MWh wanted.
  const maxTotal = i.item?.price?.maximum_value;
  const perMwhTag = readTag(i.tags, 'flex-need', 'max-price-gbp-per-mwh');
  const ceiling =
    perMwhTag === undefined && maxTotal !== undefined && wanted > 0
      ? num(maxTotal, 'message.intent.item.price.maximum_value') / mwhOver(wanted, start, end)
      : num(perMwhTag ?? '1000000', 'message.intent.tags[flex-need].max-price-gbp-per-mwh');
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

const costTags = (c: NonNullable<FlexOffer['costComponents']>): Record<string, string> => ({
  'opportunity-cost-energy-gbp': decimal(c.energyGbp, 2),
  'opportunity-cost-lateness-gbp': decimal(c.latenessGbp, 2),
  'opportunity-cost-caps-gbp': decimal(c.capsGbp, 2),
  'opportunity-cost-battery-gbp': decimal(c.batteryGbp, 2),
  // Only when the reduction needs site moves: offers without moves read as before.
  ...(c.movesGbp !== 0 ? { 'opportunity-cost-moves-gbp': decimal(c.movesGbp, 2) } : {}),
});

/** What core 1.1.1 has no field for: the price per MWh and the opportunity cost with its parts. */
export const offerTags = (o: FlexOffer): TagGroup[] => [
  tagGroup('flex-offer', 'Flexibility offer', {
    'price-gbp-per-mwh': decimal(o.priceGbpPerMwh, 2),
    'opportunity-cost-gbp': decimal(o.opportunityCostGbp, 2),
    // The emissions the re-plan changes (kg, negative: less): the buyer ranks offers on it too.
    ...(o.carbonEffectKg === undefined ? {} : { 'carbon-effect-kg': decimal(o.carbonEffectKg, 1) }),
    // What the opportunity cost is made of (docs/cost-model.md): energy moved, and work made late.
    // In pence that add up to opportunity-cost-gbp as written, the rounding's penny in the largest.
    ...(o.costComponents ? costTags(penniesAddingUp(o.costComponents, Number(decimal(o.opportunityCostGbp, 2)))) : {}),
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
  // One expiry for the catalog: the earliest offer's (offers of one need all expire at its window start).
  ...(offers.length > 0 ? { exp: isoOf(epochMs(Math.min(...offers.map((o) => o.validUntil)))) } : {}),
  providers: [
    {
      id: providerId,
      descriptor: { name: providerName },
      locations: [...new Set(offers.map((o) => o.site))].map((site) => ({
        id: site,
        descriptor: { name: site },
        area_code: offers.find((o) => o.site === site)?.region ?? '',
        country: { code: 'GBR' },
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
  const moves = readTag(item.tags, 'flex-offer', 'opportunity-cost-moves-gbp');
  return {
    costComponents: {
      energyGbp: gbp(num(energy, `${path}.tags[flex-offer].opportunity-cost-energy-gbp`)),
      latenessGbp: gbp(num(lateness, `${path}.tags[flex-offer].opportunity-cost-lateness-gbp`)),
      capsGbp: gbp(caps === undefined ? 0 : num(caps, `${path}.tags[flex-offer].opportunity-cost-caps-gbp`)),
      batteryGbp: gbp(
        battery === undefined ? 0 : num(battery, `${path}.tags[flex-offer].opportunity-cost-battery-gbp`),
      ),
      movesGbp: gbp(moves === undefined ? 0 : num(moves, `${path}.tags[flex-offer].opportunity-cost-moves-gbp`)),
    },
  };
};

/** The offer's carbon effect, when it states one (an older BPP's offers do not). */
const carbonOf = (item: Item, path: string): Pick<FlexOffer, 'carbonEffectKg'> => {
  const v = readTag(item.tags, 'flex-offer', 'carbon-effect-kg');
  return v === undefined ? {} : { carbonEffectKg: num(v, `${path}.tags[flex-offer].carbon-effect-kg`) };
};

/** Where an item's site and expiry are read from besides the item: its provider's locations, the catalog's exp. */
export interface ItemContext {
  readonly locations?: readonly Location[];
  readonly exp?: string;
}

export const itemToOffer = (item: Item, path: string, around: ItemContext = {}): FlexOffer => {
  const reductionKw = num(item.quantity?.available?.measure?.value, `${path}.quantity.available.measure.value`);
  const windowStart = time(item.time?.range?.start, `${path}.time.range.start`);
  const windowEnd = time(item.time?.range?.end, `${path}.time.range.end`);
  const site = item.location_ids?.[0] ?? readTag(item.tags, 'flex-offer', 'site') ?? '';
  const location = around.locations?.find((l) => l.id === site);
  return {
    id: item.id,
    site,
    region: location?.area_code ?? readTag(item.tags, 'flex-offer', 'region') ?? location?.descriptor?.name ?? '',
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
    ...carbonOf(item, path),
    validUntil: epochMs(
      time(
        around.exp ?? readTag(item.tags, 'flex-offer', 'valid-until') ?? item.time?.range?.start,
        around.exp !== undefined ? 'message.catalog.exp' : `${path}.tags[flex-offer].valid-until`,
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
        offer: itemToOffer(item, `message.catalog.providers[${pi}].items[${ii}]`, {
          ...(p.locations ? { locations: p.locations } : {}),
          ...(catalog?.exp ? { exp: catalog.exp } : {}),
        }),
      })),
  );
