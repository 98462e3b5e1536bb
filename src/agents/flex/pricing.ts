// Pricing an offer from the flexibility curve: the buyer pays at least the provider's opportunity
// cost of the re-plan plus a margin, and never less than a floor (both £/MWh of reduction).
import type { FlexNeed, FlexOffer } from '../../domain/offers.ts';
import type { EpochMs } from '../../domain/time.ts';
import { gbp, gbpPerMwh, kw } from '../../domain/units.ts';
import type { FlexibilityCurve } from '../../optimise/offers.ts';

export interface PricingPolicy {
  readonly marginGbpPerMwh: number;
  readonly floorGbpPerMwh: number;
  /** Offers smaller than this are not worth making. */
  readonly minimumKw: number;
}

export const DEFAULT_PRICING: PricingPolicy = { marginGbpPerMwh: 25, floorGbpPerMwh: 50, minimumKw: 10 };

export const priceOffer = (
  curve: FlexibilityCurve, need: FlexNeed, region: string, windowStart: EpochMs, windowEnd: EpochMs, policy: PricingPolicy, id: string,
): FlexOffer | undefined => {
  const usable = curve.points.filter((p) => p.reductionKw >= policy.minimumKw);
  if (usable.length === 0) return undefined;
  // The smallest level that covers what the buyer wants; otherwise the most we can deliver.
  const chosen = usable.find((p) => p.reductionKw >= need.wantedKw) ?? usable[usable.length - 1];
  if (!chosen) return undefined;
  // Offered in tenths of a kW, rounded down so the offer never exceeds what was shown deliverable.
  const reduction = Math.floor(chosen.reductionKw * 10 + 1e-9) / 10;
  if (reduction < policy.minimumKw) return undefined;
  const hours = (windowEnd - windowStart) / 3_600_000;
  const mwh = (reduction * hours) / 1000;
  const perMwh = Math.max(policy.floorGbpPerMwh, chosen.opportunityCostGbpPerMwh + policy.marginGbpPerMwh);
  return {
    id, site: curve.site, region, windowStart, windowEnd, reductionKw: kw(reduction),
    priceGbp: gbp(Math.round(perMwh * mwh * 100) / 100), priceGbpPerMwh: gbpPerMwh(Math.round(perMwh * 100) / 100),
    opportunityCostGbp: gbp(Math.round(chosen.opportunityCostGbp * 100) / 100), validUntil: windowStart,
  };
};
