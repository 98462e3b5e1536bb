// `flexlon settle --order ID`: one order settled again from a store, by the terms recorded with it,
// and checked against the settlement that store's audit log recorded (issue 17). Two views:
//   provider  the order row (its product terms, price, accepted kW), its commitments (the baseline
//             fixed per period when it was committed) and the meter readings the provider saved:
//             settled by the same function the provider used (settlement/order.ts), so every figure
//             must equal its `settlement` audit record;
//   buyer     what it bought (its `order` audit record: accepted kW, agreed price, product sent in
//             init) and the per-period baseline and metered kW the provider reported in on_status
//             (its `settlement` records): the payment recomputed under those terms must equal what
//             the provider reported.
// The stores are found as `flexlon audit verify` finds them (a .db file, a run folder, or the
// schemas of a PostgreSQL database); the first holding the order as provider wins, else as buyer.
import type { Commitment } from '../domain/commitments.ts';
import type { Order } from '../domain/order.ts';
import { PERIOD_MS, settlementPeriodOf } from '../domain/settlement-day.ts';
import { isoOf, MINUTE_MS } from '../domain/time.ts';
import type { ProductTerms } from '../domain/products.ts';
import { FlexError } from '../errors.ts';
import type { AuditRecord } from '../audit/chain.ts';
import type { Store } from '../ports.ts';
import type { SettlementSummary } from '../settlement/delivered.ts';
import { orderTerms, settleOrder } from '../settlement/order.ts';
import { settleProduct, type MeteredPeriod } from '../settlement/product.ts';
import type { OrderSource, SettleReport } from './settle-html.ts';

/** A store to look in: how the report names it, and how to open it. */
export interface StoreRef {
  readonly name: string;
  open(): Promise<Store>;
}

const HOURS = 0.5;

/** The readings of a settled order as the settlement periods they fall in. */
const metered = (ps: readonly { start: number; baselineKw: number; meteredKw: number }[]): MeteredPeriod[] =>
  ps.map((p) => {
    const sp = settlementPeriodOf(p.start);
    return {
      start: p.start,
      settlementDate: sp.date,
      settlementPeriod: sp.period,
      baselineKw: p.baselineKw,
      meteredKw: p.meteredKw,
    };
  });

/** Each figure of `ours` that is not what `recorded` says (per period and in total). */
interface Figures {
  readonly periods: readonly {
    readonly start: number;
    readonly baselineKw: number;
    readonly meteredKw: number;
    readonly deliveredKwh: number;
  }[];
  readonly deliveredKwh: number;
  readonly paymentGbp: number;
}

/** How close a figure must be: exact to the provider's own rounding; on the wire kW and kWh carry 2 decimals (codec.ts). */
const EXACT = { kw: 0.001, kwh: 0.001, gbp: 0.005 };
const WIRE = { kw: 0.01, kwh: 0.01, gbp: 0.015 };

const differences = (ours: Figures, recorded: Figures, tol: typeof EXACT = EXACT): string[] => {
  const d: string[] = [];
  const differ = (where: string, field: string, a: number, b: number, tolerance: number) => {
    if (!(Math.abs(a - b) <= tolerance)) d.push(`${where} ${field}: ${a} here, ${b} recorded`);
  };
  if (ours.periods.length !== recorded.periods.length)
    d.push(`periods: ${ours.periods.length} here, ${recorded.periods.length} recorded`);
  for (const p of ours.periods) {
    const r = recorded.periods.find((x) => x.start === p.start);
    const where = `${isoOf(p.start)} (SP${settlementPeriodOf(p.start).period})`;
    if (!r) {
      d.push(`${where}: not in the recorded settlement`);
      continue;
    }
    differ(where, 'baseline kW', p.baselineKw, r.baselineKw, tol.kw + 1e-9);
    differ(where, 'metered kW', p.meteredKw, r.meteredKw, tol.kw + 1e-9);
    differ(where, 'delivered kWh', p.deliveredKwh, r.deliveredKwh, tol.kwh + 1e-9);
  }
  differ('total', 'delivered kWh', ours.deliveredKwh, recorded.deliveredKwh, tol.kwh * ours.periods.length + 1e-9);
  differ('total', 'payment £', ours.paymentGbp, recorded.paymentGbp, tol.gbp + 1e-9);
  return d;
};

