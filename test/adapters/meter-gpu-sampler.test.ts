// The GPU meter end to end without a GPU: nvidia-smi is the RECORDING STAND-IN
// (test/helpers/nvidia-smi-standin.ts) printing the real H200 recordings, run through the adapter's
// real command path; DCGM is a local HTTP server serving the exporter's text format. The sampler's
// integration per settlement period is checked as a property, and its readings in a SQLite store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { GpuMeter } from '../../src/adapters/meter-gpu/meter.ts';
import { parsePowerTrace } from '../../src/adapters/meter-gpu/parse-nvidia-smi.ts';
import { dcgmSource, nvidiaSmiSource, type GpuPowerSource } from '../../src/adapters/meter-gpu/sources.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { epochMs } from '../../src/domain/time.ts';
import { FlexError } from '../../src/errors.ts';
import { nvidiaSmiStandin, TRACE_DIR } from '../helpers/nvidia-smi-standin.ts';
import { sharedPath } from '../helpers/shared.ts';

const T0 = Date.parse('2026-12-04T17:00:00Z');
const S = 1000;

/** A source that answers every node with `watts(node, k)` on its k-th poll (undefined: the node fails). */
const fakeSource = (watts: (node: string, k: number) => number | undefined): GpuPowerSource => {
  let k = 0;
  return {
    name: 'fake',
    async read(nodes) {
      const poll = k++;
      return nodes.map((node) => {
        const w = watts(node, poll);
        return w === undefined
          ? { node, ok: false as const, error: new FlexError('FLX_METER_UNAVAILABLE', `${node} down`) }
          : { node, ok: true as const, gpus: [{ index: 0, powerDrawW: w }] };
      });
    },
  };
};

const clock = (t: number) => {
  const c = { t, now: () => c.t };
  return c;
};

test('property: constant GPU power P on every node for a whole period reads (n·P/1000 + n·share) × PUE', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 6 }),
      fc.double({ min: 0, max: 8000, noNaN: true }),
      fc.double({ min: 0, max: 5, noNaN: true }),
      fc.double({ min: 1, max: 2, noNaN: true }),
      fc.constantFrom(5, 10, 30, 60),
      fc.integer({ min: 0, max: 59 }),
      async (n, p, share, pue, intervalS, phaseS) => {
        const c = clock(T0 - 60 * S + phaseS * S);
        const nodes = Array.from({ length: n }, (_, i) => `gpu${i}`);
        const meter = new GpuMeter({
          site: 'lon',
          nodes,
          source: fakeSource(() => p),
          intervalMs: intervalS * S,
          periodMinutes: 30,
          nonGpuKwPerNode: share,
          pue,
          now: c.now,
        });
        for (; c.t < T0 + 31 * 60 * S; c.t += intervalS * S) await meter.poll();
        const [kw] = await meter.importKw({ start: epochMs(T0), slotMinutes: 30, slots: 1 });
        const want = ((n * p) / 1000 + n * share) * pue;
        assert.ok(Math.abs((kw ?? NaN) - want) <= 1e-9 * Math.max(1, want), `${kw} ≠ ${want}`);
      },
    ),
    { numRuns: 60 },
  );
});

test('coverage: a node silent for over half a period makes it NaN; one missed poll does not', async () => {
  const run = async (down: (k: number) => boolean) => {
    const c = clock(T0);
    const meter = new GpuMeter({
      site: 'lon',
      nodes: ['a', 'b'],
      source: fakeSource((node, k) => (node === 'b' && down(k) ? undefined : 500)),
      intervalMs: 60 * S,
      periodMinutes: 30,
      nonGpuKwPerNode: 0,
      pue: 1,
      now: c.now,
    });
    for (let k = 0; k < 31; k++, c.t += 60 * S) await meter.poll();
    return (await meter.importKw({ start: epochMs(T0), slotMinutes: 30, slots: 2 })).map((x) => x);
  };
  assert.deepEqual(await run(() => false), [1, NaN]); // the second period has one sample: unknown
  assert.deepEqual(await run((k) => k === 7), [1, NaN]); // one miss: the previous sample holds 90 s of 120
  assert.deepEqual(await run((k) => k >= 14), [NaN, NaN]); // b answered only 14 of 30 minutes
  assert.deepEqual(await run((k) => k >= 16), [1, NaN]); // 16 of 30: known, from what b did say
});

