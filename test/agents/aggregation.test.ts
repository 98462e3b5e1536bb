// Aggregation: two simulated sites, each with its own Compute-Flex agent, behind one BPP, in a
// composed market on loopback (real HTTP, signatures, SQLite; the market clock is not started, so
// market time stays at the day's start). The grid side buys the portfolio offer itself (select →
// init → confirm), so the test does not depend on how procure ranks offers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import type { Commitment } from '../../src/domain/commitments.ts';
import { PORTFOLIO } from '../../src/agents/flex/offers.ts';
import { catalogToOffers, needToIntent } from '../../src/beckn/flex-codec.ts';
import type { Catalog, WireOrder } from '../../src/beckn/wire.ts';
import type { FlexNeed, FlexOffer } from '../../src/domain/offers.ts';
import { MINUTE_MS } from '../../src/domain/time.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import { eventually } from '../helpers/network.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
let m: Market;
let need: FlexNeed;
let offers: FlexOffer[];
const transactionId = randomUUID();
let orderId: string;
let selectedKw: number;

const bppTarget = () => ({ id: m.bpp.id, uri: m.urls.bpp });
const orderOf = (answers: readonly { message?: unknown }[]): WireOrder => {
  const order = (answers[0]?.message as { order?: WireOrder } | undefined)?.order;
  assert.ok(order, 'the callback carries an order');
  return order;
};

before(async () => {
  market = await openMarket('aggregation', { sites: '2' });
  m = market.m;
  const found = await m.bap.detectNeed({ start: m.dayStart, slotMinutes: SLOT_MINUTES, slots: 48 });
  assert.ok(found, 'the day has a peak to buy against');
  need = found;
});

after(async () => {
  await market.stop();
});

test('the composed market has two sites, each with its own agent, store and URL, all reporting to the one BPP', () => {
  assert.deepEqual(
    m.sites.map((s) => s.id),
    ['lon', 'man'],
  );
  assert.equal(m.agent, m.sites[0]?.agent, 'the single-site fields are the first site');
  assert.notEqual(m.sites[0]?.url, m.sites[1]?.url);
  assert.deepEqual(
    m.sites.map((s) => s.agent.deps.id),
    ['agent-lon.dc.flexlon.local', 'agent-man.dc.flexlon.local'],
  );
  assert.deepEqual(m.bpp.reportedSites().sort(), ['lon', 'man'], "the BPP trusted and took both agents' reports");
  assert.match(m.sites[1]?.store.location ?? '', /compute-agent-man\.db$/);
});

test('on_search: one offer per site and a portfolio offer split across them, no larger than asked', async () => {
  const answers = await m.bap.request(
    'search',
    { uri: m.urls.gateway, peer: 'gateway.flexlon.local' },
    transactionId,
    { intent: needToIntent(need) },
    1,
  );
  offers = catalogToOffers((answers[0]?.message as { catalog?: Catalog } | undefined)?.catalog).map((x) => x.offer);
  assert.deepEqual(offers.map((o) => o.site).sort(), ['lon', 'man', PORTFOLIO]);
  const portfolio = offers.find((o) => o.site === PORTFOLIO);
  assert.ok(portfolio && portfolio.reductionKw > 0);
  assert.ok(
    portfolio.reductionKw <= need.wantedKw + 1e-6,
    `portfolio ${portfolio.reductionKw} kW of ${need.wantedKw} kW wanted`,
  );
  for (const o of offers) assert.ok(o.windowStart >= need.windowStart && o.windowEnd <= need.windowEnd);
});

