// A flexibility offer: how much the provider can reduce its grid import in a window, and for how
// much. Sign convention (stated once): a reduction is positive kW below the provider's declared
// pre-commitment schedule; delivered energy = baseline − metered.
import type { ProductTerms } from './products.ts';
import type { EpochMs } from './time.ts';
import type { Kilowatts, Pounds, PoundsPerMwh } from './units.ts';

export interface FlexOffer {
  readonly id: string;
  readonly site: string;
  /** Grid area the site sits in (NESO carbon-intensity region name). */
  readonly region: string;
  readonly windowStart: EpochMs;
  readonly windowEnd: EpochMs;
  readonly reductionKw: Kilowatts;
  readonly priceGbp: Pounds;
  readonly priceGbpPerMwh: PoundsPerMwh;
  /** What re-planning with the commitment costs the provider (may be negative: shifting saved money). */
  readonly opportunityCostGbp: Pounds;
  /**
   * What the opportunity cost is made of (they add up to it, to rounding): the change in the fleet's
   * energy cost, in its lateness cost (waiting work pushed past its deadline), in running work slowed
   * by GPU power caps, in battery wear, and in moving jobs between sites, when the reduction binds
   * (docs/cost-model.md).
   */
  readonly costComponents?: {
    readonly energyGbp: Pounds;
    readonly latenessGbp: Pounds;
    readonly capsGbp: Pounds;
    readonly batteryGbp: Pounds;
    readonly movesGbp: Pounds;
  };
  readonly validUntil: EpochMs;
  /**
   * How the provider's emissions change when the reduction binds (kg over its planning horizon;
   * negative: less CO2), from the same re-plan as the opportunity cost. The buyer ranks on it.
   */
  readonly carbonEffectKg?: number;
}

/** What the grid side asks for in a search. */
export interface FlexNeed {
  readonly kind: 'price-peak' | 'carbon-peak' | 'import-limit';
  readonly windowStart: EpochMs;
  readonly windowEnd: EpochMs;
  /** The reduction the buyer would like; offers may be smaller. */
  readonly wantedKw: Kilowatts;
  /** The most the buyer will pay per MWh of delivered reduction. */
  readonly maxPriceGbpPerMwh: PoundsPerMwh;
  /**
   * For a network constraint (an OpenADR IMPORT_CAPACITY_LIMIT): the site's grid import must stay at
   * or below this in every slot of the window. A provider then sizes each site's offer to the
   * reduction that brings its import down to the limit, whatever wantedKw says.
   */
  readonly importLimitKw?: Kilowatts;
  /** The product the buyer buys under (a DSO program's terms); sent in init and settled on. */
  readonly product?: ProductTerms;
}

/** Ranks offers for a need: cheapest £/MWh first, then larger reductions. */
export const rankOffers = (offers: readonly FlexOffer[], need: FlexNeed): FlexOffer[] =>
  offers
    .filter((o) => o.reductionKw > 0 && o.priceGbpPerMwh <= need.maxPriceGbpPerMwh)
    .filter((o) => o.windowStart < need.windowEnd && o.windowEnd > need.windowStart)
    .slice()
    .sort((a, b) => a.priceGbpPerMwh - b.priceGbpPerMwh || b.reductionKw - a.reductionKw);
