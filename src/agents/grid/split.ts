// One need bought from several providers (issue 16): after the search, each provider's best offer
// in rank order (history.ts: for an import limit, the buyer's own grid area first; then the
// cheapest £/MWh expected delivered, price ÷ the provider's delivered share plus its carbon effect
// at £70/t; then the larger), taking from each what is still wanted until
// the need is covered. A provider that NACKs, does not answer, or whose quote has lapsed is
// recorded with the step and the reason, and the next provider is asked; the outcome — what was
// wanted, bought, from whom, and who failed — is audited as one record. An import-limit need is a
// limit at every site, so every provider's offer (each sized to bring its site down) is bought.
import { rankOffers, type FlexNeed, type FlexOffer } from '../../domain/offers.ts';
import type { ProductTerms } from '../../domain/products.ts';
import { asFlexError } from '../../errors.ts';
import type { Store, Subscription } from '../../ports.ts';
import { expectedGbpPerMwh, rankByHistory, type DeliveryHistory } from './history.ts';

export interface Procurement {
  readonly transactionId: string;
  readonly bpp: Subscription;
  readonly offer: FlexOffer;
  readonly offersSeen: number;
  /** Of the offers seen, how many were priced above the buyer's ceiling (need.maxPriceGbpPerMwh), and that ceiling. */
  readonly aboveCeiling?: { readonly offers: number; readonly gbpPerMwh: number };
  readonly selectedKw: number;
  readonly quotedGbp: number;
  readonly orderId: string;
  readonly baselineMethod: string;
  /** The product's terms sent in init, if any: what the buyer checks the statement against. */
  readonly product?: ProductTerms;
  /** Parts of the same need bought from other providers, in the order bought. */
  readonly more?: readonly Procurement[];
  /** Providers asked that did not sell: who, which offer, why. */
  readonly failures?: readonly ProcurementFailure[];
}

export interface ProcurementFailure {
  readonly bppId: string;
  readonly offerId: string;
  readonly code: string;
  readonly message: string;
}

/** What procureAcross needs of the buyer (the GridOrchestrator). */
export interface Buyer {
  readonly deps: {
    readonly id: string;
    readonly store: Store;
    readonly wallNow: () => number;
    /** The buyer's grid area: for an import limit, offers from sites in it rank first. */
    readonly region?: string;
  };
  /** Providers' delivery history: offers are ranked by price ÷ delivered share (history.ts). */
  readonly history?: DeliveryHistory;
  search(
    need: FlexNeed,
    transactionId: string,
  ): Promise<
    { bpps: Subscription[]; offers: { offer: FlexOffer; bppId: string }[]; answers: number } | { none: string }
  >;
  buy(
    bpp: Subscription,
    offer: FlexOffer,
    selectedKw: number,
    transactionId: string,
    offersSeen: number,
    product?: ProductTerms,
  ): Promise<Procurement>;
}

export interface SplitOutcome {
  readonly parts: readonly Procurement[];
  readonly failures: readonly ProcurementFailure[];
  readonly wantedKw: number;
  readonly boughtKw: number;
}

/** Anything below this is covered (offers are stated to 0.1 kW). */
const COVERED_KW = 0.05;

/** How a procurement is made: a top-up (monitor.ts) leaves out the provider it replaces. */
export interface SplitOptions {
  /** Providers not to buy from (their offers are left out). */
  readonly exclude?: readonly string[];
  /** Why it is bought, in the audited outcome: the need itself, or a top-up of a shortfall. */
  readonly purpose?: 'need' | 'top-up';
}

/** Ways of choosing one offer per provider worth trying; past this, each provider's cheapest. */
const MAX_CHOICES = 4096;

/**
 * One offer per provider (a provider's portfolio offer already splits across its sites), in the
 * order the buyer buys them: cheapest expected per MWh first. Which of a provider's
 * offers: the choice that covers the need at least cost, each offer bought for what is still wanted
 * in that order, at the price per MWh the buyer expects delivered, and each kW left uncovered valued
 * at the buyer's ceiling. The cheapest per MWh alone took a 67.8 kW site offer over the same
 * provider's 249.8 kW portfolio for a need of 200 kW, both at the 50 £/MWh floor, on 0.5 £/MWh of
 * carbon effect, and left 132 kW of the need unbought. For an import limit every offer brings its
 * site to the limit and all are bought: each provider's cheapest.
 */