test("buying the portfolio offer stores one commitment per site; the optimiser's split adds up to the kW selected", async (t) => {
  const portfolio = offers.find((o) => o.site === PORTFOLIO);
  assert.ok(portfolio);
  selectedKw = Math.round(portfolio.reductionKw * 1000) / 1000;
  const provider = { id: m.bpp.id };
  const items = [
    {
      id: portfolio.id,
      quantity: { selected: { measure: { type: 'CONSTANT', value: String(selectedKw), unit: 'kW' } } },
    },
  ];
  const billing = { name: m.bap.deps.id, email: `settlement@${m.bap.deps.id}` };
  orderOf(await m.bap.request('select', bppTarget(), transactionId, { order: { provider, items } }));
  const initialised = orderOf(
    await m.bap.request('init', bppTarget(), transactionId, { order: { provider, items, billing } }),
  );
  const confirmed = orderOf(
    await m.bap.request('confirm', bppTarget(), transactionId, {
      order: { provider, items, billing, payments: initialised.payments ?? [] },
    }),
  );
  assert.ok(confirmed.id);
  orderId = confirmed.id;

  const commitments = await m.stores.flex.listCommitments<Commitment>({ orderId });
  assert.deepEqual(commitments.map((c) => c.site).sort(), ['lon', 'man'], 'one commitment per site');
  for (const c of commitments) assert.ok((c.reductionKw ?? 0) > 0, `site ${c.site} takes part of the reduction`);
  const total = commitments.reduce((a, c) => a + (c.reductionKw ?? 0), 0);
  t.diagnostic(`split of ${selectedKw} kW: ${commitments.map((c) => `${c.site} ${c.reductionKw} kW`).join(', ')}`);
  assert.ok(
    Math.abs(total - selectedKw) < 0.01,
    `split ${commitments.map((c) => `${c.site} ${c.reductionKw}`).join(' + ')} = ${total} kW, selected ${selectedKw} kW`,
  );
  // The buyer sees the split on the wire (tag group `allocation`), and it matches what is stored.
  const allocation = confirmed.tags?.find((t) => t.descriptor.code === 'allocation');
  assert.ok(allocation, 'on_confirm states the split across sites');
  for (const c of commitments) {
    const stated = Number(allocation.list.find((x) => x.descriptor.code === c.site)?.value);
    assert.ok(Math.abs(stated - (c.reductionKw ?? 0)) < 0.01, `allocation for ${c.site}: ${stated} kW`);
  }
});

test("the BPP's re-plan keeps every site's import within its baseline less its share, in every window slot", async () => {
  const commitments = await m.stores.flex.listCommitments<Commitment>({ orderId });
  const r = await m.bpp.plan({ held: false });
  assert.notEqual(r.schedule.status, 'infeasible', r.schedule.reason);
  const verdict = checkSchedule(r.problem, r.schedule);
  assert.ok(verdict.ok, verdict.violations.slice(0, 3).join('; '));
  assert.deepEqual(
    [...new Set(r.problem.commitments.map((c) => c.site))].sort(),
    ['lon', 'man'],
    "both sites' shares bind the plan",
  );
  const slot = SLOT_MINUTES * MINUTE_MS;
  let checked = 0;
  for (const c of commitments) {
    const imp = verdict.importKw[c.site];
    assert.ok(imp, `the plan has site ${c.site}`);
    (c.baselineKw ?? []).forEach((b, k) => {
      const t = Math.round((c.windowStart + k * slot - r.grid.start) / slot);
      const x = imp[t] ?? NaN;
      assert.ok(
        x <= b - (c.reductionKw ?? 0) + 1e-6,
        `site ${c.site} slot ${t}: import ${x} kW > baseline ${b} − ${c.reductionKw} kW`,
      );
      checked++;
    });
  }
  assert.equal(
    checked,
    commitments.length * ((need.windowEnd - need.windowStart) / slot),
    'every window slot of every site was checked',
  );
});

test("each site's agent received the dispatch for the commitment, naming only its own jobs", async () => {
  // The BPP dispatches after it has committed and owed on_confirm, so the last site may still be in flight.
  await eventually(
    async () => new Set((await m.stores.flex.listDispatches({ orderId })).map((r) => r.site)).size === m.sites.length,
    'a dispatch row for every site',
  );
  const rows = await m.stores.flex.listDispatches({ orderId });
  assert.deepEqual([...new Set(rows.map((r) => r.site))].sort(), ['lon', 'man']);
  for (const site of m.sites) {
    const got = (await site.store.auditTrail()).filter(
      (r) => r.kind === 'dispatch' && (r.payload as { reason?: string }).reason === `commitment ${orderId}`,
    );
    assert.equal(got.length, 1, `agent ${site.id} applied the commitment's dispatch once`);
    const dispatch = (got[0]?.payload as { dispatch: { jobId: string }[] }).dispatch;
    assert.ok(
      dispatch.every((d) => d.jobId.startsWith(`${site.id}-`)),
      `agent ${site.id} was sent only its own jobs`,
    );
  }
});
