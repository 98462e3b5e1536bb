// `flexlon signals` as a user meets it: the real bin, spawned, on the shipped data and on saved
// API responses; bad files get an error naming the line or field and leave nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../helpers/shared.ts';

const flexlon = (...args: string[]) => {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'flexlon.js'), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, FLEXLON_DATA_DIR: join(projectRoot, '.flexlon-test-unused') },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const fixture = (name: string) => join(projectRoot, 'test', 'fixtures', 'signals', name);
const noStack = (s: string) => assert.doesNotMatch(s, /\n\s+at /);

test('signals show prints one row per half hour with settlement day/period, forecast, actual and price', () => {
  const r = flexlon('signals', 'show', '--from', '2023-06-01', '--to', '2023-06-02');
  assert.equal(r.code, 0, r.err);
  const rows = r.out.split('\n').filter((l) => /^2023-06-0[12] \d\d:\d\d /.test(l));
  assert.equal(rows.length, 48);
  assert.match(
    rows[0] ?? '',
    /^2023-06-01 00:00\s+2023-06-01\/03\s+\d+\s+\d+\s+-?\d+\.\d\d/,
    'in BST 00:00 UTC is settlement period 3',
  );
  assert.match(r.out, /48 half hours; 0 without a carbon forecast/);
});

test('signals show --json, and --as-of adds the forecast as it stood then', () => {
  const r = flexlon(
    'signals',
    'show',
    '--from',
    '2023-01-24T16:00Z',
    '--to',
    '2023-01-24T18:00Z',
    '--json',
    '--as-of',
    '2023-01-23T12:00Z',
  );
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as {
    region: { id: number };
    periods: { start: string; carbonForecast: number; forecastAsOf: number; price: number; priceAsOf: number }[];
    asOf: string;
  };
  assert.equal(j.region.id, 18);
  assert.equal(j.periods.length, 4);
  assert.equal(j.periods[0]?.start, '2023-01-24T16:00Z');
  assert.equal(j.asOf, '2023-01-23T12:00Z');
  assert.ok(
    j.periods.some((p) => p.forecastAsOf !== p.carbonForecast || p.priceAsOf !== p.price),
    'a day-ahead view is not the outturn',
  );
});

test('signals show --region: the regional sample, and a clear error outside it', () => {
  const r = flexlon('signals', 'show', '--from', '2024-01-10', '--region', '13');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Grid signals for 13 London/);
  assert.match(r.out, /regional: forecast only/);
  const out = flexlon('signals', 'show', '--from', '2023-06-01', '--to', '2023-06-02', '--region', '13');
  assert.equal(out.code, 1);
  assert.match(
    out.err,
    /FLX_SIGNAL_UNAVAILABLE: the shipped data has no carbon intensity for 13 London from 2023-06-01T00:00Z/,
  );
  assert.match(out.err, /--live|fetch/);
  noStack(out.err);
  const bad = flexlon('signals', 'show', '--from', '2023-06-01', '--region', 'Atlantis');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /FLX_CLI_USAGE: --region: "Atlantis" is not a NESO region/);
  // A single actual far off its forecast is kept (nothing marks it wrong) but said, on the demo's day.
  const day = flexlon('signals', 'show', '--from', '2023-01-24T10:30Z', '--to', '2023-01-24T12:00Z');
  assert.equal(day.code, 0, day.err);
  assert.match(day.out, /^2023-01-24 11:00 .* 243 +60 .*actual far from forecast \(60 against 243\)$/m);
  assert.equal(day.out.match(/actual far from forecast/g)?.length, 1, 'its neighbours are not');
  // --to ends the range and is not in it (the backtest's --to is the last day in it): the same day
  // twice says how to ask for one day.
  const same = flexlon('signals', 'show', '--from', '2023-01-24', '--to', '2023-01-24');
  assert.equal(same.code, 2);
  assert.match(
    same.err,
    /FLX_CLI_USAGE: --to \(2023-01-24\) must be after --from \(2023-01-24\): the range ends at --to, not including it; for the one day 2023-01-24, leave --to out or give the next day/,
  );
});

