// Settlement from real-format meter files (issue 17): the golden figures the issue names, each with
// its source; the meter CSV shapes with clock-change days, gaps and duplicates; and `flexlon settle`
// end to end — table, JSON, CSV and the offline HTML statement — checked against hand arithmetic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { periodStart } from '../../src/domain/settlement-day.ts';
import { meterDays, parseMeterCsv } from '../../src/formats/meter-csv.ts';
import { enaSameDayAdjustment, eventBaseline } from '../../src/settlement/meter-baselines.ts';
import {
  agreedPriceTerms,
  inPennies,
  performanceFactor,
  settleProduct,
  WPD_PERFORMANCE,
  type MeteredPeriod,
  type ProductTerms,
} from '../../src/settlement/product.ts';

test('golden: WPD/NGED Flexible Power performance factors (5 % tolerance, then 3 % per 1 % short)', () => {
  // Source: The Energyst (2018), quoting WPD: "After a 5% tolerance, each 1% of under delivery results
  // in 3% payment reduction"; the factors are the issue's.
  for (const [share, factor] of [
    [1.0, 1.0],
    [0.96, 1.0],
    [0.9, 0.85],
    [0.7, 0.25],
    [0.6167, 0.0],
  ] as const)
    assert.ok(Math.abs(performanceFactor(WPD_PERFORMANCE, share) - factor) < 0.001, `${share} → ${factor}`);
});

test('golden: ENA standard agreement same-day adjustment (positive only)', () => {
  // Source: Flexibility Services Standard Agreement, clause "Baseline Adjustment" (as quoted by
  // markettransfer.info): baseline 500 kW, event-day load 600 kW → 100 kW; 400 kW → 0 kW.
  assert.equal(enaSameDayAdjustment(500, 600), 100);
  assert.equal(enaSameDayAdjustment(500, 400), 0);
});

test('DFS-style pay: min(delivered, accepted) × price per period, no performance factor', () => {
  // The research note's illustration (synthetic, not an official example): accepted 0.5 MWh per
  // period at £300/MWh pay-as-bid, 0.65 and 0.60 MWh delivered → (0.5 + 0.5) × 300 = £300.
  const dfs: ProductTerms = {
    code: 'DFS',
    name: 'DFS',
    measurement: 'reduction',
    baseline: 'dfs',
    dfsGbpPerMwh: 300,
    performance: WPD_PERFORMANCE,
  };
  const at = (sp: number, baseline: number, metered: number): MeteredPeriod => ({
    start: periodStart('2023-01-24', sp),
    settlementDate: '2023-01-24',
    settlementPeriod: sp,
    baselineKw: baseline,
    meteredKw: metered,
  });
  // kW over half an hour: 1.05 MWh → 2100 kW baseline, 0.40 MWh → 800 kW metered.
  const s = settleProduct(dfs, [at(35, 2100, 800), at(36, 2060, 860)], 1000);
  assert.equal(s.deliveredKwh, 1250);
  assert.equal(s.paymentGbp, 300);
  assert.equal(s.performanceFactor, 1);
});

test('an agreed price: its periods add up to the payment, in pennies', () => {
  // The default demo's deal: £2.83 for 28.3 kW over two half-hours, both delivered in full. Each
  // period earns £1.415; rounded one by one they read £1.42 + £1.42 against a payment of £2.83.
  const at = (sp: number): MeteredPeriod => ({
    start: periodStart('2023-01-24', sp),
    settlementDate: '2023-01-24',
    settlementPeriod: sp,
    baselineKw: 108,
    meteredKw: 0,
  });
  const s = settleProduct(agreedPriceTerms(2.83), [at(37), at(38)], 28.3);
  assert.equal(s.paymentGbp, 2.83);
  assert.deepEqual(
    s.periods.map((p) => p.utilisationGbp),
    [1.42, 1.41],
  );
  // A payment at a half penny, rounded on its own (price × performance): the periods still add up
  // to it (found in review: £3.15 + £17.06 against a payment of £20.20).
  const half = settleProduct(
    agreedPriceTerms(34.11),
    [
      { ...at(37), baselineKw: 200, meteredKw: 193 },
      { ...at(38), baselineKw: 200, meteredKw: 151.1 },
    ],
    37.9,
  );
  assert.equal(
    Math.round(half.periods.reduce((a, p) => a + p.utilisationGbp, 0) * 100),
    Math.round(half.paymentGbp * 100),
  );
  // Three periods of £1/3: the spare penny goes to the first.
  assert.deepEqual(inPennies([1 / 3, 1 / 3, 1 / 3]), [0.34, 0.33, 0.33]);
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { maxLength: 20 }), (xs) => {
      const p = inPennies(xs);
      const total = Math.round(xs.reduce((a, x) => a + x, 0) * 100);
      assert.equal(Math.round(p.reduce((a, x) => a + x, 0) * 100), total);
      p.forEach((x, i) => assert.ok(Math.abs(x - (xs[i] as number)) < 0.01 + 1e-9));
    }),
  );
});

