// The market as an operator deploys it: `flexlon run registry|gateway|bpp|agent`, each its own
// process, started from copies of docs/examples/run/*.json in a temporary folder, changed only to
// use free ports, a fixed market day and the BPP's log level (their state/ folder then lands beside
// the copies, as paths are relative to the config file). The agent starts before the BPP, so its
// first report has to be retried. A BAP in this process sends one signed search through the gateway
// and gets the BPP's catalog back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileKeyStore } from '../../src/adapters/keystore-file/keystore.ts';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { buildContext } from '../../src/beckn/context.ts';
import { catalogToOffers, needToIntent } from '../../src/beckn/flex-codec.ts';
import { registryKeyResolver } from '../../src/beckn/key-resolver.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import { startTestBap } from '../helpers/bap.ts';
import { freePort, runRoleToExit, spawnRole, stopRole, type RoleChild } from '../helpers/run-process.ts';
import { projectRoot } from '../helpers/shared.ts';

type Json = Record<string, unknown>;
const ROLES = ['registry', 'gateway', 'bpp', 'agent'] as const;
type Role = (typeof ROLES)[number];
const EXAMPLES = join(projectRoot, 'docs', 'examples', 'run');
const SLOT = 30 * 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each number in `ports` (the examples' fixed ports) replaced by a free one, in listen.port and in every URL. */
const rewrite = (v: unknown, ports: ReadonlyMap<number, number>, key = ''): unknown => {
  const to = (p: number) => {
    const q = ports.get(p);
    assert.ok(q !== undefined, `port ${p} is one of the examples'`);
    return q;
  };
  if (key === 'port' && typeof v === 'number') return to(v);
  if (typeof v === 'string')
    return v.replace(/^(https?:\/\/[^/:]+):(\d+)/, (_m, host: string, p: string) => `${host}:${to(Number(p))}`);
  if (Array.isArray(v)) return v.map((x) => rewrite(x, ports));
  if (typeof v === 'object' && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rewrite(x, ports, k)]));
  return v;
};

const getJson = async (url: string): Promise<Json> => {
  const r = await fetch(url);
  assert.equal(r.status, 200, `GET ${url}`);
  return (await r.json()) as Json;
};

/** Polls `f` until it returns something truthy (the agent reports on its own schedule). */
const eventually = async <T>(what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> => {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(200);
  }
};