const windowOfOrder = (start: number, end: number): SettleReport['window'] => {
  const first = settlementPeriodOf(start);
  return {
    date: first.date,
    fromPeriod: first.period,
    toPeriod: first.period + Math.round((end - start) / PERIOD_MS),
    startUtc: isoOf(start),
    endUtc: isoOf(end),
  };
};

const report = (o: {
  source: Omit<OrderSource, 'differences'>;
  windowStart: number;
  windowEnd: number;
  method: string;
  terms: ProductTerms;
  acceptedKw: number;
  periods: readonly { start: number; baselineKw: number; meteredKw: number }[];
  recorded: Figures | undefined;
  extraDifferences?: readonly string[];
}): SettleReport => {
  const tol = o.source.role === 'buyer' ? WIRE : EXACT;
  const settlement = settleProduct(o.terms, metered(o.periods), o.acceptedKw, HOURS);
  const starts = Array.from({ length: Math.round((o.windowEnd - o.windowStart) / PERIOD_MS) }, (_, i) => {
    return o.windowStart + i * PERIOD_MS;
  });
  const gaps = starts
    .filter((t) => !o.periods.some((p) => p.start === t))
    .map((t) => ({ start: t, ...settlementPeriodOf(t) }));
  return {
    version: 1,
    meter: {
      file: o.source.store,
      meterId: o.source.sites.join('+') || undefined,
      shape: 'store',
      unit: 'kW',
      from: isoOf(o.windowStart),
      to: isoOf(o.windowEnd),
      gaps,
      duplicates: [],
    },
    window: windowOfOrder(o.windowStart, o.windowEnd),
    baseline: {
      name: o.method,
      method: `the provider's baseline per period, fixed in the commitment when the order was confirmed (${o.source.role === 'provider' ? 'as stored with it' : 'as the provider reported it in on_status'})`,
      baselineKw: o.periods.map((p) => p.baselineKw),
      selectedDays: [],
      excluded: [],
      adjustmentKw: 0,
    },
    settlement,
    order: {
      ...o.source,
      differences: [
        ...(o.extraDifferences ?? []),
        ...(o.recorded ? differences(settlement, o.recorded, tol) : ['no settlement is recorded for the order']),
      ],
    },
  };
};

/** The newest settlement of `orderId` recorded in a trail, with the record's seq. */
const lastSettlement = (
  trail: readonly AuditRecord[],
  orderId: string,
  pick: (payload: unknown) => SettlementSummary | undefined,
): { seq: number; s: SettlementSummary } | undefined => {
  for (let i = trail.length - 1; i >= 0; i--) {
    const r = trail[i] as AuditRecord;
    if (r.kind !== 'settlement' || r.orderId !== orderId) continue;
    const s = pick(r.payload);
    if (s && Array.isArray(s.periods) && s.periods.length > 0) return { seq: r.seq, s };
  }
  return undefined;
};

/** The provider's view: its order, commitments and saved meter readings, settled as it settled them. */
const asProvider = async (name: string, store: Store, order: Order): Promise<SettleReport> => {
  const commitments = (await store.listCommitments<Commitment>()).filter(
    (c) => c.orderId === order.id && c.baselineKw !== undefined,
  );
  const sites = [...new Set(commitments.map((c) => c.site))];
  if (commitments.length === 0)
    throw new FlexError('FLX_DATA_INVALID', `${name}: order ${order.id} has no commitment with a baseline to settle`);
  if (order.product?.measurement === 'import-limit' && sites.length > 1)
    throw new FlexError(
      'FLX_DATA_INVALID',
      `order ${order.id} is an import limit at ${sites.length} sites: each site is settled against its own limit (see its statement per site)`,
    );
  // The newest reading of each slot, per site, as the commitments' slots (NaN where none was saved).
  const readings = new Map<string, number[]>();
  for (const c of commitments) {
    const got = await store.meterReadings({ site: c.site, from: c.windowStart, to: c.windowEnd });
    const latest = new Map<number, { at: number; kw: number }>();
    for (const r of got)
      if (r.slotMinutes === c.slotMinutes && (latest.get(r.slotStart)?.at ?? -Infinity) <= r.readAt)
        latest.set(r.slotStart, { at: r.readAt, kw: r.importKw });
    readings.set(
      c.site,
      (c.baselineKw ?? []).map((_, k) => latest.get(c.windowStart + k * c.slotMinutes * MINUTE_MS)?.kw ?? NaN),
    );
  }
  const trail = await store.auditTrail({ transactionId: order.transactionId });
  const recorded = lastSettlement(trail, order.id, (p) => p as SettlementSummary);
  const method = recorded?.s.baselineMethod ?? 'the provider’s baseline';
  const again = settleOrder(order, commitments, readings, method);
  if (!again) throw new FlexError('FLX_DATA_INVALID', `${name}: order ${order.id} has nothing to settle`);
  const windowSlots = commitments[0]?.baselineKw?.length ?? 0;
  return report({
    source: {
      id: order.id,
      transactionId: order.transactionId,
      store: name,
      role: 'provider',
      sites,
      recorded: recorded && {
        seq: recorded.seq,
        paymentGbp: recorded.s.paymentGbp,
        deliveredKwh: recorded.s.deliveredKwh,
      },
    },
    windowStart: order.windowStart,
    windowEnd: order.windowEnd,
    method,
    terms: orderTerms(order.product, order.reductionKw, HOURS, order.priceGbp, windowSlots),
    acceptedKw: order.reductionKw,
    periods: again.total.periods,
    recorded: recorded?.s,
    // The provider's own function on the stored rows must also give what it recorded.
    extraDifferences: recorded ? differences(again.total, recorded.s).map((x) => `re-settled: ${x}`) : [],
  });
};

