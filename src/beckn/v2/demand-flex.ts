// Beckn 2.0 demand flexibility over FlexLon's version-neutral model (issue 18), as pure functions:
// - a utility's DemandFlexNeed (a catalogue Resource, DEG index-2026 DemandFlexNeed v2.0) with the
//   DemandFlexBuyOffer that names it (incentive per kWh) → FlexLon's FlexNeed;
// - FlexLon's FlexOffers → a 2.0 LTS on_discover message (Catalog with resources and offers).
// Units: DemandFlexNeed times are UTC (its eventWindow pattern requires the Z suffix); kW stays kW;
// an incentive in £/kWh is × 1000 in £/MWh. FlexLon prices and settles in GBP over GB settlement
// periods, so a need priced in another currency is refused, never converted.
import { randomUUID } from 'node:crypto';
import { FlexError } from '../../errors.ts';
import type { FlexNeed, FlexOffer } from '../../domain/offers.ts';
import { epochMs, type EpochMs } from '../../domain/time.ts';
import { gbpPerMwh, kw } from '../../domain/units.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const bad = (path: string, what: string): FlexError => new FlexError('FLX_REQ_SCHEMA', `${path} ${what}`, { path });

const utc = (v: unknown, path: string): EpochMs => {
  // DemandFlexNeed eventWindow: "All times MUST be in UTC (ISO 8601 with Z suffix)".
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(v) || Number.isNaN(Date.parse(v)))
    throw bad(path, 'must be a UTC date-time ending in Z');
  return epochMs(Date.parse(v));
};

const positive = (v: unknown, path: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw bad(path, 'must be a number above 0');
  return v;
};

/**
 * The FlexNeeds in a 2.0 catalogue (LTS `Catalog`): one per Resource whose resourceAttributes are a
 * DemandFlexNeed, priced by the offer whose resourceIds name it (offerAttributes a
 * DemandFlexBuyOffer; its buyer input's incentivePerKwh is the most the utility pays). `path` is
 * where the catalogue sits in the message, for the FLX_REQ_SCHEMA paths.
 */
export const flexNeedsFromCatalog = (catalog: unknown, path = 'message.catalogs[0]'): FlexNeed[] => {
  if (!isObj(catalog)) throw bad(path, 'must be an object');
  const resources = Array.isArray(catalog.resources) ? catalog.resources : [];
  const offers = Array.isArray(catalog.offers) ? catalog.offers : [];
  const needs: FlexNeed[] = [];
  resources.forEach((r, i) => {
    const rp = `${path}.resources[${i}]`;
    const a = isObj(r) ? r.resourceAttributes : undefined;
    if (!isObj(a) || a['@type'] !== 'DemandFlexNeed') return; // other resources are not needs
    const ap = `${rp}.resourceAttributes`;
    // FlexNeed is a reduction below the baseline (src/domain/offers.ts); an INCREASE need (load
    // shifted into off-peak) has no FlexLon product yet.
    if (a.direction !== 'REDUCE')
      throw bad(`${ap}.direction`, `must be "REDUCE" (FlexLon sells reductions), got ${JSON.stringify(a.direction)}`);
    const w = isObj(a.eventWindow) ? a.eventWindow : {};
    const windowStart = utc(w.startDate, `${ap}.eventWindow.startDate`);
    const windowEnd = utc(w.endDate, `${ap}.eventWindow.endDate`);
    if (windowEnd <= windowStart) throw bad(`${ap}.eventWindow.endDate`, 'must be after startDate');
    const wantedKw = kw(positive(a.maxCapacityKw, `${ap}.maxCapacityKw`));
    const id = isObj(r) ? r.id : undefined;
    const oi = offers.findIndex((o) => isObj(o) && Array.isArray(o.resourceIds) && o.resourceIds.includes(id));
    if (oi < 0) throw bad(`${rp}.id`, `is named by no offer's resourceIds, so the need has no price`);
    const op = `${path}.offers[${oi}].offerAttributes`;
    const oa = (offers[oi] as Obj).offerAttributes;
    if (!isObj(oa) || oa['@type'] !== 'DemandFlexBuyOffer') throw bad(`${op}.@type`, 'must be "DemandFlexBuyOffer"');
    const inputs = Array.isArray(oa.inputs) ? oa.inputs : [];
    const bi = inputs.findIndex((x) => isObj(x) && x.role === 'buyer');
    const buyer = bi < 0 ? undefined : (inputs[bi] as Obj).inputs;
    if (!isObj(buyer)) throw bad(`${op}.inputs`, "must hold the buyer role's inputs");
    const ip = `${op}.inputs[${bi}].inputs`;
    if (buyer.currency !== 'GBP')
      throw bad(
        `${ip}.currency`,
        `must be "GBP" (FlexLon prices and settles in GBP), got ${JSON.stringify(buyer.currency)}`,
      );
    const perKwh = positive(buyer.incentivePerKwh, `${ip}.incentivePerKwh`);
    needs.push({
      // A DemandFlexNeed says neither why (price, carbon) nor an import limit; a priced utility
      // incentive is FlexLon's price-peak need.
      kind: 'price-peak',
      windowStart,
      windowEnd,
      wantedKw,
      maxPriceGbpPerMwh: gbpPerMwh(Math.round(perKwh * 1000 * 100) / 100),
    });
  });
  return needs;
};

