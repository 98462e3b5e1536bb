// Pricing an offer from the flexibility curve: the buyer pays at least the provider's opportunity
// cost of the re-plan plus a margin, and never less than a floor (both £/MWh of reduction). Unless
// the policy says sellBelowCost, a price is never below the opportunity cost, whatever the margin
// (a negative margin is a discount that stops at cost).
import type { FlexNeed, FlexOffer } from '../../domain/offers.ts';
import type { EpochMs } from '../../domain/time.ts';
import { gbp, gbpPerMwh, kw } from '../../domain/units.ts';
import type { FlexibilityCurve } from '../../optimise/offers.ts';

export interface PricingPolicy {
  readonly marginGbpPerMwh: number;
  readonly floorGbpPerMwh: number;
  /** Offers smaller than this are not worth making. */
  readonly minimumKw: number;
  /** Allow prices below the optimiser's opportunity cost (e.g. a negative margin to win a market). Off by default. */
  readonly sellBelowCost?: boolean;
}

/** Pence up, so rounding never takes a price below what it must cover (1e-9 absorbs float noise). */
const penniesUp = (gbpValue: number): number => Math.ceil(gbpValue * 100 - 1e-9) / 100;

/**
 * The opportunity cost (£) of delivering `reductionKw`, read off a curve's levels: linear between
 * levels and from (0 kW, £0). The cost of re-planning grows faster than linearly with the reduction
 * (the cheapest moves go first), so the line between two levels lies on or above the curve: a
 * price built on it does not fall below the true cost of a smaller selection.
 */
export const opportunityCostAt = (
  levels: readonly { readonly reductionKw: number; readonly opportunityCostGbp: number }[],
  reductionKw: number,
): number => {
  const pts = [{ reductionKw: 0, opportunityCostGbp: 0 }, ...[...levels].sort((a, b) => a.reductionKw - b.reductionKw)];
  const hi = pts.findIndex((p) => p.reductionKw >= reductionKw);
  if (hi < 0) return Math.max(0, pts[pts.length - 1]?.opportunityCostGbp ?? 0);
  const b = pts[hi];
  const a = pts[Math.max(0, hi - 1)];
  if (!a || !b) return 0;
  const f = b.reductionKw === a.reductionKw ? 1 : (reductionKw - a.reductionKw) / (b.reductionKw - a.reductionKw);
  return Math.max(0, a.opportunityCostGbp + f * (b.opportunityCostGbp - a.opportunityCostGbp));
};

export const DEFAULT_PRICING: PricingPolicy = { marginGbpPerMwh: 25, floorGbpPerMwh: 50, minimumKw: 10 };

export const priceOffer = (
  curve: FlexibilityCurve,
  need: FlexNeed,
  region: string,
  windowStart: EpochMs,
  windowEnd: EpochMs,
  policy: PricingPolicy,
  id: string,
): FlexOffer | undefined => {
  const hours = (windowEnd - windowStart) / 3_600_000;
  // Each level of the curve, priced: the opportunity cost plus the margin, never below the floor,
  // and (unless sellBelowCost) never below the cost itself.
  const priced = curve.points
    .filter((p) => p.reductionKw >= policy.minimumKw)
    .map((level) => {
      // Offered in tenths of a kW, rounded down so the offer never exceeds what was shown deliverable.
      const reduction = Math.floor(level.reductionKw * 10 + 1e-9) / 10;
      const mwh = (reduction * hours) / 1000;
      // The cost of the level offered, from every measured level — also those below minimumKw, which
      // may cost more than the line from 0 kW to the chosen level says (the select-time quote reads
      // the same curve, so an offer and its quote agree).
      const costGbp = Math.max(0, opportunityCostAt(curve.points, reduction));
      let perMwh = Math.max(policy.floorGbpPerMwh, level.opportunityCostGbpPerMwh + policy.marginGbpPerMwh);
      if (!policy.sellBelowCost) perMwh = Math.max(perMwh, mwh > 0 ? costGbp / mwh : 0);
      const priceGbp = policy.sellBelowCost
        ? Math.round(perMwh * mwh * 100) / 100
        : Math.max(Math.round(perMwh * mwh * 100) / 100, penniesUp(costGbp));
      return { level, reduction, perMwh, priceGbp, costGbp };
    })
    .filter((x) => x.reduction >= policy.minimumKw);
  // The smallest level that covers what the buyer wants, otherwise the most we can deliver; but when
  // that is dearer than the buyer's ceiling (its stated £/MWh), the largest smaller level within it:
  // on a full fleet the last kilowatts cost the most (they make work late), and a buyer that cannot
  // pay for them may still want the rest. With no level within the ceiling, the asked-for level is
  // offered at its price, never below cost, and the buyer decides.
  const target = priced.find((x) => x.reduction >= need.wantedKw) ?? priced[priced.length - 1];
  if (!target) return undefined;
  const within = priced.filter((x) => x.reduction <= target.reduction && x.perMwh <= need.maxPriceGbpPerMwh);
  const chosenPrice = within[within.length - 1] ?? target;
  const chosen = chosenPrice.level;
  const reduction = chosenPrice.reduction;
  // The cost stated is that of the kW offered (rounded down from the level's), as the price covers
  // it and the select-time quote reads it; the level's parts are scaled to it.
  const costGbp = chosenPrice.costGbp;
  const scale = chosen.opportunityCostGbp > 0 ? costGbp / chosen.opportunityCostGbp : 1;
  const part = (x: number) => gbp(Math.round(x * scale * 100) / 100);
  const perMwh = chosenPrice.perMwh;
  const priceGbp = chosenPrice.priceGbp;
  return {
    id,
    site: curve.site,
    region,
    windowStart,
    windowEnd,
    reductionKw: kw(reduction),
    priceGbp: gbp(priceGbp),
    priceGbpPerMwh: gbpPerMwh(Math.round(perMwh * 100) / 100),
    opportunityCostGbp: gbp(Math.round(costGbp * 100) / 100),
    ...(chosen.components
      ? {
          costComponents: {
            energyGbp: part(chosen.components.energyGbp),
            latenessGbp: part(chosen.components.latenessGbp),
            capsGbp: part(chosen.components.capsGbp),
            batteryGbp: part(chosen.components.batteryGbp),
            movesGbp: part(chosen.components.movesGbp),
          },
        }
      : {}),
    ...(chosen.carbonKg === undefined ? {} : { carbonEffectKg: Math.round(chosen.carbonKg * 10) / 10 }),
    validUntil: windowStart,
  };
};
