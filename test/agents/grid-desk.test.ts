// The Grid Orchestrator as a DSO flexibility desk would run it (issue 16), through signed HTTP end
// to end: a market of two data-centre providers of different sizes and prices (lon, 32 nodes, the
// demo's provider; man, 24 nodes, a lower price floor) and one battery-only provider (bat: a 200 kW
// battery behind the meter, no deferrable compute). One need, larger than any one offer, under a
// DSO product with the WPD performance rule:
// - man's quotes lapse at once (quote lifetime 0 s), so its init is NACKed (FLX_QUOTE_EXPIRED) and
//   the need is bought from lon and bat;
// - as the window opens an urgent job the site must run arrives at lon (48 GPUs for half an hour):
//   lon under-delivers, the monitor alerts on the first metered period and tops up the missing kW
//   for the rest of the window from a provider other than lon (bat sells); lon is paid by the
//   performance rule, and the buyer's check, from its own meter, agrees;
// - the buyer's own meter data for bat reads more import than bat's statement in one period: bat's
//   statement is disputed, naming that period.
// The second test runs the same desk as the buyer's own loop (ProcurementLoop, monitoring on) from a
// DSO peak-reduction event posted to its intake, the way `flexlon run bap` runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import { followUp } from '../../src/agents/grid/follow-up.ts';
import { meterSeriesView } from '../../src/agents/grid/meter-view.ts';
import { DeliveryMonitor, type MonitorEvent } from '../../src/agents/grid/monitor.ts';
import { procureAcross, type Procurement } from '../../src/agents/grid/split.ts';
import { ProcurementLoop } from '../../src/agents/grid/procurement-loop.ts';
import { DEFAULT_PRICING } from '../../src/agents/flex/pricing.ts';
import type { FlexNeed } from '../../src/domain/offers.ts';
import { WPD_PERFORMANCE, type ProductTerms } from '../../src/domain/products.ts';
import { settlementPeriodOf } from '../../src/domain/settlement-day.ts';
import { epochMs, MINUTE_MS, type EpochMs } from '../../src/domain/time.ts';
import { gbpPerMwh, kw, kwh } from '../../src/domain/units.ts';
import { parseMeterCsv } from '../../src/formats/meter-csv.ts';
import { performanceFactor } from '../../src/settlement/product.ts';
import { SIM_SITES } from '../../src/sim/sites.ts';
import { openMarket, type ExtraProvider } from '../helpers/market.ts';

const SLOT = SLOT_MINUTES * MINUTE_MS;

const PEAK_REDUCTION: ProductTerms = {
  code: 'DSO_PEAK_REDUCTION',
  name: 'Peak Reduction',
  measurement: 'reduction',
  baseline: 'bl01',
  availabilityGbpPerMwH: 12,
  utilisationGbpPerMwh: 600,
  performance: WPD_PERFORMANCE,
};

/** The battery-only provider: the demo's battery site's battery (src/sim/sites.ts), and no deferrable jobs. */
const BATTERY_ONLY: ExtraProvider = {
  site: 'bat',
  trainingNodes: 16,
  gridImportLimitKw: 300,
  jobs: 0,
  battery: SIM_SITES[3].battery,
  pricing: { ...DEFAULT_PRICING, minimumKw: 2 },
};

/** The buyer's meter file for a site: its meter's half-hourly import (kW) for the day so far, one period changed. */
const meterFile = async (m: Market, site: string, until: number, change?: { start: number; addKw: number }) => {
  const s = m.sites.find((x) => x.id === site);
  assert.ok(s, site);
  const slots = (until - m.dayStart) / SLOT;
  const kwOf = await s.cluster.importKw({ start: m.dayStart, slotMinutes: SLOT_MINUTES, slots });
  const rows = kwOf.map((v, i) => {
    const start = m.dayStart + i * SLOT;
    return `${new Date(start).toISOString()},${(v + (change?.start === start ? change.addKw : 0)).toFixed(3)},MPAN-${site}`;
  });
  return parseMeterCsv(['start,kw,mpan', ...rows].join('\n'), `${site}-meter.csv`);
};

/** An urgent job lon must run (inflexible): 48 GPUs (6 nodes, 23.4 kW IT) for half an hour. */
const urgentJob = (at: EpochMs) => ({
  id: 'urgent-1',
  name: 'urgent retraining',
  site: 'lon',
  slo: 'inflexible' as const,
  gpus: 48,
  powerKw: kw(23.4),
  energyKwh: kwh(23.4 * 0.5),
  remainingKwh: kwh(23.4 * 0.5),
  submittedAt: at,
  releaseAt: at,
  deadlineAt: epochMs(at + 8 * SLOT),
  preemptible: false,
  allowedSites: ['lon'],
  work: 1,
  workUnit: 'gpu-hours' as const,
  state: 'queued' as const,
});