export const iso = (t: number): string => new Date(t).toISOString().replace('.000Z', 'Z');
export const money = (n: number): string => n.toFixed(2);

/**
 * Where FlexLon's own attribute bags are defined. DEG index-2026 has no seller-side type for offered
 * flexibility (DemandFlexNeed and DemandFlexBuyOffer are the utility's), so FlexLon names its own;
 * the fields reuse DemandFlexNeed's names (direction, eventWindow, capacityType, maxCapacityKw).
 */
export const FLEXLON_V2_CONTEXT = 'https://flexlon.example/schema/FlexCapacity/v1/context.jsonld';

export interface OnDiscoverInput {
  readonly bapId: string;
  readonly bapUri: string;
  readonly bppId: string;
  readonly bppUri: string;
  readonly transactionId: string;
  /** The discover's messageId: a callback answers it (LTS Context.messageId). */
  readonly messageId: string;
  readonly now: EpochMs;
  readonly provider: { readonly id: string; readonly name: string };
  readonly offers: readonly FlexOffer[];
}

/** The attribute bag of one offer's capacity (a Resource's resourceAttributes), FlexLon's own type. */
export const flexCapacity = (o: Pick<FlexOffer, 'windowStart' | 'windowEnd' | 'reductionKw' | 'site' | 'region'>) => ({
  '@context': FLEXLON_V2_CONTEXT,
  '@type': 'FlexCapacity',
  direction: 'REDUCE',
  capacityType: 'CURTAILMENT',
  eventWindow: { startDate: iso(o.windowStart), endDate: iso(o.windowEnd) },
  maxCapacityKw: o.reductionKw,
  site: o.site,
  // Left out where the order does not carry it (a Contract built from an order), not sent empty.
  ...(o.region ? { gridArea: o.region } : {}),
});

/** The Resource id of an offer's capacity (an on_discover's resources, a Contract's commitments). */
export const capacityId = (offerId: string): string => `${offerId}-capacity`;

export interface CatalogInput {
  readonly bppId: string;
  readonly bppUri: string;
  readonly now: EpochMs;
  readonly provider: { readonly id: string; readonly name: string };
  readonly offers: readonly FlexOffer[];
}

/** FlexLon's offers as one LTS Catalog: one Resource (the capacity) and one Offer (its price) each. */
export const flexCatalog = (i: CatalogInput): object => ({
  id: `${i.provider.id}-flex-${randomUUID()}`,
  descriptor: { name: `${i.provider.name}: demand reduction offers` },
  bppId: i.bppId,
  bppUri: i.bppUri,
  provider: { id: i.provider.id, descriptor: { name: i.provider.name } },
  resources: i.offers.map((o) => ({
    id: capacityId(o.id),
    descriptor: { name: `Reduce import by up to ${o.reductionKw.toFixed(0)} kW at ${o.site}` },
    resourceAttributes: flexCapacity(o),
  })),
  offers: i.offers.map((o) => ({
    id: o.id,
    descriptor: { name: `£${money(o.priceGbp)} for the window (£${money(o.priceGbpPerMwh)}/MWh delivered)` },
    resourceIds: [capacityId(o.id)],
    validity: { startDate: iso(i.now), endDate: iso(o.validUntil) },
    considerations: [
      {
        id: `${o.id}-price`,
        status: { code: 'QUOTED' },
        considerationAttributes: {
          '@context': FLEXLON_V2_CONTEXT,
          '@type': 'FlexPrice',
          currency: 'GBP',
          totalGbp: money(o.priceGbp),
          gbpPerMwh: money(o.priceGbpPerMwh),
        },
      },
    ],
  })),
});

/** FlexLon's offers as a 2.0 LTS on_discover: one Resource (the capacity) and one Offer (its price) each. */
export const onDiscoverMessage = (i: OnDiscoverInput): object => ({
  context: {
    action: 'on_discover',
    version: '2.0.0',
    bapId: i.bapId,
    bapUri: i.bapUri,
    bppId: i.bppId,
    bppUri: i.bppUri,
    transactionId: i.transactionId,
    messageId: i.messageId,
    timestamp: iso(i.now),
    ttl: 'PT30S',
  },
  message: { catalogs: [flexCatalog(i)] },
});
