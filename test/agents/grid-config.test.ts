// The grid buyer's monitoring and meter view switched on from a `flexlon run bap` config (issue 16):
// `policy.monitor` reaches the buyer's policy, which its procurement loop follows (the loop's own
// monitor absent: procurement-loop.ts monitorFor; the demo's --monitor run in
// test/cli/settle-demo.test.ts shows the loop polling under it), and `meters` becomes the buyer's
// meter view, read again when a file changes. A bad value is refused with exit 2 and
// FLX_CONFIG_INVALID naming the field, before anything is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { Procurement } from '../../src/agents/grid/orchestrator.ts';
import { logMonitor } from '../../src/compose/bap.ts';
import { composeBap, freePort } from '../../src/compose/index.ts';
import { epochMs } from '../../src/domain/time.ts';
import { createLogger } from '../../src/log.ts';
import { ConfigReader } from '../../src/run/config-reader.ts';
import { readBap } from '../../src/run/roles.ts';
import { projectRoot } from '../helpers/shared.ts';

type Json = Record<string, unknown>;
const example = (): Json =>
  JSON.parse(readFileSync(join(projectRoot, 'docs', 'examples', 'run', 'bap.json'), 'utf8')) as Json;

const WINDOW_START = Date.parse('2023-01-24T17:00:00Z');
const HALF_HOUR = 1_800_000;

/** A long meter CSV (docs/meters.md): kWh per period from 16:00 to 19:00 UTC. */
const meterCsv = (kwh: number): string =>
  [
    'mpan,start,kwh',
    ...[0, 1, 2, 3, 4, 5].map(
      (i) => `1200000000001,${new Date(WINDOW_START - 2 * HALF_HOUR + i * HALF_HOUR).toISOString()},${kwh}`,
    ),
  ].join('\n') + '\n';

/** Writes the example with `patch` applied into a fresh folder; the file's path. */
const configIn = (dir: string, patch: (c: Json) => void): string => {
  const c = example();
  patch(c);
  const file = join(dir, 'bap.json');
  writeFileSync(file, JSON.stringify(c));
  return file;
};