const offerPerProvider = <T extends { readonly offer: FlexOffer; readonly bppId: string }>(
  ranked: readonly T[],
  need: FlexNeed,
  shares: ReadonlyMap<string, number>,
): Map<string, FlexOffer> => {
  const options = new Map<string, T[]>();
  for (const o of ranked) (options.get(o.bppId) ?? options.set(o.bppId, []).get(o.bppId)!).push(o);
  const cheapest = new Map([...options].map(([id, os]) => [id, (os[0] as T).offer]));
  const ways = [...options.values()].reduce((n, os) => n * os.length, 1);
  if (need.importLimitKw !== undefined || ways === 1 || ways > MAX_CHOICES) return cheapest;
  const rank = new Map(ranked.map((o, i) => [o.offer, i]));
  const cost = (chosen: readonly T[]): number => {
    let left: number = need.wantedKw;
    let gbp = 0;
    for (const o of [...chosen].sort((x, y) => (rank.get(x.offer) ?? 0) - (rank.get(y.offer) ?? 0))) {
      const kw = Math.min(o.offer.reductionKw, left);
      gbp += kw * expectedGbpPerMwh(o.offer, shares.get(o.bppId));
      left -= kw;
    }
    return gbp + Math.max(0, left) * need.maxPriceGbpPerMwh;
  };
  const providers = [...options.values()];
  let best = providers.map((os) => os[0] as T);
  let bestCost = cost(best);
  const walk = (k: number, chosen: T[]): void => {
    if (k === providers.length) {
      const c = cost(chosen);
      if (c < bestCost - 1e-9) [best, bestCost] = [[...chosen], c];
      return;
    }
    for (const o of providers[k] as T[]) walk(k + 1, [...chosen, o]);
  };
  walk(0, []);
  return new Map(
    best.sort((x, y) => (rank.get(x.offer) ?? 0) - (rank.get(y.offer) ?? 0)).map((o) => [o.bppId, o.offer]),
  );
};

export const procureAcross = async (
  b: Buyer,
  need: FlexNeed,
  transactionId: string,
  options: SplitOptions = {},
): Promise<SplitOutcome | { none: string }> => {
  const searched = await b.search(need, transactionId);
  if ('none' in searched) return searched;
  const excluded = new Set(options.exclude ?? []);
  const found = { ...searched, offers: searched.offers.filter((o) => !excluded.has(o.bppId)) };
  if (found.offers.length === 0 && searched.offers.length > 0)
    return {
      none: `${searched.offers.length} offer(s) received, all from provider(s) left out (${[...excluded].join(', ')})`,
    };
  const ranked = rankOffers(
    found.offers.map((o) => o.offer),
    need,
  );
  if (ranked.length === 0)
    return {
      none:
        found.offers.length === 0
          ? `no BPP offered a reduction for the window (${found.answers} on_search answer(s), all without items: the providers had nothing they could deliver)`
          : `${found.offers.length} offer(s) received, none at or below ${need.maxPriceGbpPerMwh} £/MWh for the window`,
    };
  // Ranked by the price per MWh the buyer can expect delivered (price ÷ the provider's delivered
  // share), then one offer per provider, its best: a provider's portfolio offer already splits
  // across its sites.
  const shares = b.history ? await b.history.read() : new Map<string, number>();
  const byHistory = rankByHistory(
    ranked.map((offer) => ({ offer, bppId: found.offers.find((o) => o.offer === offer)?.bppId ?? '' })),
    shares,
    // Location fit counts for a network constraint; a national peak is relieved anywhere in GB.
    need.importLimitKw !== undefined ? b.deps.region : undefined,
  );
  const best = offerPerProvider(byHistory, need, shares);
  const limit = need.importLimitKw !== undefined;
  const parts: Procurement[] = [];
  const failures: ProcurementFailure[] = [];
  let remaining: number = need.wantedKw;
  // The offers passed over for their price, said beside each part bought (the demo's timeline).
  const above = found.offers.filter((o) => o.offer.priceGbpPerMwh > need.maxPriceGbpPerMwh).length;
  const aboveCeiling = above > 0 ? { offers: above, gbpPerMwh: need.maxPriceGbpPerMwh } : undefined;
  for (const [bppId, offer] of best) {
    if (!limit && remaining <= COVERED_KW) break;
    const bpp = found.bpps.find((x) => x.subscriber_id === bppId);
    if (!bpp) {
      failures.push({
        bppId,
        offerId: offer.id,
        code: 'FLX_PEER_UNREACHABLE',
        message: `${bppId} is not in the registry`,
      });
      continue;
    }
    const kw = limit ? offer.reductionKw : Math.min(offer.reductionKw, remaining);
    try {
      const bought = await b.buy(bpp, offer, kw, transactionId, found.offers.length, need.product);
      parts.push(aboveCeiling ? { ...bought, aboveCeiling } : bought);
      remaining -= kw;
    } catch (e) {
      const f = asFlexError(e);
      failures.push({ bppId, offerId: offer.id, code: f.code, message: f.message });
    }
  }
  const boughtKw = parts.reduce((a, p) => a + p.selectedKw, 0);
  await b.deps.store.appendAudit({
    kind: 'order',
    at: b.deps.wallNow(),
    actor: b.deps.id,
    transactionId,
    payload: {
      event: 'procured',
      purpose: options.purpose ?? 'need',
      ...(excluded.size > 0 ? { excluded: [...excluded] } : {}),
      wantedKw: need.wantedKw,
      boughtKw,
      parts: parts.map((p) => ({ bpp: p.bpp.subscriber_id, orderId: p.orderId, kw: p.selectedKw, gbp: p.quotedGbp })),
      failures,
    },
  });
  if (parts.length === 0)
    return {
      none: `${best.size} provider(s) asked, none sold: ${failures.map((f) => `${f.bppId} ${f.code} (${f.message})`).join('; ')}`,
    };
  return { parts, failures, wantedKw: need.wantedKw, boughtKw };
};
