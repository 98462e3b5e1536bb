// FlexLon's Flexibility Orchestrator as a DEG compute-energy compute agent (BAP) over Beckn 2.0 LTS
// (issue 18): it discovers a grid agent's windows in the grid areas its sites are in, buys the
// cheapest (then cleanest) window of each area (select → init → confirm), and hands back the windows
// held, which contractedSignals (compute-energy.ts) lays over its signals for planning.
//
// Its callbacks come in at <registered URL>/v2/on_{discover,select,init,confirm,update} (endpoint.ts);
// each request waits for its callback by messageId, as the grid buyer's pending callbacks do.
//
// The windows held are kept in its store (one document, HELD_WINDOWS), written whenever they change,
// and read back by restore() at start: a restarted compute agent plans on the windows it bought and
// does not buy them again.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { FlexError } from '../../errors.ts';
import { sendV2Message, type V2SendParts } from './client.ts';
import { computeEnergyDiscover, gridWindowsFromCatalog, type GridWindow } from './compute-energy.ts';
import { registerV2Endpoint, type V2Inbound, type V2Obj } from './endpoint.ts';
import { V2_PATH } from './receiver.ts';
import { COMPUTE_ENERGY_CONTEXT } from './grid-agent.ts';

/** Where the windows held are kept (Store.putDocument). */
export const HELD_WINDOWS = { kind: 'compute-energy', id: 'held-windows' } as const;

export interface ComputeBuyerOptions extends V2SendParts {
  readonly id: string;
  /** Its registered URL; its 2.0 endpoint is this + /v2. */
  readonly uri: string;
  readonly callbackTimeoutMs?: number;
  readonly onBackgroundError: (e: unknown) => void;
  /** Told when a grid agent changes a held window unasked (a carbon spike): re-plan on it. */
  readonly onWindowChanged?: (w: HeldWindow) => void;
}

export interface HeldWindow extends GridWindow {
  readonly contractId: string;
  readonly kw: number;
  readonly grid: { readonly id: string; readonly uri: string };
  readonly transactionId: string;
  /** The energy the plan last put into the window and told the grid agent (workload shift), kWh. */
  readonly plannedKwh?: number;
}

/** A workload shift (DEG "update" flexibility action): the plan's kW and kWh in a held window. */
export interface WorkloadShift {
  readonly kw: number;
  /** The energy the plan puts into the window (kWh); absent: only the kW changes. */
  readonly plannedKwh?: number;
  readonly reason?: string;
}

export interface ComputeBuyer {
  register(app: FastifyInstance): void;
  /** Buys `kw` in the best window of each area within [from, to) from the grid agent `grid`. */
  buyWindows(
    grid: { readonly id: string; readonly uri: string },
    areas: readonly string[],
    within: { readonly from: number; readonly to: number },
    kw: number,
  ): Promise<HeldWindow[]>;
  /** The windows held now (as changed by the grid agent's updates). */
  held(): HeldWindow[];
  /** Reads the windows held back from the store (at start, before buying). */
  restore(): Promise<void>;
  /** Stops holding the windows that ended before `t` (they no longer bear on any plan). */
  forget(t: number): Promise<void>;
  /**
   * DEG "workload shift": moves load into (or out of) a held window by asking its grid agent for a
   * new kW, and telling it the kWh the plan puts there (update → on_update); returns the window as
   * the grid agent confirmed it. A plain number is the kW alone.
   */
  shiftWorkload(contractId: string, shift: number | WorkloadShift): Promise<HeldWindow>;
}

