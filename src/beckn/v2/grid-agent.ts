// A DEG compute-energy grid agent (BPP) over Beckn 2.0 LTS, FlexLon's own (issue 18): it answers a
// compute agent's discover with, per grid area asked for, the lowest-carbon window of the day from
// its signal source (mean carbon, then mean price; sold at its mean forecast price less a configured
// discount), and sells windows (select → init → confirm) as Contracts. Its windows are read back by compute-energy.ts gridWindowsFromCatalog.
//
// The decisions here are small (which window to publish, whether a selection is one of its offers);
// the grid agent has no planning of its own. Offers are held in memory: a restart forgets them (a
// selection of one is then refused with 30006 and the buyer discovers again). The windows sold, with
// the workload each buyer last said it shifts into them, are kept in its store (SOLD_WINDOWS) and
// read back by restore() at start, so a restarted grid agent still takes their updates and can still
// tell their buyers of a grid event.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { carbonOf, pricesOf } from '../../domain/signals.ts';
import { epochMs } from '../../domain/time.ts';
import { FlexError } from '../../errors.ts';
import type { SignalSource } from '../../ports.ts';
import { sendV2Message, type V2SendParts } from './client.ts';
import { readComputeEnergyDiscover } from './compute-energy.ts';
import { registerV2Endpoint, type V2Inbound, type V2Obj } from './endpoint.ts';
import { V2_PATH } from './receiver.ts';

export const COMPUTE_ENERGY_CONTEXT = 'https://flexlon.example/schema/ComputeEnergy/v1/context.jsonld';
const DAY_MS = 86_400_000;

/** Where the windows sold are kept (Store.putDocument). */
export const SOLD_WINDOWS = { kind: 'grid-agent', id: 'sold-windows' } as const;

export interface GridAgentOptions extends V2SendParts {
  readonly id: string;
  /** Its registered URL; its 2.0 endpoint is this + /v2. */
  readonly uri: string;
  readonly signals: SignalSource;
  /** The grid areas it serves and FlexLon's signal region of each. */
  readonly areas: Readonly<Record<string, string>>;
  /** Length of a window (slots of `slotMinutes`), and the capacity it sells in each. */
  readonly windowSlots: number;
  readonly slotMinutes: number;
  readonly capacityKw: number;
  /**
   * The share below the window's mean forecast price it sells at (0 to 1; default 0): what draws
   * load into its low-carbon windows, as DEG's compute-energy use case has them cheaper.
   */
  readonly discount?: number;
  /**
   * Market time (a replayed day; default `now`): the day a discover without a time range asks about
   * and the start of an offer's validity. `now` stays the wall clock, for signatures.
   */
  readonly marketNow?: () => number;
  readonly onBackgroundError: (e: unknown) => void;
}

interface Window {
  readonly id: string;
  readonly gridArea: string;
  readonly start: number;
  readonly end: number;
  readonly gbpPerKwh: string;
  readonly carbon: number;
}

const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const resourceOf = (w: Window, capacityKw: number) => ({
  id: `${w.id}-window`,
  descriptor: { name: `${w.gridArea} ${iso(w.start)} to ${iso(w.end)}` },
  resourceAttributes: {
    '@context': COMPUTE_ENERGY_CONTEXT,
    '@type': 'ComputeEnergyWindow',
    gridParameters: { gridArea: w.gridArea, carbonIntensity: w.carbon, carbonIntensityUnit: 'gCO2/kWh' },
    timeWindow: { start: iso(w.start), end: iso(w.end) },
    capacityParameters: { availableCapacity: capacityKw, capacityUnit: 'kW' },
  },
});
const priceOf = (w: Window, status: string) => ({
  id: `${w.id}-price`,
  status: { code: status },
  considerationAttributes: {
    '@context': COMPUTE_ENERGY_CONTEXT,
    '@type': 'ComputeEnergyPricing',
    currency: 'GBP',
    value: w.gbpPerKwh,
    unit: 'per_kWh',
  },
});

export interface GridAgent {
  register(app: FastifyInstance): void;
  /**
   * A grid event on a sold window (DEG compute-energy "carbon intensity spike"): the window's carbon
   * (and price, if given) change, and the buyer is told unasked with an on_update of the Contract.
   */
  carbonSpike(contractId: string, carbonGPerKwh: number, gbpPerKwh?: number): Promise<void>;
  /** Reads the windows sold back from the store (at start, before taking requests). */
  restore(): Promise<void>;
  /** The windows sold, by Contract id, with what each buyer last said it shifts into them. */
  sold(): ReadonlyMap<string, SoldWindow>;
}