test(
  'a DSO desk buys across three providers, monitors, tops up a shortfall and settles: a NACK, a pay cut and a dispute',
  { timeout: 90_000 },
  async () => {
    const market = await openMarket('grid-desk', {
      secondsPerDay: '20',
      extraProviders: [
        {
          site: 'man',
          trainingNodes: 24,
          gridImportLimitKw: 300,
          seed: 42,
          pricing: { ...DEFAULT_PRICING, floorGbpPerMwh: 40 },
          quoteTtlSeconds: 0,
        },
        BATTERY_ONLY,
      ],
    });
    const m = market.m;
    const audit = () => m.stores.grid.auditTrail();
    try {
      const bat = m.sites.find((s) => s.id === 'bat');
      assert.ok(bat?.cluster.battery && bat.jobs === 0, 'bat has a battery and no deferrable jobs');

      // The need: 02:00–04:00, 45 kW, under the product; the offers seen are kept to compare with it.
      let seen: { offer: { reductionKw: number; priceGbpPerMwh: number }; bppId: string }[] = [];
      const buyer = {
        deps: m.bap.deps,
        search: async (n: FlexNeed, tx: string) => {
          const r = await m.bap.search(n, tx);
          if (!('none' in r)) seen = r.offers;
          return r;
        },
        buy: m.bap.buy.bind(m.bap),
      };
      const windowStart = epochMs(m.dayStart + 6 * SLOT);
      const windowEnd = epochMs(windowStart + 4 * SLOT);
      const need: FlexNeed = {
        kind: 'price-peak',
        windowStart,
        windowEnd,
        wantedKw: kw(40),
        maxPriceGbpPerMwh: gbpPerMwh(3000),
        product: PEAK_REDUCTION,
      };
      const got = await procureAcross(buyer, need, randomUUID());
      assert.ok(!('none' in got), 'none' in got ? got.none : '');
      // Three offers at three prices, none enough alone.
      assert.deepEqual(seen.map((o) => o.bppId).sort(), [
        'dc-bat.flexlon.local',
        'dc-man.flexlon.local',
        'dc.flexlon.local',
      ]);
      assert.equal(new Set(seen.map((o) => o.offer.priceGbpPerMwh)).size, 3, JSON.stringify(seen));
      assert.ok(
        seen.every((o) => o.offer.reductionKw < need.wantedKw),
        'the need is larger than any one offer',
      );
      // man is cheapest and asked first; its quote lapses before init: a NACK, recorded, and the others bought.
      assert.deepEqual(
        got.failures.map((f) => [f.bppId, f.code]),
        [['dc-man.flexlon.local', 'FLX_PEER_NACK']],
      );
      assert.match(got.failures[0]?.message ?? '', /FLX_QUOTE_EXPIRED/);
      assert.deepEqual(
        got.parts.map((p) => p.bpp.subscriber_id),
        ['dc.flexlon.local', 'dc-bat.flexlon.local'],
        'cheapest first',
      );
      assert.ok(Math.abs(got.boughtKw - 40) < 0.05, `bought ${got.boughtKw} kW`);
      const [lonPart, batPart] = got.parts as [Procurement, Procurement];
      for (const p of got.parts) {
        const provider = m.providers.find((x) => x.id === p.bpp.subscriber_id);
        const order = await provider?.store.getOrder(p.orderId);
        assert.equal(order?.product?.code, 'DSO_PEAK_REDUCTION', `${p.bpp.subscriber_id} stored the product`);
      }

      const events: MonitorEvent[] = [];
      const monitor = new DeliveryMonitor(
        {
          bap: m.bap,
          need,
          policy: { tolerance: 0.05, topUp: true },
          slotMinutes: SLOT_MINUTES,
          now: () => m.clock.now(),
          transactionId: randomUUID,
          onEvent: (e) => events.push(e),
        },
        got.parts,
      );
      const lon = m.sites.find((s) => s.id === 'lon');
      assert.ok(lon);
      const dischargedBefore = bat.cluster.battery.dischargedKwh;
      // Market time runs; at each slot boundary, held there, every site reports and then the buyer monitors.
      m.clock.start();
      for (let t = m.dayStart + SLOT; t <= windowEnd + SLOT; t += SLOT) {
        await m.clock.waitUntil(epochMs(t));
        m.clock.hold(epochMs(t));
        try {
          if (t === windowStart) lon.cluster.submit([urgentJob(epochMs(t))]);
          await Promise.all(m.sites.map((s) => s.agent.tick(epochMs(t))));
          await monitor.step(epochMs(t));
        } finally {
          m.clock.release();
        }
      }
      await monitor.settled();
      monitor.stop();
      assert.ok(
        bat.cluster.battery.dischargedKwh - dischargedBefore > 10,
        'the battery-only site delivered by discharging',
      );

      // One alert, for lon, on the first metered period; the top-up covers the whole periods left.
      const shortfalls = events.filter((e) => e.kind === 'shortfall');
      assert.deepEqual(
        shortfalls.map((e) => e.procurement.orderId),
        [lonPart.orderId],
        JSON.stringify(events.map((e) => e.kind)),
      );
      const alert = shortfalls[0];
      assert.ok(alert?.kind === 'shortfall' && alert.shortfall.periods === 1);
      assert.ok(alert.shortfall.shortfallKwh > 0.05 * alert.shortfall.committedKwh);
      const topped = events.find((e) => e.kind === 'topped-up');
      assert.ok(topped?.kind === 'topped-up', JSON.stringify(events.map((e) => e.kind)));
      const topUps = topped.bought;
      assert.ok(topUps.length > 0 && topUps.every((p) => p.bpp.subscriber_id !== 'dc.flexlon.local'));
      assert.ok(topUps.every((p) => p.offer.windowStart === windowStart + 2 * SLOT && p.offer.windowEnd === windowEnd));
      assert.ok(
        Math.abs(
          topUps.reduce((a, p) => a + p.selectedKw, 0) -
            Math.min(alert.shortfall.missingKw, topUps[0]?.offer.reductionKw ?? 0),
        ) < 0.05,
        'the top-up asks for the kW missing in the latest period',
      );
      assert.deepEqual(monitor.parts, [...got.parts, ...topUps]);
      const trail = await audit();
      const payloads = trail.map((r): Record<string, unknown> => ({ orderId: r.orderId, ...(r.payload as object) }));
      assert.ok(payloads.some((x) => x.event === 'shortfall-alert' && x.orderId === lonPart.orderId));
      assert.ok(payloads.some((x) => x.event === 'top-up' && x.orderId === lonPart.orderId && x.bought === true));
      const procuredTopUp = payloads.find((x) => x.event === 'procured' && x.purpose === 'top-up');
      assert.deepEqual(procuredTopUp?.excluded, ['dc.flexlon.local']);
      // The providers pushed on_status unasked (delivery started), and the buyer audited it.
      assert.ok(payloads.some((x) => x.unsolicited === true && x.orderId === batPart.orderId));

      // After the window: each part's statement, checked against the buyer's own meter. The buyer's
      // meter at bat reads 12 kW more than bat's statement in the window's second period.
      const disputedAt = windowStart + SLOT;
      const view = meterSeriesView(
        new Map([
          ['lon', await meterFile(m, 'lon', windowEnd + SLOT)],
          ['bat', await meterFile(m, 'bat', windowEnd + SLOT, { start: disputedAt, addKw: 12 })],
        ]),
      );
      const settled = new Map<Procurement, Awaited<ReturnType<typeof followUp>>>();
      for (const p of monitor.parts) {
        let f = await followUp(m.bap, p, view);
        for (let i = 0; i < 30 && f.state !== 'DELIVERED'; i++) {
          await new Promise((r) => setTimeout(r, 200));
          f = await followUp(m.bap, p, view);
        }
        assert.equal(f.state, 'DELIVERED', `${p.bpp.subscriber_id} ${p.orderId}`);
        settled.set(p, f);
      }

      // lon under-delivered: paid by the WPD rule on its own readings, and the buyer agrees.
      const lonSettled = settled.get(lonPart);
      assert.ok(lonSettled?.statement?.terms && lonSettled.check, 'lon sent its statement');
      const lonStatement = lonSettled.statement;
      const terms = lonSettled.statement.terms;
      const committed = lonStatement.periods.reduce((a, x) => a + x.committedKwh, 0);
      const short = lonStatement.periods.reduce((a, x) => a + x.shortfallKwh, 0);
      const factor = performanceFactor(WPD_PERFORMANCE, 1 - short / committed);
      assert.ok(factor > 0 && factor < 1, `a pay cut, not nothing: factor ${factor}`);
      assert.ok(Math.abs(terms.performanceFactor - factor) < 0.001);
      assert.ok(Math.abs(lonStatement.paymentGbp - (terms.availabilityGbp + terms.utilisationGbp) * factor) < 0.02);
      assert.ok(lonSettled.check.agreed, JSON.stringify(lonSettled.check));
      assert.match(lonSettled.check.meter?.source ?? '', /lon-meter\.csv \(meter MPAN-lon\)/);
      assert.deepEqual(lonSettled.check.meter?.unverified, []);

      // bat's statement is disputed, naming the period the meters differ in (and what follows from it).
      const batCheck = settled.get(batPart)?.check;
      assert.ok(batCheck && !batCheck.agreed, JSON.stringify(batCheck));
      const where = `${new Date(disputedAt).toISOString()} (SP${settlementPeriodOf(disputedAt).period})`;
      const metered = batCheck.differences.find((x) => x.field === 'metered kW (buyer’s meter)');
      assert.equal(metered?.where, where);
      assert.ok(Math.abs((metered?.ours ?? 0) - (metered?.theirs ?? 0) - 12) < 0.01);
      assert.deepEqual(
        [...new Set(batCheck.differences.map((x) => x.where))].sort(),
        [where, 'total'].sort(),
        'only that period, and the totals it changes',
      );
      assert.ok(batCheck.differences.some((x) => x.field === 'payment £' && x.ours < x.theirs));
      // The top-up, from the same battery site in later periods, agrees.
      for (const p of topUps) assert.ok(settled.get(p)?.check?.agreed, JSON.stringify(settled.get(p)?.check));
      const checks = (await audit())
        .map((r) => ({ orderId: r.orderId, ...(r.payload as { event?: string }) }))
        .filter((x) => x.event === 'statement-agreed' || x.event === 'statement-disputed');
      assert.deepEqual(
        checks.filter((x) => x.event === 'statement-disputed').map((x) => x.orderId),
        [batPart.orderId],
      );
    } finally {
      await market.stop();
    }
  },
);

