// The buyer's side of FlexLon's Beckn 2.0 demand flexibility (issue 18, FlexLon's grid buyer as a
// 2.0 BAP): its internal (core 1.1.1 form) requests → 2.0 LTS requests, and a 2.0 BPP's callbacks →
// the internal callbacks the grid buyer reads (src/agents/grid/orchestrator.ts, buyer-codec.ts). The
// inverse of codec-in.ts / codec-out.ts, so FlexLon's buyer and FlexLon's BPP agree over 2.0; the
// round trips are tested (test/beckn-v2/codec-bap.test.ts).
import type { FlexOffer } from '../../domain/offers.ts';
import { epochMs } from '../../domain/time.ts';
import { gbp, gbpPerMwh, kw } from '../../domain/units.ts';
import { FlexError } from '../../errors.ts';
import { settlementTags } from '../../settlement/codec.ts';
import type { BecknMessage, CallbackAction } from '../context.ts';
import { FULFILLMENT_TYPE, intentToNeed, offersToCatalog } from '../flex-codec.ts';
import { tagGroup, type Intent, type WireOrder } from '../wire.ts';
import { FLEXLON_V2_CONTEXT, capacityId, iso } from './demand-flex.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (path: string, why: string): FlexError => new FlexError('FLX_REQ_SCHEMA', `${path} ${why}`, { path });

/** The JSONPath filter of a need, as codec-in.ts needFromDiscover reads it. */
export const discoverFilter = (intent: Intent): string => {
  const n = intentToNeed(intent);
  return (
    `$[?(@.resourceAttributes.direction == 'REDUCE'` +
    ` && @.resourceAttributes.eventWindow.startDate == '${iso(n.windowStart)}'` +
    ` && @.resourceAttributes.eventWindow.endDate == '${iso(n.windowEnd)}'` +
    ` && @.resourceAttributes.maxCapacityKw >= ${n.wantedKw}` +
    ` && @.considerationAttributes.gbpPerMwh <= ${n.maxPriceGbpPerMwh})]`
  );
};

/** The commitment a Contract request carries for the internal order's first item. */
const commitmentOf = (o: WireOrder | undefined): Obj => {
  const item = o?.items?.[0];
  if (!item) throw bad('message.order.items[0]', 'is required to send a 2.0 Contract');
  const kwText = item.quantity?.selected?.measure?.value;
  const rid = capacityId(item.id);
  return {
    status: { descriptor: { code: 'DRAFT' } },
    resources: [
      { id: rid, ...(kwText === undefined ? {} : { quantity: { unitCode: 'kW', unitQuantity: Number(kwText) } }) },
    ],
    offer: {
      id: item.id,
      resourceIds: [rid],
      ...(o?.provider?.id ? { provider: { id: o.provider.id, descriptor: { name: o.provider.id } } } : {}),
    },
  };
};

/** The Contract id an internal post-order request names (the buyer holds the Contract id as the order id). */
export const contractNamed = (m: BecknMessage): string | undefined => {
  const b = (m.message ?? {}) as {
    order_id?: string;
    order?: WireOrder;
    support?: { ref_id?: string };
    ratings?: { rating_category: string; id: string }[];
  };
  return b.order_id ?? b.order?.id ?? b.support?.ref_id ?? b.ratings?.find((r) => r.rating_category === 'Order')?.id;
};

/** An update's commitment: the one bought, with the new kW and/or window of the internal update. */
const updatedCommitment = (bought: Obj, o: WireOrder | undefined): Obj => {
  const item = o?.items?.[0];
  const kwText = item?.quantity?.selected?.measure?.value;
  const stop = (type: string) => o?.fulfillments?.[0]?.stops?.find((x) => x.type === type)?.time?.timestamp;
  const [r0] = Array.isArray(bought.resources) ? bought.resources.filter(isObj) : [];
  const start = stop('start');
  const end = stop('end');
  const resource: Obj = {
    ...(r0 ?? {}),
    ...(kwText === undefined ? {} : { quantity: { unitCode: 'kW', unitQuantity: Number(kwText) } }),
    ...(start && end
      ? {
          // The window rides in the FlexCapacity bag (LTS Attributes need @context and @type).
          resourceAttributes: {
            '@context': FLEXLON_V2_CONTEXT,
            '@type': 'FlexCapacity',
            ...(isObj(r0?.resourceAttributes) ? r0.resourceAttributes : {}),
            eventWindow: { startDate: iso(Date.parse(start)), endDate: iso(Date.parse(end)) },
          },
        }
      : {}),
  };
  return { ...bought, resources: [resource] };
};