test('the synthetic BL01 vector of the research note, on settlement days', () => {
  // SYNTHETIC (constructed in ../shared/notes/uk-market-research.md, not official): SP35/36 over ten
  // working days average 1.00 and 0.98 MWh; an in-day adjustment of +0.05 from SP29–34.
  const sp35 = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.2, 0.8, 1.0];
  const sp36 = [0.9, 1.0, 1.0, 0.9, 1.0, 1.0, 1.1, 0.9, 1.0, 1.0];
  const working = [
    '2023-01-09',
    '2023-01-10',
    '2023-01-11',
    '2023-01-12',
    '2023-01-13',
    '2023-01-16',
    '2023-01-17',
    '2023-01-18',
    '2023-01-19',
    '2023-01-20',
  ];
  const days = working.map((day, i) => ({
    day,
    importKw: Array.from({ length: 48 }, (_, t) => (t === 34 ? sp35[i] : t === 35 ? sp36[i] : 0.8) as number),
  }));
  const event = Array.from({ length: 48 }, (_, t) => [0.86, 0.84, 0.85, 0.85, 0.83, 0.87][t - 28] ?? 0.8);
  days.push({ day: '2023-01-23', importKw: event });
  const dfs = eventBaseline('dfs', days, { date: '2023-01-23', fromPeriod: 35, toPeriod: 37 });
  assert.deepEqual(dfs.selectedDays, [...working].reverse());
  assert.ok(Math.abs(dfs.adjustmentKw - 0.05) < 1e-9);
  assert.deepEqual(
    dfs.baselineKw.map((x) => Math.round(x * 100) / 100),
    [1.05, 1.03],
  );
});

const header50 = ['date', ...Array.from({ length: 50 }, (_, i) => String(i + 1))].join(',');

test('meter CSV: wide rows with 46 and 50 periods on clock-change days; long rows; gaps and duplicates reported, conflicts refused', () => {
  const day = (date: string, n: number, v: number) =>
    [date, ...Array.from({ length: 50 }, (_, i) => (i < n ? String(v) : ''))].join(',');
  const wide = parseMeterCsv([header50, day('2023-03-26', 46, 10), day('2023-10-29', 50, 20)].join('\n'), 'w.csv', {
    unit: 'kWh',
  });
  assert.equal(wide.shape, 'wide');
  const days = meterDays(wide).filter((d) => d.day === '2023-03-26' || d.day === '2023-10-29');
  assert.deepEqual(
    days.map((d) => [d.day, d.importKw.length, d.importKw[0]]),
    [
      ['2023-03-26', 46, 20],
      ['2023-10-29', 50, 40],
    ],
  );
  assert.throws(
    () => parseMeterCsv([header50, day('2023-03-26', 48, 10)].join('\n'), 'short.csv', { unit: 'kW' }),
    /short\.csv: line 2: 2023-03-26 has 46 settlement periods \(clock change\), but period 47 holds a value/,
  );
  const long = parseMeterCsv(
    [
      'mpan,start,kwh',
      '1200012345678,2023-01-24T17:00:00Z,150',
      '1200012345678,2023-01-24T17:00:00Z,150',
      '1200012345678,2023-01-24T18:00:00Z,140',
    ].join('\n'),
    'l.csv',
  );
  assert.equal(long.meterId, '1200012345678');
  assert.deepEqual(long.duplicates, [{ start: Date.parse('2023-01-24T17:00:00Z'), lines: [2, 3] }]);
  assert.deepEqual(long.gaps, [{ start: Date.parse('2023-01-24T17:30:00Z'), date: '2023-01-24', period: 36 }]);
  assert.equal(long.kw.get(Date.parse('2023-01-24T18:00:00Z')), 280);
  assert.throws(
    () => parseMeterCsv('start,kwh\n2023-01-24T17:00:00Z,1\n2023-01-24T17:00:00Z,2', 'c.csv'),
    /c\.csv: line 3: the period starting 2023-01-24T17:00:00\.000Z is also on line 2 with another value/,
  );
  assert.throws(() => parseMeterCsv('start,kwh\n2023-01-24T17:00:00,1', 'z.csv'), /has no zone/);
  assert.throws(() => parseMeterCsv('date,1,2\n2023-01-24,1,2', 'u.csv'), /does not say its unit: give --unit kWh\|kW/);
});