test(
  'the buyer’s own loop, monitoring on, follows a DSO event’s need: bought across providers, alerted, topped up, checked',
  { timeout: 90_000 },
  async () => {
    const market = await openMarket('grid-desk-loop', {
      secondsPerDay: '20',
      extraProviders: [BATTERY_ONLY],
    });
    const m = market.m;
    try {
      // A DSO peak-reduction event posted to the buyer's intake: 40 kW from 03:00 to 05:00 at up to 3000 £/MWh.
      const program = await m.gridEvents.addProgram(
        { programName: 'desk-test', programType: 'DSO_PEAK_REDUCTION', country: 'GB' },
        'test',
      );
      const windowStart = epochMs(m.dayStart + 6 * SLOT);
      const windowEnd = epochMs(windowStart + 4 * SLOT);
      const interval = (id: number) => ({
        id,
        payloads: [
          { type: 'DISPATCH_SETPOINT', values: [40] },
          { type: 'PRICE', values: [3000] },
        ],
      });
      await m.gridEvents.addEvent(
        {
          programID: program.id,
          eventName: 'evening overload',
          intervalPeriod: { start: new Date(windowStart).toISOString(), duration: 'PT30M' },
          intervals: [0, 1, 2, 3].map(interval),
        },
        'test',
      );
      const monitored: MonitorEvent[] = [];
      const loop = new ProcurementLoop({
        bap: m.bap,
        clock: m.clock,
        slotMinutes: SLOT_MINUTES,
        transactionId: randomUUID,
        monitor: { tolerance: 0.05, topUp: true },
        onMonitor: (e) => monitored.push(e),
      });
      const day = await loop.plan(m.dayStart);
      assert.equal(day.need?.windowStart, windowStart);
      assert.equal(day.need?.product?.code, 'DSO_PEAK_REDUCTION');
      const lon = m.sites.find((s) => s.id === 'lon');
      assert.ok(lon);
      m.clock.start();
      for (let t = m.dayStart + SLOT; t <= windowEnd + SLOT; t += SLOT) {
        await m.clock.waitUntil(epochMs(t));
        m.clock.hold(epochMs(t));
        try {
          if (t === windowStart) lon.cluster.submit([urgentJob(epochMs(t))]);
          await Promise.all(m.sites.map((s) => s.agent.tick(epochMs(t))));
          await loop.step(epochMs(t));
        } finally {
          m.clock.release();
        }
      }
      assert.ok(day.procurement, day.noDeal);
      assert.deepEqual(
        monitored.map((e) => [e.kind, e.procurement.bpp.subscriber_id]),
        [
          ['shortfall', 'dc.flexlon.local'],
          ['topped-up', 'dc.flexlon.local'],
        ],
      );
      // The day's parts: lon, bat, then the top-up from bat; each followed up and its statement checked.
      assert.deepEqual(
        day.parts.map((x) => x.procurement.bpp.subscriber_id),
        ['dc.flexlon.local', 'dc-bat.flexlon.local', 'dc-bat.flexlon.local'],
      );
      for (const x of day.parts) {
        assert.ok(x.statement && x.check, `${x.procurement.bpp.subscriber_id} ${x.procurement.orderId} followed up`);
        assert.ok(x.check.agreed, JSON.stringify(x.check));
      }
      const lonStatement = day.parts[0]?.statement;
      assert.ok(
        (lonStatement?.terms?.performanceFactor ?? 1) < 1,
        `lon paid by the rule: ${JSON.stringify(lonStatement?.terms)}`,
      );
    } finally {
      await market.stop();
    }
  },
);
