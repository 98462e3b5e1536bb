// Safety properties of the Flexibility Orchestrator (BPP), through its public entry point: signed
// Beckn requests from the real Grid Orchestrator (BAP) of a composed market on loopback.
//
// Several buyers search at once (so each is offered flexibility priced on the same plan), then
// their select / init / confirm steps arrive interleaved in a random order. Whatever the order:
//  - every confirm the BPP accepts leaves a plan that passes the independent check and keeps each
//    site's import at or below the baseline less every reduction sold for that slot (all
//    commitments delivered together), and an order that would break this is refused at select,
//    init or confirm instead;
//  - every quote is at least the opportunity cost of the kW selected, read from the offer's curve
//    (the default pricing does not sell below cost).
// The market clock is not started, so market time stays at the start of the day and every run sees
// the same fleet; commitments add up across runs, so later runs meet a fleet that has sold more.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import type { OfferTerms } from '../../src/agents/flex/offers.ts';
import type { Commitment } from '../../src/domain/commitments.ts';
import { opportunityCostAt } from '../../src/agents/flex/pricing.ts';
import { catalogToOffers, needToIntent } from '../../src/beckn/flex-codec.ts';
import type { Catalog, WireOrder } from '../../src/beckn/wire.ts';
import { MINUTE_MS, epochMs } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import type { FlexOffer } from '../../src/domain/offers.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
let m: Market;
const SLOT = SLOT_MINUTES * MINUTE_MS;

before(async () => {
  market = await openMarket('safety');
  m = market.m;
});

after(async () => {
  await market.stop();
});

interface Buyer {
  readonly fromSlot: number;
  readonly slots: number;
  readonly wantedKw: number;
}
interface Deal {
  readonly tx: string;
  offer?: FlexOffer | undefined;
  selectedKw?: number;
  orderId?: string | undefined;
  refused?: string;
  confirmed?: boolean;
}

const target = () => ({ id: m.bpp.id, uri: m.urls.bpp });
const item = (offer: FlexOffer, selectedKw: number) => [
  { id: offer.id, quantity: { selected: { measure: { type: 'CONSTANT', value: String(selectedKw), unit: 'kW' } } } },
];
const orderOf = (answers: readonly { message?: unknown }[]): WireOrder => {
  const order = (answers[0]?.message as { order?: WireOrder } | undefined)?.order;
  assert.ok(order, 'the callback carries the order');
  return order;
};

const search = async (b: Buyer): Promise<Deal> => {
  const deal: Deal = { tx: randomUUID() };
  const windowStart = epochMs(m.dayStart + b.fromSlot * SLOT);
  const need = {
    kind: 'price-peak' as const,
    windowStart,
    windowEnd: epochMs(windowStart + b.slots * SLOT),
    wantedKw: kw(b.wantedKw),
    maxPriceGbpPerMwh: gbpPerMwh(100_000),
  };
  const answers = await m.bap.request('search', target(), deal.tx, { intent: needToIntent(need) });
  const offers = catalogToOffers((answers[0]?.message as { catalog?: Catalog } | undefined)?.catalog).map(
    (o) => o.offer,
  );
  if (offers.length === 0) deal.refused = 'no offer';
  else deal.offer = offers[0];
  return deal;
};

/** One step of a buyer's select → init → confirm; a refusal (a NACK or a callback error) ends the deal. */
const step = async (deal: Deal, b: Buyer, quoteFloors: string[]): Promise<void> => {
  const offer = deal.offer;
  if (!offer || deal.refused) return;
  const provider = { id: m.bpp.id };
  const billing = { name: 'grid', email: 'settlement@grid.test' };
  try {
    if (deal.selectedKw === undefined) {
      const selectedKw = Math.min(offer.reductionKw, b.wantedKw);
      const quoted = orderOf(
        await m.bap.request('select', target(), deal.tx, { order: { provider, items: item(offer, selectedKw) } }),
      );
      deal.selectedKw = selectedKw;
      const terms = await m.stores.flex.getDocument<OfferTerms>('offer-terms', offer.id);
      assert.ok(terms, "the offer's terms are stored with it");
      const price = Number(quoted.quote?.price?.value);
      const floor = opportunityCostAt(terms.curve, selectedKw);
      if (!(price >= floor - 0.01))
        quoteFloors.push(`quote £${price} for ${selectedKw} kW is below its opportunity cost £${floor.toFixed(2)}`);
    } else if (deal.orderId === undefined) {
      const initialised = orderOf(
        await m.bap.request('init', target(), deal.tx, {
          order: { provider, items: item(offer, deal.selectedKw), billing },
        }),
      );
      deal.orderId = initialised.id ?? (await m.stores.flex.findOrderByTransaction(deal.tx))?.id;
    } else if (!deal.confirmed) {
      const confirmed = orderOf(
        await m.bap.request('confirm', target(), deal.tx, {
          order: { provider, items: item(offer, deal.selectedKw), billing },
        }),
      );
      assert.equal(confirmed.id, deal.orderId);
      deal.confirmed = true;
    }
  } catch (e) {
    deal.refused = (e as Error).message;
  }
};