test('policy.monitor and meters from a BAP config: the buyer monitors under that policy and checks against its own meter files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-grid-config-'));
  try {
    writeFileSync(join(dir, 'lon.csv'), meterCsv(60));
    const port = await freePort();
    const file = configIn(dir, (c) => {
      c.listen = { host: '127.0.0.1', port };
      // Nothing to subscribe to: the role starts on its own.
      c.registry = { url: 'http://127.0.0.1:9', subscribe: false };
      c.policy = { ...(c.policy as Json), monitor: { tolerance: 0.1, topUp: true } };
      c.meters = [{ site: 'lon', file: 'lon.csv' }];
      c.logLevel = 'silent';
    });
    const config = readBap(ConfigReader.load(file));
    assert.deepEqual(config.policy.monitor, { tolerance: 0.1, topUp: true });
    assert.deepEqual(config.meters, [{ site: 'lon', file: join(dir, 'lon.csv') }], 'relative to the config file');
    const logged: string[] = [];
    const composed = await composeBap(config, { log: createLogger('warn', {}, (l) => logged.push(l)) });
    try {
      // The loop's own monitor is unset, so it follows the buyer's policy (procurement-loop.ts monitorFor).
      assert.deepEqual(composed.bap.policy.monitor, { tolerance: 0.1, topUp: true });
      const view = composed.bap.deps.meterView;
      assert.ok(view, 'the buyer was given a meter view');
      const part = (site: string) => ({
        offer: { site, windowStart: epochMs(WINDOW_START), windowEnd: epochMs(WINDOW_START + 2 * HALF_HOUR) },
        product: undefined,
      });
      const lon = await view.readingsFor(part('lon') as never);
      assert.ok(lon);
      // 60 kWh in a half-hour is a mean of 120 kW.
      assert.deepEqual(
        [...lon.meteredKw],
        [
          [WINDOW_START, 120],
          [WINDOW_START + HALF_HOUR, 120],
        ],
      );
      assert.match(lon.source, /lon\.csv \(meter 1200000000001\)/);
      assert.equal(await view.readingsFor(part('man') as never), undefined, 'no meter file for man');

      // The desk's export is rewritten: the next check reads it again.
      writeFileSync(join(dir, 'lon.csv'), meterCsv(45));
      const later = new Date(Date.now() + 5_000);
      utimesSync(join(dir, 'lon.csv'), later, later);
      assert.equal((await view.readingsFor(part('lon') as never))?.meteredKw.get(WINDOW_START), 90);
      // A half-written one is logged and the last good readings kept.
      writeFileSync(join(dir, 'lon.csv'), 'mpan,start,kwh\n1200000000001,not a time,3\n');
      const later2 = new Date(Date.now() + 10_000);
      utimesSync(join(dir, 'lon.csv'), later2, later2);
      assert.equal((await view.readingsFor(part('lon') as never))?.meteredKw.get(WINDOW_START), 90);
      const warned = logged.map((l) => JSON.parse(l) as { msg: string; site?: string; code?: string });
      assert.deepEqual(
        warned.filter((x) => /meter/.test(x.msg)).map((x) => [x.msg, x.site, x.code]),
        [['buyer meter file unreadable: last readings kept', 'lon', 'FLX_DATA_INVALID']],
      );
    } finally {
      await composed.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without policy.monitor the buyer has no monitor policy (the default stays off)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-grid-config-'));
  try {
    const config = readBap(
      ConfigReader.load(
        configIn(dir, (c) => {
          delete (c.policy as Json).monitor;
        }),
      ),
    );
    assert.equal(config.policy.monitor, undefined);
    assert.equal(config.meters, undefined);
    // `{}` switches it on with the defaults: 5 % (WPD Flexible Power), no top-up.
    const on = readBap(
      ConfigReader.load(
        configIn(dir, (c) => {
          (c.policy as Json).monitor = {};
        }),
      ),
    );
    assert.deepEqual(on.policy.monitor, { tolerance: 0.05, topUp: false });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('each monitor finding is one log line: a shortfall and a skipped top-up at warn, a top-up at info', () => {
  const lines: string[] = [];
  const log = createLogger('info', {}, (l) => lines.push(l));
  const part = (bpp: string, orderId: string, kw: number) =>
    ({ bpp: { subscriber_id: bpp }, orderId, selectedKw: kw }) as unknown as Procurement;
  const lon = part('dc.flexlon.local', 'ord-lon', 30);
  const at = epochMs(WINDOW_START + HALF_HOUR);
  const shortfall = {
    periods: 1,
    deliveredKwh: 4.2,
    committedKwh: 15,
    shortfallKwh: 10.8,
    missingKw: 21.6,
    lastPeriod: '2023-01-24T17:00:00.000Z (SP35)',
  };
  logMonitor(log, { kind: 'shortfall', at, procurement: lon, shortfall, source: 'push' });
  logMonitor(log, { kind: 'topped-up', at, procurement: lon, bought: [part('dc-bat.flexlon.local', 'ord-bat', 21.6)] });
  logMonitor(log, { kind: 'no-top-up', at, procurement: lon, reason: 'no whole period is left in the window' });
  const got = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const order = { orderId: 'ord-lon', bpp: 'dc.flexlon.local', marketTime: '2023-01-24T17:30:00.000Z' };
  assert.deepEqual(
    got.map((x) => [x.level, x.msg]),
    [
      ['warn', 'delivery shortfall alerted'],
      ['info', 'shortfall topped up'],
      ['warn', 'shortfall not topped up'],
    ],
  );
  assert.deepEqual(
    { ...got[0], time: undefined },
    { time: undefined, level: 'warn', ...order, source: 'push', ...shortfall, msg: 'delivery shortfall alerted' },
  );
  assert.deepEqual(got[1]?.bought, [{ bpp: 'dc-bat.flexlon.local', orderId: 'ord-bat', kw: 21.6 }]);
  assert.equal(got[2]?.reason, 'no whole period is left in the window');
});

const CASES: readonly { field: string; why: RegExp; patch: (c: Json, dir: string) => void }[] = [
  {
    field: 'policy.monitor.tolerance',
    why: /must be a number from 0 to 1, got 5/,
    patch: (c) => {
      (c.policy as Json).monitor = { tolerance: 5 };
    },
  },
  {
    field: 'policy.monitor.topUp',
    why: /must be true or false, got "yes"/,
    patch: (c) => {
      (c.policy as Json).monitor = { topUp: 'yes' };
    },
  },
  {
    field: 'policy.monitor.tolerence',
    why: /is not a known field here/,
    patch: (c) => {
      (c.policy as Json).monitor = { tolerence: 0.1 };
    },
  },
  {
    field: 'policy.monitor',
    why: /must be an object/,
    patch: (c) => {
      (c.policy as Json).monitor = true;
    },
  },
  {
    field: 'meters[0].unit',
    why: /must be one of kWh, kW, got "W"/,
    patch: (c, dir) => {
      writeFileSync(join(dir, 'lon.csv'), meterCsv(60));
      c.meters = [{ site: 'lon', file: 'lon.csv', unit: 'W' }];
    },
  },
  {
    field: 'meters[1].site',
    why: /names "lon" a second time: one meter file per site/,
    patch: (c, dir) => {
      writeFileSync(join(dir, 'lon.csv'), meterCsv(60));
      c.meters = [
        { site: 'lon', file: 'lon.csv' },
        { site: 'lon', file: 'lon.csv' },
      ];
    },
  },
  {
    field: 'meters[0].file',
    why: /the meter file for site lon, .*missing\.csv, cannot be read \(ENOENT\)/,
    patch: (c) => {
      c.meters = [{ site: 'lon', file: 'missing.csv' }];
    },
  },
];

for (const k of CASES) {
  test(`run bap: a bad ${k.field} is refused with exit 2, naming the field, before anything is written`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexlon-grid-config-'));
    try {
      const file = configIn(dir, (c) => k.patch(c, dir));
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(['run', 'bap', '--config', file], { out: (l) => out.push(l), err: (l) => err.push(l) });
      const text = err.join('\n');
      assert.equal(code, 2, text);
      assert.match(text, /^flexlon run: FLX_CONFIG_INVALID: /);
      assert.ok(text.includes(`${k.field}: `), `names ${k.field}: ${text}`);
      assert.match(text, k.why);
      assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
      assert.equal(out.join(''), '', 'never says ready');
      assert.equal(existsSync(join(dir, 'state')), false, 'no store or key was written');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('run bap: a meter file that is not meter data is refused with FLX_DATA_INVALID naming the file and line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-grid-config-'));
  try {
    writeFileSync(join(dir, 'lon.csv'), 'mpan,start,kwh\n1200000000001,2023-01-24T17:00:00Z,-4\n');
    const file = configIn(dir, (c) => {
      c.meters = [{ site: 'lon', file: 'lon.csv' }];
    });
    const err: string[] = [];
    const code = await main(['run', 'bap', '--config', file], { out: () => {}, err: (l) => err.push(l) });
    const text = err.join('\n');
    assert.notEqual(code, 0);
    assert.match(text, /FLX_DATA_INVALID: .*lon\.csv: line 2: .*negative/);
    assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(join(dir, 'state')), false, 'no store or key was written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
