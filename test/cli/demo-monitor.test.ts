// `flexlon demo --monitor` / `--top-up` (issue 16): the demo's buyer follows delivery while the window
// runs. The timeline's lines for what monitoring finds (a shortfall alerted, topped up, or why not)
// are checked on made-up events, since the demo's site rarely falls short; one short demo run
// checks the buyer really asked status at each slot of the window (its audit log) and that every
// shortfall it alerted was narrated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { MonitorEvent } from '../../src/agents/grid/monitor.ts';
import type { Procurement } from '../../src/agents/grid/orchestrator.ts';
import { monitorLines, monitorPolicyLine } from '../../src/cli/demo-events.ts';
import { openSqliteStore } from '../../src/compose/tools.ts';
import { epochMs } from '../../src/domain/time.ts';
import { runDemo } from '../helpers/run-demo.ts';

const at = (hhmm: string) => epochMs(Date.parse(`2023-01-24T${hhmm}:00Z`));

/** The fields of a Procurement the lines read. */
const part = (bpp: string, orderId: string, kw: number, site: string, from: string, to: string) =>
  ({
    bpp: { subscriber_id: bpp },
    orderId,
    selectedKw: kw,
    quotedGbp: kw * 0.25,
    offer: { site, windowStart: at(from), windowEnd: at(to) },
  }) as unknown as Procurement;

test('monitor events as timeline lines: shortfall alerted, topped up, no top-up and why', () => {
  const lon = part('dc.flexlon.local', 'ord-lon', 30, 'lon', '18:00', '19:00');
  const shortfall: MonitorEvent = {
    kind: 'shortfall',
    at: at('18:30'),
    procurement: lon,
    source: 'poll',
    shortfall: {
      periods: 1,
      deliveredKwh: 4.2,
      committedKwh: 15,
      shortfallKwh: 10.8,
      missingKw: 21.6,
      lastPeriod: '2023-01-24T18:00:00.000Z (SP37)',
    },
  };
  assert.deepEqual(monitorLines(shortfall), [
    '[18:30 SP38] grid: SHORTFALL alerted (status poll): dc.flexlon.local order ord-lon delivered 4.2 kWh of 15.0 kWh committed over 1 period, 10.8 kWh short; 21.6 kW missing in 2023-01-24T18:00:00.000Z (SP37)',
  ]);
  assert.match(monitorLines({ ...shortfall, source: 'push' })[0] ?? '', /\(on_status pushed\)/);
  const topUp = part('dc-bat.flexlon.local', 'ord-bat-2', 21.6, 'bat', '19:00', '19:00');
  assert.deepEqual(monitorLines({ kind: 'topped-up', at: at('18:30'), procurement: lon, bought: [topUp] }), [
    '[18:30 SP38] grid: topped up for dc.flexlon.local order ord-lon: 21.6 kW from dc-bat.flexlon.local at bat 19:00–19:00, £5.40, order ord-bat-2',
  ]);
  assert.deepEqual(
    monitorLines({
      kind: 'no-top-up',
      at: at('18:30'),
      procurement: lon,
      reason: 'no offers from any provider but dc.flexlon.local',
    }),
    [
      '[18:30 SP38] grid: no top-up for dc.flexlon.local order ord-lon: no offers from any provider but dc.flexlon.local',
    ],
  );
  assert.match(monitorPolicyLine({ tolerance: 0.05, topUp: false }), /beyond 5 % .* alerted \(no top-up\)$/);
  assert.match(monitorPolicyLine({ tolerance: 0.1, topUp: true }), /beyond 10 % .* topped up from another provider/);
});

test(
  'demo --top-up: the buyer asks status at each slot of the window, and every shortfall it alerts is in the timeline',
  { timeout: 180_000 },
  async () => {
    const demo = await runDemo(['--top-up']);
    try {
      const { lines, text } = demo;
      assert.ok(
        lines.includes(monitorPolicyLine({ tolerance: 0.05, topUp: true })),
        `the demo says how delivery is followed:\n${text}`,
      );
      assert.match(text, /status → on_status: DELIVERED/);

      const store = await openSqliteStore(join(demo.runDir, 'grid-orchestrator.db'));
      const trail = await store.auditTrail();
      await store.close();
      // Each part's order: its window's slots, each with a status asked (2 slots in the demo's
      // window: at its middle and its end), then the follow-up's status after it. Without --monitor, 1.
      const bought = trail.filter(
        (x) => x.kind === 'beckn.out' && (x.payload as { action?: string }).action === 'confirm',
      );
      assert.ok(bought.length >= 1, 'an order was confirmed');
      for (const confirm of bought) {
        const asked = trail.filter(
          (x) =>
            x.kind === 'beckn.out' &&
            x.transactionId === confirm.transactionId &&
            (x.payload as { action?: string }).action === 'status',
        );
        assert.equal(asked.length, 3, `status asked of ${confirm.transactionId}: ${asked.length}`);
      }
      // What monitoring found is audited and narrated alike.
      const alerts = trail.filter(
        (x) => x.kind === 'settlement' && (x.payload as { event?: string }).event === 'shortfall-alert',
      );
      assert.equal(lines.filter((l) => / grid: SHORTFALL alerted /.test(l)).length, alerts.length, text);
      const topUps = trail.filter(
        (x) =>
          x.kind === 'settlement' &&
          ['top-up', 'top-up-skipped'].includes((x.payload as { event?: string }).event ?? ''),
      );
      assert.equal(topUps.length, alerts.length, 'each alert is topped up or says why not');
      assert.equal(lines.filter((l) => / grid: (topped up|no top-up) for /.test(l)).length >= alerts.length, true);
    } finally {
      demo.remove();
    }
  },
);