test('the stand-in through the real command path: argv per node, the real trace integrated per period, saved', async (t) => {
  const smi = nvidiaSmiStandin();
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-meter-'));
  t.after(() => {
    smi.remove();
    rmSync(dir, { recursive: true, force: true });
  });
  smi.set('gpu01', { mode: 'trace', gpus: 2 });
  smi.set('gpu02', { mode: 'query', gpus: 1 });
  const store = await openSqliteStore(join(dir, 'agent.db'));
  t.after(() => store.close());
  const c = clock(T0);
  const opts = {
    site: 'lon',
    nodes: ['gpu01', 'gpu02'],
    source: nvidiaSmiSource({ command: [smi.path, '{node}', 'nvidia-smi'], timeoutMs: 10_000 }),
    intervalMs: 10 * S,
    periodMinutes: 1,
    nonGpuKwPerNode: 1.5,
    pue: 1.25,
    store,
    now: c.now,
  };
  const meter = new GpuMeter(opts);
  for (let k = 0; k <= 12; k++, c.t += 10 * S) await meter.poll(); // 0 … 120 s: two whole minutes
  const calls = smi.calls();
  assert.equal(calls.length, 26);
  assert.deepEqual(
    calls.find((a) => a[0] === 'gpu01'),
    ['gpu01', 'nvidia-smi', '--query-gpu=index,uuid,power.draw,power.limit', '--format=csv,noheader,nounits'],
  );
  // What the stand-in printed: gpu01's GPU g read trace row k + 100g on poll k; gpu02 read query.csv's 78.28 W.
  const trace = parsePowerTrace(readFileSync(sharedPath(...TRACE_DIR, 'power-trace.csv'), 'utf8'));
  const w = (row: number) => trace[row % trace.length]?.powerDrawW ?? NaN;
  const minute = (m: number) => {
    let sum = 0;
    for (let k = 6 * m; k < 6 * m + 6; k++) sum += w(k) + w(k + 100);
    return ((sum / 6 + 78.28) / 1000 + 2 * 1.5) * 1.25;
  };
  const got = await meter.importKw({ start: epochMs(T0), slotMinutes: 1, slots: 3 });
  assert.ok(Math.abs((got[0] ?? NaN) - minute(0)) < 1e-9, `${got[0]} vs ${minute(0)}`);
  assert.ok(Math.abs((got[1] ?? NaN) - minute(1)) < 1e-9, `${got[1]} vs ${minute(1)}`);
  assert.ok(Number.isNaN(got[2]), 'the minute just begun is not known yet');
  const saved = await store.meterReadings({ site: 'lon' });
  assert.deepEqual(
    saved.map((r) => [r.slotStart - T0, r.slotMinutes, r.source]),
    [
      [0, 1, 'nvidia-smi'],
      [60 * S, 1, 'nvidia-smi'],
    ],
  );
  assert.ok(Math.abs((saved[0]?.importKw ?? NaN) - minute(0)) < 1e-9);
  // A restarted agent has no samples in memory: the ended periods come from the store.
  const again = new GpuMeter({ ...opts, now: () => T0 + 130 * S });
  const after = await again.importKw({ start: epochMs(T0), slotMinutes: 1, slots: 3 });
  assert.deepEqual(after.slice(0, 2), got.slice(0, 2));
  assert.ok(Number.isNaN(after[2]));
});

