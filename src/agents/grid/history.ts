// What each provider delivered before (issue 16, "rank by … delivery history"): after every window
// the buyer checks the provider's statement (follow-up.ts) and audits the delivered share of the
// commitment with the check. Offers are then ranked by their price per MWh the buyer can expect to
// get, the price ÷ the provider's delivered share: a provider that delivered 60 % of what it sold
// costs the buyer 1 ÷ 0.6 of its price per MWh actually delivered. A provider with no history counts
// as delivering in full (a newcomer is not penalised), and a share is never taken below
// MIN_SHARE, so one bad window does not shut a provider out for good.
import type { FlexOffer } from '../../domain/offers.ts';
import type { Store } from '../../ports.ts';

/** The checked windows a provider's share is taken over (the most recent). */
export const HISTORY_WINDOWS = 20;
/** The least delivered share an offer is ranked by. */
export const MIN_SHARE = 0.5;

/** The audited payload of a statement check that carries the delivered share (orchestrator.recordCheck). */
interface CheckPayload {
  readonly event?: string;
  readonly bpp?: string;
  readonly deliveredShare?: number;
}

/**
 * Each provider's mean delivered share over its last HISTORY_WINDOWS checked windows, read from the
 * buyer's audit log onward from the last row read (Store.auditTrail afterSeq), not the whole log
 * each time.
 */
export class DeliveryHistory {
  private afterSeq = 0;
  private readonly shares = new Map<string, number[]>();

  constructor(private readonly store: Pick<Store, 'auditTrail'>) {}

  async read(): Promise<ReadonlyMap<string, number>> {
    for (const r of await this.store.auditTrail({ afterSeq: this.afterSeq })) {
      this.afterSeq = Math.max(this.afterSeq, r.seq);
      const p = r.payload as CheckPayload | undefined;
      if (r.kind !== 'settlement' || !p?.bpp || typeof p.deliveredShare !== 'number') continue;
      if (p.event !== 'statement-agreed' && p.event !== 'statement-disputed') continue;
      const list = this.shares.get(p.bpp) ?? [];
      list.push(Math.max(0, Math.min(1, p.deliveredShare)));
      if (list.length > HISTORY_WINDOWS) list.shift();
      this.shares.set(p.bpp, list);
    }
    return new Map([...this.shares].map(([bpp, list]) => [bpp, list.reduce((a, x) => a + x, 0) / list.length]));
  }
}

/** £ per MWh the buyer can expect to get from an offer: its price ÷ the provider's delivered share. */
export const expectedGbpPerMwh = (offer: FlexOffer, share: number | undefined): number =>
  offer.priceGbpPerMwh / Math.max(MIN_SHARE, share ?? 1);

/**
 * Offers (already filtered and in price order) re-ranked by the price per MWh expected to be
 * delivered, then the larger reduction; the sort is stable, so equal ones keep their price order.
 */
export const rankByHistory = <T extends { readonly offer: FlexOffer; readonly bppId: string }>(
  offers: readonly T[],
  shares: ReadonlyMap<string, number>,
): T[] =>
  offers
    .slice()
    .sort(
      (a, b) =>
        expectedGbpPerMwh(a.offer, shares.get(a.bppId)) - expectedGbpPerMwh(b.offer, shares.get(b.bppId)) ||
        b.offer.reductionKw - a.offer.reductionKw,
    );
