// The BPP's callbacks, as its handlers owe them in the internal (core 1.1.1) form, → Beckn 2.0 LTS
// messages for a 2.0 buyer: on_search → on_discover (a Catalog of FlexCapacity resources and their
// offers, demand-flex.ts), and every order callback (on_select … on_status) → a Contract.
//
// The Contract (LTS `Contract`, DEG index-2026 for the energy parts):
// - contractAttributes: DEGContract {contractType: DEMAND_FLEX} (DEGContract v2.0 attributes.yaml;
//   the devkit's uc1 example carries `roles`/`policy` there instead, which that schema does not allow);
// - one commitment: the offer bought and its capacity resource with the kW (`quantity` {unitCode kW,
//   unitQuantity}, as the devkit writes it) and FlexLon's FlexCapacity bag;
// - consideration: the price (FlexLon's FlexPrice bag: GBP total, quote ttl, payment rule, baseline
//   method);
// - performance: the delivery (status = FlexLon's fulfilment state) and, once metered, a
//   DemandFlexPerformance (v2.0) whose meters carry a BecknTimeSeries (v1.0) of BASELINE and USAGE kW
//   per settlement period, one meter: the order's site (a portfolio order's is the portfolio's
//   aggregate: the per-site figures on the wire are totals, not periods);
// - settlements: the settled totals (FlexLon's FlexSettlement bag), once there are any.
// After the order: on_cancel and on_update carry the Contract (CANCELLED with the fee as its
// consideration; the new kW / window and price); on_track a Tracking (ACTIVE while the window is
// being delivered), on_rate an empty `ratings`, on_support a Support whose channels are FlexLon bags
// (contact; the signed settlement statement as a data: URL once delivered).
import type { FlexOffer } from '../../domain/offers.ts';
import { FlexError } from '../../errors.ts';
import { readSettlement, type TagGroup as SettlementTags } from '../../settlement/codec.ts';
import type { BecknMessage } from '../context.ts';
import { catalogToOffers } from '../flex-codec.ts';
import type { Catalog, WireOrder } from '../wire.ts';
import { contractIdOf } from './codec-in.ts';
import { FLEXLON_V2_CONTEXT, capacityId, flexCatalog, flexCapacity, iso } from './demand-flex.ts';

const DEG = 'https://raw.githubusercontent.com/beckn/DEG/refs/heads/main/specification/schema';
export const DEG_CONTRACT_CONTEXT = `${DEG}/DEGContract/v2.0/context.jsonld`;
export const DEG_PERFORMANCE_CONTEXT = `${DEG}/DemandFlexPerformance/v2.0/context.jsonld`;

/** The 2.0 callback names of the internal ones FlexLon sends a 2.0 buyer. */
export const V2_CALLBACKS: Record<string, string> = {
  on_search: 'on_discover',
  on_select: 'on_select',
  on_init: 'on_init',
  on_confirm: 'on_confirm',
  on_status: 'on_status',
  on_track: 'on_track',
  on_cancel: 'on_cancel',
  on_update: 'on_update',
  on_rating: 'on_rate',
  on_support: 'on_support',
};

export interface V2Envelope {
  /** FlexLon's 2.0 base URL (its registered URL + /v2), the bppUri of its 2.0 messages. */
  readonly bppUri: string;
  readonly providerName: string;
  readonly now: number;
  /** `BLAKE-512=<base64>` of the request a callback answers (LTS Context.requestDigest). */
  readonly requestDigest?: string;
}

/** The 2.0 LTS context of an internal callback context: same ids, times and addressing. */
const contextToV2 = (m: BecknMessage, action: string, e: V2Envelope): Record<string, unknown> => {
  const c = m.context;
  return {
    domain: c.domain,
    action,
    version: '2.0.0',
    bapId: c.bap_id,
    bapUri: c.bap_uri,
    bppId: c.bpp_id,
    bppUri: e.bppUri,
    transactionId: c.transaction_id,
    messageId: c.message_id,
    timestamp: c.timestamp,
    ...(c.ttl ? { ttl: c.ttl } : {}),
    ...(e.requestDigest ? { requestDigest: { digest: e.requestDigest } } : {}),
  };
};

const STATE: Record<string, { contract: string; commitment: string; consideration: string }> = {
  DRAFT: { contract: 'DRAFT', commitment: 'DRAFT', consideration: 'QUOTED' },
  ACTIVE: { contract: 'ACTIVE', commitment: 'ACTIVE', consideration: 'AGREED' },
  COMPLETE: { contract: 'COMPLETE', commitment: 'CLOSED', consideration: 'AGREED' },
  CANCELLED: { contract: 'CANCELLED', commitment: 'CLOSED', consideration: 'CANCELLED' },
};