/** Every live commitment delivered at once by a plan that passes the independent check. */
const assertDeliverable = async (why: string): Promise<number> => {
  const live = await m.bpp.commitments();
  const result = await m.bpp.plan({ held: false });
  assert.notEqual(
    result.schedule.status,
    'infeasible',
    `${why}: the fleet has no plan for its commitments (${result.schedule.reason ?? ''})`,
  );
  const verdict = checkSchedule(result.problem, result.schedule);
  assert.ok(verdict.ok, `${why}: ${verdict.violations.slice(0, 3).join('; ')}`);
  // Import ≤ baseline − Σ reductions, per site and slot, recomputed here from the commitments.
  const owed = new Map<string, { baseline: number; reduction: number }>();
  for (const c of live) {
    c.maxImportKw.forEach((_, k) => {
      const t = Math.round((c.windowStart + k * c.slotMinutes * MINUTE_MS - result.grid.start) / SLOT);
      const key = `${c.site}|${t}`;
      const o = owed.get(key) ?? { baseline: Infinity, reduction: 0 };
      owed.set(key, {
        baseline: Math.min(o.baseline, c.baselineKw?.[k] ?? Infinity),
        reduction: o.reduction + (c.reductionKw ?? 0),
      });
    });
  }
  for (const [key, o] of owed) {
    const [site, t] = key.split('|') as [string, string];
    const imp = verdict.importKw[site]?.[Number(t)] ?? 0;
    assert.ok(
      imp <= o.baseline - o.reduction + 1e-6,
      `${why}: ${site} imports ${imp.toFixed(3)} kW in slot ${t}, above its baseline ${o.baseline.toFixed(3)} less ${o.reduction.toFixed(3)} kW sold`,
    );
  }
  return live.length;
};

/**
 * Buyers of overlapping windows (so they compete for the same kW), and an interleaving of their
 * steps: each buyer's index three times (select, init, confirm), shuffled.
 */
const scenario = fc
  .record({
    fromSlot: fc.integer({ min: 19, max: 44 }),
    buyers: fc.array(
      fc.record({
        offset: fc.integer({ min: 0, max: 1 }),
        slots: fc.integer({ min: 1, max: 2 }),
        wantedKw: fc.integer({ min: 10, max: 200 }),
      }),
      { minLength: 2, maxLength: 4 },
    ),
  })
  .chain(({ fromSlot, buyers }) => {
    const tokens = buyers.flatMap((_, i) => [i, i, i]);
    return fc.tuple(
      fc.constant(buyers.map((b): Buyer => ({ fromSlot: fromSlot + b.offset, slots: b.slots, wantedKw: b.wantedKw }))),
      fc.shuffledSubarray(tokens, { minLength: tokens.length, maxLength: tokens.length }),
    );
  });

test(
  "property: whatever order concurrent buyers' selects, inits and confirms arrive in, every accepted confirm is delivered with all the others, and no quote is below its opportunity cost",
  { timeout: 600_000 },
  async (t) => {
    let confirmed = 0;
    let refused = 0;
    const reasons = new Set<string>();
    const floors: string[] = [];
    await fc.assert(
      fc.asyncProperty(scenario, async ([buyers, order]) => {
        const deals: Deal[] = [];
        for (const b of buyers) deals.push(await search(b));
        for (const i of order) {
          const deal = deals[i] as Deal;
          const was = deal.confirmed;
          await step(deal, buyers[i] as Buyer, floors);
          if (deal.confirmed && !was) {
            confirmed++;
            await assertDeliverable(`after confirming ${deal.orderId}`);
          }
        }
        for (const d of deals) {
          if (d.refused && d.offer) {
            refused++;
            // A refusal is the BPP declining to sell what it can no longer deliver, never a fault.
            assert.match(
              d.refused,
              /FLX_QUOTE_EXPIRED|FLX_QUANTITY_UNAVAILABLE|FLX_STORE_CONFLICT/,
              `refused for a reason other than capacity: ${d.refused}`,
            );
            reasons.add(d.refused.replace(/.*(FLX_[A-Z_]+).*/s, '$1'));
          }
          const rows = d.orderId ? await m.stores.flex.listCommitments<Commitment>({ orderId: d.orderId }) : [];
          const stored = d.orderId ? await m.stores.flex.getOrder(d.orderId) : undefined;
          if (d.confirmed) {
            assert.equal(stored?.state, 'confirmed');
            assert.ok(
              Math.abs(rows.reduce((a, c) => a + (c.reductionKw ?? 0), 0) - (d.selectedKw ?? 0)) < 1e-6,
              'the commitments add up to the kW selected',
            );
          } else {
            assert.equal(
              rows.length,
              0,
              `an order refused along the way (${d.refused ?? 'unfinished'}) has no commitment`,
            );
            assert.notEqual(stored?.state, 'confirmed');
          }
        }
        assert.deepEqual(floors, []);
      }),
      { numRuns: 12, seed: 20261124 },
    );
    await assertDeliverable('at the end');
    t.diagnostic(
      `${confirmed} confirms accepted, ${refused} deals refused at select, init or confirm (${[...reasons].join(', ')})`,
    );
    assert.ok(confirmed > 0, 'some confirms were accepted (the property is not vacuous)');
  },
);
