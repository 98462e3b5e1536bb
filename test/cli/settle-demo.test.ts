// Issue 17's "a demo day with --baseline bl01 on real-format meter files settles and exports", end to
// end through the CLI: `flexlon demo --baseline bl01 --meter-out DIR` runs the whole market over the
// replayed day and writes the site's meter (its BL01 history and the day) as a supplier-shaped CSV and
// the order's terms; the `flexlon settle` line it prints must reproduce the settlement the provider
// recorded, period by period; the `flexlon audit export` line it prints must give an export that
// `flexlon audit verify --export` checks offline.
//
// The same run has --top-up on (issue 16; the timeline's monitoring lines are checked on made-up
// events in test/cli/demo-monitor.test.ts): the buyer asks status at each slot of the window and
// every shortfall it alerts is narrated. One demo day serves both flags' tests, since a run is most
// of each test's time: --top-up acts on the buyer while the window runs, --baseline and --meter-out
// on how the provider settles the order and what is written after the day.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { monitorPolicyLine } from '../../src/cli/demo-events.ts';
import type { SettleReport } from '../../src/cli/settle-html.ts';
import { openSqliteStore } from '../../src/compose/tools.ts';
import type { SettlementSummary } from '../../src/settlement/delivered.ts';
import { runDemo, type DemoRun } from '../helpers/run-demo.ts';

const work = mkdtempSync(join(tmpdir(), 'flexlon-settle-demo-'));
const meters = join(work, 'meters');
let demo: DemoRun;

before(
  async () => {
    demo = await runDemo(['--top-up', '--baseline', 'bl01', '--meter-out', meters], { dataDir: join(work, 'data') });
  },
  { timeout: 180_000 },
);

after(() => rmSync(work, { recursive: true, force: true }));

const run = async (...argv: string[]): Promise<{ code: number; lines: string[] }> => {
  const lines: string[] = [];
  const code = await main(argv, { out: (l) => lines.push(...l.split('\n')), err: (l) => lines.push(l) });
  return { code, lines };
};

/** The command a demo line prints after `label`, as argv (the paths here hold no spaces). */
const printed = (lines: readonly string[], label: string): string[] => {
  const line = lines.find((l) => l.trimStart().startsWith(label));
  assert.ok(line, `the demo printed "${label}"\n${lines.join('\n')}`);
  // As printed for a clone, where flexlon runs through npx (it is not on the PATH after npm ci).
  const words = line.trim().slice(label.length).trim().split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ['npx', 'flexlon'], line);
  return words.slice(2);
};

/**
 * Runs the `flexlon settle` line a demo printed and checks it against the settlement the provider
 * recorded, period by period.
 */
const assertSettleReproduces = async (lines: readonly string[], meterDir: string, runDir: string): Promise<void> => {
  const settleArgs = printed(lines, 'settle it');
  assert.deepEqual(settleArgs.slice(0, 3), ['settle', '--meter', join(meterDir, 'lon.csv')]);
  const settled = await run(...settleArgs, '--format', 'json');
  assert.equal(settled.code, 0, settled.lines.join('\n'));
  const r = JSON.parse(settled.lines.join('\n')) as SettleReport;

  const store = await openSqliteStore(join(runDir, 'flex-orchestrator.db'));
  // The settlement record (not the statement sent in on_support, recorded under the same kind).
  const record = (await store.auditTrail()).findLast(
    (x) => x.kind === 'settlement' && Array.isArray((x.payload as { periods?: unknown }).periods),
  );
  await store.close();
  assert.ok(record, 'the provider recorded its settlement');
  const s = record.payload as SettlementSummary;
  assert.equal(s.baselineMethod, 'BL01');
  assert.equal(r.baseline.name, 'bl01');
  assert.equal(r.baseline.selectedDays.length, 10, 'the 10 most recent working days');
  assert.equal(r.settlement.periods.length, s.periods.length);
  r.settlement.periods.forEach((p, i) => {
    const q = s.periods[i] as (typeof s.periods)[number];
    assert.equal(p.start, q.start);
    // The statement gives the baseline to 3 decimals; the provider keeps it whole.
    assert.ok(Math.abs(p.baselineKw - q.baselineKw) <= 0.0005, `baseline ${p.baselineKw} vs ${q.baselineKw}`);
    assert.equal(p.meteredKw, q.meteredKw);
    assert.ok(Math.abs(p.deliveredKwh - q.deliveredKwh) <= 0.001, `delivered ${p.deliveredKwh} vs ${q.deliveredKwh}`);
  });
  assert.ok(Math.abs(r.settlement.deliveredKwh - s.deliveredKwh) <= 0.002);
  assert.equal(r.settlement.paymentGbp, s.paymentGbp);
  assert.ok(s.paymentGbp > 0);
};