const tag = (groups: WireOrder['tags'], g: string, c: string): string | undefined =>
  groups?.find((x) => x.descriptor.code === g)?.list.find((t) => t.descriptor.code === c)?.value;

const PERIOD_DURATION = 'PT30M'; // GB settlement periods (FlexLon settles per half hour)

/** A DemandFlexPerformance (DEG v2.0) of one order's metered periods: one meter, the delivering site(s). */
const performanceAttributes = (orderId: string, site: string, tags: SettlementTags[] | undefined) => {
  const s = readSettlement(tags);
  if (!s || s.periods.length === 0) return undefined;
  const first = s.periods[0] as { start: number };
  return {
    '@context': DEG_PERFORMANCE_CONTEXT,
    '@type': 'DemandFlexPerformance',
    eventId: orderId,
    methodology: s.baselineMethod,
    meters: [
      {
        meterId: site,
        // BecknTimeSeries v1.0 (OpenADR 3.1 interval/valuesMap/reportPayloadDescriptor shapes).
        telemetry: {
          '@type': 'TimeSeries',
          intervalPeriod: { start: iso(first.start), duration: PERIOD_DURATION },
          payloadDescriptors: [
            {
              objectType: 'REPORT_PAYLOAD_DESCRIPTOR',
              payloadType: 'BASELINE',
              readingType: 'DIRECT_READ',
              units: 'KW',
            },
            { objectType: 'REPORT_PAYLOAD_DESCRIPTOR', payloadType: 'USAGE', readingType: 'DIRECT_READ', units: 'KW' },
          ],
          intervals: s.periods.map((p, id) => ({
            id,
            intervalPeriod: { start: iso(p.start), duration: PERIOD_DURATION },
            payloads: [
              { type: 'BASELINE', values: [p.baselineKw] },
              { type: 'USAGE', values: [p.meteredKw] },
            ],
          })),
        },
      },
    ],
  };
};

/** An internal Order (wire-order.ts) as an LTS Contract. */
export const orderToContract = (o: WireOrder): Record<string, unknown> => {
  const item = o.items?.[0];
  if (!item) throw new FlexError('FLX_INTERNAL', 'an order callback without an item cannot be sent as a 2.0 Contract');
  const state = STATE[o.id ? (o.status ?? 'ACTIVE') : 'DRAFT'] ?? (STATE.DRAFT as (typeof STATE)['DRAFT']);
  const kw = Number(item.quantity?.selected?.measure?.value ?? NaN);
  const start = Date.parse(item.time?.range?.start ?? '');
  const end = Date.parse(item.time?.range?.end ?? '');
  const site = item.location_ids?.[0] ?? '';
  const commitmentId = `${item.id}-commitment`;
  const totals = readSettlement(o.tags as SettlementTags[] | undefined);
  const perf = o.id ? performanceAttributes(o.id, site, o.tags as SettlementTags[] | undefined) : undefined;
  const fulfilment = o.fulfillments?.[0]?.state?.descriptor?.code;
  const terms = o.payments?.[0]?.tags;
  return {
    ...(o.id ? { id: contractIdOf(o.id) } : {}),
    descriptor: {
      name: `Demand reduction of ${kw} kW at ${site}, ${iso(start)} to ${iso(end)}`,
      ...(o.id ? { shortDesc: `FlexLon order ${o.id}` } : {}),
    },
    status: { code: state.contract },
    commitments: [
      {
        id: commitmentId,
        status: { descriptor: { code: state.commitment } },
        resources: [
          {
            id: capacityId(item.id),
            quantity: { unitCode: 'kW', unitQuantity: kw },
            resourceAttributes: flexCapacity({
              windowStart: start as FlexOffer['windowStart'],
              windowEnd: end as FlexOffer['windowEnd'],
              reductionKw: kw as FlexOffer['reductionKw'],
              site,
              region: '',
            }),
          },
        ],
        offer: { id: item.id, resourceIds: [capacityId(item.id)] },
      },
    ],
    consideration: [
      {
        id: 'price',
        status: { code: state.consideration },
        considerationAttributes: {
          '@context': FLEXLON_V2_CONTEXT,
          '@type': 'FlexPrice',
          currency: o.quote?.price.currency ?? 'GBP',
          totalGbp: o.quote?.price.value,
          ...(o.quote?.ttl ? { quoteTtl: o.quote.ttl } : {}),
          ...(tag(terms, 'settlement-terms', 'payment-rule')
            ? { paymentRule: tag(terms, 'settlement-terms', 'payment-rule') }
            : {}),
          ...(tag(terms, 'settlement-terms', 'baseline-method')
            ? { baselineMethod: tag(terms, 'settlement-terms', 'baseline-method') }
            : {}),
        },
      },
    ],
    ...(fulfilment
      ? {
          performance: [
            {
              id: 'dr',
              status: { code: fulfilment },
              commitmentIds: [commitmentId],
              ...(perf ? { performanceAttributes: perf } : {}),
            },
          ],
        }
      : {}),
    ...(totals
      ? {
          settlements: [
            {
              id: 'settlement',
              considerationId: 'price',
              status: o.status === 'COMPLETE' ? 'COMPLETE' : 'COMMITTED',
              settlementAttributes: {
                '@context': FLEXLON_V2_CONTEXT,
                '@type': 'FlexSettlement',
                deliveredKwh: totals.deliveredKwh,
                committedKwh: totals.committedKwh,
                shortfallKwh: totals.shortfallKwh,
                performance: totals.performance,
                paymentGbp: totals.paymentGbp.toFixed(2),
              },
            },
          ],
        }
      : {}),
    contractAttributes: { '@context': DEG_CONTRACT_CONTEXT, '@type': 'DEGContract', contractType: 'DEMAND_FLEX' },
  };
};

