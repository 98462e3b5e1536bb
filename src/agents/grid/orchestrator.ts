// The Grid Orchestrator (BAP): watches price and carbon forecasts, decides when the grid needs
// flexibility, buys it from the BPPs on the network through the Beckn lifecycle, and follows the
// delivery with status. It acts for a grid-side party (a DSO flexibility desk, an aggregator).
// The need (when and how much to ask for) is found in need-detection.ts, and whom a search asks in
// search.ts; here are the requests and their callbacks, and the buy through the lifecycle.
import type { FlexNeed, FlexOffer } from '../../domain/offers.ts';
import type { ProductTerms } from '../../domain/products.ts';
import { productTags } from '../../settlement/codec.ts';
import type { SettlementSummary } from '../../settlement/delivered.ts';
import type { SlotGrid } from '../../domain/time.ts';
import { FlexError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { BecknClient } from '../../beckn/client.ts';
import { buildContext, callbackOf, type Action, type BecknMessage, type RequestAction } from '../../beckn/context.ts';
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
import type { BecknHandler } from '../../beckn/receiver.ts';
import { readSettlement, readSiteSettlements, type SiteSettlement } from '../../settlement/codec.ts';
import type { WireOrder } from '../../beckn/wire.ts';
import type { Registry, Subscription } from '../../ports.ts';
import { PendingCallbacks } from './pending.ts';
import { procureAcross, type Procurement } from './split.ts';
import type { StatementCheck } from './statement-check.ts';
import type { MeterView } from './meter-view.ts';
import { DeliveryHistory } from './history.ts';
import { detectNeed, type NeedPolicy, type NeedSources } from './need-detection.ts';
import { searchNetwork, type SearchOutcome } from './search.ts';

export interface GridOrchestratorDeps extends NeedSources {
  readonly uri: string;
  readonly client: BecknClient;
  readonly registry: Registry;
  /** How long to collect on_search answers (wall time). */
  readonly collectMs: number;
  readonly callbackTimeoutMs: number;
  readonly log: Logger;
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
  detectNeed(day: SlotGrid): Promise<FlexNeed | undefined> {
    return detectNeed(this.deps, day);
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
  search(need: FlexNeed, transactionId: string): Promise<SearchOutcome> {
    return searchNetwork(this.deps, (...a) => this.request(...a), need, transactionId);
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
