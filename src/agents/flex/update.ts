// update → on_update (core 1.1.1): the grid changes a confirmed order's quantity (update_target
// `items`: items[0].quantity.selected) or window (`fulfillments`: the start/end stops), before the
// window opens. The BPP re-plans the fleet with the changed commitment in place of the old one:
//   * it cannot deliver it → NACK 50002 FLX_UPDATE_NOT_POSSIBLE with the reason; nothing changes;
//   * it can → re-quoted: the agreed £/MWh on the new volume, but never below the floor nor (unless
//     the pricing policy allows) below the opportunity cost of the new commitment; giving part of the
//     order up inside the cancellation notice costs the late fee on the part given up. If the update
//     carries quote.price, that is the most the buyer accepts: a higher re-quote is refused (50002).
// A window change reads the sites' baselines for the new window (settlement is against them).
import type { Order } from '../../domain/order.ts';
import { epochMs, isoOf, MINUTE_MS, type EpochMs } from '../../domain/time.ts';
import { gbp, kw } from '../../domain/units.ts';
import { FlexError } from '../../errors.ts';
import type { Inbound } from '../../beckn/inbound.ts';
import type { BecknHandler, TxWork } from '../../beckn/receiver.ts';
import type { WireOrder } from '../../beckn/wire.ts';
import { owe, requesterOf } from './callbacks.ts';
import { liveOrders, sameOrders, type Kit } from './kit.ts';
import type { Commitment } from '../../domain/commitments.ts';

/** Order fields a BAP may name in update_target (core 1.1.1 Order properties). */
const ORDER_FIELDS = new Set([
  'items',
  'add_ons',
  'offers',
  'billing',
  'fulfillments',
  'fulfillment',
  'item',
  'payments',
  'payment',
  'quote',
  'tags',
  'xinput',
  'cancellation_terms',
]);
/** The ones this provider changes (quote carries the buyer's price limit). */
const UPDATABLE = new Set(['items', 'item', 'fulfillments', 'fulfillment', 'quote']);

interface Proposal {
  readonly reductionKw: number;
  readonly windowStart: EpochMs;
  readonly windowEnd: EpochMs;
  readonly maxPriceGbp?: number;
}

const notPossible = (why: string, path?: string): FlexError =>
  new FlexError('FLX_UPDATE_NOT_POSSIBLE', why, path ? { path } : {});

const proposalOf = (o: WireOrder | undefined, order: Order, slotMinutes: number): Proposal => {
  const q = o?.items?.[0]?.quantity?.selected?.measure?.value;
  const reductionKw = q === undefined ? order.reductionKw : Number(q);
  if (!(reductionKw > 0))
    throw new FlexError('FLX_REQ_SCHEMA', 'the new quantity must be a positive number of kW', {
      path: 'message.order.items[0].quantity.selected.measure.value',
    });
  const stop = (type: string) => o?.fulfillments?.[0]?.stops?.find((s) => s.type === type)?.time?.timestamp;
  const start = stop('start') === undefined ? order.windowStart : Date.parse(stop('start') ?? '');
  const end = stop('end') === undefined ? order.windowEnd : Date.parse(stop('end') ?? '');
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start)
    throw new FlexError(
      'FLX_REQ_SCHEMA',
      'the new window needs start and end stops with RFC 3339 times, end after start',
      { path: 'message.order.fulfillments[0].stops' },
    );
  const slot = slotMinutes * MINUTE_MS;
  if (start % slot !== 0 || end % slot !== 0)
    throw notPossible(
      `the window must start and end on ${slotMinutes}-minute settlement period boundaries`,
      'message.order.fulfillments[0].stops',
    );
  const limit = o?.quote?.price?.value;
  return {
    reductionKw,
    windowStart: epochMs(start),
    windowEnd: epochMs(end),
    ...(limit === undefined ? {} : { maxPriceGbp: Number(limit) }),
  };
};

/** The order's commitments moved to the proposal, site by site in the order's proportions. */
const movedCommitments = async (
  k: Kit,
  order: Order,
  now: readonly Commitment[],
  p: Proposal,
): Promise<Commitment[]> => {
  const sameWindow = p.windowStart === order.windowStart && p.windowEnd === order.windowEnd;
  const slots = Math.round((p.windowEnd - p.windowStart) / (k.slotMinutes * MINUTE_MS));
  const out: Commitment[] = [];
  for (const c of now) {
    const share = order.reductionKw > 0 ? (c.reductionKw ?? order.reductionKw) / order.reductionKw : 1;
    const reductionKw = Math.round(p.reductionKw * share * 1000) / 1000;
    const baselineKw = sameWindow && c.baselineKw ? c.baselineKw : await k.reads.baseline(c.site, p.windowStart, slots);
    if (baselineKw.some((b) => !Number.isFinite(b)))
      throw notPossible(`site ${c.site} has no baseline for ${isoOf(p.windowStart)}–${isoOf(p.windowEnd)}`);
    out.push({
      orderId: order.id,
      site: c.site,
      windowStart: p.windowStart,
      windowEnd: p.windowEnd,
      slotMinutes: k.slotMinutes,
      maxImportKw: baselineKw.map((b) => Math.max(0, b - reductionKw)),
      reductionKw,
      baselineKw,
    });
  }
  return out;
};

