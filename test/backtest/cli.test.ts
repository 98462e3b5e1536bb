// `flexlon backtest` end to end on one day of the shipped data, and its usage errors.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { StrategySummary } from '../../src/backtest/metrics.ts';
import { summaryLines, targetLines } from '../../src/cli/backtest.ts';
import { main } from '../../src/cli/main.ts';
import { projectRoot } from '../helpers/shared.ts';
import { tmp } from './fixtures.ts';

const cli = async (args: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['backtest', ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

describe('flexlon backtest', () => {
  it('writes results.json, a CSV per strategy, SVG plots and an offline report', async () => {
    const dir = join(tmp(), 'out');
    const r = await cli([
      '--from',
      '2023-01-24',
      '--to',
      '2023-01-24',
      '--sites',
      'edi',
      '--strategies',
      'fifo,gsf-best-window,flexlon',
      '--products',
      'dfs',
      '--out',
      dir,
    ]);
    assert.equal(r.code, 0, r.err);
    // Progress on stderr, a plain line per day when not a terminal.
    assert.match(r.err, /backtest 2023-01-24: day 1\/3, period 48\/144 .* ETA/);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as {
      schema: string;
      run: { periods: number };
      strategies: Record<
        string,
        {
          energyGbp: number;
          tCo2: number;
          slo: { jobsOpenAtEnd: number };
          flexibility: { unsettled: { reason: string }[] };
        }
      >;
      products: { windows: { startUtc: string; source: string }[]; rules: Record<string, string[]> };
    };
    assert.equal(results.schema, 'flexlon-backtest/1');
    assert.equal(results.run.periods, 144);
    // The terminal's summary: a row per strategy (fifo, the reference, always runs), then flexlon
    // against fifo in words.
    for (const name of ['fifo', 'gsf-best-window', 'flexlon'])
      assert.match(
        r.out,
        new RegExp(`^${name} +£[\\d,]+ +[\\d.]+ +£0\\.\\d{4} +[\\d.]+ +[\\d.]+ % +£[\\d,]+ +£[\\d,]+$`, 'm'),
      );
    assert.match(
      r.out,
      /^flexlon against fifo: objective £[\d,]+ (lower|HIGHER) \(£ and carbon £[\d,]+ (lower|higher), lateness £[\d,]+ (lower|higher)\)/m,
    );
    for (const name of ['fifo', 'gsf-best-window', 'flexlon']) {
      const s = results.strategies[name];
      assert.ok(s && s.energyGbp > 0 && s.tCo2 > 0, name);
      assert.equal(s.slo.jobsOpenAtEnd, 0);
      const csv = readFileSync(join(dir, `${name}.csv`), 'utf8')
        .trim()
        .split('\n');
      assert.equal(csv.length, 1 + 144);
      assert.match(csv[0] ?? '', /^period_start_utc,settlement_date,settlement_period,import_kwh_edi,/);
    }
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    assert.match(html, /<svg /);
    // The report says flexlon against fifo in the terminal's words (it said it only on the terminal).
    const against =
      /^(flexlon against fifo: objective £[\d,]+ (lower|HIGHER) .*); the objective is £ \+ carbon at its price \+ lateness, report\.html says more$/m.exec(
        r.out,
      );
    assert.ok(against, r.out);
    assert.ok(
      html.includes(`<p><strong>${against[1]}; the objective is £ + carbon at its price + lateness.</strong></p>`),
      'in report.html',
    );
    assert.doesNotMatch(html, /<script|src="http/);
    // The targets, each with its result and why: no oracle ran, so the captured share is not measured.
    assert.match(html, /<h2>Targets<\/h2>/);
    assert.match(html, /oracle's £ \+ carbon saving over fifo<\/td><td>not measured/);
    assert.match(
      html,
      /gsf-best-window on £ and on gCO2 per GPU-hour<\/td><td>(met|half met|missed)<\/td><td[^>]*>£ per GPU-hour £/,
    );
    assert.ok(existsSync(join(dir, 'daily.svg')) && existsSync(join(dir, 'week.svg')));
    // One day run: the week's plot shows the two drain days after it, and says so, and in UTC.
    assert.match(
      readFileSync(join(dir, 'week.svg'), 'utf8'),
      /Fleet grid import, 2023-01-24 to 2023-01-26 \(its last 2 days are the drain days after --to\), half hours labelled MM-DD HH in UTC/,
    );
    // The distribution of daily savings against fifo, per strategy, best day first.
    assert.ok(existsSync(join(dir, 'savings.svg')));
    // Each strategy keeps its colour from plot to plot (fifo is not in this one).
    const colourOf = (file: string, name: string) =>
      new RegExp(`stroke="(#[0-9a-f]{6})" stroke-width="3"/><text[^>]*>${name}</text>`).exec(
        readFileSync(join(dir, file), 'utf8'),
      )?.[1];
    for (const name of ['gsf-best-window', 'flexlon'])
      assert.equal(colourOf('savings.svg', name), colourOf('daily.svg', name) ?? 'none', name);
    for (const name of ['gsf-best-window', 'flexlon']) {
      const m = new RegExp(
        `${name} saved on (\\d) of 3 days \\(median (−?£[\\d.,]+), best (−?£[\\d.,]+), worst (−?£[\\d.,]+); (−?£[\\d.,]+) in all\\)`,
      ).exec(html);
      assert.ok(m, `${name}'s savings in the report`);
      const gbp = (x: string | undefined) => Number((x ?? '').replace('−', '-').replace('£', '').replace(/,/g, ''));
      const [median, best, worst] = [gbp(m[2]), gbp(m[3]), gbp(m[4])];
      assert.ok(best >= median && median >= worst, m[0]);
      // Three days: the total lies between three worst days and three best.
      assert.ok(gbp(m[5]) >= 3 * worst - 0.02 && gbp(m[5]) <= 3 * best + 0.02, m[0]);
    }
    // The day-by-day count includes the drain days, and says so (a week's run read "saved on 3 of 9").
    assert.match(
      html,
      /in all\)\. The 3 days include the 2 drain days after --to, in which the jobs left at --to finish/,
    );
    // 24 January 2023 was a DFS live event: called, stated with its source, and not settled on the
    // run's only day (no metered day before it for BL01), which the results say.
    assert.deepEqual(
      results.products.windows.map((w) => w.startUtc),
      ['2023-01-24T17:00Z'],
    );
    assert.match(results.products.windows[0]?.source ?? '', /Wikipedia/);
    assert.ok((results.products.rules.dfs?.length ?? 0) > 0);
    assert.match(results.strategies.flexlon?.flexibility.unsettled[0]?.reason ?? '', /baseline/);
    assert.match(html, /Flexibility revenue by product/);
    assert.ok(existsSync(join(dir, 'revenue.svg')));
  });

  it('a sold window holds the oracle to its plan: no backfill turns a reduction into an increase', async () => {
    // 2023-01-13 is a DSO peak day (16:00–19:00); the oracle commits at the 14:00 notice the day
    // before. Its site backfills any waiting job into free GPUs where it is contended, and did so in
    // the window too: lon, man and edi delivered −146.5, −50.4 and −11.0 kWh of 106, 73 and 75 kW sold.
    const dir = join(tmp(), 'held');
    const r = await cli([
      '--from',
      '2023-01-09',
      '--to',
      '2023-01-13',
      '--products',
      'dso-peak',
      '--strategies',
      'oracle',
      '--out',
      dir,
    ]);
    assert.equal(r.code, 0, r.err);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as {
      strategies: Record<string, { flexibility: { offers: { site: string; date: string; deliveredKwh: number }[] } }>;
    };
    const offers = results.strategies.oracle?.flexibility.offers ?? [];
    assert.deepEqual(
      offers.map((o) => `${o.site} ${o.date}`),
      ['lon 2023-01-13', 'man 2023-01-13', 'edi 2023-01-13'],
    );
    for (const o of offers) assert.ok(o.deliveredKwh > 0, `${o.site}: ${o.deliveredKwh} kWh delivered`);
  });

  it('stopped with Ctrl-C, says the days done are checkpointed and how to resume', async () => {
    const dir = join(tmp(), 'stopped');
    const child = spawn(
      process.execPath,
      [
        join(projectRoot, 'bin', 'flexlon.js'),
        'backtest',
        '--from',
        '2023-01-09',
        '--to',
        '2023-01-22',
        '--strategies',
        'flexlon',
        '--out',
        dir,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    let sent = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      err += s;
      // Stopped once a day has been checkpointed (the progress line names day 2).
      // Once: a second Ctrl-C ends node at once, as a user's would.
      if (!sent && /day 2\/16/.test(err)) sent = child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((done) => child.on('close', done));
    assert.equal(code, 130, err);
    assert.ok(
      err.includes(`the days finished so far are checkpointed in ${dir}; run the same command again to resume`),
      err,
    );
    assert.match(err, /flexlon: stopped \(SIGINT\)/);
    assert.ok(existsSync(join(dir, 'checkpoint')), 'the checkpoint folder is there');
  });

  it('refuses bad arguments with FLX_CLI_USAGE', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'x'), 'a file, not a folder');
    for (const args of [
      ['--from', '2023-13-01', '--to', '2023-01-02', '--out', dir],
      ['--from', '2023-02-02', '--to', '2023-02-01', '--out', dir],
      ['--from', '2025-01-01', '--to', '2025-01-02', '--out', dir],
      ['--from', '2023-02-01', '--to', '2023-02-01', '--sites', 'lon,par', '--out', dir],
      ['--from', '2023-02-01', '--to', '2023-02-01', '--strategies', 'magic', '--out', dir],
      ['--from', '2023-02-01', '--to', '2023-02-01', '--fleet', 'huge', '--out', dir],
      ['--from', '2023-02-01', '--to', '2023-02-01', '--products', 'dfs,capacity-market', '--out', dir],
      ['--from', '2023-02-01', '--to', '2023-02-01', '--products', 'dfs,dfs', '--out', dir],
      ['--from', '2023-02-01', '--to', '2023-02-01', '--caps', 'yes', '--out', dir],
      ['--from', '2023-02-01', '--to', '2023-02-01', '--moves', 'sometimes', '--out', dir],
      ['--from', '2023-02-01', '--to', '2023-02-01'],
      ['--from', '2023-02-01', '--to', '2023-02-01', '--out', join(dir, 'x', 'results.json', 'y')],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, /FLX_CLI_USAGE/);
      assert.doesNotMatch(r.err, /at .*\.ts:\d+/);
    }
    // A folder under /proc cannot be made: refused at once (mkdirSync's recursive mode spun forever
    // there on Node 20, deaf to Ctrl-C; src/make-dirs.ts).
    if (existsSync('/proc/self')) {
      const proc = await cli(['--from', '2023-02-01', '--to', '2023-02-01', '--out', '/proc/flexlon-no-such-folder']);
      assert.equal(proc.code, 2);
      assert.match(proc.err, /--out \/proc\/flexlon-no-such-folder cannot be used as a folder: ENOENT/);
    }
    // A day that does not exist, and a value that starts with "-" (or was forgotten), in words a
    // user can act on rather than node's placeholder '--seed=-XYZ'.
    const feb30 = await cli(['--from', '2023-02-30', '--to', '2023-03-02', '--out', dir]);
    assert.match(feb30.err, /--from must be a calendar date written YYYY-MM-DD, got "2023-02-30" \(no such day\)/);
    const forgotten = await cli(['--from', '2023-02-01', '--to', '2023-02-01', '--seed', '--out', dir]);
    assert.equal(forgotten.code, 2);
    assert.match(
      forgotten.err,
      /--seed needs a value, and what follows it starts with "-": if that is its value, write --seed=VALUE/,
    );
    assert.doesNotMatch(forgotten.err, /XYZ/);
    // A negative number is the flag's value, so the flag's own check says what it takes.
    const negative = await cli(['--from', '2023-02-01', '--to', '2023-02-01', '--seed', '-1', '--out', dir]);
    assert.equal(negative.code, 2);
    assert.match(negative.err, /--seed must be a whole number ≥ 0, got "-1"/);
    // Before the data, the fault named is --from, not the end date.
    const early = await cli(['--from', '2022-11-20', '--to', '2022-12-31', '--out', dir]);
    assert.match(early.err, /--from 2022-11-20 is before it: start on 2022-11-25 or later/);
    const late = await cli(['--from', '2024-09-20', '--to', '2024-09-29', '--out', dir]);
    assert.match(late.err, /--to 2024-09-29 needs data until .*: end two days and more before the data does/);
  });
});

describe('flexlon backtest --fleet FILE', () => {
  it('runs the sites a fleet file lists, with their node, PUE and fill', async () => {
    const dir = tmp();
    const file = join(dir, 'fleet.json');
    writeFileSync(
      file,
      JSON.stringify({
        sites: [
          {
            id: 'own-1',
            trainingNodes: 8,
            node: { gpusPerNode: 8, gpuIdleW: 50, gpuPeakW: 300, nodeIdleOverheadKw: 1, nodeLoadOverheadKw: 2 },
            pue: 1.2,
            inferenceNodes: 0,
            fill: 0.5,
          },
        ],
      }),
    );
    const out = join(dir, 'out');
    const r = await cli([
      '--from',
      '2023-02-01',
      '--to',
      '2023-02-01',
      '--fleet',
      file,
      '--strategies',
      'fifo',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.err);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      run: { sites: string[]; fleetFile: string };
      strategies: { fifo: { importMwh: number; gpuHours: number; slo: { jobsOpenAtEnd: number } } };
    };
    assert.deepEqual(results.run.sites, ['own-1']);
    assert.equal(results.run.fleetFile, file);
    const fifo = results.strategies.fifo;
    assert.equal(fifo.slo.jobsOpenAtEnd, 0);
    // Half of 64 GPUs' day asked for, and run by the end of the drain days (the last job overshoots).
    assert.ok(fifo.gpuHours >= 0.5 * 64 * 24 && fifo.gpuHours < 0.5 * 64 * 24 + 64 * 6, String(fifo.gpuHours));
    // Import: 3 days of the idle pool (8 nodes × 1.4 kW) plus the jobs' marginal power, at PUE 1.2.
    const idleMwh = (8 * (8 * 0.05 + 1) * 72 * 1.2) / 1000;
    const jobsMwh = (fifo.gpuHours * (0.25 + 1 / 8) * 1.2) / 1000;
    assert.ok(Math.abs(fifo.importMwh - (idleMwh + jobsMwh)) < 1e-3, `${fifo.importMwh} vs ${idleMwh + jobsMwh}`);
  });

  it('refuses a wrong fleet file with FLX_CONFIG_INVALID naming the field', async () => {
    const dir = tmp();
    const cases: [unknown, RegExp][] = [
      [{ sites: [{ id: 'a', trainingNodes: 0 }] }, /\$\.sites\[0\]\.trainingNodes must be a whole number ≥ 1, got 0/],
      [{ sites: [{ id: 'a', trainingNodes: 4 }] }, /\$\.sites\[0\]\.trainingNodes gives 32 GPUs/],
      [
        { sites: [{ id: 'a', trainingNodes: 8, battery: { kwh: 500 } }] },
        /\$\.sites\[0\]\.battery\.kwh is not a field of a battery/,
      ],
      [
        {
          sites: [
            {
              id: 'a',
              trainingNodes: 8,
              battery: { capacityKwh: 100, maxChargeKw: 50, maxDischargeKw: 50, roundTripEfficiency: 1.2 },
            },
          ],
        },
        /\$\.sites\[0\]\.battery\.roundTripEfficiency must be above 0 and at most 1, got 1\.2/,
      ],
      [
        {
          sites: [
            {
              id: 'a',
              trainingNodes: 8,
              battery: { capacityKwh: 100, maxChargeKw: 50, roundTripEfficiency: 0.9 },
            },
          ],
        },
        /\$\.sites\[0\]\.battery\.maxDischargeKw is required/,
      ],
      [
        { sites: [{ id: 'a', trainingNodes: 8, gridImportLimitKw: 10 }] },
        /\$\.sites\[0\]\.gridImportLimitKw must be a finite number ≥ \d+\.\d kW \(the site's training and inference nodes at full power × PUE\), got 10/,
      ],
      [{ sites: [{ id: 'a', trainingNodes: 8, node: 'h100' }] }, /\$\.sites\[0\]\.node must be dgx-a100 or a100-sxm/],
      [
        {
          sites: [
            {
              id: 'a',
              trainingNodes: 8,
              node: { gpusPerNode: 8, gpuIdleW: 60, gpuPeakW: 30, nodeIdleOverheadKw: 1, nodeLoadOverheadKw: 2 },
            },
          ],
        },
        /\$\.sites\[0\]\.node\.gpuPeakW must be ≥ gpuIdleW/,
      ],
      [
        {
          sites: [
            { id: 'a', trainingNodes: 8 },
            { id: 'a', trainingNodes: 8 },
          ],
        },
        /\$\.sites\[1\]\.id repeats "a"/,
      ],
      [{ sites: [{ id: 'a', trainingNodes: 8, pue: 0.9 }] }, /\$\.sites\[0\]\.pue must be a number from 1 to 3/],
      [{ site: [] }, /\$\.site is not a field/],
      // As written in the file (JSON's 1e400 reads as Infinity), not "got null".
      [
        '{"sites": [{"id": "a", "trainingNodes": 8, "gridImportLimitKw": 1e400}]}',
        /gridImportLimitKw must be a finite number ≥ .*, got Infinity/,
      ],
      [
        '{"sites": [{"id": "a", "trainingNodes": 8, "pue": 1e400}]}',
        /\$\.sites\[0\]\.pue must be a number from 1 to 3, got Infinity/,
      ],
    ];
    for (const [doc, message] of cases) {
      const file = join(dir, 'fleet.json');
      writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
      const r = await cli(['--from', '2023-02-01', '--to', '2023-02-01', '--fleet', file, '--out', join(dir, 'out')]);
      assert.equal(r.code, 2, JSON.stringify(doc));
      assert.match(r.err, /FLX_CONFIG_INVALID/);
      assert.match(r.err, message);
      assert.doesNotMatch(r.err, /at .*\.ts:\d+/);
    }
    const file = join(dir, 'fleet.json');
    writeFileSync(file, JSON.stringify({ sites: [{ id: 'a', trainingNodes: 8 }] }));
    const r = await cli([
      '--from',
      '2023-02-01',
      '--to',
      '2023-02-01',
      '--fleet',
      file,
      '--sites',
      'lon',
      '--out',
      dir,
    ]);
    assert.equal(r.code, 2);
    assert.match(r.err, /FLX_CLI_USAGE/);
  });
});

describe('the terminal summary (summaryLines)', () => {
  it('says in words when flexlon cost more than fifo', () => {
    const summary = (energyGbp: number, valueGbp: number, latenessGbp: number) =>
      ({
        energyGbp,
        tCo2: 16.5,
        gbpPerGpuHour: 0.1234,
        gCo2PerGpuHour: 180.2,
        valueGbp,
        latenessGbp,
        objectiveGbp: valueGbp + latenessGbp,
        slo: { deadlinesMetShare: 0.981 },
      }) as unknown as StrategySummary;
    // The 2023-03-01…04 run a new user tried: flexlon's £ and carbon lower, its lateness higher.
    const lines = summaryLines({ fifo: summary(9461, 10618, 117), flexlon: summary(9453, 10611, 151) });
    assert.match(
      lines[0] ?? '',
      /^strategy +£ energy +tCO2 +£\/GPU-h +gCO2\/GPU-h +deadlines met +lateness +objective$/,
    );
    assert.match(lines[2] ?? '', /^flexlon +£9,453 +16\.5 +£0\.1234 +180\.2 +98\.1 % +£151 +£10,762$/);
    assert.equal(
      lines[3],
      'flexlon against fifo: objective £27 HIGHER (£ and carbon £7 lower, lateness £34 higher); the objective is £ + carbon at its price + lateness, report.html says more',
    );
    // Flexibility revenue is not in £ energy, so it has its own line, per product, for the
    // strategies that offered (a new user found it only in report.html).
    const earned = (revenueGbp: number, byProduct: Record<string, number>, offers = 3) => ({
      revenueGbp,
      byProduct: Object.fromEntries(Object.entries(byProduct).map(([k, v]) => [k, { revenueGbp: v, offers }])),
    });
    const withProducts = summaryLines({
      fifo: { ...summary(9461, 10618, 117), flexibility: earned(0, { dfs: 0 }, 0) } as unknown as StrategySummary,
      flexlon: {
        ...summary(9453, 10611, 151),
        flexibility: earned(41.51, { dfs: 40.02, 'dso-peak': 5.83, p415: -4.34 }),
      } as unknown as StrategySummary,
    });
    assert.equal(
      withProducts.at(-1),
      'flexibility revenue, beside the bill (not in £ energy): flexlon £41.51 (dfs £40.02, dso-peak £5.83, p415 −£4.34)',
    );
    assert.ok(!lines.some((l) => l.startsWith('flexibility revenue')));
    // What was delivered of what was committed, beside the £ (a week's run delivered 34 % of its
    // commitments, and the terminal showed only £31.97).
    const delivered = summaryLines({
      flexlon: {
        ...summary(9453, 10611, 151),
        flexibility: {
          ...earned(31.97, { dfs: 0, 'dso-peak': 31.97, p415: 0 }),
          offerAccuracy: {
            withRecalibration: { offers: 4, committedMwh: 1.041, deliveredMwh: 0.354, deliveredAtLeast95Share: 0.25 },
          },
          offers: [
            // results.json's shape (report-products.ts flexibilityOf): committed with and without recalibration.
            { committedKw: { recalibrated: 136, raw: 140 }, baselineDays: { used: 2, wanted: 10 } },
            { committedKw: { recalibrated: 35, raw: 30 }, baselineDays: { used: 3, wanted: 10 } },
            { committedKw: { recalibrated: 20, raw: 20 }, baselineDays: { used: 10, wanted: 10 } },
            { committedKw: { recalibrated: 0, raw: 5 }, baselineDays: { used: 1, wanted: 4 } },
            { committedKw: { recalibrated: 12, raw: 12 }, baselineDays: { used: 4, wanted: 4 } },
          ],
        },
      } as unknown as StrategySummary,
    });
    assert.equal(
      delivered.at(-1),
      "flexlon delivered 0.354 MWh of 1.041 MWh committed in 4 offers (34 %); 1 of them delivered at least 95 %; 2 made on a BL01 of fewer days than it wants (10 working, 4 non-working: a run's first weeks), which reads the site's usual import less well",
    );
    assert.ok(!withProducts.some((l) => / delivered .* committed in /.test(l)), 'no line without offer figures');
  });

  it('says each target in words: met or missed and by how much, and when the oracle is no bound', () => {
    const base = {
      flexlonCaptureShare: 0.944,
      flexlonObjectiveCaptureShare: 0.965,
      oracleIsBound: true,
      captureAtLeast95: false,
      flexlonBeatsGsf: { gbpPerGpuHour: false, gCo2PerGpuHour: true },
      hardSloMet: null,
    };
    assert.deepEqual(targetLines(base), [
      "captured: flexlon 94.4 % of the oracle's £ + carbon saving over fifo (target 95 %: MISSED by 0.6 points); 96.5 % of its objective saving",
      "against gsf-best-window: flexlon's £ per GPU-hour NOT lower, gCO2 per GPU-hour lower",
    ]);
    const unbound = targetLines({
      ...base,
      flexlonCaptureShare: null,
      flexlonObjectiveCaptureShare: null,
      oracleIsBound: false,
      captureAtLeast95: null,
      flexlonBeatsGsf: null,
      hardSloMet: true,
    });
    assert.match(unbound[0] ?? '', /^oracle: NO BOUND on this run/);
    assert.equal(unbound[1], 'hard SLOs (must-start jobs): all met');
    assert.equal(unbound.length, 2);
  });
});
