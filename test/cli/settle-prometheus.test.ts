// Meter data from a Prometheus range query (issue 17): `flexlon settle --meter-prometheus URL --query Q`
// against a real HTTP server on loopback answering /api/v1/query_range in the API's format, and
// `--meter FILE.json` on a saved answer. The series is a site's import power in W sampled every
// minute, with a few minutes missing one history day and a NaN another: those periods are gaps, the
// days are left out of BL01, nothing is filled. The settlement must equal the one made from a CSV of
// the same half-hourly means; the query's errors come back coded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { SettleReport } from '../../src/cli/settle-html.ts';
import { parsePrometheusRange } from '../../src/formats/prometheus-range.ts';

const DAY = 86_400_000;
const MIN = 60_000;
const EVENT = '2023-01-24T17:00Z/2023-01-24T18:00Z';
const GAP = { from: Date.parse('2023-01-20T12:00:00Z'), to: Date.parse('2023-01-20T12:05:00Z') };
const NAN_AT = Date.parse('2023-01-19T03:07:00Z');

/** The site's import power (W) at t: a daily shape, lower at weekends, 100 kW less in the event window. */
const watts = (t: number): number => {
  const day = Math.floor(t / DAY);
  const weekend = [0, 6].includes(new Date(day * DAY).getUTCDay());
  const w = (weekend ? 200_000 : 300_000) + 50_000 * Math.sin((2 * Math.PI * (t % DAY)) / DAY) + (day % 3) * 10_000;
  const inEvent = t >= Date.parse('2023-01-24T17:00:00Z') && t < Date.parse('2023-01-24T18:00:00Z');
  return Math.round(inEvent ? w - 100_000 : w);
};

const missing = (t: number) => t >= GAP.from && t < GAP.to;
const sampleText = (t: number) => (t === NAN_AT ? 'NaN' : String(watts(t)));

let server: Server;
let url: string;
const requests: { start: number; end: number; step: number; points: number }[] = [];
let mode: 'ok' | 'two-series' | 'error' = 'ok';
const work = mkdtempSync(join(tmpdir(), 'flexlon-settle-prom-'));
const product = join(work, 'product.json');

