// Pricing offers (src/agents/flex/pricing.ts): unless the policy says sellBelowCost, an offer's
// price covers the opportunity cost of the reduction it offers, whatever the curve and the margin
// (a negative margin is a discount that stops at cost); with sellBelowCost it may go below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { opportunityCostAt, priceOffer, type PricingPolicy } from '../../src/agents/flex/pricing.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import type { FlexibilityCurve } from '../../src/optimise/offers.ts';

const START = epochMs(Date.parse('2023-06-01T17:00:00Z'));

/** A curve whose opportunity cost rises with the reduction (possibly negative at first: shifting can save money). */
const curve = fc
  .record({
    slots: fc.integer({ min: 1, max: 4 }),
    levels: fc.array(
      fc.record({
        stepKw: fc.double({ min: 0.5, max: 400, noNaN: true }),
        stepGbp: fc.double({ min: -20, max: 300, noNaN: true }),
      }),
      { minLength: 1, maxLength: 6 },
    ),
  })
  .map(({ slots, levels }): FlexibilityCurve => {
    let reduction = 0;
    let cost = 0;
    const hours = slots / 2;
    return {
      site: 'lon',
      fromSlot: 10,
      toSlot: 10 + slots,
      referenceKw: new Array<number>(slots).fill(1000),
      plannedKw: new Array<number>(slots).fill(1000),
      baseCostGbp: 100,
      points: levels.map(({ stepKw, stepGbp }) => {
        reduction += stepKw;
        cost += stepGbp;
        return {
          reductionKw: reduction,
          maxImportKw: new Array<number>(slots).fill(1000 - reduction),
          costGbp: 100 + cost,
          opportunityCostGbp: cost,
          opportunityCostGbpPerMwh: cost / ((reduction * hours) / 1000),
        };
      }),
    };
  });

const policy = fc.record({
  marginGbpPerMwh: fc.double({ min: -500, max: 200, noNaN: true }),
  floorGbpPerMwh: fc.double({ min: -100, max: 200, noNaN: true }),
  minimumKw: fc.integer({ min: 0, max: 50 }),
});

const needFor = (wantedKw: number) => ({
  kind: 'price-peak' as const,
  windowStart: START,
  windowEnd: START,
  wantedKw: kw(wantedKw),
  maxPriceGbpPerMwh: gbpPerMwh(10_000),
});

test("property: an offer's price is never below the opportunity cost of the kW it offers, whatever the margin or floor", () => {
  fc.assert(
    fc.property(curve, policy, fc.integer({ min: 1, max: 3000 }), (c, p: PricingPolicy, wantedKw) => {
      const end = epochMs(START + (c.toSlot - c.fromSlot) * 1_800_000);
      const offer = priceOffer(c, { ...needFor(wantedKw), windowEnd: end }, 'GB', START, end, p, 'offer-1');
      if (!offer) return;
      const cost = opportunityCostAt(c.points, offer.reductionKw);
      // Prices are whole pence rounded up; a millionth of a pound absorbs float noise in the cost.
      assert.ok(
        offer.priceGbp >= cost - 1e-6,
        `£${offer.priceGbp} for ${offer.reductionKw} kW is below its opportunity cost £${cost}`,
      );
      // The cost stated is that of the kW offered, so the price is never below it either.
      assert.ok(
        Math.abs(offer.opportunityCostGbp - cost) <= 0.005 + 1e-9 && offer.priceGbp >= offer.opportunityCostGbp - 0.005,
        `stated £${offer.opportunityCostGbp} for ${offer.reductionKw} kW at £${offer.priceGbp}; its cost £${cost}`,
      );
      assert.ok(
        offer.reductionKw <= (c.points[c.points.length - 1]?.reductionKw ?? 0) + 1e-9,
        'never more kW than the curve shows deliverable',
      );
    }),
    { numRuns: 2000 },
  );
});

test('with sellBelowCost a steep discount does price below the opportunity cost (the switch does something)', () => {
  const c = fc.sample(curve, { numRuns: 1, seed: 1 })[0] as FlexibilityCurve;
  const costly: FlexibilityCurve = {
    ...c,
    points: [
      {
        ...(c.points[0] as FlexibilityCurve['points'][number]),
        reductionKw: 100,
        opportunityCostGbp: 50,
        opportunityCostGbpPerMwh: 1000 / c.points.length,
      },
    ],
  };
  const end = epochMs(START + (c.toSlot - c.fromSlot) * 1_800_000);
  const discount: PricingPolicy = { marginGbpPerMwh: -10_000, floorGbpPerMwh: 0, minimumKw: 10 };
  const guarded = priceOffer(costly, { ...needFor(100), windowEnd: end }, 'GB', START, end, discount, 'o');
  const below = priceOffer(
    costly,
    { ...needFor(100), windowEnd: end },
    'GB',
    START,
    end,
    { ...discount, sellBelowCost: true },
    'o',
  );
  assert.ok(guarded && below);
  assert.ok(guarded.priceGbp >= 50, `guarded price £${guarded.priceGbp} covers the £50 cost`);
  assert.ok(below.priceGbp < 50, `with sellBelowCost the discount goes below cost (£${below.priceGbp})`);
});