/**
 * The 2.0 message of an internal request: search → discover (the need as a JSONPath filter),
 * select / init / confirm → a Contract with one commitment; status, track, cancel, update → the
 * Contract named by its id (`statusOf` gives the commitment it was bought with: LTS Contract requires
 * commitments); rating → ratingInputs (range {min 1, max 5, value}); support → Support.orderId.
 */
export const toV2Request = (
  m: BecknMessage,
  context: Obj,
  statusOf?: (contractId: string) => Obj | undefined,
): { action: string; message: object } => {
  const body = (m.message ?? {}) as { intent?: Intent; order?: WireOrder; order_id?: string };
  const envelope = (action: string, message: Obj) => ({
    action,
    message: { context: { ...context, action }, message },
  });
  switch (m.context.action) {
    case 'search':
      return envelope('discover', {
        intent: { filters: { type: 'jsonpath', expression: discoverFilter(body.intent ?? {}) } },
      });
    case 'select':
    case 'init':
    case 'confirm':
      return envelope(m.context.action, { contract: { commitments: [commitmentOf(body.order)] } });
    case 'status': {
      const id = body.order_id ?? '';
      const commitment = statusOf?.(id);
      if (!commitment) throw bad('message.order_id', `names no contract bought over 2.0 here (${id})`);
      return envelope('status', { contract: { id, commitments: [commitment] } });
    }
    case 'track':
    case 'cancel':
    case 'update': {
      const id = contractNamed(m) ?? '';
      const commitment = statusOf?.(id);
      if (!commitment) throw bad('message.order_id', `names no contract bought over 2.0 here (${id})`);
      if (m.context.action === 'cancel') return envelope('cancel', { contract: { id, commitments: [commitment] } });
      if (m.context.action === 'update')
        return envelope('update', { contract: { id, commitments: [updatedCommitment(commitment, body.order)] } });
      // LTS Tracking requires a url and a status even in the request: the buyer's callback URL, ACTIVE.
      return envelope('track', {
        tracking: { contract: { id, commitments: [commitment] }, status: 'ACTIVE', url: String(context.bapUri) },
      });
    }
    case 'rating': {
      const ratings = (m.message as { ratings?: { rating_category: string; id: string; value: string }[] }).ratings;
      return envelope('rate', {
        ratingInputs: (ratings ?? []).map((r) => ({
          target: { id: r.id, descriptor: { code: r.rating_category } },
          range: { min: 1, max: 5, value: Number(r.value) },
        })),
      });
    }
    case 'support': {
      const id = contractNamed(m);
      return envelope('support', { support: id ? { orderId: id } : {} });
    }
    default:
      throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `${m.context.action} has no Beckn 2.0 form FlexLon sends`);
  }
};

/** The internal callback names of the 2.0 callbacks the buyer reads. */
export const V2_BAP_CALLBACKS: Record<string, CallbackAction> = {
  on_discover: 'on_search',
  on_select: 'on_select',
  on_init: 'on_init',
  on_confirm: 'on_confirm',
  on_status: 'on_status',
  on_track: 'on_track',
  on_cancel: 'on_cancel',
  on_update: 'on_update',
  on_rate: 'on_rating',
  on_support: 'on_support',
};

const num = (v: unknown, path: string): number => {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw bad(path, 'must be a number');
  return n;
};