before(async () => {
  writeFileSync(
    product,
    JSON.stringify({
      code: 'DSO_PEAK_REDUCTION',
      measurement: 'reduction',
      baseline: 'bl01',
      utilisationGbpPerMwh: 600,
      performance: 'WPD-FLEXIBLE-POWER',
    }),
  );
  server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (u.pathname !== '/api/v1/query_range') return json(404, { status: 'error', error: 'not found' });
    if (mode === 'error')
      return json(400, { status: 'error', errorType: 'bad_data', error: '1:5: parse error: unexpected <EOF>' });
    const start = Number(u.searchParams.get('start')) * 1000;
    const end = Number(u.searchParams.get('end')) * 1000;
    const step = Number(u.searchParams.get('step')) * 1000;
    const values: [number, string][] = [];
    for (let t = start; t <= end; t += step) if (!missing(t)) values.push([t / 1000, sampleText(t)]);
    requests.push({ start, end, step, points: values.length });
    const series = (site: string) => ({
      metric: { __name__: 'site_import_power_watts', site, instance: `meter-${site}:9100` },
      values,
    });
    json(200, {
      status: 'success',
      data: { resultType: 'matrix', result: mode === 'two-series' ? [series('lon'), series('man')] : [series('lon')] },
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(work, { recursive: true, force: true });
});

const settle = async (...args: string[]): Promise<{ code: number; text: string }> => {
  const out: string[] = [];
  const code = await main(['settle', ...args], { out: (l) => out.push(l), err: (l) => out.push(l) });
  return { code, text: out.join('\n') };
};

const common = ['--event', EVENT, '--product', product, '--accepted-kw', '80', '--format', 'json'];

test('a live range query settles exactly as a CSV of the same half-hourly means; gaps are listed and their days left out', async () => {
  const live = await settle('--meter-prometheus', url, '--query', 'site_import_power_watts{site="lon"}', ...common);
  assert.equal(live.code, 0, live.text);
  const r = JSON.parse(live.text) as SettleReport;
  assert.ok(
    requests.every((q) => q.points <= 11_000 && q.step === MIN),
    'each request within Prometheus’ 11,000 points',
  );
  assert.ok(requests.length >= 4, `the 29 days came in several requests (${requests.length})`);
  assert.equal(r.meter.shape, 'prometheus');
  assert.equal(r.meter.meterId, 'lon');
  // The minutes missing on the 20th and the NaN on the 19th: one gap each, and those days left out.
  assert.deepEqual(
    r.meter.gaps.map((g) => `${g.date} SP${g.period}`),
    ['2023-01-19 SP7', '2023-01-20 SP25'],
  );
  assert.deepEqual(
    r.baseline.excluded.filter((x) => x.reason === 'incomplete meter data').map((x) => x.day),
    ['2023-01-20', '2023-01-19'],
  );
  assert.equal(r.baseline.selectedDays.length, 10);
  assert.ok(!r.baseline.selectedDays.includes('2023-01-20'));

  // The same means as a CSV export (one row per period, kW), from the same samples.
  const rows = ['start_utc,kw'];
  for (let a = Date.parse('2022-12-26T00:00:00Z'); a < Date.parse('2023-01-24T18:00:00Z'); a += 30 * MIN) {
    const ts = Array.from({ length: 30 }, (_, k) => a + k * MIN);
    if (ts.some((t) => missing(t) || t === NAN_AT)) continue;
    const mean = ts.map((t) => watts(t) / 1000).reduce((x, y) => x + y, 0) / 30;
    rows.push(`${new Date(a).toISOString()},${mean}`);
  }
  const csv = join(work, 'lon.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  const fromCsv = await settle('--meter', csv, ...common);
  assert.equal(fromCsv.code, 0, fromCsv.text);
  const c = JSON.parse(fromCsv.text) as SettleReport;
  assert.deepEqual(r.settlement, c.settlement);
  assert.deepEqual(r.baseline.selectedDays, c.baseline.selectedDays);
  // And the figures are the synthetic site's: about 100 kW below its baseline in the window.
  for (const p of r.settlement.periods)
    assert.ok(Math.abs(p.baselineKw - p.meteredKw - 100) < 25, `${p.baselineKw} ${p.meteredKw}`);
  assert.ok(r.settlement.paymentGbp > 0);
});

test('a saved query_range answer (--meter FILE.json) gives what the live query with the same step gives', async () => {
  requests.length = 0;
  const live = await settle('--meter-prometheus', url, '--query', 'q', '--step', '300', ...common);
  assert.equal(live.code, 0, live.text);
  assert.equal(requests.length, 1, '29 days at 300 s fit one request');
  const q = requests[0] as (typeof requests)[number];
  const saved = join(work, 'answer.json');
  const answer = await (
    await fetch(`${url}/api/v1/query_range?query=q&start=${q.start / 1000}&end=${q.end / 1000}&step=300`)
  ).json();
  writeFileSync(saved, JSON.stringify(answer));
  const file = await settle('--meter', saved, ...common);
  assert.equal(file.code, 0, file.text);
  const a = JSON.parse(live.text) as SettleReport;
  const b = JSON.parse(file.text) as SettleReport;
  assert.deepEqual(a.settlement, b.settlement);
  assert.deepEqual(a.meter.gaps, b.meter.gaps);
});

test('the query’s faults are coded: two series, an error answer, no server, a step that does not divide 30 minutes', async () => {
  mode = 'two-series';
  const two = await settle('--meter-prometheus', url, '--query', 'site_import_power_watts', ...common);
  assert.equal(two.code, 1);
  assert.match(two.text, /FLX_DATA_INVALID: .*the query returned 2 series .*aggregate in the query/);
  mode = 'error';
  const refused = await settle('--meter-prometheus', url, '--query', 'sum(', ...common);
  assert.equal(refused.code, 1);
  assert.match(
    refused.text,
    /FLX_METER_UNAVAILABLE: Prometheus at .* refused the query \(HTTP 400, bad_data\): 1:5: parse error/,
  );
  mode = 'ok';
  const down = await settle('--meter-prometheus', 'http://127.0.0.1:1', '--query', 'q', ...common);
  assert.equal(down.code, 1);
  assert.match(down.text, /FLX_METER_UNAVAILABLE: Prometheus at http:\/\/127\.0\.0\.1:1 could not be reached/);
  const step = await settle('--meter-prometheus', url, '--query', 'q', '--step', '420', ...common);
  assert.equal(step.code, 2);
  assert.match(step.text, /FLX_CLI_USAGE: --step 420: whole seconds that divide 1800/);
  const unitless = join(work, 'unitless.json');
  writeFileSync(
    unitless,
    JSON.stringify({
      status: 'success',
      data: { resultType: 'matrix', result: [{ metric: { __name__: 'site_power' }, values: [[1674579600, '1']] }] },
    }),
  );
  const noUnit = await settle('--meter', unitless, ...common);
  assert.equal(noUnit.code, 1);
  assert.match(noUnit.text, /does not say its unit: give --unit W or kW/);
});

test('the parser: periods only from complete samples, the unit from the metric name, off-grid and negative samples refused', () => {
  const at = (iso: string) => Date.parse(iso) / 1000;
  const answer = (name: string, values: [number, string][]) => ({
    status: 'success',
    data: { resultType: 'matrix', result: [{ metric: { __name__: name, meter_id: 'M1' }, values }] },
  });
  // 15-minute steps: SP37 (18:00) has both samples; SP38 starts at 18:45 only (partial); SP39 NaN.
  const s = parsePrometheusRange(
    answer('site_import_power_kilowatts', [
      [at('2023-01-24T18:00:00Z'), '100'],
      [at('2023-01-24T18:15:00Z'), '110'],
      [at('2023-01-24T18:45:00Z'), '90'],
      [at('2023-01-24T19:00:00Z'), 'NaN'],
      [at('2023-01-24T19:15:00Z'), '80'],
    ]),
    'answer.json',
  );
  assert.equal(s.sourceUnit, 'kW');
  assert.equal(s.stepSeconds, 900);
  assert.equal(s.meterId, 'M1');
  assert.deepEqual([...s.kw], [[Date.parse('2023-01-24T18:00:00Z'), 105]]);
  assert.deepEqual(
    s.gaps.map((g) => g.period),
    [38, 39],
  );
  const times = (...hhmm: string[]): [number, string][] => hhmm.map((t) => [at(`2023-01-24T${t}:00Z`), '1']);
  assert.throws(
    () => parsePrometheusRange(answer('p_watts', times('18:00', '18:10', '18:25')), 'a'),
    /the sample at 2023-01-24T18:25:00\.000Z is not on the 600 s step/,
  );
  assert.throws(
    () => parsePrometheusRange(answer('p_watts', times('18:00', '18:07')), 'a'),
    /the step \(420 s\) does not divide 30 minutes/,
  );
  assert.throws(
    () => parsePrometheusRange(answer('p_watts', [[at('2023-01-24T18:00:00Z'), '-5']]), 'a'),
    /is -5: import only/,
  );
  assert.throws(
    () => parsePrometheusRange({ status: 'success', data: { resultType: 'vector', result: [] } }, 'a'),
    /not a matrix: save the answer of \/api\/v1\/query_range/,
  );
});
