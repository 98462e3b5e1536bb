// Beckn 2.0 (core v2.0.0 LTS) requests a BPP receives → the version-neutral internal form the
// BPP's handlers read: the core 1.1.1 message FlexLon's own 1.1.1 receiver would have received for
// the same request (src/agents/flex/lifecycle.ts reads those). One set of handlers serves both
// versions; only the envelope and the message shape change here.
//
// What a 2.0 buyer sends for demand flexibility with FlexLon as provider (docs/beckn-2.md):
// - discover: the need as an RFC 9535 JSONPath filter over the FlexCapacity resources FlexLon
//   publishes (LTS `Intent` is closed: textSearch, filters, spatial, mediaSearch only), e.g.
//   $[?(@.resourceAttributes.eventWindow.startDate == '2026-12-05T17:00:00Z' &&
//       @.resourceAttributes.eventWindow.endDate == '2026-12-05T18:00:00Z' &&
//       @.resourceAttributes.maxCapacityKw >= 500 && @.considerationAttributes.gbpPerMwh <= 300)]
// - select / init / confirm: a Contract whose first commitment names FlexLon's offer (offer.id) and
//   the capacity resource with its quantity in kW (LTS Commitment: resources need id and quantity);
// - status: the Contract's id (LTS StatusAction requires it), the one FlexLon gave in on_confirm.
// - after the order (docs/beckn-2.md, "After the order"): track (tracking.contract.id, optional),
//   cancel (contract.id), update (contract.id and the first commitment's new kW and/or window),
//   rate (ratingInputs: target and range.value), support (support.orderId, optional); each names the
//   transaction's Contract or nothing (then the transaction's order is meant).
import { createHash } from 'node:crypto';
import type { FlexNeed } from '../../domain/offers.ts';
import { epochMs } from '../../domain/time.ts';
import { gbpPerMwh, kw } from '../../domain/units.ts';
import { FlexError } from '../../errors.ts';
import {
  CORE_VERSION,
  FLEXLON_DOMAIN,
  type Action,
  type BecknMessage,
  type Context,
  type RequestAction,
} from '../context.ts';
import { MAX_NEED_KW, needToIntent } from '../flex-codec.ts';

/** The 2.0 request actions FlexLon's BPP answers, and the internal action each one maps to. */
export const V2_BPP_ACTIONS = {
  discover: 'search',
  select: 'select',
  init: 'init',
  confirm: 'confirm',
  status: 'status',
  track: 'track',
  cancel: 'cancel',
  update: 'update',
  rate: 'rating',
  support: 'support',
} as const satisfies Record<string, RequestAction>;
export type V2BppAction = keyof typeof V2_BPP_ACTIONS;
export const isV2BppAction = (a: string): a is V2BppAction => a in V2_BPP_ACTIONS;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (path: string, why: string): FlexError => new FlexError('FLX_REQ_SCHEMA', `${path} ${why}`, { path });

/**
 * The Contract id FlexLon gives an order on the 2.0 wire. LTS Contract.id is a UUID by format and
 * FlexLon's order ids are not, so the id is a name-based UUID (SHA-256 of the order id, version and
 * variant bits set as RFC 9562 §5.8 asks of a custom UUID): the same order always has the same id.
 */
export const contractIdOf = (orderId: string): string => {
  const h = createHash('sha256').update(`flexlon-order:${orderId}`).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x80;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
};

/** The internal (1.1.1) context of a 2.0 LTS context: same ids, times and addresses. */
export const contextFromV2 = (c: Obj, action: Action): Context => ({
  domain: FLEXLON_DOMAIN,
  location: { country: { code: 'GBR' } },
  action,
  version: CORE_VERSION,
  bap_id: String(c.bapId),
  bap_uri: String(c.bapUri),
  ...(typeof c.bppId === 'string' ? { bpp_id: c.bppId } : {}),
  ...(typeof c.bppUri === 'string' ? { bpp_uri: c.bppUri } : {}),
  transaction_id: String(c.transactionId),
  message_id: String(c.messageId),
  timestamp: String(c.timestamp),
  ...(typeof c.ttl === 'string' ? { ttl: c.ttl } : {}),
});

/** 1.1.1 context paths in a refusal, as the 2.0 sender spelled them. */
export const V2_CONTEXT_PATHS: Record<string, string> = {
  'context.bap_id': 'context.bapId',
  'context.bap_uri': 'context.bapUri',
  'context.bpp_id': 'context.bppId',
  'context.bpp_uri': 'context.bppUri',
  'context.transaction_id': 'context.transactionId',
  'context.message_id': 'context.messageId',
};

/**
 * Paths in the 1.1.1 form the post-order handlers name in a refusal, as the 2.0 request spelled the
 * field (the first match is rewritten; [n] is kept).
 */
