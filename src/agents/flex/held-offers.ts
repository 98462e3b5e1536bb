// The offers held between on_search and confirm. Between the two the fleet keeps being dispatched,
// and without a hold a job started in the meantime could run through an offer's window and make the
// offer undeliverable; so every offer made is planned as a best-effort commitment until it expires
// or is bought (fleet-plan.ts drops them where a plan cannot keep them all; confirmed commitments
// are always hard). The hold is a store document written in the offers' own transaction, so it is
// as durable as the offers, and a restart reads it back (FlexOrchestrator.recover).
import type { EpochMs } from '../../domain/time.ts';
import type { Store } from '../../ports.ts';
import type { HeldOffer } from './context.ts';

const HELD = { kind: 'held-offers', id: 'current' } as const;

export class HeldOffers {
  private held: HeldOffer[] = [];

  constructor(private readonly store: Pick<Store, 'getDocument' | 'listOrders'>) {}

  /** Adds `offers` to the hold, dropping those expired by `now`, in the offers' transaction `tx`. */
  async hold(
    tx: Pick<Store, 'putDocument' | 'getDocument'>,
    offers: readonly HeldOffer[],
    now: EpochMs,
  ): Promise<void> {
    const stored = (await tx.getDocument<{ offers: HeldOffer[] }>(HELD.kind, HELD.id))?.offers ?? [];
    const next = [...stored.filter((h) => h.until > now), ...offers];
    await tx.putDocument(HELD.kind, HELD.id, { offers: next });
    this.held = next;
  }

  /**
   * The offers still held at `now`: not expired, not yet bought (an order past init took it), and
   * not of a search one of whose offers was bought. A buyer takes one offer of a search (the grid
   * orchestrator buys one per provider: its portfolio offer already splits across the sites), so
   * once it has, the search's other offers need no hold; held on, they were planned on top of the
   * bought one (the same site's reduction twice), which made every plan infeasible with the holds
   * until the window, and so made twice. Buying a second offer anyway still works: confirm checks
   * the plan with it.
   */
  async live(now: EpochMs): Promise<HeldOffer[]> {
    const orders = (await this.store.listOrders()).filter(
      (o) => o.state !== 'quoted' && o.state !== 'initialised' && o.state !== 'searched',
    );
    const taken = new Set(orders.map((o) => o.offerId));
    // Bought: an order confirmed (and on since); one cancelled before that leaves the others for sale.
    const bought = new Set(
      orders
        .filter((o) => o.state === 'confirmed' || o.state === 'active' || o.state === 'completed')
        .map((o) => o.offerId),
    );
    const searches = new Set(this.held.filter((h) => bought.has(h.offerId) && h.search).map((h) => h.search));
    this.held = this.held.filter(
      (h) => h.until > now && !taken.has(h.offerId) && !(h.search !== undefined && searches.has(h.search)),
    );
    return this.held;
  }

  /** After a restart: the hold as last stored. Returns how many offers it holds. */
  async restore(): Promise<number> {
    this.held = (await this.store.getDocument<{ offers: HeldOffer[] }>(HELD.kind, HELD.id))?.offers ?? [];
    return this.held.length;
  }
}
