// The battery lever through the public entry points (issue 13 item 4): the demo's fourth site, cdf,
// has a battery behind its meter. Its agent reports it (capacity, limits, state of charge), the BPP
// plans it with the fleet, a reduction bought over signed Beckn is split across the sites, and in
// the window the battery's setpoints come down the dispatch and the battery discharges; the site's
// part of the order is settled against its meter, which counts the battery.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
let m: Market;
const SLOT = SLOT_MINUTES * MINUTE_MS;

before(async () => {
  market = await openMarket('battery', { sites: '4', secondsPerDay: '15' });
  m = market.m;
});

after(async () => {
  await market.stop();
});

const tickAll = async (t: number): Promise<void> => {
  m.clock.hold(epochMs(t));
  await Promise.all(m.sites.map((s) => s.agent.tick(epochMs(t))));
};

test(
  'a battery-heavy site discharges its battery in the window it sold, as dispatched, and is settled on its meter',
  { timeout: 240_000 },
  async () => {
    const cdf = m.sites.find((s) => s.id === 'cdf');
    assert.ok(cdf?.cluster.battery, 'cdf has a battery');
    const battery = cdf.cluster.battery;
    for (let t = m.dayStart + SLOT; t <= m.dayStart + 32 * SLOT; t += SLOT) await tickAll(t);
    const reported = (
      await m.stores.flex.getDocument<{ battery?: { capacityKwh: number; socKwh: number } }>('agent-report', 'cdf')
    )?.battery;
    assert.ok(reported && reported.capacityKwh === 400, `the agent reports its battery: ${JSON.stringify(reported)}`);

    const got = await m.bap.procure(
      {
        kind: 'price-peak',
        windowStart: epochMs(m.dayStart + 36 * SLOT),
        windowEnd: epochMs(m.dayStart + 38 * SLOT),
        wantedKw: kw(200),
        maxPriceGbpPerMwh: gbpPerMwh(3000),
      },
      randomUUID(),
    );
    assert.ok(!('none' in got), `a deal: ${'none' in got ? got.none : ''}`);

    let atWindow = 0;
    for (let t = m.dayStart + 33 * SLOT; t <= m.dayStart + 39 * SLOT; t += SLOT) {
      if (t === m.dayStart + 36 * SLOT) atWindow = battery.dischargedKwh;
      await tickAll(t);
    }
    // Ticks at 18:00 and 18:30 set the window's setpoints; by the 19:00 tick the window has run.
    const inWindow = battery.dischargedKwh - atWindow;
    assert.ok(inWindow > 1, `the battery discharged in the window: ${inWindow.toFixed(1)} kWh`);
    const soc = await battery.stateOfChargeKwh();
    assert.ok(soc >= 40 - 1e-6 && soc <= 360 + 1e-6, `state of charge within its limits: ${soc}`);

    const setpoints = (await cdf.store.auditTrail())
      .filter((r) => r.kind === 'dispatch')
      .map((r) => r.payload as { battery?: { kw: number }; results: { jobId: string; ok: boolean }[] })
      .filter((d) => d.battery !== undefined);
    assert.ok(
      setpoints.some((d) => (d.battery?.kw ?? 0) < 0),
      'the dispatch carried discharge setpoints',
    );
    const results = setpoints.flatMap((d) => d.results.filter((r) => r.jobId === 'battery:cdf'));
    assert.ok(results.length > 0 && results.every((r) => r.ok), JSON.stringify(results.filter((r) => !r.ok)));

    const { settlement, sites } = await m.bap.status(got);
    assert.ok(settlement && settlement.deliveredKwh >= 0.95 * settlement.committedKwh, JSON.stringify(settlement));
    const part = sites.find((s) => s.site === 'cdf');
    if (part) assert.ok(part.deliveredKwh >= 0.95 * part.committedKwh, `cdf's part: ${JSON.stringify(part)}`);
  },
);