export const V2_MESSAGE_PATHS: readonly (readonly [RegExp, string])[] = [
  [/^message\.order(_id|\.id)$/, 'message.contract.id'],
  [/^message\.order\.items\[0\]\.quantity.*$/, 'message.contract.commitments[0].resources[0].quantity.unitQuantity'],
  [
    /^message\.order\.fulfillments\[0\].*$/,
    'message.contract.commitments[0].resources[0].resourceAttributes.eventWindow',
  ],
  [/^message\.update_target$/, 'message.contract.commitments[0].resources[0]'],
  [/^message\.ratings\[(\d+)\]\.id$/, 'message.ratingInputs[$1].target.id'],
  [/^message\.ratings\[(\d+)\]\.value$/, 'message.ratingInputs[$1].range.value'],
  [/^message\.ratings\[(\d+)\]\.rating_category$/, 'message.ratingInputs[$1].target.descriptor.code'],
  [/^message\.ratings/, 'message.ratingInputs'],
  [/^message\.support\.ref_id$/, 'message.support.orderId'],
];

const UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const TERM = /^@\.([A-Za-z][A-Za-z0-9.]*)\s*(==|>=|<=)\s*(?:'([^']*)'|"([^"]*)"|(-?\d+(?:\.\d+)?))$/;
const FILTER_PATH = 'message.intent.filters.expression';

/**
 * The need in a discover's JSONPath filter. Only a conjunction of the terms below is read (a
 * general JSONPath engine would accept needs FlexLon cannot price): the window (both ends, UTC with
 * Z as DemandFlexNeed requires), the kW wanted, and optionally the most the buyer pays per MWh and
 * the direction (REDUCE; FlexLon sells reductions). Anything else is refused with the path.
 */
export const needFromDiscover = (message: unknown): FlexNeed => {
  const intent = isObj(message) ? message.intent : undefined;
  const filters = isObj(intent) ? intent.filters : undefined;
  if (!isObj(filters) || filters.type !== 'jsonpath' || typeof filters.expression !== 'string')
    throw bad('message.intent.filters', 'must be a jsonpath filter naming the window and the kW wanted');
  const m = /^\$\[\?\((.*)\)\]$/s.exec(filters.expression.trim());
  if (!m?.[1]) throw bad(FILTER_PATH, 'must be a JSONPath filter $[?( … )]');
  const terms = new Map<string, { op: string; value: string | number }>();
  for (const raw of m[1].split('&&')) {
    const t = TERM.exec(raw.trim());
    if (!t?.[1] || !t[2]) throw bad(FILTER_PATH, `cannot read the term ${JSON.stringify(raw.trim().slice(0, 80))}`);
    const value = t[5] !== undefined ? Number(t[5]) : (t[3] ?? t[4] ?? '');
    terms.set(`${t[1]} ${t[2]}`, { op: t[2], value });
  }
  const take = (key: string): string | number | undefined => {
    const v = terms.get(key)?.value;
    terms.delete(key);
    return v;
  };
  const direction = take('resourceAttributes.direction ==');
  if (direction !== undefined && direction !== 'REDUCE')
    throw bad(FILTER_PATH, `asks for direction ${JSON.stringify(direction)}; FlexLon sells reductions (REDUCE)`);
  const time = (key: string): number => {
    const v = take(key);
    if (typeof v !== 'string' || !UTC.test(v) || Number.isNaN(Date.parse(v)))
      throw bad(FILTER_PATH, `must set ${key} '<UTC date-time ending in Z>'`);
    return Date.parse(v);
  };
  const windowStart = time('resourceAttributes.eventWindow.startDate ==');
  const windowEnd = time('resourceAttributes.eventWindow.endDate ==');
  const wanted = take('resourceAttributes.maxCapacityKw >=');
  if (typeof wanted !== 'number' || !(wanted > 0) || wanted > MAX_NEED_KW)
    throw bad(FILTER_PATH, `must set resourceAttributes.maxCapacityKw >= <kW above 0, at most ${MAX_NEED_KW}>`);
  const price = take('considerationAttributes.gbpPerMwh <=');
  if (price !== undefined && (typeof price !== 'number' || !(price > 0)))
    throw bad(FILTER_PATH, 'considerationAttributes.gbpPerMwh <= must be a number above 0');
  const left = [...terms.keys()];
  if (left.length > 0) throw bad(FILTER_PATH, `has terms FlexLon does not read: ${left.join(', ')}`);
  return {
    kind: 'price-peak',
    windowStart: epochMs(windowStart),
    windowEnd: epochMs(windowEnd),
    wantedKw: kw(wanted),
    // No ceiling stated: the buyer takes any price (the on_discover states each offer's).
    maxPriceGbpPerMwh: gbpPerMwh(typeof price === 'number' ? price : 1_000_000),
  };
};