test(
  'flexlon demo --baseline bl01 --meter-out: the printed settle line reproduces the recorded settlement, the export verifies offline',
  { timeout: 180_000 },
  async () => {
    const runDir = demo.runDir;

    // The meter file is a real-format export: one row per half hour, kWh, 15 days of history and the day.
    const csv = readFileSync(join(meters, 'lon.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'meter_id,start_utc,kwh');
    assert.equal(csv.length - 1, 16 * 48);
    assert.equal(csv[1]?.split(',')[1], '2023-01-09T00:00:00.000Z');

    await assertSettleReproduces(demo.lines, meters, runDir);

    // The transaction exported and checked offline, as the demo says.
    const exportArgs = printed(demo.lines, 'export it');
    const file = join(work, 'export.json');
    const exported = await run(...exportArgs.slice(0, exportArgs.indexOf('--out')), '--out', file);
    assert.equal(exported.code, 0, exported.lines.join('\n'));
    const verified = await run('audit', 'verify', '--export', file);
    assert.equal(verified.code, 0, verified.lines.join('\n'));
    assert.match(
      verified.lines.join('\n'),
      /^intact {2}export of transaction .*: \d+ records, [1-9]\d* vouched for by signed heads/m,
    );
    const e = JSON.parse(readFileSync(file, 'utf8')) as { stores: { records: { kind: string }[] }[] };
    assert.ok(
      e.stores.some((x) => x.records.some((y) => y.kind === 'settlement')),
      'the export holds the settlement',
    );
  },
);

test(
  'demo --top-up: the buyer asks status at each slot of the window, and every shortfall it alerts is in the timeline',
  { timeout: 180_000 },
  async () => {
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
        x.kind === 'settlement' && ['top-up', 'top-up-skipped'].includes((x.payload as { event?: string }).event ?? ''),
    );
    assert.equal(topUps.length, alerts.length, 'each alert is topped up or says why not');
    assert.equal(lines.filter((l) => / grid: (topped up|no top-up) for /.test(l)).length >= alerts.length, true);
  },
);

test(
  'demo --date in British Summer Time: the day replayed is the settlement day, from 23:00 UTC the evening before, and its settle line reproduces the settlement',
  { timeout: 180_000 },
  async () => {
    const dir = join(work, 'bst');
    const bst = await runDemo(['--date', '2023-07-12', '--baseline', 'bl01', '--meter-out', join(dir, 'meters')], {
      dataDir: join(dir, 'data'),
    });
    // The day's first step is SP1 at UK local midnight, not 00:00 UTC (SP3, 01:00 BST).
    const first = bst.lines.find((l) => l.startsWith('['));
    assert.match(first ?? '', /^\[23:00 SP1 · 00:00 BST\] grid: /, bst.text);
    assert.ok(!bst.lines.some((l) => l.startsWith('[00:00 SP3')), bst.text);
    // The meter file holds whole settlement days: 15 of history and the day, from local midnight.
    const csv = readFileSync(join(dir, 'meters', 'lon.csv'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(csv.length - 1, 16 * 48);
    assert.equal(csv[1]?.split(',')[1], '2023-06-26T23:00:00.000Z');
    assert.equal(csv.at(-1)?.split(',')[1], '2023-07-12T22:30:00.000Z');
    await assertSettleReproduces(bst.lines, join(dir, 'meters'), bst.runDir);
  },
);