/** A site's meter as a wide kWh export: 300 kW flat but 400 kW from 16:00 to 20:00 UTC, for 2023-01-02..24. */
const writeMeter = (dir: string, eventDayKw: (sp: number) => number): string => {
  const rows = [header50];
  for (let d = 2; d <= 24; d++) {
    const date = `2023-01-${String(d).padStart(2, '0')}`;
    const kw = (sp: number) => (d === 24 ? eventDayKw(sp) : sp >= 33 && sp <= 40 ? 400 : 300);
    rows.push([date, ...Array.from({ length: 50 }, (_, i) => (i < 48 ? String(kw(i + 1) * 0.5) : ''))].join(','));
  }
  const file = join(dir, 'meter.csv');
  writeFileSync(file, rows.join('\n'));
  return file;
};

const run = async (args: string[]): Promise<{ code: number; out: string }> => {
  const lines: string[] = [];
  const code = await main(['settle', ...args], { out: (l) => lines.push(l), err: (l) => lines.push(l) });
  return { code, out: lines.join('\n') };
};

test('flexlon settle: a peak-reduction event by BL01, as table, JSON, CSV and an offline HTML statement', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-settle-'));
  try {
    // The event day (a Tuesday): 250 kW in SP37 and 330 kW in SP38 instead of the usual 400 kW.
    const meter = writeMeter(dir, (sp) => (sp === 37 ? 250 : sp === 38 ? 330 : sp >= 33 && sp <= 40 ? 400 : 300));
    const product = join(dir, 'product.json');
    writeFileSync(
      product,
      JSON.stringify({
        code: 'DSO_PEAK_REDUCTION',
        name: 'Peak Reduction',
        measurement: 'reduction',
        baseline: 'bl01',
        utilisationGbpPerMwh: 600,
        availabilityGbpPerMwH: 12,
      }),
    );
    const args = [
      '--meter',
      meter,
      '--unit',
      'kWh',
      '--event',
      '2023-01-24T18:00Z/2023-01-24T19:00Z',
      '--product',
      product,
      '--accepted-kw',
      '100',
    ];
    const json = await run([...args, '--format', 'json']);
    assert.equal(json.code, 0, json.out);
    const r = JSON.parse(json.out) as {
      baseline: { selectedDays: string[] };
      settlement: {
        periods: { baselineKw: number; deliveredKwh: number; countedKwh: number }[];
        deliveredShare: number;
        performanceFactor: number;
        paymentGbp: number;
      };
    };
    // BL01: the 10 most recent working days (2023-01-02 is a bank holiday and is not among them).
    assert.equal(r.baseline.selectedDays.length, 10);
    assert.ok(!r.baseline.selectedDays.includes('2023-01-02'));
    // By hand: baseline 400 kW; delivered (400−250)×0.5 = 75 kWh and (400−330)×0.5 = 35 kWh; accepted
    // 50 kWh each; paid on 50 + 35 = 85 of 100 kWh → shortfall 15 % → factor 1 − 3 × 0.10 = 0.70;
    // utilisation 600 £/MWh × 0.085 MWh = £51, availability 12 £/MW/h × 0.1 MW × 1 h = £1.20;
    // payment (51 + 1.20) × 0.70 = £36.54.
    assert.deepEqual(
      r.settlement.periods.map((p) => [p.baselineKw, p.deliveredKwh, p.countedKwh]),
      [
        [400, 75, 50],
        [400, 35, 35],
      ],
    );
    assert.equal(r.settlement.deliveredShare, 0.85);
    assert.equal(r.settlement.performanceFactor, 0.7);
    assert.equal(r.settlement.paymentGbp, 36.54);

    const table = await run(args);
    assert.equal(table.code, 0);
    assert.match(
      table.out,
      /SP37 18:00 UTC \(18:00 GMT\) {2}baseline {3}400\.0 kW {2}metered {3}250\.0 kW {2}delivered {3}75\.0 kWh of 50\.0 accepted/,
    );
    assert.match(table.out, /payment {4}£36\.54 = \(availability £1\.20 \+ utilisation £51\.00\) × 0\.70/);

    const csv = await run([...args, '--format', 'csv']);
    assert.deepEqual(csv.out.split('\n').slice(1, 3), [
      '2023-01-24,37,2023-01-24T18:00:00.000Z,400,250,75,50,50,,30.00',
      '2023-01-24,38,2023-01-24T18:30:00.000Z,400,330,35,50,35,,21.00',
    ]);

    const html = join(dir, 'statement.html');
    const written = await run([...args, '--format', 'html', '--out', html]);
    assert.equal(written.code, 0, written.out);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /<svg [^>]*role="img"/);
    assert.match(page, /Payment £36\.54/);
    assert.doesNotMatch(page, /<script|https?:\/\/(?!www\.w3\.org)/, 'opens offline: no script, no external resource');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flexlon settle: an import-limit product is measured as import against the limit, never as a percentage over 100', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-settle-'));
  try {
    // The docs/examples DSO event: a 250 kW limit; the site imported 240 and 260 kW.
    const meter = writeMeter(dir, (sp) => (sp === 37 ? 240 : sp === 38 ? 260 : 300));
    const product = join(dir, 'limit.json');
    writeFileSync(
      product,
      JSON.stringify({
        code: 'DSO_OPERATIONAL_UTILISATION',
        measurement: 'import-limit',
        importLimitKw: 250,
        baseline: 'bl01',
        utilisationGbpPerMwh: 600,
      }),
    );
    const { code, out } = await run([
      '--meter',
      meter,
      '--unit',
      'kWh',
      '--event',
      '2023-01-24T18:00Z/2023-01-24T19:00Z',
      '--product',
      product,
      '--accepted-kw',
      '150',
    ]);
    assert.equal(code, 0, out);
    assert.match(out, /SP37 .* import ≤ limit 250 kW;/);
    assert.match(out, /SP38 .* import > limit 250 kW by 10\.0 kW;/);
    // 5 kWh above a 250 kWh allowance: 98 % kept, inside the 5 % tolerance.
    assert.match(out, /import within the limit for 98\.0 % of the window's allowance; performance factor 1\.00/);
    assert.doesNotMatch(out, /\d{3,} %/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flexlon settle refuses what it cannot settle, with a coded error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-settle-'));
  try {
    const meter = writeMeter(dir, () => 300);
    const product = join(dir, 'p.json');
    writeFileSync(product, JSON.stringify({ code: 'X', utilisationGbpPerMwh: 100 }));
    const base = ['--meter', meter, '--unit', 'kWh', '--product', product, '--accepted-kw', '10'];
    const late = await run([...base, '--event', '2023-01-25T18:00Z/2023-01-25T19:00Z']);
    assert.equal(late.code, 1, late.out);
    assert.match(late.out, /FLX_DATA_INVALID: .*no reading for 2023-01-25 SP37 .*nothing is estimated/);
    const span = await run([...base, '--event', '2023-01-24T23:00Z/2023-01-25T01:00Z']);
    assert.equal(span.code, 2);
    assert.match(span.out, /FLX_CLI_USAGE: --event .* spans settlement days 2023-01-24 and 2023-01-25/);
    // A space inside --event leaves its second half a stray argument: said as such, with the fix.
    const spaced = await run([...base, '--event', '2023-01-24', '18:00Z/2023-01-24T19:00Z']);
    assert.equal(spaced.code, 2);
    assert.match(spaced.out, /FLX_CLI_USAGE: unexpected "18:00Z\/2023-01-24T19:00Z": .*write the event without spaces/);
    // A nominated baseline without its values is a usage error naming the flag, not a data fault.
    const nominated = await run([...base, '--event', '2023-01-24T18:00Z/2023-01-24T19:00Z', '--baseline', 'nominated']);
    assert.equal(nominated.code, 2);
    assert.match(nominated.out, /FLX_CLI_USAGE: --baseline nominated needs --nominated FILE\.json/);
    writeFileSync(product, JSON.stringify({ code: 'X', measurement: 'import-limit' }));
    const noLimit = await run([...base, '--event', '2023-01-24T18:00Z/2023-01-24T19:00Z']);
    assert.match(noLimit.out, /FLX_CONFIG_INVALID: .*importLimitKw is needed for an import-limit product/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a performance factor prints with the decimals that reproduce the payment it multiplies', async () => {
  const { factorText } = await import('../../src/settlement/product.ts');
  assert.equal(factorText(1), '1.00');
  assert.equal(factorText(0.85), '0.85');
  assert.equal(factorText(0.9957), '0.996', '× 1.00 would not explain £38.70 of £38.87');
});
