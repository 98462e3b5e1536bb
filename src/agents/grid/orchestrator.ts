// The Grid Orchestrator (BAP): watches price and carbon forecasts, decides when the grid needs
// flexibility, buys it from the BPPs on the network through the Beckn lifecycle, and follows the
// delivery with status. It acts for a grid-side party (a DSO flexibility desk, an aggregator).
import type { EventNeed, NeedDefaults } from '../../domain/grid-events.ts';
import { findPeakWindow } from '../../domain/need.ts';
import type { FlexNeed, FlexOffer } from '../../domain/offers.ts';
import type { ProductTerms } from '../../domain/products.ts';
import { productTags } from '../../settlement/codec.ts';
import { carbonOf, pricesOf } from '../../domain/signals.ts';
import type { SettlementSummary } from '../../settlement/delivered.ts';
import { slotStart, type SlotGrid } from '../../domain/time.ts';
import { gbpPerMwh, kw } from '../../domain/units.ts';
import { FlexError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { BecknClient } from '../../beckn/client.ts';
import {
  FLEXLON_DOMAIN,
  buildContext,
  callbackOf,
  type Action,
  type BecknMessage,
  type RequestAction,
} from '../../beckn/context.ts';
import {
  baselineMethodOf,
  confirmedOrderId,
  confirmMessage,
  fulfilmentState,
  initMessage,
  quotedPrice,
  selectMessage,
  statusMessage,
} from '../../beckn/buyer-codec.ts';
import { catalogToOffers, needToIntent } from '../../beckn/flex-codec.ts';
import { versionOfRecord } from '../../beckn/v2/versions.ts';
import type { BecknHandler } from '../../beckn/receiver.ts';
import { readSettlement, readSiteSettlements, type SiteSettlement } from '../../settlement/codec.ts';
import type { Catalog, WireOrder } from '../../beckn/wire.ts';
import type { Clock, Registry, SignalSource, Store, Subscription } from '../../ports.ts';
import { PendingCallbacks } from './pending.ts';
import { procureAcross, type Procurement } from './split.ts';
import type { StatementCheck } from './statement-check.ts';
import type { MeterView } from './meter-view.ts';
import type { MonitorPolicy } from './monitor-policy.ts';
import { DeliveryHistory } from './history.ts';

export interface NeedPolicy {
  /** Length of the window asked for, in slots. */
  readonly windowSlots: number;
  /** The window must start at least this many slots after the decision. */
  readonly leadSlots: number;
  readonly wantedKw: number;
  readonly maxPriceGbpPerMwh: number;
  readonly priceWeight: number;
  /**
   * Hours of the day (UTC, [from, to)) in which the buyer looks for its peak. DSO peak-reduction
   * products target the winter evening peak, typically 16:00–20:00.
   */
  readonly peakHours: readonly [number, number];
  /** Procure this many slots before the window opens (within-day, as DFS and DSO utilisation calls are). */
  readonly procureLeadSlots: number;
  /**
   * Delivery monitoring while the window runs (monitor.ts): the shortfall tolerance and whether to
   * top up. Absent: no status during the window, only the follow-up after it (the demo's default).
   */
  readonly monitor?: MonitorPolicy;
}

export const DEFAULT_NEED_POLICY: NeedPolicy = {
  windowSlots: 2,
  leadSlots: 2,
  wantedKw: 200,
  maxPriceGbpPerMwh: 3000,
  priceWeight: 0.5,
  peakHours: [16, 20],
  procureLeadSlots: 4,
};

export interface GridOrchestratorDeps {
  readonly id: string;
  readonly uri: string;
  readonly store: Store;
  readonly client: BecknClient;
  readonly registry: Registry;
  readonly market: Clock;
  readonly wallNow: () => number;
  readonly signals: SignalSource;
  readonly region: string;
  readonly policy: NeedPolicy;
  /** How long to collect on_search answers (wall time). */
  readonly collectMs: number;
  readonly callbackTimeoutMs: number;
  readonly log: Logger;
  /** Grid events (OpenADR-style DSO/TSO needs); when one asks for a window, it is the need. */
  readonly events?: { needs(from: number, to: number, defaults: NeedDefaults): Promise<EventNeed[]> };
  /** Told of each unsolicited on_status a provider pushes for one of our orders (after it is audited). */
  readonly onStatusPush?: (push: StatusPush) => void;
  /** The buyer's own meter data for the sites it buys from (meter-view.ts); statements are checked against it. */
  readonly meterView?: MeterView;
}

/** An on_status a provider sent unasked (core 1.1.1 allows it), e.g. when delivery starts or ends. */
export interface StatusPush {
  readonly transactionId: string;
  readonly orderId: string | undefined;
  readonly state: string | undefined;
  readonly settlement: SettlementSummary | undefined;
}

export type { Procurement, ProcurementFailure } from './split.ts';

export class GridOrchestrator {
  private readonly pending = new PendingCallbacks();
  private readonly pushWatchers = new Set<(push: StatusPush) => void>();
  /** Each provider's delivered share over its checked windows: offers are ranked by it (history.ts). */
  readonly history: DeliveryHistory;

  constructor(readonly deps: GridOrchestratorDeps) {
    this.history = new DeliveryHistory(deps.store);
  }

  /** Tells `f` of each unasked on_status (after onStatusPush); the result stops telling it. */
  watchPushes(f: (push: StatusPush) => void): () => void {
    this.pushWatchers.add(f);
    return () => this.pushWatchers.delete(f);
  }

  /** When and how much this buyer asks for. */
  get policy(): NeedPolicy {
    return this.deps.policy;
  }

  /**
   * The need for `day`, starting no earlier than leadSlots after now: a grid event's window if an
   * event asks for one (highest priority first), else the day's forecast price/carbon peak.
   */
  async detectNeed(day: SlotGrid): Promise<FlexNeed | undefined> {
    const d = this.deps;
    const now = d.market.now();
    const fromEvent = (
      await d.events?.needs(now + d.policy.leadSlots * day.slotMinutes * 60_000, slotStart(day, day.slots), {
        wantedKw: d.policy.wantedKw,
        maxPriceGbpPerMwh: d.policy.maxPriceGbpPerMwh,
      })
    )?.[0];
    if (fromEvent) {
      const { need, ...event } = fromEvent;
      await d.store.appendAudit({ kind: 'need', at: d.wallNow(), actor: d.id, payload: { need, event } });
      return need;
    }
    const s = await d.signals.forecast(d.region, day, now);
    const perHour = 60 / day.slotMinutes;
    const earliest = Math.max(
      Math.max(0, Math.ceil((now - day.start) / (day.slotMinutes * 60_000))) + d.policy.leadSlots,
      d.policy.peakHours[0] * perHour,
    );
    const last = Math.min(day.slots, d.policy.peakHours[1] * perHour);
    const peak = findPeakWindow(
      pricesOf(s).slice(0, last),
      carbonOf(s, 'forecast').slice(0, last),
      d.policy.windowSlots,
      earliest,
      d.policy.priceWeight,
    );
    if (!peak) return undefined;
    const need: FlexNeed = {
      kind: 'price-peak',
      windowStart: slotStart(day, peak.fromSlot),
      windowEnd: slotStart(day, peak.toSlot),
      wantedKw: kw(d.policy.wantedKw),
      maxPriceGbpPerMwh: gbpPerMwh(d.policy.maxPriceGbpPerMwh),
    };
    await d.store.appendAudit({
      kind: 'need',
      at: d.wallNow(),
      actor: d.id,
      payload: { need, peak, signalsIssuedAt: s.issuedAt },
    });
    return need;
  }

  /** Sends a request and waits for its callback(s); throws if a callback carries an error. */
  async request(
    action: RequestAction,
    target: { id?: string; uri: string; peer?: string },
    transactionId: string,
    message: unknown,
    expected = 1,
  ): Promise<BecknMessage[]> {
    const d = this.deps;
    const context = buildContext({
      action,
      bapId: d.id,
      bapUri: d.uri,
      ...(target.id ? { bppId: target.id, bppUri: target.uri } : {}),
      transactionId,
      now: d.wallNow(),
    });
    const wait = this.pending.expect(
      context.message_id,
      callbackOf(action),
      expected,
      action === 'search' ? d.collectMs : d.callbackTimeoutMs,
    );
    try {
      await d.client.send(target.uri, { context, message }, target.peer ? { peer: target.peer } : {});
    } catch (e) {
      this.pending.cancel(context.message_id);
      throw e;
    }
    const answers = await wait;
    for (const a of answers)
      if (a.error)
        throw new FlexError(
          'FLX_PEER_NACK',
          `${a.context.action} from ${a.context.bpp_id} carried error ${a.error.code}: ${a.error.message}`,
        );
    return answers;
  }

  private async one(
    action: RequestAction,
    bpp: Subscription,
    transactionId: string,
    message: unknown,
  ): Promise<WireOrder> {
    const [answer] = await this.request(
      action,
      { id: bpp.subscriber_id, uri: bpp.subscriber_url },
      transactionId,
      message,
    );
    if (!answer)
      throw new FlexError(
        'FLX_PEER_UNREACHABLE',
        `${bpp.subscriber_id} sent no ${callbackOf(action)} within ${this.deps.callbackTimeoutMs} ms`,
      );
    const order = (answer.message as { order?: WireOrder } | undefined)?.order;
    if (!order)
      throw new FlexError('FLX_REQ_SCHEMA', `${callbackOf(action)} from ${bpp.subscriber_id} has no order`, {
        path: 'message.order',
      });
    return order;
  }

  /**
   * search → on_search from every BPP of the domain (through the gateway when there is one: it fans
   * the search out and each BPP answers us directly; BPPs registered as Beckn 2.0 are asked directly
   * beside it), within collectMs. The offers, each with its BPP.
   */
  async search(
    need: FlexNeed,
    transactionId: string,
  ): Promise<
    { bpps: Subscription[]; offers: { offer: FlexOffer; bppId: string }[]; answers: number } | { none: string }
  > {
    const d = this.deps;
    const bpps = (await d.registry.lookup({ type: 'BPP', domain: FLEXLON_DOMAIN })).filter(
      (s) => s.status === 'SUBSCRIBED',
    );
    if (bpps.length === 0) return { none: `no BPP of domain ${FLEXLON_DOMAIN} is subscribed in the registry` };
    const gateway = (await d.registry.lookup({ type: 'BG', domain: FLEXLON_DOMAIN })).find(
      (s) => s.status === 'SUBSCRIBED',
    );
    const answers: BecknMessage[] = [];
    const intent = { intent: needToIntent(need) };
    const ask = (to: Subscription) =>
      this.request('search', { uri: to.subscriber_url, peer: to.subscriber_id }, transactionId, intent, 1);
    if (gateway) {
      // The gateway forwards 1.1.1 searches only (src/beckn/gateway.ts searchTargets); a BPP
      // registered as Beckn 2.0 is asked directly, as 2.0 has no gateway (14_Signing). Both at once,
      // within the same collectMs; one leg failing leaves the others' offers.
      const direct = [
        ...new Map(bpps.filter((s) => versionOfRecord(s) === '2.0').map((s) => [s.subscriber_id, s])).values(),
      ];
      const viaGateway = bpps.filter((s) => versionOfRecord(s) !== '2.0');
      const legs = [
        ...(viaGateway.length > 0
          ? [
              this.request(
                'search',
                { uri: gateway.subscriber_url, peer: gateway.subscriber_id },
                transactionId,
                intent,
                viaGateway.length,
              ),
            ]
          : []),
        ...direct.map(ask),
      ];
      const settled = await Promise.allSettled(legs);
      const failed = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      if (failed.length === settled.length) throw failed[0];
      for (const f of failed)
        d.log.warn({ transaction_id: transactionId, error: (f as Error).message }, 'one search leg failed');
      for (const r of settled) if (r.status === 'fulfilled') answers.push(...r.value);
    } else for (const bpp of bpps) answers.push(...(await ask(bpp)));
    const offers = answers.flatMap((a) =>
      catalogToOffers((a.message as { catalog?: Catalog } | undefined)?.catalog).map((o) => ({
        offer: o.offer,
        bppId: a.context.bpp_id ?? '',
      })),
    );
    return { bpps, offers, answers: answers.length };
  }

  /** select → on_select → init → on_init → confirm → on_confirm for `selectedKw` of one offer; audited. */
  async buy(
    bpp: Subscription,
    offer: FlexOffer,
    selectedKw: number,
    transactionId: string,
    offersSeen: number,
    product?: ProductTerms,
  ): Promise<Procurement> {
    const d = this.deps;
    // The product's terms go in init (and so are stored with the provider's order).
    const parts = {
      providerId: bpp.subscriber_id,
      itemId: offer.id,
      selectedKw,
      buyerId: d.id,
      ...(product ? { tags: [productTags(product)] } : {}),
    };
    const quotedGbp = quotedPrice(await this.one('select', bpp, transactionId, selectMessage(parts)));
    const initialised = await this.one('init', bpp, transactionId, initMessage(parts));
    const baselineMethod = baselineMethodOf(initialised);
    const orderId = confirmedOrderId(await this.one('confirm', bpp, transactionId, confirmMessage(parts, initialised)));
    const p: Procurement = {
      transactionId,
      bpp,
      offer,
      offersSeen,
      selectedKw,
      quotedGbp,
      orderId,
      baselineMethod,
      ...(product ? { product } : {}),
    };
    await d.store.appendAudit({
      kind: 'order',
      at: d.wallNow(),
      actor: d.id,
      transactionId,
      orderId,
      payload: { event: 'confirmed', procurement: { ...p, bpp: bpp.subscriber_id } },
    });
    return p;
  }

  /**
   * One need bought from as many providers as it takes (split.ts): search, then the cheapest offer of
   * each provider in turn until the need is covered; a provider that NACKs or does not answer is
   * recorded and the next one asked. The first part is the day's procurement; the others ride in `more`.
   */
  async procure(need: FlexNeed, transactionId: string): Promise<Procurement | { none: string }> {
    const got = await procureAcross(this, need, transactionId);
    if ('none' in got) return got;
    const [first, ...more] = got.parts;
    return {
      ...(first as Procurement),
      ...(more.length > 0 ? { more } : {}),
      ...(got.failures.length > 0 ? { failures: got.failures } : {}),
    };
  }

  /**
   * Audits the buyer's check of a provider's statement (agreement, or the dispute and its
   * differences), with the share of the commitment the statement says was delivered: the provider's
   * delivery history that later offers are ranked by (history.ts).
   */
  async recordCheck(p: Procurement, check: StatementCheck, deliveredShare?: number): Promise<void> {
    await this.deps.store.appendAudit({
      kind: 'settlement',
      at: this.deps.wallNow(),
      actor: this.deps.id,
      transactionId: p.transactionId,
      orderId: p.orderId,
      payload: {
        event: check.agreed ? 'statement-agreed' : 'statement-disputed',
        bpp: p.bpp.subscriber_id,
        ...(deliveredShare === undefined ? {} : { deliveredShare }),
        ...check,
      },
    });
  }

  /** status → on_status: the delivery so far, per settlement period, and per site for an order split across sites. */
  async status(
    p: Procurement,
  ): Promise<{ state: string | undefined; settlement: SettlementSummary | undefined; sites: SiteSettlement[] }> {
    const order = await this.one('status', p.bpp, p.transactionId, statusMessage(p.orderId));
    const settlement = readSettlement(order.tags);
    const sites = readSiteSettlements(order.tags);
    const state = fulfilmentState(order);
    await this.deps.store.appendAudit({
      kind: 'settlement',
      at: this.deps.wallNow(),
      actor: this.deps.id,
      transactionId: p.transactionId,
      orderId: p.orderId,
      payload: { state, settlement, ...(sites.length > 0 ? { sites } : {}) },
    });
    return { state, settlement, sites };
  }

  handlers(): Partial<Record<Action, BecknHandler>> {
    const accept: BecknHandler = async ({ msg }) => {
      this.pending.check(msg);
      return async () => this.pending.deliver(msg);
    };
    // on_status may also come unasked, for an order we bought: audited and reported, never a NACK.
    const onStatus: BecknHandler = async (inbound) => {
      const { msg } = inbound;
      if (this.pending.isWaiting(msg.context.message_id)) return accept(inbound);
      const ours = (await this.deps.store.auditTrail({ transactionId: msg.context.transaction_id })).some(
        (r) => r.kind === 'order' && r.actor === this.deps.id,
      );
      if (!ours) this.pending.check(msg); // not ours and not awaited: the usual NACK
      const order = (msg.message as { order?: WireOrder } | undefined)?.order;
      const push: StatusPush = {
        transactionId: msg.context.transaction_id,
        orderId: order?.id,
        state: fulfilmentState(order),
        settlement: readSettlement(order?.tags),
      };
      return async () => {
        await this.deps.store.appendAudit({
          kind: 'settlement',
          at: this.deps.wallNow(),
          actor: this.deps.id,
          transactionId: push.transactionId,
          ...(push.orderId ? { orderId: push.orderId } : {}),
          payload: {
            state: push.state,
            settlement: push.settlement,
            unsolicited: true,
            messageId: msg.context.message_id,
          },
        });
        this.deps.onStatusPush?.(push);
        for (const f of this.pushWatchers) f(push);
      };
    };
    return {
      on_search: accept,
      on_select: accept,
      on_init: accept,
      on_confirm: accept,
      on_status: onStatus,
      on_track: accept,
      on_cancel: accept,
      on_update: accept,
      on_rating: accept,
      on_support: accept,
    };
  }

  stop(): void {
    this.pending.cancelAll();
  }
}