/** The FlexOffers of a 2.0 Catalog of FlexCapacity resources and their priced offers (demand-flex.ts flexCatalog). */
export const offersFromV2Catalog = (catalog: unknown, path = 'message.catalogs[0]'): FlexOffer[] => {
  if (!isObj(catalog)) throw bad(path, 'must be an object');
  const resources = Array.isArray(catalog.resources) ? catalog.resources.filter(isObj) : [];
  const offers = Array.isArray(catalog.offers) ? catalog.offers : [];
  return offers.flatMap((o, i) => {
    const op = `${path}.offers[${i}]`;
    if (!isObj(o) || typeof o.id !== 'string') throw bad(`${op}.id`, 'is required');
    const ids = Array.isArray(o.resourceIds) ? o.resourceIds : [];
    const r = resources.find((x) => ids.includes(x.id));
    const a = isObj(r?.resourceAttributes) ? r.resourceAttributes : undefined;
    if (a?.['@type'] !== 'FlexCapacity') return []; // not a FlexLon capacity: not read
    const w = isObj(a.eventWindow) ? a.eventWindow : {};
    const price = (Array.isArray(o.considerations) ? o.considerations : []).find(
      (c) => isObj(c) && isObj(c.considerationAttributes) && c.considerationAttributes['@type'] === 'FlexPrice',
    ) as { considerationAttributes: Obj } | undefined;
    if (!price) throw bad(`${op}.considerations`, 'must hold a FlexPrice');
    const p = price.considerationAttributes;
    if (p.currency !== 'GBP') throw bad(`${op}.considerations`, `must be in GBP, got ${JSON.stringify(p.currency)}`);
    const validity = isObj(o.validity) ? o.validity : {};
    return [
      {
        id: o.id,
        site: String(a.site ?? ''),
        region: String(a.gridArea ?? ''),
        windowStart: epochMs(Date.parse(String(w.startDate))),
        windowEnd: epochMs(Date.parse(String(w.endDate))),
        reductionKw: kw(num(a.maxCapacityKw, `${op}: maxCapacityKw`)),
        priceGbp: gbp(num(p.totalGbp, `${op}: totalGbp`)),
        priceGbpPerMwh: gbpPerMwh(num(p.gbpPerMwh, `${op}: gbpPerMwh`)),
        opportunityCostGbp: gbp(0), // not published in 2.0 (FlexLon's 1.1.1 offer tags carry it)
        validUntil: epochMs(Date.parse(String(validity.endDate ?? w.startDate))),
      },
    ];
  });
};

const PERIOD_HOURS = 0.5; // GB settlement periods (codec-out.ts PT30M)

/** A 2.0 Contract (codec-out.ts orderToContract) as the internal order the grid buyer reads. */
export const contractToOrder = (contract: unknown): WireOrder => {
  if (!isObj(contract)) throw bad('message.contract', 'must be an object');
  const c0 = Array.isArray(contract.commitments) && isObj(contract.commitments[0]) ? contract.commitments[0] : {};
  const offer = isObj(c0.offer) ? c0.offer : {};
  const res = Array.isArray(c0.resources) && isObj(c0.resources[0]) ? c0.resources[0] : {};
  const q = isObj(res.quantity) ? res.quantity : {};
  const a = isObj(res.resourceAttributes) ? res.resourceAttributes : {};
  const w = isObj(a.eventWindow) ? a.eventWindow : {};
  const price = (Array.isArray(contract.consideration) ? contract.consideration : []).find(isObj);
  const p = isObj(price?.considerationAttributes) ? price.considerationAttributes : {};
  const perf = (Array.isArray(contract.performance) ? contract.performance : []).find(isObj);
  const pa = isObj(perf?.performanceAttributes) ? perf.performanceAttributes : undefined;
  const settled = (Array.isArray(contract.settlements) ? contract.settlements : []).find(isObj);
  const sa = isObj(settled?.settlementAttributes) ? settled.settlementAttributes : undefined;
  const status = isObj(contract.status) ? contract.status.code : undefined;
  const state = isObj(perf?.status) ? perf.status.code : undefined;
  const meter = pa && Array.isArray(pa.meters) && isObj(pa.meters[0]) ? pa.meters[0] : undefined;
  const telemetry = isObj(meter?.telemetry) ? meter.telemetry : {};
  const rows = (Array.isArray(telemetry.intervals) ? telemetry.intervals : []).filter(isObj);
  const value = (row: Obj, type: string): number => {
    const x = (Array.isArray(row.payloads) ? row.payloads : []).find((v) => isObj(v) && v.type === type) as
      { values?: unknown[] } | undefined;
    return Number(x?.values?.[0] ?? NaN);
  };
  const reduction = Number(q.unitQuantity);
  const periods = rows.map((row) => {
    const start = epochMs(Date.parse(String(isObj(row.intervalPeriod) ? row.intervalPeriod.start : '')));
    const baselineKw = value(row, 'BASELINE');
    const meteredKw = value(row, 'USAGE');
    const deliveredKwh = (baselineKw - meteredKw) * PERIOD_HOURS;
    const committedKwh = reduction * PERIOD_HOURS;
    return {
      start,
      baselineKw,
      meteredKw,
      deliveredKwh,
      committedKwh,
      shortfallKwh: Math.max(0, committedKwh - deliveredKwh),
    };
  });
  const settlement =
    sa === undefined
      ? []
      : settlementTags({
          baselineMethod: String(pa?.methodology ?? p.baselineMethod ?? 'unstated'),
          periods,
          deliveredKwh: Number(sa.deliveredKwh),
          committedKwh: Number(sa.committedKwh),
          shortfallKwh: Number(sa.shortfallKwh),
          performance: Number(sa.performance),
          paymentGbp: Number(sa.paymentGbp),
        });
  return {
    ...(typeof contract.id === 'string' ? { id: contract.id } : {}),
    ...(status === 'ACTIVE' || status === 'COMPLETE' || status === 'CANCELLED' ? { status } : {}),
    items: [
      {
        id: String(offer.id ?? ''),
        quantity: { selected: { measure: { type: 'CONSTANT', value: String(q.unitQuantity ?? ''), unit: 'kW' } } },
        time: { range: { start: String(w.startDate ?? ''), end: String(w.endDate ?? '') } },
        ...(typeof a.site === 'string' ? { location_ids: [a.site] } : {}),
      },
    ],
    ...(typeof state === 'string'
      ? { fulfillments: [{ id: 'dr', type: FULFILLMENT_TYPE, state: { descriptor: { code: state } } }] }
      : {}),
    quote: {
      price: { currency: String(p.currency ?? 'GBP'), value: String(p.totalGbp ?? '') },
      ...(typeof p.quoteTtl === 'string' ? { ttl: p.quoteTtl } : {}),
    },
    payments: [
      {
        type: 'POST-FULFILLMENT',
        collected_by: 'BPP',
        tags: [
          tagGroup('settlement-terms', 'Settlement terms', {
            ...(typeof p.baselineMethod === 'string' ? { 'baseline-method': p.baselineMethod } : {}),
            ...(typeof p.paymentRule === 'string' ? { 'payment-rule': p.paymentRule } : {}),
          }),
        ],
      },
    ],
    ...(settlement.length > 0 ? { tags: settlement } : {}),
  };
};