/** A window sold: to whom, in which transaction, how many kW. */
interface Sold {
  readonly w: Window;
  readonly kw: number;
  readonly transactionId: string;
  readonly buyer: string;
  readonly bapUri: string;
  /** The buyer's last workload shift into the window (DEG update "workload_shift"). */
  readonly shift?: { readonly plannedKwh: number; readonly kw: number; readonly at: string; readonly reason: string };
}

export interface SoldWindow {
  readonly gridArea: string;
  readonly start: number;
  readonly end: number;
  readonly carbonGPerKwh: number;
  readonly gbpPerKwh: string;
  readonly kw: number;
  readonly buyer: string;
  readonly shift?: Sold['shift'];
}

/** The workload-shift Performance entry of an update (compute-buyer.ts shiftWorkload), if any. */
const shiftOf = (contract: V2Obj): { plannedKwh: number; reason: string } | undefined => {
  const p = (Array.isArray(contract.performance) ? contract.performance : []) as V2Obj[];
  const entry = p.find((x) => (x.status as V2Obj | undefined)?.code === 'WORKLOAD_SHIFT');
  if (!entry) return undefined;
  const a = (entry.performanceAttributes ?? {}) as V2Obj;
  const kwh = Number(a.plannedEnergy);
  if (!Number.isFinite(kwh) || kwh < 0 || a.plannedEnergyUnit !== 'kWh')
    throw new FlexError('FLX_REQ_SCHEMA', `a workload shift states plannedEnergy in kWh (0 or more)`, {
      path: 'message.contract.performance[0].performanceAttributes.plannedEnergy',
    });
  return { plannedKwh: kwh, reason: typeof a.actionReason === 'string' ? a.actionReason : 'unstated' };
};

