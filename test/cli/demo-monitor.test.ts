// `flexlon demo --monitor` / `--top-up` (issue 16): the demo's buyer follows delivery while the window
// runs. The timeline's lines for what monitoring finds (a shortfall alerted, topped up, or why not)
// are checked here on made-up events, since the demo's site rarely falls short. The demo run that
// checks the buyer really asked status at each slot of the window (its audit log) and that every
// shortfall it alerted was narrated is in test/cli/settle-demo.test.ts: one run of
// `flexlon demo --top-up --baseline bl01 --meter-out` serves both flags' tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MonitorEvent } from '../../src/agents/grid/monitor.ts';
import type { Procurement } from '../../src/agents/grid/orchestrator.ts';
import { monitorLines, monitorPolicyLine } from '../../src/cli/demo-events.ts';
import { epochMs } from '../../src/domain/time.ts';

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