test('nvidia-smi missing, hanging, failing or printing the wrong thing: a coded error naming the node', async (t) => {
  const smi = nvidiaSmiStandin();
  t.after(() => smi.remove());
  smi.set('n-hang', { mode: 'hang' });
  smi.set('n-fail', { mode: 'fail' });
  smi.set('n-missing', { mode: 'missing' });
  smi.set('n-text', { mode: 'verbatim', file: sharedPath(...TRACE_DIR, 'nvidia-smi-power.txt') });
  smi.set('n-ok', { mode: 'query', gpus: 8 });
  const src = nvidiaSmiSource({ command: [smi.path, '{node}', 'nvidia-smi'], timeoutMs: 1500 });
  const reads = await src.read(['n-hang', 'n-fail', 'n-missing', 'n-text', 'n-ok']);
  const err = (node: string) => {
    const r = reads.find((x) => x.node === node);
    return r && !r.ok ? `${r.error.code}: ${r.error.message}` : 'ok';
  };
  assert.match(err('n-hang'), /^FLX_METER_UNAVAILABLE: nvidia-smi on n-hang \(.*\): no answer within 1500 ms$/);
  assert.match(err('n-fail'), /^FLX_METER_UNAVAILABLE: nvidia-smi on n-fail .*exit 9: NVIDIA-SMI has failed/);
  assert.match(err('n-missing'), /^FLX_METER_UNAVAILABLE: nvidia-smi on n-missing .*command not found on the node/);
  assert.match(err('n-text'), /^FLX_METER_INVALID: nvidia-smi on n-text: printed ".*" where 4 comma-separated values/);
  const ok = reads.find((x) => x.node === 'n-ok');
  assert.ok(ok?.ok && ok.gpus.length === 8 && ok.gpus.every((g) => g.powerDrawW === 78.28 && g.powerLimitW === 700));
  const [none] = await nvidiaSmiSource({ command: ['/nonexistent/nvidia-smi'], timeoutMs: 1000 }).read(['gpu01']);
  assert.ok(none && !none.ok);
  assert.match(
    none.error.message,
    /^nvidia-smi on gpu01 \(\/nonexistent\/nvidia-smi\): \/nonexistent\/nvidia-smi not found: install the NVIDIA driver utilities/,
  );
  assert.equal(none.error.code, 'FLX_METER_UNAVAILABLE');
});

test('a failing node is logged once, shown in status(), and its period reads NaN', async (t) => {
  const smi = nvidiaSmiStandin();
  t.after(() => smi.remove());
  smi.set('gpu02', { mode: 'fail' });
  const warned: string[] = [];
  const log = {
    debug: () => undefined,
    info: () => undefined,
    warn: (f: Record<string, unknown>) => void warned.push(String(f.node)),
    error: () => undefined,
    child: () => log,
  };
  const c = clock(T0);
  const meter = new GpuMeter({
    site: 'lon',
    nodes: ['gpu01', 'gpu02'],
    source: nvidiaSmiSource({ command: [smi.path, '{node}', 'nvidia-smi'], timeoutMs: 10_000 }),
    intervalMs: 20 * S,
    periodMinutes: 1,
    nonGpuKwPerNode: 0,
    pue: 1,
    now: c.now,
    log,
  });
  for (let k = 0; k < 4; k++, c.t += 20 * S) await meter.poll();
  assert.deepEqual(warned, ['gpu02']);
  const st = meter.status();
  assert.equal(st.gpu01?.gpuW, 78.28);
  assert.match(st.gpu02?.lastError ?? '', /^FLX_METER_UNAVAILABLE: nvidia-smi on gpu02/);
  assert.deepEqual(await meter.importKw({ start: epochMs(T0), slotMinutes: 1, slots: 1 }), [NaN]);
});

test('start() polls on the wall clock until stop()', async (t) => {
  const smi = nvidiaSmiStandin();
  t.after(() => smi.remove());
  const meter = new GpuMeter({
    site: 'lon',
    nodes: ['gpu01'],
    source: nvidiaSmiSource({ command: [smi.path, '{node}', 'nvidia-smi'], timeoutMs: 10_000 }),
    intervalMs: 200,
    periodMinutes: 30,
    nonGpuKwPerNode: 0,
    pue: 1,
  });
  meter.start();
  await new Promise((r) => setTimeout(r, 900));
  await meter.stop();
  const n = smi.calls().length;
  assert.ok(n >= 2 && n <= 6, `${n} polls in 0.9 s at 0.2 s`);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(smi.calls().length, n, 'no poll after stop()');
});