interface Selection {
  readonly offerId: string;
  readonly kw: number | undefined;
  readonly providerId: string | undefined;
}

/** The offer and kW a Contract selects: its first commitment's offer and resource quantity. */
export const selectionOf = (message: unknown): Selection => {
  const contract = isObj(message) ? message.contract : undefined;
  const commitments = isObj(contract) && Array.isArray(contract.commitments) ? contract.commitments : [];
  const c = commitments[0];
  const base = 'message.contract.commitments[0]';
  if (!isObj(c)) throw bad(`${base}`, 'is required: the commitment naming the offer bought');
  const offer = isObj(c.offer) ? c.offer : undefined;
  if (typeof offer?.id !== 'string' || offer.id === '') throw bad(`${base}.offer.id`, 'must name the offer bought');
  const resource = Array.isArray(c.resources) && isObj(c.resources[0]) ? c.resources[0] : undefined;
  const q = isObj(resource?.quantity) ? resource.quantity : undefined;
  let amount: number | undefined;
  if (q !== undefined) {
    const qp = `${base}.resources[0].quantity`;
    if (q.unitCode !== 'kW' && q.unitCode !== 'KW')
      throw bad(`${qp}.unitCode`, `must be "kW" (a reduction of import), got ${JSON.stringify(q.unitCode)}`);
    if (typeof q.unitQuantity !== 'number' || !(q.unitQuantity > 0))
      throw bad(`${qp}.unitQuantity`, 'must be a number of kW above 0');
    amount = q.unitQuantity;
  }
  const provider = isObj(offer.provider) && typeof offer.provider.id === 'string' ? offer.provider.id : undefined;
  return { offerId: offer.id, kw: amount, providerId: provider };
};

const orderOf = (s: Selection, bppId: string, orderId?: string) => ({
  ...(orderId ? { id: orderId } : {}),
  provider: { id: s.providerId ?? bppId },
  items: [
    {
      id: s.offerId,
      ...(s.kw === undefined
        ? {}
        : { quantity: { selected: { measure: { type: 'CONSTANT', value: String(s.kw), unit: 'kW' } } } }),
    },
  ],
});

/** Finds the order a Contract id names (the transaction's order, whose contractIdOf is that id). */
export type OrderOfTransaction = (transactionId: string) => Promise<{ id: string } | undefined>;

/** FlexLon's order id of the Contract id `id` (at `path`); undefined when none is named and none is required. */
const orderNamed = async (
  id: unknown,
  path: string,
  transactionId: string,
  find: OrderOfTransaction,
  required: boolean,
): Promise<string | undefined> => {
  if (id === undefined && !required) return undefined;
  const order = await find(transactionId);
  if (typeof id !== 'string' || !order || contractIdOf(order.id) !== id)
    throw new FlexError('FLX_ORDER_NOT_FOUND', `no contract ${String(id)} in transaction ${transactionId}`, { path });
  return order.id;
};