/** The internal callback of a 2.0 callback (its context already mapped by the caller). */
export const fromV2Callback = (action: string, message: unknown, providerName = ''): unknown => {
  const m = isObj(message) ? message : {};
  if (action === 'on_discover') {
    const catalogs = Array.isArray(m.catalogs) ? m.catalogs : [];
    const first = isObj(catalogs[0]) ? catalogs[0] : {};
    const provider = isObj(first.provider) ? first.provider : {};
    const name = isObj(provider.descriptor) ? String(provider.descriptor.name ?? providerName) : providerName;
    const offers = catalogs.flatMap((c, i) => offersFromV2Catalog(c, `message.catalogs[${i}]`));
    return { catalog: offersToCatalog(String(provider.id ?? ''), name, offers) };
  }
  if (!(action in V2_BAP_CALLBACKS)) throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `no 2.0 /${action} here`);
  if (action === 'on_rate') return {};
  if (action === 'on_track') {
    const t = isObj(m.tracking) ? m.tracking : {};
    const a = isObj(t.trackingAttributes) ? t.trackingAttributes : {};
    return {
      tracking: {
        ...(typeof a.contractId === 'string' ? { id: a.contractId } : {}),
        status: t.status === 'ACTIVE' ? 'active' : 'inactive',
        ...(typeof t.url === 'string' ? { url: t.url } : {}),
      },
    };
  }
  if (action === 'on_support') {
    const s = isObj(m.support) ? m.support : {};
    const channels = (Array.isArray(s.channels) ? s.channels : []).filter(isObj);
    const field = (k: string) => channels.map((c) => c[k]).find((v): v is string => typeof v === 'string');
    const statement = channels.find((c) => c['@type'] === 'FlexSettlementStatement')?.url;
    const url = typeof statement === 'string' ? statement : field('url');
    return {
      support: {
        ...(typeof s.orderId === 'string' ? { ref_id: s.orderId } : {}),
        ...(field('email') ? { email: field('email') } : {}),
        ...(field('phone') ? { phone: field('phone') } : {}),
        ...(url ? { url } : {}),
      },
    };
  }
  return { order: contractToOrder(m.contract) };
};