test(
  'the example configs run as four processes: ready, healthy, the agent reports, a search through the gateway is answered, SIGTERM stops each with exit 0',
  { timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexlon-run-'));
    const configs = Object.fromEntries(
      ROLES.map((r) => [r, JSON.parse(readFileSync(join(EXAMPLES, `${r}.json`), 'utf8')) as Json]),
    ) as Record<Role, Json>;
    const fixed = ROLES.map((r) => (configs[r].listen as { port: number }).port);
    const ports = new Map(await Promise.all(fixed.map(async (p) => [p, await freePort()] as const)));
    const file = (r: Role) => join(dir, `${r}.json`);
    // The market clock pinned to a midday the site has work to defer (the examples' clock follows the
    // wall clock, so a search late in the market day could find nothing to offer); the BPP at debug
    // level, for its "planned" line inside the search's log context; registry answers kept an hour,
    // so that the restarted buyer below is answered only by looking its key up afresh, however
    // slowly this machine runs.
    const clock = {
      kind: 'replay',
      marketStart: '2023-01-24T12:00:00Z',
      wallStart: new Date().toISOString(),
      speed: 1,
    };
    for (const r of ROLES) {
      const c = rewrite(configs[r], ports) as Json;
      const registry = c.registry ? { registry: { ...(c.registry as Json), cacheSeconds: 3600 } } : {};
      writeFileSync(
        file(r),
        JSON.stringify(
          { ...c, ...registry, ...(c.clock ? { clock } : {}), ...(r === 'bpp' ? { logLevel: 'debug' } : {}) },
          null,
          2,
        ),
      );
    }
    const url = (r: Role) => `http://127.0.0.1:${ports.get((configs[r].listen as { port: number }).port) ?? 0}`;
    const env = { FLEXLON_LOG_LEVEL: 'info' };
    const running: Partial<Record<Role, RoleChild>> = {};
    const stores: { close(): Promise<void> }[] = [];
    let stopBap = async () => {};
    try {
      running.registry = await spawnRole('registry', file('registry'), env);
      [running.gateway, running.agent] = await Promise.all([
        spawnRole('gateway', file('gateway'), env),
        spawnRole('agent', file('agent'), env),
      ]);
      running.bpp = await spawnRole('bpp', file('bpp'), env);
      const ready = Object.fromEntries(
        ROLES.map((r) => [r, (running[r]?.readyAt ?? 0) - (running[r]?.startedAt ?? 0)]),
      );
      console.log(`start to ready (ms): ${JSON.stringify(ready)}`);

      for (const r of ROLES) {
        const h = await getJson(`${url(r)}/health`);
        assert.equal(h.ok, true, `${r} /health`);
        assert.equal(typeof h.role, 'string', `${r} /health names its role`);
      }
      assert.equal((await getJson(`${url('bpp')}/health`)).role, 'bpp');
      // The agent started first, so its first report failed; it retried and the orchestrator took it.
      const reports = await eventually('the agent reports to the BPP', async () => {
        const h = (await getJson(`${url('agent')}/health`)).reports as { ok: number; lastError?: string };
        return h.ok >= 1 ? h : undefined;
      });
      assert.equal(reports.lastError, undefined);
      assert.match(running.agent?.err() ?? '', /first report failed; retrying/);
      // Started before the BPP, the agent said it could not yet trust the BPP's dispatches; the BPP,
      // started after the agent wrote its key, has nothing to say.
      assert.match(
        running.agent?.out() ?? '',
        /flexlon run agent: note: no key file yet for dispatch\.[^ ]+ at .*: its signed requests are refused \(FLX_SIG_UNKNOWN_KEY\)/,
      );
      assert.doesNotMatch(running.bpp?.out() ?? '', /note: no key file yet/);
      assert.deepEqual((await getJson(`${url('bpp')}/health`)).sites, ['lon']);

      const metrics = await fetch(`${url('bpp')}/metrics`);
      assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await metrics.text();
      assert.match(text, /^# TYPE flexlon_orders gauge$/m);
      assert.match(text, /^flexlon_orders\{state="confirmed"\} 0$/m);
      const solves = [...text.matchAll(/^flexlon_plan_solve_seconds_count\{[^}]*\} (\d+)$/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
      assert.ok(solves >= 1, "the agent's report made the BPP plan");

      // A BAP (this process) searches through the gateway; the BPP answers on_search straight to it.
      const keys = new FileKeyStore(join(dir, 'bap-keys'), true);
      const signer = await keys.signer('grid.run-test.local');
      const bapStore = await openSqliteStore(join(dir, 'bap.db'));
      stores.push(bapStore);
      const registryUrl = url('registry');
      const bap = await startTestBap({
        signer,
        store: bapStore,
        registryUrl,
        resolver: registryKeyResolver(new HttpRegistry({ url: registryUrl, now: Date.now, cacheTtlMs: 0 })),
      });
      stopBap = bap.stop;
      const marketNow = Date.parse(clock.marketStart) + (Date.now() - Date.parse(clock.wallStart)) * clock.speed;
      const start = epochMs(Math.ceil(marketNow / SLOT) * SLOT + 2 * SLOT);
      const need = {
        kind: 'price-peak',
        windowStart: start,
        windowEnd: epochMs(start + 2 * SLOT),
        wantedKw: kw(10),
        maxPriceGbpPerMwh: gbpPerMwh(5000),
      } as const;
      const context = buildContext({
        action: 'search',
        bapId: signer.subscriberId,
        bapUri: bap.url,
        now: Date.now(),
        ttlSeconds: 60,
      });
      await bap.client.send(url('gateway'), { context, message: { intent: needToIntent(need) } });
      const found = await bap.callbacks.wait(context.message_id, 30_000);
      assert.equal(found.context.action, 'on_search');
      assert.equal(found.context.bpp_id, configs.bpp.id);
      assert.equal(found.context.transaction_id, context.transaction_id);
      const offers = catalogToOffers((found.message as { catalog?: never } | undefined)?.catalog).map((x) => x.offer);
      assert.ok(
        offers.length > 0 && offers.every((o) => o.site === 'lon'),
        `the catalog offers the site's flexibility: ${JSON.stringify(offers)}`,
      );
      // The BPP counts on_search as sent once it has the BAP's ACK, which may be just after the BAP saw it.
      const after = await eventually(
        'on_search counted as sent',
        async () => {
          const t = await (await fetch(`${url('bpp')}/metrics`)).text();
          return /^flexlon_beckn_messages_total\{direction="out",action="on_search",outcome="sent"\} 1$/m.test(t)
            ? t
            : undefined;
        },
        10_000,
      );
      assert.match(after, /^flexlon_beckn_messages_total\{direction="in",action="search",outcome="ACK"\} 1$/m);

      // Logs are JSON lines, and a Beckn message's lines carry its transaction_id.
      for (const r of ROLES) {
        for (const line of (running[r]?.err() ?? '').split('\n').filter((l) => l.trim() !== '')) {
          const o = JSON.parse(line) as Json;
          assert.ok(typeof o.level === 'string' && typeof o.msg === 'string', `${r}: ${line}`);
        }
      }
      const tagged = (running.bpp?.err() ?? '')
        .split('\n')
        .filter((l) => l.includes(`"transaction_id":"${context.transaction_id}"`));
      assert.ok(
        tagged.some((l) => l.includes(`"message_id":"${context.message_id}"`) && l.includes('"msg":"planned"')),
        "the BPP's plan for the search is logged with its transaction_id and message_id",
      );
      // The same search in the gateway's log (forwarded to the BPP), and the BPP's subscription in
      // the registry's: one grep for the transaction follows it across the processes.
      const gatewayLines = (running.gateway?.err() ?? '')
        .split('\n')
        .filter((l) => l.includes('"msg":"search forwarded (ACK)"'));
      assert.ok(
        gatewayLines.some(
          (l) =>
            l.includes(`"transaction_id":"${context.transaction_id}"`) &&
            l.includes(`"to":"${String(configs.bpp.id)}"`) &&
            l.includes(`"from":"${signer.subscriberId}"`),
        ),
        `the gateway logs the search it forwarded: ${gatewayLines.join('\n')}`,
      );
      assert.match(
        running.registry?.err() ?? '',
        new RegExp(
          `"subscriber_id":"${String(configs.bpp.id).replace(/\./g, '\\.')}".*"msg":"subscription subscribed"`,
        ),
        "the registry logs the BPP's subscription",
      );

      // The buyer restarted on another port (as each `flexlon grid need` is) re-subscribes with its new
      // URL and searches again at once: the gateway and the BPP, whose registry clients cache
      // lookups (for an hour here), ask the registry again rather than refuse the new bap_uri as unregistered.
      await bap.stop();
      stopBap = async () => {};
      const again = await startTestBap({
        signer,
        store: bapStore,
        registryUrl,
        resolver: registryKeyResolver(new HttpRegistry({ url: registryUrl, now: Date.now, cacheTtlMs: 0 })),
      });
      stopBap = again.stop;
      assert.notEqual(again.url, bap.url);
      const context2 = buildContext({
        action: 'search',
        bapId: signer.subscriberId,
        bapUri: again.url,
        now: Date.now(),
        ttlSeconds: 60,
      });
      await again.client.send(url('gateway'), { context: context2, message: { intent: needToIntent(need) } });
      const found2 = await again.callbacks.wait(context2.message_id, 30_000);
      assert.equal(found2.context.transaction_id, context2.transaction_id, 'the restarted buyer got its catalog');

      // Clean stop, in reverse order of dependence; every state file beside the copied configs.
      for (const r of ['agent', 'bpp', 'gateway', 'registry'] as const) {
        const child = running[r];
        if (!child) continue;
        delete running[r];
        const exit = await stopRole(child);
        assert.deepEqual(
          { code: exit.code, signal: exit.signal },
          { code: 0, signal: null },
          `${r} exits 0 on SIGTERM`,
        );
        assert.match(exit.out, new RegExp(`^flexlon run ${r}: stopped$`, 'm'));
      }
      for (const f of [
        'registry.db',
        'gateway.db',
        'bpp.db',
        'agent-lon.db',
        'keys/dc.example.local.json',
        'keys/agent-lon.example.local.json',
      ])
        assert.ok(existsSync(join(dir, 'state', f)), f);
      assert.equal(existsSync(join(EXAMPLES, 'state')), false, 'nothing written beside the examples themselves');
    } finally {
      await Promise.allSettled(Object.values(running).map((c) => stopRole(c, 2000)));
      await stopBap();
      await Promise.allSettled(stores.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'flexlon run bap procures through the network: five processes on one fast replayed day; the buyer finds the evening peak, searches through the gateway, buys, and follows the order to settlement',
  { timeout: 180_000 },
  async () => {
    const ALL = ['registry', 'gateway', 'bpp', 'agent', 'bap'] as const;
    type R = (typeof ALL)[number];
    const dir = mkdtempSync(join(tmpdir(), 'flexlon-run-bap-'));
    const configs = Object.fromEntries(
      ALL.map((r) => [r, JSON.parse(readFileSync(join(EXAMPLES, `${r}.json`), 'utf8')) as Json]),
    ) as Record<R, Json>;
    const fixed = ALL.map((r) => (configs[r].listen as { port: number }).port);
    const ports = new Map(await Promise.all(fixed.map(async (p) => [p, await freePort()] as const)));
    const file = (r: R) => join(dir, `${r}.json`);
    // 24 January 2023 from 14:00 at 600× (half an hour of market time in 3 s): the buyer's evening
    // peak (16:00-20:00) is bought two hours ahead and settled half an hour after it, about a
    // minute of wall time. The BAP waits longer for on_search, as the fast clock keeps the BPP busy.
    const clock = {
      kind: 'replay',
      marketStart: '2023-01-24T14:00:00Z',
      wallStart: new Date(Date.now() + 5000).toISOString(),
      speed: 600,
    };
    for (const r of ALL) {
      const c = rewrite(configs[r], ports) as Json;
      writeFileSync(file(r), JSON.stringify({ ...c, ...(c.clock ? { clock } : {}) }, null, 2));
    }
    const url = (r: R) => `http://127.0.0.1:${ports.get((configs[r].listen as { port: number }).port) ?? 0}`;
    const env = { FLEXLON_LOG_LEVEL: 'info' };
    const running: Partial<Record<R, RoleChild>> = {};
    try {
      running.registry = await spawnRole('registry', file('registry'), env);
      [running.gateway, running.bpp] = await Promise.all([
        spawnRole('gateway', file('gateway'), env),
        spawnRole('bpp', file('bpp'), env),
      ]);
      [running.agent, running.bap] = await Promise.all([
        spawnRole('agent', file('agent'), env),
        spawnRole('bap', file('bap'), env),
      ]);
      const health = await getJson(`${url('bap')}/health`);
      assert.equal(health.role, 'bap');
      type Today = {
        need?: { windowStart: number; windowEnd: number };
        orderId?: string;
        state?: string;
        deliveredKwh?: number;
        noDeal?: string;
      };
      const today = async () => (await getJson(`${url('bap')}/health`)).today as Today | undefined;
      const need = (await eventually("the buyer finds the day's need", async () => (await today())?.need))!;
      const hour = (t: number) => new Date(t).getUTCHours() + new Date(t).getUTCMinutes() / 60;
      assert.ok(
        hour(need.windowStart) >= 16 && hour(need.windowEnd) <= 20,
        `the need is in the evening peak: ${JSON.stringify(need)}`,
      );
      const bought = await eventually(
        'the buyer buys',
        async () => {
          const t = await today();
          if (t?.noDeal) assert.fail(`no deal: ${t.noDeal}`);
          return t?.orderId ? t : undefined;
        },
        90_000,
      );
      assert.match(bought.orderId ?? '', /^flx-/);
      const settled = await eventually(
        'the buyer has the settlement',
        async () => {
          const t = await today();
          return t?.deliveredKwh !== undefined ? t : undefined;
        },
        90_000,
      );
      assert.equal(settled.state, 'DELIVERED');
      assert.ok((settled.deliveredKwh ?? 0) > 0, `delivered ${settled.deliveredKwh} kWh`);
      // The statement (support → on_support) follows the status answer.
      const log = await eventually('the buyer has the statement', async () => {
        const err = running.bap?.err() ?? '';
        return err.includes('"msg":"procurement: statement"') ? err : undefined;
      });
      for (const step of ['need', 'searching', 'bought', 'window-open', 'status', 'statement'])
        assert.match(log, new RegExp(`"msg":"procurement: ${step}"`), `the BAP logs ${step}`);
      for (const r of ['bap', 'agent', 'bpp', 'gateway', 'registry'] as const) {
        const child = running[r];
        if (!child) continue;
        delete running[r];
        const exit = await stopRole(child);
        assert.deepEqual(
          { code: exit.code, signal: exit.signal },
          { code: 0, signal: null },
          `${r} exits 0 on SIGTERM`,
        );
      }
      assert.ok(existsSync(join(dir, 'state', 'bap.db')) && existsSync(join(dir, 'state', 'openadr.token')));
    } finally {
      await Promise.allSettled(Object.values(running).map((c) => stopRole(c, 2000)));
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('a real process refuses a bad config: exit 2, FLX_CONFIG_INVALID naming the field, no stack trace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-run-'));
  try {
    const c = JSON.parse(readFileSync(join(EXAMPLES, 'bpp.json'), 'utf8')) as Json;
    writeFileSync(join(dir, 'bpp.json'), JSON.stringify({ ...c, slotMinutes: 45.5 }));
    const r = await runRoleToExit('bpp', join(dir, 'bpp.json'));
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.err,
      /^flexlon run: FLX_CONFIG_INVALID: .*bpp\.json: slotMinutes: must be a whole number from 5 to 60, got 45\.5$/m,
    );
    assert.doesNotMatch(r.err, /\n\s+at /);
    assert.equal(r.out, '');
    assert.equal(existsSync(join(dir, 'state')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