test('signals import: saved NESO and Elexon responses become the normalised CSV, with a report of what was fixed or rejected', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-import-'));
  try {
    const out = join(dir, 'neso.csv');
    const r = flexlon(
      'signals',
      'import',
      '--format',
      'neso-carbon-json',
      fixture('neso-national-2023-01-31.json'),
      '--out',
      out,
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /neso-carbon-json, 6 item\(s\) read → .*neso\.csv: 6 row\(s\) written/);
    assert.match(
      r.out,
      /fixed \(1\):\n {2}zero-actual 2023-01-31T01:00Z: data\[2\]\.intensity\.actual is 0: treated as missing/,
    );
    const csv = readFileSync(out, 'utf8').split('\n');
    assert.equal(
      csv[0],
      'start_utc,settlement_date,settlement_period,region_id,region,carbon_forecast_gco2_per_kwh,carbon_actual_gco2_per_kwh,carbon_index,price_gbp_per_mwh,price_volume_mwh,imbalance_price_gbp_per_mwh,forecast_issued_utc,quality',
    );
    assert.match(csv[3] ?? '', /^2023-01-31T01:00Z,2023-01-31,3,18,GB,\d+,,[\w ]+,,,,,zero-actual$/);

    const mid = join(dir, 'mid.csv');
    const m = flexlon(
      'signals',
      'import',
      '--format',
      'elexon-mid-json',
      fixture('elexon-mid-2023-01-28.json'),
      '--out',
      mid,
      '--json',
    );
    const report = JSON.parse(m.out) as { fixed: string[]; rejected: string[]; written: number };
    assert.equal(report.written, 5);
    assert.equal(report.fixed.filter((f) => f.startsWith('zero-volume')).length, 2);
    assert.match(report.rejected[0] ?? '', /other-provider: 5 row\(s\) from providers other than APXMIDP skipped/);

    // The normalised CSV reads back as a data source.
    const both = flexlon(
      'signals',
      'show',
      '--data',
      out,
      '--from',
      '2023-01-31T00:00Z',
      '--to',
      '2023-01-31T03:00Z',
      '--json',
    );
    assert.equal(both.code, 0, both.err);
    assert.equal(
      (JSON.parse(both.out) as { periods: { carbonActual: number | null }[] }).periods[2]?.carbonActual,
      null,
    );

    const wrong = flexlon(
      'signals',
      'import',
      '--format',
      'elexon-mid-json',
      fixture('neso-national-2023-01-31.json'),
      '--out',
      join(dir, 'x.csv'),
    );
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.err,
      /FLX_DATA_INVALID: .*neso-national-2023-01-31\.json: this is a neso-carbon-json response, not elexon-mid-json/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('signals import: bad files name the line or field, and nothing is written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-import-'));
  try {
    const out = join(dir, 'out.csv');
    const cases: [string, string, string, RegExp][] = [
      [
        'broken.json',
        'neso-carbon-json',
        '{"data": [\n  {"from": "2023-01-31T00:00Z",\n   "to" "2023-01-31T00:30Z"}\n]}',
        /broken\.json: line 3, column 9: not valid JSON/,
      ],
      [
        'typed.json',
        'neso-carbon-json',
        JSON.stringify({
          data: [
            {
              from: '2023-01-31T00:00Z',
              to: '2023-01-31T00:30Z',
              intensity: { forecast: 'high', actual: null, index: 'low' },
            },
          ],
        }),
        /typed\.json: field data\[0\]\.intensity\.forecast: expected a number or null, found string "high"/,
      ],
      [
        'clock.json',
        'elexon-mid-json',
        JSON.stringify({
          data: [
            {
              dataset: 'MID',
              startTime: '2023-03-26T22:30:00Z',
              dataProvider: 'APXMIDP',
              settlementDate: '2023-03-26',
              settlementPeriod: 47,
              price: 90,
              volume: 100,
            },
          ],
        }),
        /field data\[0\]\.settlementPeriod: expected a period 1–46 of 2023-03-26, found number 47/,
      ],
      [
        'bad.csv',
        'csv',
        'from_utc,to_utc,forecast_gco2_per_kwh,actual_gco2_per_kwh,index\n2023-01-01T00:00Z,2023-01-01T00:30Z,73,72,low\n2023-01-01T00:30Z,2023-01-01T01:00Z,six,80,low\n',
        /bad\.csv: line 3: forecast_gco2_per_kwh "six" is not a number/,
      ],
      [
        'odd.csv',
        'csv',
        'when,what\n2023-01-01,1\n',
        /odd\.csv: line 1: the header \(when, what\) is not a CSV format FlexLon knows; give a column mapping with --map/,
      ],
      [
        'quarter.csv',
        'csv',
        'start_utc,settlement_date,settlement_period,price_gbp_per_mwh,volume_mwh,data_provider\n2023-01-01T00:15Z,2023-01-01,1,50,10,APXMIDP\n',
        /quarter\.csv: line 2: start_utc 2023-01-01T00:15:00.000Z is not the start of a half hour/,
      ],
    ];
    for (const [name, format, text, message] of cases) {
      const file = join(dir, name);
      writeFileSync(file, text);
      const r = flexlon('signals', 'import', '--format', format, file, '--out', out);
      assert.equal(r.code, 1, `${name}: ${r.err}`);
      assert.match(r.err, message, name);
      noStack(r.err);
      assert.equal(existsSync(out), false, `${name}: nothing written`);
    }
    const usage = flexlon('signals', 'import', fixture('neso-national-2023-01-31.json'), '--out', out);
    assert.equal(usage.code, 2);
    assert.match(
      usage.err,
      /FLX_CLI_USAGE: --format must be one of neso-carbon-json, elexon-mid-json, elexon-system-prices-json, csv/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("signals import --map: a user's own CSV in UK local time, with the clock-change hour refused", () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-import-'));
  try {
    const file = join(dir, 'mine.csv');
    writeFileSync(file, 'Time,CI,Price,Vol\n2023-06-01 01:00,120,80.5,300\n2023-06-01 01:30,118,0,0\n');
    const out = join(dir, 'out.csv');
    const r = flexlon(
      'signals',
      'import',
      '--format',
      'csv',
      file,
      '--out',
      out,
      '--map',
      'start=Time,carbon_forecast=CI,price=Price,volume=Vol,time_zone=europe/london',
    );
    assert.equal(r.code, 0, r.err);
    const rows = readFileSync(out, 'utf8').trim().split('\n');
    assert.match(rows[1] ?? '', /^2023-06-01T00:00Z,2023-06-01,3,18,GB,120,,,80.5,300,/);
    assert.match(rows[2] ?? '', /^2023-06-01T00:30Z,.*,,0,,,zero-volume$/);
    writeFileSync(file, 'Time,CI\n2023-10-29 01:30,120\n');
    const amb = flexlon(
      'signals',
      'import',
      '--format',
      'csv',
      file,
      '--out',
      out,
      '--map',
      'start=Time,carbon_forecast=CI,time_zone=europe/london',
    );
    assert.equal(amb.code, 1);
    assert.match(amb.err, /mine\.csv: line 2: "2023-10-29 01:30" is repeated when the UK clocks change/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('events validate: the example DSO event and the need it gives; a bad event names its field', () => {
  const r = flexlon('events', 'validate', join(projectRoot, 'docs', 'examples', 'openadr-dso-events.json'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /1 program\(s\), 1 event\(s\), all valid/);
  assert.match(
    r.out,
    /need import-limit: 2023-01-24T17:00Z–2023-01-24T18:00Z, up to 150 kW, at most 600 £\/MWh, import ≤ 250 kW, availability 12 £\/MW\/h/,
  );
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-events-'));
  try {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        programID: 'p',
        intervalPeriod: { start: '2023-01-24T17:00:00Z', duration: 'PT30M' },
        intervals: [{ id: 0, payloads: [{ type: 'DISPATCH_SETPOINT', values: [-1] }] }],
      }),
    );
    const bad = flexlon('events', 'validate', file);
    assert.equal(bad.code, 1);
    assert.match(
      bad.err,
      /FLX_EVENT_INVALID: .*bad\.json events\[0\]: event intervals\[0\]\.payloads\[0\]\.values: DISPATCH_SETPOINT cannot be negative/,
    );
    noStack(bad.err);
    writeFileSync(
      file,
      JSON.stringify({
        programID: 'p',
        intervalPeriod: { start: '2023-01-24T17:00:00Z', duration: '1 hour' },
        intervals: [{ id: 0, payloads: [] }],
      }),
    );
    assert.match(
      flexlon('events', 'validate', file).err,
      /event field intervalPeriod\.duration: "1 hour" is not an ISO 8601 duration such as PT1H/,
      'the pattern is explained, not printed as a regex',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const help = flexlon('--help');
  assert.match(help.out, /^\s+signals\s+show, import, fetch and calibrate/m);
  assert.match(help.out, /^\s+events\s+check or post OpenADR/m);
});

test('signals import: a negative carbon intensity is rejected as impossible, not written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-import-'));
  try {
    const saved = JSON.parse(readFileSync(fixture('neso-national-2023-01-31.json'), 'utf8')) as {
      data: { intensity: { forecast: number } }[];
    };
    const first = saved.data[0];
    assert.ok(first);
    first.intensity.forecast = -50;
    const file = join(dir, 'neg.json');
    writeFileSync(file, JSON.stringify(saved));
    const out = join(dir, 'neg.csv');
    const r = flexlon('signals', 'import', '--format', 'neso-carbon-json', file, '--out', out, '--json');
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as { rejected: string[] };
    assert.ok(
      report.rejected.some((x) => x.startsWith('negative-carbon')),
      r.out,
    );
    assert.doesNotMatch(readFileSync(out, 'utf8'), /,-50,/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