export const createComputeBuyer = (o: ComputeBuyerOptions): ComputeBuyer => {
  const waiting = new Map<string, (m: V2Inbound) => void>();
  const holding = new Map<string, HeldWindow>();
  // One document with every window held, rewritten on each change (a few windows a day per area).
  const save = (): Promise<void> =>
    o.store.putDocument(HELD_WINDOWS.kind, HELD_WINDOWS.id, { windows: [...holding.values()] });
  // Read when used: the URL may be known only once the app listens.
  const v2Uri = (): string => `${o.uri.replace(/\/+$/, '')}${V2_PATH}`;
  /** A window's carbon and price as a Contract from its grid agent states them now. */
  const changed = (w: HeldWindow, contract: V2Obj): HeldWindow => {
    const c = (Array.isArray(contract.commitments) ? contract.commitments[0] : undefined) as V2Obj | undefined;
    const r = (Array.isArray(c?.resources) ? c.resources[0] : undefined) as V2Obj | undefined;
    const a = (r?.resourceAttributes ?? {}) as { gridParameters?: { carbonIntensity?: unknown } };
    const q = (r?.quantity ?? {}) as { unitQuantity?: unknown };
    const price = (Array.isArray(contract.consideration) ? contract.consideration[0] : undefined) as
      { considerationAttributes?: { value?: unknown; currency?: unknown } } | undefined;
    const carbon = Number(a.gridParameters?.carbonIntensity);
    const perKwh = Number(price?.considerationAttributes?.value);
    const kw = Number(q.unitQuantity);
    return {
      ...w,
      ...(Number.isFinite(carbon) ? { carbonGPerKwh: carbon as HeldWindow['carbonGPerKwh'] } : {}),
      ...(Number.isFinite(perKwh) && price?.considerationAttributes?.currency === 'GBP'
        ? { priceGbpPerMwh: (Math.round(perKwh * 1000 * 100) / 100) as HeldWindow['priceGbpPerMwh'] }
        : {}),
      ...(kw > 0 ? { kw } : {}),
    };
  };

  const accept = async (m: V2Inbound) => {
    const wake = waiting.get(m.context.messageId);
    // An on_update nobody asked for: a grid event on a window held from that grid agent.
    if (!wake && m.context.action === 'on_update') {
      const contract = (m.message.contract ?? {}) as V2Obj;
      const w = holding.get(String(contract.id));
      if (!w || w.grid.id !== m.sender.subscriberId)
        throw new FlexError('FLX_ORDER_NOT_FOUND', `no window held under contract ${String(contract.id)}`, {
          path: 'message.contract.id',
        });
      return async () => {
        const now = changed(w, contract);
        holding.set(w.contractId, now);
        await save();
        o.onWindowChanged?.(now);
      };
    }
    if (!wake)
      throw new FlexError('FLX_REQ_EXPIRED', `no ${m.context.action} is awaited for messageId ${m.context.messageId}`, {
        path: 'context.messageId',
      });
    return async () => wake(m);
  };

  const ask = async (grid: { id: string; uri: string }, transactionId: string, action: string, message: V2Obj) => {
    const context = {
      domain: 'beckn.one:DEG:compute-energy:1.0',
      action,
      version: '2.0.0',
      bapId: o.id,
      bapUri: v2Uri(),
      bppId: grid.id,
      bppUri: grid.uri,
      transactionId,
      messageId: randomUUID(),
      timestamp: new Date(o.now()).toISOString(),
      ttl: 'PT30S',
    };
    const ms = o.callbackTimeoutMs ?? 20_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = new Promise<V2Inbound>((resolve, reject) => {
      timer = setTimeout(() => {
        waiting.delete(context.messageId);
        reject(new FlexError('FLX_PEER_UNREACHABLE', `${grid.id} sent no on_${action} within ${ms} ms`));
      }, ms);
      waiting.set(context.messageId, (m) => {
        clearTimeout(timer);
        waiting.delete(context.messageId);
        resolve(m);
      });
    });
    answer.catch(() => undefined); // a failed send below rejects the caller, not an unhandled promise
    const body = action === 'discover' ? (message as { context: V2Obj; message: V2Obj }) : { context, message };
    try {
      await sendV2Message(
        o,
        `${grid.uri.replace(/\/+$/, '')}/${action}`,
        { ...body, context: { ...context, ...body.context, action } } as never,
        {
          peer: grid.id,
        },
      );
    } catch (e) {
      clearTimeout(timer);
      waiting.delete(context.messageId);
      throw e;
    }
    return answer;
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
        handlers: { on_discover: accept, on_select: accept, on_init: accept, on_confirm: accept, on_update: accept },
      });
    },
    async buyWindows(grid, areas, within, kw) {
      const txn = randomUUID();
      const found = await ask(grid, txn, 'discover', computeEnergyDiscover({}, areas, within) as V2Obj);
      const catalogs = Array.isArray(found.message.catalogs) ? found.message.catalogs : [];
      const windows = catalogs.flatMap((c, i) => gridWindowsFromCatalog(c, `message.catalogs[${i}]`).windows);
      const held: HeldWindow[] = [];
      for (const area of areas) {
        const best = windows
          .filter((w) => w.gridArea === area && (w.availableKw ?? Infinity) >= kw)
          .sort((a, b) => a.priceGbpPerMwh - b.priceGbpPerMwh || a.carbonGPerKwh - b.carbonGPerKwh)[0];
        if (!best) continue;
        const commitment = {
          status: { descriptor: { code: 'DRAFT' } },
          resources: [{ id: best.resourceId, quantity: { unitCode: 'kW', unitQuantity: kw } }],
          offer: { id: best.offerId, resourceIds: [best.resourceId] },
        };
        await ask(grid, txn, 'select', { contract: { commitments: [commitment] } });
        await ask(grid, txn, 'init', { contract: { commitments: [commitment] } });
        const confirmed = await ask(grid, txn, 'confirm', { contract: { commitments: [commitment] } });
        const c = confirmed.message.contract as { id?: unknown; status?: { code?: unknown } } | undefined;
        if (typeof c?.id !== 'string' || c.status?.code !== 'ACTIVE')
          throw new FlexError('FLX_REQ_SCHEMA', `on_confirm from ${grid.id} has no ACTIVE contract`, {
            path: 'message.contract',
          });
        const w = { ...best, contractId: c.id, kw, grid, transactionId: txn };
        holding.set(c.id, w);
        await save();
        held.push(w);
      }
      return held;
    },
    held: () => [...holding.values()],
    async restore() {
      const doc = await o.store.getDocument<{ windows?: HeldWindow[] }>(HELD_WINDOWS.kind, HELD_WINDOWS.id);
      for (const w of doc?.windows ?? []) holding.set(w.contractId, w);
    },
    async forget(t) {
      const gone = [...holding.values()].filter((w) => w.end <= t);
      for (const w of gone) holding.delete(w.contractId);
      if (gone.length > 0) await save();
    },
    async shiftWorkload(contractId, shift) {
      const w = holding.get(contractId);
      if (!w) throw new FlexError('FLX_ORDER_NOT_FOUND', `no window held under contract ${contractId}`);
      const s = typeof shift === 'number' ? { kw: shift } : shift;
      const commitmentId = `${w.offerId}-commitment`;
      const commitment = {
        id: commitmentId,
        status: { descriptor: { code: 'ACTIVE' } },
        resources: [{ id: w.resourceId, quantity: { unitCode: 'kW', unitQuantity: s.kw } }],
        offer: { id: w.offerId, resourceIds: [w.resourceId] },
      };
      // DEG compute-energy 14.3.1 carries the shift as the Order's fulfilment `flexibilityAction`
      // (actionType workload_shift, shiftDetails); LTS has no Order, so it rides in a Performance
      // entry of the Contract, as the grid agent's own events do (docs/beckn-2.md, Compute-energy).
      const performance =
        s.plannedKwh === undefined
          ? {}
          : {
              performance: [
                {
                  id: 'workload-shift',
                  status: { code: 'WORKLOAD_SHIFT', name: 'Workload shifted into the window' },
                  commitmentIds: [commitmentId],
                  performanceAttributes: {
                    '@context': COMPUTE_ENERGY_CONTEXT,
                    '@type': 'ComputeEnergyWorkloadShift',
                    actionType: 'workload_shift',
                    actionReason: s.reason ?? 'plan',
                    plannedEnergy: Math.round(s.plannedKwh * 1000) / 1000,
                    plannedEnergyUnit: 'kWh',
                    plannedPower: s.kw,
                    plannedPowerUnit: 'kW',
                    at: new Date(o.now()).toISOString(),
                  },
                },
              ],
            };
      const answer = await ask(w.grid, w.transactionId, 'update', {
        contract: { id: contractId, commitments: [commitment], ...performance },
      });
      const now = {
        ...changed(w, (answer.message.contract ?? {}) as V2Obj),
        ...(s.plannedKwh === undefined ? {} : { plannedKwh: s.plannedKwh }),
      };
      holding.set(contractId, now);
      await save();
      return now;
    },
  };
};