test('config: nodes must be plain host names (no ssh options), unique; bad values name the field', () => {
  const base = {
    site: 'lon',
    source: fakeSource(() => 1),
    intervalMs: 1000,
    periodMinutes: 30,
    nonGpuKwPerNode: 0,
    pue: 1.2,
  };
  assert.throws(() => new GpuMeter({ ...base, nodes: ['-oProxyCommand=sh'] }), /meter: nodes must be host names/);
  assert.throws(() => new GpuMeter({ ...base, nodes: ['a;rm -rf /'] }), /meter: nodes must be host names/);
  assert.throws(() => new GpuMeter({ ...base, nodes: ['a', 'a'] }), /must not repeat/);
  assert.throws(() => new GpuMeter({ ...base, nodes: [] }), /at least one node/);
  assert.throws(() => new GpuMeter({ ...base, nodes: ['a'], pue: 0.9 }), /meter: pue must be ≥ 1/);
});

// Hand-written in dcgm-exporter's Prometheus text format (DCGM_FI_DEV_POWER_USAGE, W, per gpu and Hostname).
const dcgmText = (host: string, watts: readonly number[]) =>
  `# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).\n# TYPE DCGM_FI_DEV_POWER_USAGE gauge\n${watts
    .map(
      (w, g) =>
        `DCGM_FI_DEV_POWER_USAGE{gpu="${g}",UUID="GPU-${host}-${g}",device="nvidia${g}",modelName="NVIDIA H200",Hostname="${host}"} ${w}`,
    )
    .join('\n')}\n`;

test('DCGM: one exporter per node ({node} in the URL) or one for all; unreachable and non-200 are coded', async (t) => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    const m = /^\/(\w+)\/metrics$/.exec(req.url ?? '');
    if (req.url === '/all/metrics') res.end(dcgmText('gpu01', [692, 124.5]) + dcgmText('gpu02', [78.28]));
    else if (m && m[1] !== 'gone') res.end(dcgmText(m[1] ?? '', [300, 310]));
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const one = await dcgmSource({ url: `${base}/all/metrics`, timeoutMs: 2000 }).read(['gpu01', 'gpu02', 'gpu03']);
  assert.deepEqual(
    one.map((r) => (r.ok ? r.gpus.reduce((s, g) => s + g.powerDrawW, 0) : r.error.code)),
    [816.5, 78.28, 'FLX_METER_INVALID'],
  );
  assert.match(!one[2]?.ok ? (one[2]?.error.message ?? '') : '', /no DCGM_FI_DEV_POWER_USAGE with Hostname="gpu03"/);
  const per = await dcgmSource({ url: `${base}/{node}/metrics`, timeoutMs: 2000 }).read(['gpu01', 'gone']);
  assert.ok(per[0]?.ok && per[0].gpus.length === 2);
  assert.match(!per[1]?.ok ? (per[1]?.error.message ?? '') : '', /^DCGM exporter .*\/gone\/metrics: HTTP 404/);
  const down = await dcgmSource({ url: 'http://127.0.0.1:1/metrics', timeoutMs: 2000 }).read(['gpu01']);
  assert.equal(!down[0]?.ok && down[0]?.error.code, 'FLX_METER_UNAVAILABLE');
  assert.deepEqual(seen.slice(0, 3), ['/all/metrics', '/gpu01/metrics', '/gone/metrics']);
});

test('a poll that throws (a fault, not a node failure) is logged and polling goes on', async () => {
  let calls = 0;
  const errors: string[] = [];
  const log = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (f: Record<string, unknown>) => void errors.push(String(f.error)),
    child: () => log,
  };
  const meter = new GpuMeter({
    site: 'lon',
    nodes: ['gpu01'],
    source: {
      name: 'broken',
      read: async (nodes) => {
        if (calls++ === 0) throw new Error('bug');
        return nodes.map((node) => ({ node, ok: true as const, gpus: [{ index: 0, powerDrawW: 100 }] }));
      },
    },
    intervalMs: 100,
    periodMinutes: 30,
    nonGpuKwPerNode: 0,
    pue: 1,
    log,
  });
  meter.start();
  await new Promise((r) => setTimeout(r, 350));
  await meter.stop();
  assert.deepEqual(errors, ['bug']);
  assert.ok(calls >= 3, `${calls} polls`);
  assert.equal(meter.status().gpu01?.gpuW, 100);
});