type Tracking = { id?: string; status?: string; location?: { id?: string } };
type Support = { ref_id?: string; email?: string; phone?: string; url?: string };

/**
 * on_track, on_rate and on_support, which carry no Contract. LTS Tracking requires a `url`: FlexLon
 * has no off-network tracking feed, so it is FlexLon's 2.0 status endpoint (where the Contract, with
 * its metered periods, is asked for); the status is the 1.1.1 one, upper-cased.
 */
const postOrderMessage = (action: string, message: unknown, e: V2Envelope): object | undefined => {
  const bag = (type: string, fields: Record<string, unknown>) => ({
    '@context': FLEXLON_V2_CONTEXT,
    '@type': type,
    ...fields,
  });
  if (action === 'on_rate') return { ratings: [] };
  if (action === 'on_track') {
    const t = ((message ?? {}) as { tracking?: Tracking }).tracking ?? {};
    return {
      tracking: {
        status: t.status === 'active' ? 'ACTIVE' : 'INACTIVE',
        url: `${e.bppUri.replace(/\/+$/, '')}/status`,
        trackingAttributes: bag('FlexTracking', {
          ...(t.id ? { contractId: contractIdOf(t.id) } : {}),
          ...(t.location?.id ? { site: t.location.id } : {}),
        }),
      },
    };
  }
  if (action === 'on_support') {
    const s = ((message ?? {}) as { support?: Support }).support ?? {};
    const contact = { ...(s.email ? { email: s.email } : {}), ...(s.phone ? { phone: s.phone } : {}) };
    const channels = [
      ...(Object.keys(contact).length > 0 ? [bag('FlexSupportContact', contact)] : []),
      // After delivery FlexLon's 1.1.1 on_support carries the signed statement as a data: URL in support.url.
      ...(s.url
        ? [bag(s.url.startsWith('data:') ? 'FlexSettlementStatement' : 'FlexSupportContact', { url: s.url })]
        : []),
    ];
    return {
      support: {
        ...(s.ref_id ? { orderId: contractIdOf(s.ref_id) } : {}),
        descriptor: { name: s.ref_id ? `FlexLon support for order ${s.ref_id}` : 'FlexLon support' },
        ...(channels.length > 0 ? { channels } : {}),
      },
    };
  }
  return undefined;
};

/** An internal callback as the 2.0 LTS message FlexLon sends a 2.0 buyer. */
export const toV2Callback = (m: BecknMessage, e: V2Envelope): { action: string; message: object } => {
  const action = V2_CALLBACKS[m.context.action];
  if (!action)
    throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `${m.context.action} has no Beckn 2.0 form FlexLon sends`);
  const body = (m.message ?? {}) as { catalog?: Catalog; order?: WireOrder };
  if (action === 'on_discover') {
    const offers = catalogToOffers(body.catalog).map((x) => x.offer);
    const provider = body.catalog?.providers?.[0];
    const catalog = flexCatalog({
      bppId: m.context.bpp_id ?? '',
      bppUri: e.bppUri,
      now: e.now as FlexOffer['validUntil'],
      provider: { id: provider?.id ?? m.context.bpp_id ?? '', name: provider?.descriptor?.name ?? e.providerName },
      offers,
    });
    return { action, message: { context: contextToV2(m, action, e), message: { catalogs: [catalog] } } };
  }
  const other = postOrderMessage(action, m.message, e);
  if (other) return { action, message: { context: contextToV2(m, action, e), message: other } };
  if (!body.order) throw new FlexError('FLX_INTERNAL', `${m.context.action} carries no order to send as a Contract`);
  return {
    action,
    message: { context: contextToV2(m, action, e), message: { contract: orderToContract(body.order) } },
  };
};