interface Bought {
  readonly selectedKw: number;
  readonly quotedGbp: number;
  readonly product?: ProductTerms;
  readonly offer: { readonly site: string; readonly windowStart: number; readonly windowEnd: number };
}

/** The buyer's view: what it bought and the readings the provider reported for it. */
const asBuyer = (name: string, trail: readonly AuditRecord[], orderId: string): SettleReport | undefined => {
  const bought = trail.find(
    (r) => r.kind === 'order' && r.orderId === orderId && (r.payload as { procurement?: unknown }).procurement,
  );
  if (!bought) return undefined;
  const p = (bought.payload as { procurement: Bought }).procurement;
  const recorded = lastSettlement(trail, orderId, (x) => (x as { settlement?: SettlementSummary }).settlement);
  const slots = Math.round((p.offer.windowEnd - p.offer.windowStart) / PERIOD_MS);
  return report({
    source: {
      id: orderId,
      transactionId: bought.transactionId ?? '',
      store: name,
      role: 'buyer',
      sites: [p.offer.site],
      recorded: recorded && {
        seq: recorded.seq,
        paymentGbp: recorded.s.paymentGbp,
        deliveredKwh: recorded.s.deliveredKwh,
      },
    },
    windowStart: p.offer.windowStart,
    windowEnd: p.offer.windowEnd,
    method: recorded?.s.baselineMethod ?? 'the provider’s baseline',
    terms: orderTerms(p.product, p.selectedKw, HOURS, p.quotedGbp, slots),
    acceptedKw: p.selectedKw,
    periods: recorded?.s.periods ?? [],
    recorded: recorded?.s,
  });
};

/** Settles order `orderId` from the first of `stores` that holds it (as provider, else as buyer). */
export const settleFromStores = async (stores: readonly StoreRef[], orderId: string): Promise<SettleReport> => {
  let buyer: SettleReport | undefined;
  for (const ref of stores) {
    const store = await ref.open();
    try {
      const order = await store.getOrder(orderId);
      if (order) return await asProvider(ref.name, store, order);
      buyer ??= asBuyer(ref.name, await store.auditTrail(), orderId);
    } finally {
      await store.close();
    }
  }
  if (buyer) return buyer;
  throw new FlexError(
    'FLX_ORDER_NOT_FOUND',
    `no order ${orderId} in ${stores.map((s) => s.name).join(', ') || 'no store'}: neither a provider's order row nor a buyer's record of it`,
    { path: '--order' },
  );
};

/** The order lines of a table statement (where it was read, and whether it agrees with the record). */
export const orderLines = (r: SettleReport): string[] => {
  const o = r.order;
  if (!o) return [];
  return [
    `order      ${o.id} (transaction ${o.transactionId}), read from the ${o.role}'s store ${o.store}; sites ${o.sites.join(', ')}`,
    o.recorded
      ? `recorded   settlement record ${o.recorded.seq}: delivered ${o.recorded.deliveredKwh} kWh, payment £${o.recorded.paymentGbp.toFixed(2)}: ${o.differences.length === 0 ? 'agrees with this statement' : 'DIFFERS'}`
      : 'recorded   no settlement recorded for this order',
    ...o.differences.map((x) => `  differs  ${x}`),
  ];
};