/** The new price (see the header) for the moved commitments, from plans with and without them. */
const requote = async (
  k: Kit,
  order: Order,
  next: readonly Commitment[],
  p: Proposal,
): Promise<{ priceGbp: number; opportunityCostGbp: number; orders: readonly string[]; gridStart: number }> => {
  const without = new Set([order.id]);
  const withIt = await k.planning.plan({ extra: next, without, held: false, check: true });
  if (withIt.schedule.status === 'infeasible')
    throw notPossible(
      `the fleet cannot deliver ${p.reductionKw} kW from ${isoOf(p.windowStart)} to ${isoOf(p.windowEnd)}: ${withIt.schedule.reason ?? 'no feasible plan'}`,
    );
  const base = await k.planning.plan({ without, held: false, check: true });
  const opportunityCostGbp =
    base.schedule.status === 'infeasible' ? 0 : Math.max(0, withIt.schedule.costGbp - base.schedule.costGbp);
  const mwh = (kwv: number, a: number, b: number) => (kwv * (b - a)) / 3_600_000 / 1000;
  const rate = order.priceGbp / Math.max(1e-9, mwh(order.reductionKw, order.windowStart, order.windowEnd));
  const newMwh = mwh(p.reductionKw, p.windowStart, p.windowEnd);
  let priceGbp = Math.max(
    Math.round(rate * newMwh * 100) / 100,
    Math.round(k.pricing.floorGbpPerMwh * newMwh * 100) / 100,
  );
  if (!k.pricing.sellBelowCost) priceGbp = Math.max(priceGbp, Math.ceil(opportunityCostGbp * 100 - 1e-9) / 100);
  if (p.maxPriceGbp !== undefined && priceGbp > p.maxPriceGbp + 1e-9)
    throw notPossible(
      `re-quoted at £${priceGbp.toFixed(2)}, above the £${p.maxPriceGbp.toFixed(2)} this update accepts`,
      'message.order.quote.price.value',
    );
  return {
    priceGbp,
    opportunityCostGbp,
    orders: withIt.orders.filter((o) => o !== order.id),
    gridStart: withIt.grid.start,
  };
};

const targetsOf = (i: Inbound): string[] => {
  const raw = (i.msg.message as { update_target?: string } | undefined)?.update_target ?? '';
  const targets = raw.split(',').map(
    (s) =>
      s
        .trim()
        .replace(/^order\./, '')
        .split(/[.[]/)[0] ?? '',
  );
  const unknown = targets.filter((t) => !ORDER_FIELDS.has(t));
  if (unknown.length > 0)
    throw new FlexError(
      'FLX_UPDATE_TARGET',
      `update_target names ${unknown.map((u) => JSON.stringify(u)).join(', ')}, not an order field`,
      { path: 'message.update_target' },
    );
  const fixed = targets.filter((t) => !UPDATABLE.has(t));
  if (fixed.length > 0)
    throw notPossible(
      `${fixed.join(', ')} cannot be changed here: a confirmed order's quantity (items) and window (fulfillments) can`,
      'message.update_target',
    );
  return targets;
};

export const updateHandler =
  (k: Kit): BecknHandler =>
  async (i): Promise<TxWork> => {
    targetsOf(i);
    const wire = (i.msg.message as { order?: WireOrder } | undefined)?.order;
    const before = await k.orderIn(k.store, i, wire?.id, 'message.order.id');
    if (before.state !== 'confirmed')
      throw notPossible(
        `order ${before.id} is ${before.state}: only a confirmed order whose window has not opened can be updated`,
      );
    const p = proposalOf(wire, before, k.slotMinutes);
    const event = () =>
      ({
        type: 'update',
        marketNow: k.market.now(),
        reductionKw: kw(p.reductionKw),
        windowStart: p.windowStart,
        windowEnd: p.windowEnd,
      }) as const;
    k.step(before, { ...event(), priceGbp: before.priceGbp }, 'FLX_UPDATE_NOT_POSSIBLE');
    const next = await movedCommitments(
      k,
      before,
      await k.store.listCommitments<Commitment>({ orderId: before.id }),
      p,
    );
    const release = await k.planning.fleetLock.acquire();
    let q: Awaited<ReturnType<typeof requote>>;
    try {
      q = await requote(k, before, next, p);
    } catch (e) {
      release();
      throw e;
    }
    const allocations = next.map((c) => ({ site: c.site, reductionKw: kw(c.reductionKw ?? 0) }));
    return {
      locks: ['fleet'],
      commit: async (tx) => {
        const current = await k.orderIn(tx, i, wire?.id, 'message.order.id');
        const order = k.step(
          current,
          { ...event(), priceGbp: gbp(q.priceGbp), ...(allocations.length > 1 ? { allocations } : {}) },
          'FLX_UPDATE_NOT_POSSIBLE',
        );
        const live = (await liveOrders(tx, q.gridStart)).filter((o) => o !== order.id);
        if (!sameOrders(live, q.orders))
          throw new FlexError(
            'FLX_STORE_CONFLICT',
            "the fleet's commitments changed while this update was being checked: send update again",
          );
        for (const c of next) await tx.saveCommitment(c);
        await tx.saveOrder(order);
        await k.audit(tx, order, {
          event: 'updated',
          revision: order.revision,
          from: {
            reductionKw: current.reductionKw,
            windowStart: current.windowStart,
            windowEnd: current.windowEnd,
            priceGbp: current.priceGbp,
          },
          opportunityCostGbp: q.opportunityCostGbp,
          feeGbp: order.feeGbp ?? 0,
          commitments: next,
        });
        await owe(
          tx,
          k.provider,
          requesterOf(i),
          'on_update',
          { order: k.wire(order, await k.offerOf(tx, order.offerId), true) },
          order.id,
        );
      },
      settle: release,
      after: async () => {
        k.sent();
        await k.planning.dispatchAll(`update of ${before.id}`, before.id);
      },
    };
  };