export const createGridAgent = (o: GridAgentOptions): GridAgent => {
  const offers = new Map<string, Window>();
  const sold = new Map<string, Sold>();
  const marketNow = o.marketNow ?? o.now;
  const save = (): Promise<void> =>
    o.store.putDocument(SOLD_WINDOWS.kind, SOLD_WINDOWS.id, { sold: [...sold.entries()] });
  // Read when used: the URL may be known only once the app listens.
  const v2Uri = (): string => `${o.uri.replace(/\/+$/, '')}${V2_PATH}`;

  /** The lowest-carbon window of `windowSlots` in [from, from + 1 day) for an area (then the cheapest). */
  const bestWindow = async (gridArea: string, from: number): Promise<Window | undefined> => {
    const region = o.areas[gridArea];
    if (region === undefined) return undefined;
    const slots = DAY_MS / (o.slotMinutes * 60_000);
    const grid = { start: epochMs(from), slotMinutes: o.slotMinutes, slots };
    const s = await o.signals.forecast(region, grid, epochMs(from));
    const price = pricesOf(s);
    const carbon = carbonOf(s, 'forecast');
    let best: { k: number; c: number; p: number } | undefined;
    for (let k = 0; k + o.windowSlots <= slots; k++) {
      const c = mean(carbon.slice(k, k + o.windowSlots));
      const p = mean(price.slice(k, k + o.windowSlots));
      if (!best || c < best.c - 1e-9 || (Math.abs(c - best.c) <= 1e-9 && p < best.p)) best = { k, c, p };
    }
    if (!best) return undefined;
    const start = from + best.k * o.slotMinutes * 60_000;
    return {
      id: `ce-${randomUUID()}`,
      gridArea,
      start,
      end: start + o.windowSlots * o.slotMinutes * 60_000,
      gbpPerKwh: ((best.p * (1 - Math.min(1, Math.max(0, o.discount ?? 0)))) / 1000).toFixed(5),
      carbon: Math.round(best.c),
    };
  };

  const reply = (m: V2Inbound, action: string, message: V2Obj) => async () => {
    const context = { ...m.context, action, bppId: o.id, bppUri: v2Uri(), timestamp: new Date(o.now()).toISOString() };
    const url = `${String(m.context.bapUri).replace(/\/+$/, '')}/${action}`;
    await sendV2Message(o, url, { context, message } as never, { peer: m.sender.subscriberId });
  };

  /** The window a Contract's first commitment names, and the kW it asks for. */
  const selected = (m: V2Inbound): { w: Window; kw: number } => {
    const contract = (m.message.contract ?? {}) as { commitments?: V2Obj[] };
    const c = contract.commitments?.[0] ?? {};
    const offerId = String((c.offer as V2Obj | undefined)?.id ?? '');
    const w = offers.get(offerId);
    if (!w)
      throw new FlexError('FLX_ITEM_NOT_FOUND', `no window offer ${offerId} here: discover again`, {
        path: 'message.contract.commitments[0].offer.id',
      });
    const q = ((c.resources as V2Obj[] | undefined)?.[0]?.quantity ?? {}) as V2Obj;
    const kw = Number(q.unitQuantity);
    if (!(kw > 0) || kw > o.capacityKw || q.unitCode !== 'kW')
      throw new FlexError(
        'FLX_QUANTITY_UNAVAILABLE',
        `${String(q.unitQuantity)} ${String(q.unitCode)} asked, ${o.capacityKw} kW offered`,
        {
          path: 'message.contract.commitments[0].resources[0].quantity',
        },
      );
    return { w, kw };
  };

  /** The workload shift as recorded, confirmed back to the buyer (DEG 14.3.2 "shift confirmation"). */
  const shiftEntry = (w: Window, shift: NonNullable<Sold['shift']>) => ({
    id: 'workload-shift',
    status: { code: 'WORKLOAD_SHIFT', name: 'Workload shift recorded' },
    commitmentIds: [`${w.id}-commitment`],
    performanceAttributes: {
      '@context': COMPUTE_ENERGY_CONTEXT,
      '@type': 'ComputeEnergyWorkloadShift',
      actionType: 'workload_shift',
      actionReason: shift.reason,
      plannedEnergy: shift.plannedKwh,
      plannedEnergyUnit: 'kWh',
      plannedPower: shift.kw,
      plannedPowerUnit: 'kW',
      at: shift.at,
    },
  });

  const contract = (w: Window, kw: number, status: 'DRAFT' | 'ACTIVE', id?: string) => ({
    ...(id ? { id } : {}),
    status: { code: status },
    commitments: [
      {
        id: `${w.id}-commitment`,
        status: { descriptor: { code: status } },
        resources: [{ ...resourceOf(w, o.capacityKw), quantity: { unitCode: 'kW', unitQuantity: kw } }],
        offer: { id: w.id, resourceIds: [`${w.id}-window`] },
      },
    ],
    consideration: [priceOf(w, status === 'ACTIVE' ? 'AGREED' : 'QUOTED')],
  });

  const order =
    (action: string, status: 'DRAFT' | 'ACTIVE') =>
    async (m: V2Inbound): Promise<() => Promise<void>> => {
      const { w, kw } = selected(m);
      if (status === 'DRAFT') return reply(m, action, { contract: contract(w, kw, status) });
      const id = randomUUID();
      const send = reply(m, action, { contract: contract(w, kw, status, id) });
      return async () => {
        sold.set(id, {
          w,
          kw,
          transactionId: m.context.transactionId,
          buyer: m.sender.subscriberId,
          bapUri: String(m.context.bapUri),
        });
        await save();
        await send();
      };
    };

  /**
   * update (DEG compute-energy 14.3.1 "workload shift"): a new kW on a window this buyer holds, within
   * the capacity, and, when the update carries one, the energy the buyer's plan puts into the window,
   * recorded with the sale and confirmed back in the on_update (14.3.2).
   */
  const update = async (m: V2Inbound): Promise<() => Promise<void>> => {
    const c = (m.message.contract ?? {}) as { id?: unknown; commitments?: V2Obj[] };
    const id = String(c.id ?? '');
    const h = sold.get(id);
    if (!h || h.buyer !== m.sender.subscriberId)
      throw new FlexError('FLX_ORDER_NOT_FOUND', `no contract ${id} of ${m.sender.subscriberId} here`, {
        path: 'message.contract.id',
      });
    const q = ((c.commitments?.[0]?.resources as V2Obj[] | undefined)?.[0]?.quantity ?? {}) as V2Obj;
    const kw = Number(q.unitQuantity);
    if (!(kw > 0) || kw > o.capacityKw || q.unitCode !== 'kW')
      throw new FlexError(
        'FLX_UPDATE_NOT_POSSIBLE',
        `${String(q.unitQuantity)} ${String(q.unitCode)} asked, at most ${o.capacityKw} kW`,
        {
          path: 'message.contract.commitments[0].resources[0].quantity',
        },
      );
    const asked = shiftOf(c as V2Obj);
    const shift = asked && { ...asked, kw, at: new Date(marketNow()).toISOString() };
    const send = reply(m, 'on_update', {
      contract: { ...contract(h.w, kw, 'ACTIVE', id), ...(shift ? { performance: [shiftEntry(h.w, shift)] } : {}) },
    });
    return async () => {
      sold.set(id, { ...h, kw, ...(shift ? { shift } : {}) });
      await save();
      await send();
    };
  };

  return {
    register(app) {
      registerV2Endpoint(app, {
        subscriberId: o.id,
        resolver: o.resolver,
        store: o.store,
        signer: o.signer,
        now: o.now,
        onBackgroundError: o.onBackgroundError,
        handlers: {
          async discover(m) {
            const q = readComputeEnergyDiscover(m.message);
            const from = q.from ?? marketNow() - (marketNow() % DAY_MS);
            const found = (await Promise.all(q.areas.map((a) => bestWindow(a, from)))).filter(
              (w): w is Window => w !== undefined && (q.to === undefined || w.end <= q.to),
            );
            for (const w of found) offers.set(w.id, w);
            return reply(m, 'on_discover', {
              catalogs: [
                {
                  id: `${o.id}-windows-${randomUUID()}`,
                  descriptor: { name: 'Grid windows for compute' },
                  bppId: o.id,
                  bppUri: v2Uri(),
                  provider: { id: o.id, descriptor: { name: 'Grid agent' } },
                  validity: { startDate: iso(from), endDate: iso(from + DAY_MS) },
                  resources: found.map((w) => resourceOf(w, o.capacityKw)),
                  offers: found.map((w) => ({
                    id: w.id,
                    resourceIds: [`${w.id}-window`],
                    validity: { startDate: iso(Math.min(marketNow(), w.start)), endDate: iso(w.start) },
                    considerations: [priceOf(w, 'QUOTED')],
                  })),
                },
              ],
            });
          },
          select: order('on_select', 'DRAFT'),
          init: order('on_init', 'DRAFT'),
          confirm: order('on_confirm', 'ACTIVE'),
          update,
        },
      });
    },
    async restore() {
      const doc = await o.store.getDocument<{ sold?: [string, Sold][] }>(SOLD_WINDOWS.kind, SOLD_WINDOWS.id);
      for (const [id, h] of doc?.sold ?? []) sold.set(id, h);
    },
    sold: () =>
      new Map(
        [...sold.entries()].map(([id, h]) => [
          id,
          {
            gridArea: h.w.gridArea,
            start: h.w.start,
            end: h.w.end,
            carbonGPerKwh: h.w.carbon,
            gbpPerKwh: h.w.gbpPerKwh,
            kw: h.kw,
            buyer: h.buyer,
            ...(h.shift ? { shift: h.shift } : {}),
          },
        ]),
      ),
    async carbonSpike(contractId, carbonGPerKwh, gbpPerKwh) {
      const h = sold.get(contractId);
      if (!h) throw new FlexError('FLX_ORDER_NOT_FOUND', `no contract ${contractId} sold here`);
      const w: Window = {
        ...h.w,
        carbon: Math.round(carbonGPerKwh),
        ...(gbpPerKwh === undefined ? {} : { gbpPerKwh: gbpPerKwh.toFixed(5) }),
      };
      sold.set(contractId, { ...h, w });
      await save();
      const context = {
        domain: 'beckn.one:DEG:compute-energy:1.0',
        action: 'on_update',
        version: '2.0.0',
        bapId: h.buyer,
        bapUri: h.bapUri,
        bppId: o.id,
        bppUri: v2Uri(),
        transactionId: h.transactionId,
        messageId: randomUUID(),
        timestamp: new Date(o.now()).toISOString(),
        ttl: 'PT30S',
      };
      const message = {
        contract: {
          ...contract(w, h.kw, 'ACTIVE', contractId),
          performance: [
            {
              id: 'grid-event',
              status: { code: 'CARBON_SPIKE', name: 'Carbon intensity spike on the grid area' },
              commitmentIds: [`${w.id}-commitment`],
              performanceAttributes: {
                '@context': COMPUTE_ENERGY_CONTEXT,
                '@type': 'ComputeEnergyGridEvent',
                carbonIntensity: w.carbon,
                carbonIntensityUnit: 'gCO2/kWh',
                at: iso(marketNow()),
              },
            },
          ],
        },
      };
      await sendV2Message(o, `${h.bapUri.replace(/\/+$/, '')}/on_update`, { context, message }, { peer: h.buyer });
    },
  };
};
