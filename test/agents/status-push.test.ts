// Orders move with market time without being asked: when the window opens the BPP's order becomes
// active, when it ends completed and settled, and each change reaches the buyer as an unsolicited
// on_status (core 1.1.1) over signed HTTP — audited by the BAP, with the settlement at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { buyEarlyWindow, openMarket, runThrough, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
let m: Market;
const SLOT = SLOT_MINUTES * MINUTE_MS;

before(async () => {
  market = await openMarket('push', { secondsPerDay: '20' });
  m = market.m;
});

after(async () => {
  await market.stop();
});

interface Pushed {
  state?: string;
  unsolicited?: boolean;
  settlement?: { deliveredKwh: number; periods: unknown[] };
}

test(
  'the BPP tells the buyer when delivery starts and when it is done, unasked, with the settlement',
  { timeout: 120_000 },
  async () => {
    // Buy a small window early in the day at market time 00:00, then let market time run (20 s a
    // day) while the agent reports each slot, as in the demo, past the window.
    const { p, windowEnd } = await buyEarlyWindow(m);
    await runThrough(m, windowEnd + SLOT);
    const pushes = async (): Promise<Pushed[]> =>
      (await m.stores.grid.auditTrail({ transactionId: p.transactionId }))
        .filter((r) => r.kind === 'settlement' && (r.payload as Pushed).unsolicited)
        .map((r) => r.payload as Pushed);
    for (let i = 0; i < 100 && (await pushes()).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    const got = await pushes();
    assert.deepEqual(
      got.map((x) => x.state),
      ['DELIVERING', 'DELIVERED'],
      'one push when delivery starts, one when it is done',
    );
    const done = got[1];
    assert.equal(done?.settlement?.periods.length, 2, 'the final push carries both settlement periods');
    assert.ok(typeof done?.settlement?.deliveredKwh === 'number');
    const order = await m.stores.flex.getOrder(p.orderId);
    assert.equal(order?.state, 'completed', 'nobody asked for status, yet the order is completed');
    const bppAudit = (await m.stores.flex.auditTrail({ transactionId: p.transactionId }))
      .filter((r) => r.kind === 'order')
      .map((r) => r.payload as { state: string; unsolicited?: boolean });
    assert.deepEqual(
      bppAudit.filter((x) => x.unsolicited).map((x) => x.state),
      ['active', 'completed'],
    );
    // Asking afterwards still works, and says the same.
    const asked = await m.bap.status(p);
    assert.equal(asked.state, 'DELIVERED');
    assert.equal(asked.settlement?.deliveredKwh, done?.settlement?.deliveredKwh);
  },
);

test(
  'an order whose window has ended waits for its sites’ meters before it completes: no DELIVERED with periods missing',
  { timeout: 120_000 },
  async () => {
    // A window a few slots ahead of market time (the clock runs since the first test).
    const now = m.clock.now();
    const base = Math.ceil((now - m.dayStart) / SLOT) + 6;
    const { p, windowEnd } = await buyEarlyWindow(m, { fromSlot: base, toSlot: base + 8 });
    m.clock.start();
    // The agent reports every slot up to the window's last period, but not the report that meters it.
    for (let t = Math.ceil((m.clock.now() - m.dayStart) / SLOT) * SLOT + m.dayStart; t < windowEnd; t += SLOT) {
      await m.clock.waitUntil(epochMs(t));
      await m.agent.tick(epochMs(t));
    }
    // Market time past the window's end, within the meter grace, held there (as the demo holds it while sites report).
    await m.clock.waitUntil(epochMs(windowEnd + SLOT / 2));
    m.clock.hold();
    try {
      await new Promise((r) => setTimeout(r, 2_500)); // the progress pass runs every second
      const waiting = await m.stores.flex.getOrder(p.orderId);
      assert.equal(waiting?.state, 'active', 'not completed while a period is unmetered');
      // The late report arrives: now it completes, on both periods.
      await m.agent.tick(epochMs(windowEnd));
      const pushes = async (): Promise<Pushed[]> =>
        (await m.stores.grid.auditTrail({ transactionId: p.transactionId }))
          .filter((r) => r.kind === 'settlement' && (r.payload as Pushed).unsolicited)
          .map((r) => r.payload as Pushed);
      for (let i = 0; i < 100 && (await pushes()).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      const done = (await pushes()).find((x) => x.state === 'DELIVERED');
      assert.equal(done?.settlement?.periods.length, 2, 'DELIVERED carries every period of the window');
    } finally {
      m.clock.release();
    }
  },
);
