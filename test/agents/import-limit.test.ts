// A network constraint (an OpenADR IMPORT_CAPACITY_LIMIT need) through the Beckn lifecycle between
// the real BAP and BPP on loopback: the limit rides in the search intent, the BPP sizes its offer to
// bring the site's import down to the limit, the BAP buys all of it, and the plan keeps the site's
// import at or below the limit in every slot of the window.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import type { Procurement } from '../../src/agents/grid/orchestrator.ts';
import type { Commitment } from '../../src/domain/commitments.ts';
import { intentToNeed, needToIntent } from '../../src/beckn/flex-codec.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
let m: Market;

before(async () => {
  market = await openMarket('limit');
  m = market.m;
});

after(async () => {
  await market.stop();
});

test('the import limit survives the intent codec; a negative one is refused naming the tag', () => {
  const need = {
    kind: 'import-limit' as const,
    windowStart: epochMs(0),
    windowEnd: epochMs(1_800_000),
    wantedKw: kw(10),
    maxPriceGbpPerMwh: gbpPerMwh(500),
    importLimitKw: kw(250),
  };
  assert.deepEqual(intentToNeed(needToIntent(need)), need);
  const bad = needToIntent({ ...need, importLimitKw: kw(-1) });
  assert.throws(() => intentToNeed(bad), /import-limit-kw.*cannot be negative|cannot be negative/);
});

test('an import-limit need buys the reduction that brings the site to the limit, and the plan holds import at or below it', async () => {
  const slot = SLOT_MINUTES * MINUTE_MS;
  const windowStart = epochMs(m.dayStart + 36 * slot);
  const baseline = await m.bpp.baseline('lon', windowStart, 2);
  const limit = Math.floor(Math.max(...baseline) - 40);
  // wantedKw is deliberately small: the limit, not the wanted kW, sizes what is bought.
  const need = {
    kind: 'import-limit' as const,
    windowStart,
    windowEnd: epochMs(windowStart + 2 * slot),
    wantedKw: kw(10),
    maxPriceGbpPerMwh: gbpPerMwh(100_000),
    importLimitKw: kw(limit),
  };
  const got = await m.bap.procure(need, randomUUID());
  assert.ok(!('none' in got), `the BPP sold a reduction (${'none' in got ? got.none : ''})`);
  const p = got as Procurement;
  const needed = Math.max(...baseline.map((b) => b - limit));
  assert.ok(
    p.selectedKw >= needed - 1e-9,
    `bought ${p.selectedKw} kW, at least the ${needed.toFixed(1)} kW that meets the ${limit} kW limit`,
  );
  assert.ok(p.selectedKw > 10, 'more than the wanted 10 kW: the limit sized the offer');
  const [c] = await m.stores.flex.listCommitments<Commitment>({ orderId: p.orderId });
  assert.ok(
    c && c.maxImportKw.every((x) => x <= limit + 1e-6),
    `the commitment caps import at ${limit} kW or below: ${c?.maxImportKw.join(', ')}`,
  );
  const plan = await m.bpp.plan({ held: false });
  const verdict = checkSchedule(plan.problem, plan.schedule);
  assert.ok(verdict.ok, verdict.violations.join('; '));
  const from = Math.round((windowStart - plan.grid.start) / slot);
  for (const t of [from, from + 1])
    assert.ok(
      (verdict.importKw.lon?.[t] ?? Infinity) <= limit + 1e-6,
      `slot ${t}: import ${verdict.importKw.lon?.[t]} kW within the ${limit} kW limit`,
    );
});
