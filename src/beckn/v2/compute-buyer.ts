// FlexLon's Flexibility Orchestrator as a DEG compute-energy compute agent (BAP) over Beckn 2.0 LTS
// (issue 18): it discovers a grid agent's windows in the grid areas its sites are in, buys the
// cheapest (then cleanest) window of each area (select → init → confirm), and hands back the windows
// held, which contractedSignals (compute-energy.ts) lays over its signals for planning.
//
// Its callbacks come in at <registered URL>/v2/on_{discover,select,init,confirm} (endpoint.ts); each
// request waits for its callback by messageId, as the grid buyer's pending callbacks do.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { FlexError } from '../../errors.ts';
import { sendV2Message, type V2SendParts } from './client.ts';
import { computeEnergyDiscover, gridWindowsFromCatalog, type GridWindow } from './compute-energy.ts';
import { registerV2Endpoint, type V2Inbound, type V2Obj } from './endpoint.ts';
import { V2_PATH } from './receiver.ts';

export interface ComputeBuyerOptions extends V2SendParts {
  readonly id: string;
  /** Its registered URL; its 2.0 endpoint is this + /v2. */
  readonly uri: string;
  readonly callbackTimeoutMs?: number;
  readonly onBackgroundError: (e: unknown) => void;
}

export interface HeldWindow extends GridWindow {
  readonly contractId: string;
  readonly kw: number;
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
}

export const createComputeBuyer = (o: ComputeBuyerOptions): ComputeBuyer => {
  const waiting = new Map<string, (m: V2Inbound) => void>();
  // Read when used: the URL may be known only once the app listens.
  const v2Uri = (): string => `${o.uri.replace(/\/+$/, '')}${V2_PATH}`;
  const accept = async (m: V2Inbound) => {
    const wake = waiting.get(m.context.messageId);
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
    const answer = new Promise<V2Inbound>((resolve, reject) => {
      const timer = setTimeout(() => {
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
        handlers: { on_discover: accept, on_select: accept, on_init: accept, on_confirm: accept },
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
        held.push({ ...best, contractId: c.id, kw });
      }
      return held;
    },
  };
};
