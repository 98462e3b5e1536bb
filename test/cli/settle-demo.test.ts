// Issue 17's "a demo day with --baseline bl01 on real-format meter files settles and exports", end to
// end through the CLI: `flexlon demo --baseline bl01 --meter-out DIR` runs the whole market over the
// replayed day and writes the site's meter (its BL01 history and the day) as a supplier-shaped CSV and
// the order's terms; the `flexlon settle` line it prints must reproduce the settlement the provider
// recorded, period by period; the `flexlon audit export` line it prints must give an export that
// `flexlon audit verify --export` checks offline.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { SettleReport } from '../../src/cli/settle-html.ts';
import { openSqliteStore } from '../../src/compose/tools.ts';
import type { SettlementSummary } from '../../src/settlement/delivered.ts';
import { runDemo } from '../helpers/run-demo.ts';

const work = mkdtempSync(join(tmpdir(), 'flexlon-settle-demo-'));

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
  return line.trim().slice(label.length).trim().split(/\s+/).slice(1); // without "flexlon"
};

test(
  'flexlon demo --baseline bl01 --meter-out: the printed settle line reproduces the recorded settlement, the export verifies offline',
  { timeout: 180_000 },
  async () => {
    const meters = join(work, 'meters');
    const demo = await runDemo(['--baseline', 'bl01', '--meter-out', meters], { dataDir: join(work, 'data') });
    const runDir = demo.runDir;

    // The meter file is a real-format export: one row per half hour, kWh, 15 days of history and the day.
    const csv = readFileSync(join(meters, 'lon.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'meter_id,start_utc,kwh');
    assert.equal(csv.length - 1, 16 * 48);
    assert.equal(csv[1]?.split(',')[1], '2023-01-09T00:00:00.000Z');

    const settleArgs = printed(demo.lines, 'settle it');
    assert.deepEqual(settleArgs.slice(0, 3), ['settle', '--meter', join(meters, 'lon.csv')]);
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