const at = (v: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((x, k) => (isObj(x) ? x[k] : undefined), v);
const orderIdOf = (message: unknown, txn: string, find: OrderOfTransaction, required: boolean) =>
  orderNamed(at(message, 'contract', 'id'), 'message.contract.id', txn, find, required);

const COMMITMENT = 'message.contract.commitments[0]';

/**
 * An update: the new kW (the first commitment's resource quantity) and/or window (its FlexCapacity
 * eventWindow), as the 1.1.1 update the handler reads (update_target items / fulfillments). LTS has
 * no update target, so what the commitment carries is what changes.
 */
const updateOf = (message: unknown, orderId: string | undefined): Obj => {
  const c = at(message, 'contract', 'commitments');
  const resource = Array.isArray(c) && isObj(c[0]) && Array.isArray(c[0].resources) ? c[0].resources[0] : undefined;
  const quantity = at(resource, 'quantity');
  const window = at(resource, 'resourceAttributes', 'eventWindow');
  const targets: string[] = [];
  const item: Obj = { id: String(at(Array.isArray(c) ? c[0] : undefined, 'offer', 'id') ?? '') };
  if (quantity !== undefined) {
    const s = selectionOf(message);
    targets.push('items');
    item.quantity = { selected: { measure: { type: 'CONSTANT', value: String(s.kw), unit: 'kW' } } };
  }
  const order: Obj = { ...(orderId ? { id: orderId } : {}), items: [item] };
  if (window !== undefined) {
    const time = (k: string): string => {
      const v = at(window, k);
      if (typeof v !== 'string' || !UTC.test(v))
        throw bad(
          `${COMMITMENT}.resources[0].resourceAttributes.eventWindow.${k}`,
          'must be a UTC date-time ending in Z',
        );
      return v;
    };
    targets.push('fulfillments');
    order.fulfillments = [
      {
        id: 'dr',
        stops: [
          { type: 'start', time: { timestamp: time('startDate') } },
          { type: 'end', time: { timestamp: time('endDate') } },
        ],
      },
    ];
  }
  if (targets.length === 0)
    throw new FlexError(
      'FLX_UPDATE_TARGET',
      'the first commitment changes nothing FlexLon updates: give its resource a new quantity (kW) and/or a FlexCapacity eventWindow',
      { path: `${COMMITMENT}.resources[0]` },
    );
  return { update_target: targets.join(','), order };
};

/**
 * Ratings (LTS RatingInput): `target.id` the Contract id (the order), `dr` (its performance, the
 * fulfilment) or the BPP's id (the provider), `target.descriptor.code` the category when given
 * (Order, Fulfillment, Provider), the value `range.value` 1–5 (LTS leaves `range` open: FlexLon reads
 * `{min?, max?, value}`).
 */
const ratingsOf = async (message: unknown, txn: string, bppId: string, find: OrderOfTransaction) => {
  const inputs = at(message, 'ratingInputs');
  const order = await find(txn);
  const contractId = order ? contractIdOf(order.id) : undefined;
  return (Array.isArray(inputs) ? inputs : []).map((r, n) => {
    const id = String(at(r, 'target', 'id') ?? '');
    const code = at(r, 'target', 'descriptor', 'code');
    const category =
      typeof code === 'string' ? code : id === contractId ? 'Order' : id === bppId ? 'Provider' : 'Fulfillment';
    const value = at(r, 'range', 'value');
    if (typeof value !== 'number' && typeof value !== 'string')
      throw new FlexError('FLX_RATING_VALUE', 'range.value must give the rating, a whole number from 1 to 5', {
        path: `message.ratingInputs[${n}].range.value`,
      });
    return {
      rating_category: category,
      id: category === 'Order' && id === contractId ? order?.id : id,
      value: String(value),
    };
  });
};

/**
 * The internal message for a 2.0 LTS request already checked against FlexLon's 2.0 envelope
 * (schema.ts): its context and message in the 1.1.1 shape the handlers read.
 */
export const fromV2Request = async (
  action: V2BppAction,
  msg: { context: Obj; message?: unknown },
  bppId: string,
  find: OrderOfTransaction,
): Promise<BecknMessage> => {
  const internal = V2_BPP_ACTIONS[action];
  const context = contextFromV2(msg.context, internal);
  const m = msg.message;
  const txn = context.transaction_id;
  // LTS cancel / update with context.try: true ask for the terms (fee, new price) without committing.
  // The 1.1.1 handlers FlexLon runs commit or refuse, with no quote-only step: 40001, nothing done.
  if ((action === 'cancel' || action === 'update') && msg.context.try === true)
    throw new FlexError(
      'FLX_ACTION_NOT_APPLICABLE',
      `a ${action} with try: true (terms without committing) is not offered; send it without try to ${action} at once`,
      { path: 'context.try' },
    );
  switch (action) {
    case 'discover':
      return { context, message: { intent: needToIntent(needFromDiscover(m)) } };
    case 'select':
      return { context, message: { order: orderOf(selectionOf(m), bppId) } };
    case 'init':
    case 'confirm': {
      const orderId = await orderIdOf(m, txn, find, false);
      return { context, message: { order: orderOf(selectionOf(m), bppId, orderId) } };
    }
    case 'status':
    case 'cancel': {
      const orderId = (await orderIdOf(m, txn, find, true)) as string;
      return { context, message: { order_id: orderId } };
    }
    case 'track': {
      const path = 'message.tracking.contract.id';
      const named = at(m, 'tracking', 'contract', 'id');
      // No Contract named (LTS Tracking.contract is optional): the transaction's.
      const orderId = await orderNamed(named ?? contractIdOf((await find(txn))?.id ?? ''), path, txn, find, true);
      return { context, message: { order_id: orderId as string } };
    }
    case 'update':
      return { context, message: updateOf(m, await orderIdOf(m, txn, find, false)) };
    case 'rate':
      return { context, message: { ratings: await ratingsOf(m, txn, bppId, find) } };
    case 'support': {
      const orderId = await orderNamed(at(m, 'support', 'orderId'), 'message.support.orderId', txn, find, false);
      return { context, message: { support: orderId ? { ref_id: orderId } : {} } };
    }
    default: {
      const never: never = action;
      throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `no 2.0 mapping for ${String(never)}`);
    }
  }
};
