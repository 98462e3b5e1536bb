// How the buyer ranks offers (issue 16: "rank by £/MWh, location fit, delivery history and carbon
// effect"). Delivery history: after every window
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

/**
 * The buyer's price of carbon (£ per kg, £70 a tonne, as the backtest's): an offer whose re-plan adds
 * emissions costs the buyer that much more per MWh, one that cuts them that much less.
 */
export const CARBON_GBP_PER_KG = 0.07;

/**
 * £ per MWh the buyer can expect to get from an offer: its price ÷ the provider's delivered share,
 * plus the offer's carbon effect per MWh reduced at CARBON_GBP_PER_KG (none stated: none counted).
 */
export const expectedGbpPerMwh = (offer: FlexOffer, share: number | undefined): number => {
  const mwh = (offer.reductionKw * (offer.windowEnd - offer.windowStart)) / 3_600_000 / 1000;
  const carbon = offer.carbonEffectKg !== undefined && mwh > 0 ? (offer.carbonEffectKg / mwh) * CARBON_GBP_PER_KG : 0;
  return offer.priceGbpPerMwh / Math.max(MIN_SHARE, share ?? 1) + carbon;
};

/**
 * Offers (already filtered and in price order) re-ranked: those in the buyer's own grid area first
 * when `area` is given (location fit: a network constraint is relieved only by sites behind it),
 * then by the price per MWh expected delivered with carbon counted, then the larger reduction. The
 * sort is stable, so equal ones keep their price order.
 */
export const rankByHistory = <T extends { readonly offer: FlexOffer; readonly bppId: string }>(
  offers: readonly T[],
  shares: ReadonlyMap<string, number>,
  area?: string,
): T[] => {
  const outside = (o: FlexOffer): number => (area !== undefined && o.region !== area ? 1 : 0);
  return offers
    .slice()
    .sort(
      (a, b) =>
        outside(a.offer) - outside(b.offer) ||
        expectedGbpPerMwh(a.offer, shares.get(a.bppId)) - expectedGbpPerMwh(b.offer, shares.get(b.bppId)) ||
        b.offer.reductionKw - a.offer.reductionKw,
    );
};
