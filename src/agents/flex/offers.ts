// Offers for a search (on_search): each site's flexibility curve in the asked window, priced by the
// optimiser's opportunity cost (pricing.ts), and — with two or more sites — one portfolio offer
// whose reduction the optimiser splits across the sites (cheapest marginal kW first, then checked by
// planning all the sites' commitments together). Pricing takes several plans and a baseline read per
// site, so it runs as a durable task after the ACK (callbacks.ts), and its result — offers, their
// terms, the hold, the on_search owed — is written in one transaction.
import { committedKw, toSpecs, type Commitment } from '../../domain/commitments.ts';
import type { FlexNeed, FlexOffer } from '../../domain/offers.ts';
import type { PlanningProblem, Schedule } from '../../domain/planning.ts';
import { MINUTE_MS, epochMs, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import {
  componentsMinus,
  costSplit,
  flexibilityCurve,
  slotCommitments,
  type CostComponents,
  type FlexibilityCurve,
} from '../../optimise/offers.ts';
import type { FlexContext } from './context.ts';
import { priceOffer } from './pricing.ts';

/** What an offer commits each site to, kept with the offer (document `offer-terms`). */
export interface OfferTerms {
  readonly offerId: string;
  readonly windowStart: EpochMs;
  readonly windowEnd: EpochMs;
  readonly slotMinutes: number;
  readonly sites: readonly {
    readonly site: string;
    readonly reductionKw: number;
    readonly baselineKw: readonly number[];
  }[];
  /** Opportunity cost (£) at the curve's levels, for pricing a smaller selection. */
  readonly curve: readonly { readonly reductionKw: number; readonly opportunityCostGbp: number }[];
  /** The live orders when it was priced: if they change, the offer is re-checked (see lifecycle.ts). */
  readonly orders: readonly string[];
}

export interface OfferDraft {
  readonly offer: FlexOffer;
  readonly terms: OfferTerms;
}

interface Window {
  readonly grid: SlotGrid;
  readonly fromSlot: number;
  readonly toSlot: number;
  readonly start: EpochMs;
  readonly end: EpochMs;
}
/** A site's curve, measured from its baseline less what is already committed there; `baselineKw` is the baseline itself (settlement). */
interface SiteCurve {
  readonly site: string;
  readonly region: string;
  readonly curve: FlexibilityCurve;
  readonly baselineKw: readonly number[];
}

export const PORTFOLIO = 'portfolio';

/** The slots of the horizon the need covers; none if it starts in the current slot or ends past the horizon. */
const windowOf = (grid: SlotGrid, need: FlexNeed): Window | undefined => {
  const slot = grid.slotMinutes * MINUTE_MS;
  const fromSlot = Math.floor((need.windowStart - grid.start) / slot);
  const toSlot = Math.ceil((need.windowEnd - grid.start) / slot);
  if (fromSlot < 1 || toSlot > grid.slots || toSlot <= fromSlot) return undefined;
  return {
    grid,
    fromSlot,
    toSlot,
    start: epochMs(grid.start + fromSlot * slot),
    end: epochMs(grid.start + toSlot * slot),
  };
};

/** The commitments of an offer's terms for `orderId`, scaled to `wantedKw` of the offered reduction. */
export const commitmentsOf = (terms: OfferTerms, orderId: string, wantedKw: number): Commitment[] => {
  const offered = terms.sites.reduce((a, s) => a + s.reductionKw, 0);
  const share = offered > 0 ? Math.min(1, wantedKw / offered) : 0;
  return terms.sites.map((s) => {
    const reductionKw = Math.round(s.reductionKw * share * 1000) / 1000;
    return {
      orderId,
      site: s.site,
      windowStart: terms.windowStart,
      windowEnd: terms.windowEnd,
      slotMinutes: terms.slotMinutes,
      maxImportKw: s.baselineKw.map((b) => Math.max(0, b - reductionKw)),
      reductionKw,
      baselineKw: s.baselineKw,
    };
  });
};

const siteCurves = async (
  ctx: FlexContext,
  problem: PlanningProblem,
  w: Window,
  live: readonly Commitment[],
  need: FlexNeed,
  base: Schedule,
): Promise<SiteCurve[]> => {
  const out: SiteCurve[] = [];
  for (const site of ctx.sites) {
    if (!problem.sites.some((s) => s.id === site.id)) continue;
    const baselineKw = await ctx.reads.baseline(site.id, w.start, w.toSlot - w.fromSlot);
    if (baselineKw.some((x) => !Number.isFinite(x))) continue;
    // What is already sold at the site is not for sale again: levels are measured below it.
    const sold = committedKw(live, site.id, w.start, baselineKw.length, ctx.slotMinutes);
    const reference = baselineKw.map((b, k) => b - (sold[k] ?? 0));
    const curve = await flexibilityCurve(
      (p) => ctx.planning.solve(p),
      problem,
      site.id,
      w.fromSlot,
      w.toSlot,
      5,
      reference,
      {
        base,
        planFrom: (p, from) => ctx.planning.solveFrom(p, from),
        affordable: {
          gbpPerMwh: need.maxPriceGbpPerMwh - ctx.pricing.marginGbpPerMwh,
          minKw: ctx.pricing.minimumKw,
        },
      },
    );
    if (!('infeasible' in curve)) out.push({ site: site.id, region: site.region, curve, baselineKw });
  }
  return out;
};

/**
 * What one site is asked for: with an import limit, the uniform reduction that brings its import
 * (reference: baseline less what is already sold) down to the limit in every slot of the window.
 */
export const siteNeed = (need: FlexNeed, referenceKw: readonly number[]): FlexNeed => {
  if (need.importLimitKw === undefined) return need;
  const limit = need.importLimitKw;
  const over = Math.max(0, ...referenceKw.map((r) => r - limit));
  return { ...need, wantedKw: (Math.ceil(over * 10 - 1e-9) / 10) as FlexNeed['wantedKw'] };
};

const siteDraft = (
  ctx: FlexContext,
  c: SiteCurve,
  need: FlexNeed,
  w: Window,
  orders: readonly string[],
): OfferDraft | undefined => {
  const offer = priceOffer(
    c.curve,
    siteNeed(need, c.curve.referenceKw),
    c.region,
    w.start,
    w.end,
    ctx.pricing,
    ctx.ids.next('offer'),
  );
  if (!offer) return undefined;
  return {
    offer,
    terms: {
      offerId: offer.id,
      windowStart: w.start,
      windowEnd: w.end,
      slotMinutes: w.grid.slotMinutes,
      orders,
      sites: [{ site: c.site, reductionKw: offer.reductionKw, baselineKw: c.baselineKw }],
      curve: c.curve.points.map((p) => ({ reductionKw: p.reductionKw, opportunityCostGbp: p.opportunityCostGbp })),
    },
  };
};

/**
 * The portfolio's parts: the joint plan's parts less those of the plan its cost is measured from,
 * signed as a site offer's are (work moved out of dear hours shows as negative energy), so they add
 * up to the opportunity cost. A joint plan cheaper than that plan is also a plan without the
 * reduction: it costs nothing, and so does each part. (Before, energy was what the other parts left
 * of the total, clipped to it: the 4-site demo's offer read "energy £0.00" beside lateness, caps and
 * wear that the plan's cheaper energy partly paid for.)
 */
const portfolioParts = (joint: Schedule, from: CostComponents, opportunityCostGbp: number): CostComponents =>
  opportunityCostGbp > 0
    ? componentsMinus(costSplit(joint), from)
    : { energyGbp: 0, latenessGbp: 0, capsGbp: 0, batteryGbp: 0, movesGbp: 0 };

/**
 * Splits up to the wanted reduction across sites, cheapest marginal £/kW first (each site's curve
 * levels), then checks the split by planning every site's commitment together and backs off by a
 * fifth until the joint plan is feasible. The price comes from the joint plan's opportunity cost.
 */
const portfolioDraft = async (
  ctx: FlexContext,
  problem: PlanningProblem,
  base: Schedule,
  curves: readonly SiteCurve[],
  need: FlexNeed,
  w: Window,
  orders: readonly string[],
): Promise<OfferDraft | undefined> => {
  const level = new Map(curves.map((c) => [c.site, 0]));
  const taken = new Map(curves.map((c) => [c.site, { kw: 0, cost: 0 }]));
  for (;;) {
    const total = [...taken.values()].reduce((a, t) => a + t.kw, 0);
    if (total >= need.wantedKw) break;
    let best: { site: string; kw: number; cost: number; perKw: number } | undefined;
    for (const c of curves) {
      const p = c.curve.points[level.get(c.site) ?? 0];
      const t = taken.get(c.site);
      if (!p || !t || p.reductionKw <= t.kw) continue;
      const perKw = (p.opportunityCostGbp - t.cost) / (p.reductionKw - t.kw);
      if (!best || perKw < best.perKw) best = { site: c.site, kw: p.reductionKw, cost: p.opportunityCostGbp, perKw };
    }
    if (!best) break;
    taken.set(best.site, { kw: best.kw, cost: best.cost });
    level.set(best.site, (level.get(best.site) ?? 0) + 1);
  }
  const split = curves.map((c) => ({ c, kw: taken.get(c.site)?.kw ?? 0 })).filter((s) => s.kw > 0);
  if (split.length < 2) return undefined;
  if (base.status === 'infeasible') return undefined;
  for (let scale = 1; scale > 0.3; scale -= 0.2) {
    const parts = split.map((s) => ({ ...s, kw: Math.floor(s.kw * scale * 10) / 10 }));
    const specs = parts.flatMap((s) =>
      slotCommitments(
        s.c.site,
        w.fromSlot,
        s.c.curve.referenceKw.map((r) => r - s.kw),
      ),
    );
    const joint = await ctx.planning.solveFrom({ ...problem, commitments: [...problem.commitments, ...specs] }, base);
    if (joint.status === 'infeasible') continue;
    const reductionKw = parts.reduce((a, s) => a + s.kw, 0);
    const hours = (w.end - w.start) / 3_600_000;
    // Measured from the cheapest plan known without this reduction (the base, and each site's curve
    // base, which is already the cheapest of its re-plans), and never below nothing: a joint plan
    // cheaper than all of them is also a plan without the reduction (see flexibilityCurve).
    const cheapest = curves.reduce<SiteCurve | undefined>(
      (a, c) => (c.curve.baseCostGbp < (a?.curve.baseCostGbp ?? base.costGbp) ? c : a),
      undefined,
    );
    const baseGbp = cheapest?.curve.baseCostGbp ?? base.costGbp;
    const opportunityCostGbp = Math.max(0, joint.costGbp - baseGbp);
    const from = cheapest?.curve.baseComponents ?? costSplit(base);
    const curve: FlexibilityCurve = {
      site: PORTFOLIO,
      fromSlot: w.fromSlot,
      toSlot: w.toSlot,
      referenceKw: [],
      plannedKw: [],
      baseCostGbp: base.costGbp,
      points: [
        {
          reductionKw,
          maxImportKw: [],
          costGbp: joint.costGbp,
          opportunityCostGbp,
          opportunityCostGbpPerMwh: opportunityCostGbp / ((reductionKw * hours) / 1000),
          components: portfolioParts(joint, from, opportunityCostGbp),
          carbonKg: joint.carbonKg - base.carbonKg,
        },
      ],
    };
    const region = [...new Set(parts.map((s) => s.c.region))].join('+');
    const offer = priceOffer(
      curve,
      { ...need, wantedKw: reductionKw as FlexNeed['wantedKw'] },
      region,
      w.start,
      w.end,
      ctx.pricing,
      ctx.ids.next('offer'),
    );
    if (!offer) return undefined;
    const sites = parts.map((s) => ({
      site: s.c.site,
      reductionKw: s.kw * (offer.reductionKw / reductionKw),
      baselineKw: s.c.baselineKw,
    }));
    return {
      offer,
      terms: {
        offerId: offer.id,
        windowStart: w.start,
        windowEnd: w.end,
        slotMinutes: w.grid.slotMinutes,
        sites,
        curve: [{ reductionKw: offer.reductionKw, opportunityCostGbp }],
        orders,
      },
    };
  }
  return undefined;
};

/** Every offer the fleet can make for `need` now (no writes). */
export const makeOffers = async (ctx: FlexContext, need: FlexNeed): Promise<OfferDraft[]> => {
  if (ctx.planning.reportedSites().length === 0) return [];
  // Jobs that will be running in the window are planned as running, so GPU caps can reach them.
  const result = await ctx.planning.plan({ runningAt: need.windowStart });
  const w = windowOf(result.grid, need);
  if (!w) return [];
  // Price against the firm commitments only: the held offers are what this search may replace. Only
  // those at sites in the plan: a site with no report is not in it (FlexOrchestrator.plan).
  const sites = new Set(result.problem.sites.map((s) => s.id));
  const live = (await ctx.planning.commitments()).filter((c) => sites.has(c.site));
  const problem = { ...result.problem, commitments: toSpecs(live, result.grid) };
  // One plan of the problem without the reduction: each site's curve and the portfolio are measured
  // from it. Where the plan above is of this very problem (no offer held, the same commitments), it is
  // that plan: solving it again gave the same plan, 0.4–0.5 s later on four busy sites.
  const same =
    result.solvedAsGiven === true && JSON.stringify(problem.commitments) === JSON.stringify(result.problem.commitments);
  const base = same ? result.schedule : await ctx.planning.solve(problem);
  const curves = await siteCurves(ctx, problem, w, live, need, base);
  const drafts = curves
    .map((c) => siteDraft(ctx, c, need, w, result.orders))
    .filter((d): d is OfferDraft => d !== undefined);
  // An import limit is a constraint at each connection point, not on the sites' sum: no portfolio then.
  if (curves.length >= 2 && need.importLimitKw === undefined) {
    const portfolio = await portfolioDraft(ctx, problem, base, curves, need, w, result.orders);
    if (portfolio) drafts.push(portfolio);
  }
  return drafts;
};
