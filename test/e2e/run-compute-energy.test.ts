// DEG compute-energy as an operator deploys it (issue 18): `flexlon run registry|agent|bpp|grid-agent`,
// each its own process, from copies of docs/examples/run/registry.json and docs/examples/run/
// compute-energy/*.json changed only to use free ports, a market clock at 10:00 on 2024-01-15 (the
// shipped regional signals' span), a renewal every 3 s and the grid agent's discount. The grid agent
// starts last, so the BPP first plans on the plain signals and its compute agent finds no grid agent;
// once the grid agent is registered the next renewal buys London's window, the orchestrator re-plans
// on it and moves work into it, and the compute agent tells the grid agent the plan's kWh there
// (workload shift), which the grid agent records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import type { PlanRecord } from '../../src/agents/flex/plan-record.ts';
import { HELD_WINDOWS, type HeldWindow } from '../../src/beckn/v2/compute-buyer.ts';
import { SOLD_WINDOWS, type SoldWindow } from '../../src/beckn/v2/grid-agent.ts';
import { freePort, spawnRole, stopRole, type RoleChild } from '../helpers/run-process.ts';
import { projectRoot } from '../helpers/shared.ts';

type Json = Record<string, unknown>;
const ROLES = ['registry', 'agent', 'bpp', 'grid-agent'] as const;
type Role = (typeof ROLES)[number];
const EXAMPLES = join(projectRoot, 'docs', 'examples', 'run');
const source = (r: Role) => join(EXAMPLES, r === 'registry' ? 'registry.json' : `compute-energy/${r}.json`);
const SLOT_MS = 30 * 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each example port replaced by a free one, in listen.port and in every URL. */
const rewrite = (v: unknown, ports: ReadonlyMap<number, number>, key = ''): unknown => {
  const to = (p: number) => ports.get(p) ?? assert.fail(`port ${p} is not one of the examples'`);
  if (key === 'port' && typeof v === 'number') return to(v);
  if (typeof v === 'string')
    return v.replace(/^(https?:\/\/[^/:]+):(\d+)/, (_m, host: string, p: string) => `${host}:${to(Number(p))}`);
  if (Array.isArray(v)) return v.map((x) => rewrite(x, ports));
  if (typeof v === 'object' && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rewrite(x, ports, k)]));
  return v;
};

const eventually = async (what: string, f: () => boolean, ms = 60_000): Promise<void> => {
  const until = Date.now() + ms;
  while (!f()) {
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(200);
  }
};

test(
  'the grid agent as its own process: the BPP buys a window from it, its plan moves work into the window, and the grid agent records the workload shift',
  { timeout: 150_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexlon-run-ce-'));
    const configs = Object.fromEntries(ROLES.map((r) => [r, JSON.parse(readFileSync(source(r), 'utf8')) as Json]));
    const fixed = [
      ...ROLES.map((r) => (configs[r]?.listen as { port: number }).port),
      ((configs.bpp?.computeEnergy as Json).listen as { port: number }).port,
    ];
    const ports = new Map(await Promise.all(fixed.map(async (p) => [p, await freePort()] as const)));
    const clock = {
      kind: 'replay',
      marketStart: '2024-01-15T10:00:00Z',
      wallStart: new Date().toISOString(),
      speed: 1,
    };
    const file = (r: Role) => join(dir, `${r}.json`);
    for (const r of ROLES) {
      const c = rewrite(configs[r], ports) as Json;
      if (c.clock) c.clock = clock;
      if (r === 'bpp') c.computeEnergy = { ...(c.computeEnergy as Json), renewEveryMinutes: 0.05 };
      // The grid agent sells at a tenth of the window's forecast price: a clear draw for the plan.
      if (r === 'grid-agent') c.discount = 0.9;
      writeFileSync(file(r), JSON.stringify(c, null, 2));
    }
    const env = { FLEXLON_LOG_LEVEL: 'info' };
    const running: Partial<Record<Role, RoleChild>> = {};
    try {
      running.registry = await spawnRole('registry', file('registry'), env);
      running.agent = await spawnRole('agent', file('agent'), env);
      running.bpp = await spawnRole('bpp', file('bpp'), env);
      const bppOut = () => `${running.bpp?.out() ?? ''}\n${running.bpp?.err() ?? ''}`;
      assert.match(bppOut(), /compute agent \(2\.0 BAP\) compute\.dc\.example\.local/);
      // No grid agent yet: the renewal says so and the BPP plans on the plain signals.
      await eventually('a renewal without the grid agent', () => /grid windows not bought/.test(bppOut()));
      // …and once the site has reported, the BPP has planned on them.
      const bppUrl = `http://127.0.0.1:${ports.get(4712) ?? 0}`;
      const solves = async () =>
        [
          ...(await (await fetch(`${bppUrl}/metrics`)).text()).matchAll(
            /^flexlon_plan_solve_seconds_count\{[^}]*\} (\d+)$/gm,
          ),
        ].reduce((n, m) => n + Number(m[1]), 0);
      for (const until = Date.now() + 60_000; (await solves()) < 1; await sleep(200))
        if (Date.now() > until) assert.fail('the BPP made no plan within 60 s');
      running['grid-agent'] = await spawnRole('grid-agent', file('grid-agent'), env);
      const gridUrl = `http://127.0.0.1:${ports.get(4715) ?? 0}`;
      assert.equal(((await (await fetch(`${gridUrl}/health`)).json()) as Json).ok, true);
      await eventually('the workload shift told to the grid agent', () =>
        /workload shift told to the grid agent/.test(bppOut()),
      );
      for (const r of [...ROLES].reverse()) {
        const exit = await stopRole(running[r] as RoleChild);
        assert.equal(exit.code, 0, `${r} stops cleanly`);
      }

      // What the stores hold, read after the processes stopped.
      const bppStore = await openSqliteStore(join(dir, 'state', 'bpp.db'));
      const computeStore = await openSqliteStore(join(dir, 'state', 'compute-energy.db'));
      const gridStore = await openSqliteStore(join(dir, 'state', 'grid-agent.db'));
      try {
        const held = (await computeStore.getDocument<{ windows: HeldWindow[] }>(HELD_WINDOWS.kind, HELD_WINDOWS.id))
          ?.windows;
        assert.equal(held?.length, 1, 'one window held');
        const w = held[0] as HeldWindow;
        assert.equal(w.gridArea, 'London');
        assert.equal(w.end - w.start, 4 * 3_600_000);
        const sold = new Map(
          (await gridStore.getDocument<{ sold: [string, SoldWindow][] }>(SOLD_WINDOWS.kind, SOLD_WINDOWS.id))?.sold ??
            [],
        );
        const s = sold.get(w.contractId) as { shift?: { plannedKwh: number } } | undefined;
        assert.ok(s?.shift, 'the grid agent recorded the workload shift');

        const plans = await Promise.all(
          (await bppStore.auditTrail())
            .filter((a) => a.kind === 'plan')
            .map(
              async (a) => (await bppStore.getPlan<PlanRecord>((a.payload as { planId: string }).planId)) as PlanRecord,
            ),
        );
        const kwhIn = (p: PlanRecord): number => {
          const first = (w.start - p.horizonStart) / SLOT_MS;
          return (p.siteImportKw.lon ?? []).slice(first, first + 8).reduce((a, b) => a + b, 0) * 0.5;
        };
        const k = plans.findIndex((p) => p.reason.startsWith('grid windows bought: London'));
        assert.ok(
          k > 0,
          `a plan on the plain signals, then one on the window: ${plans.map((p) => p.reason).join(' | ')}`,
        );
        const before = plans[k - 1] as PlanRecord;
        const after = plans[k] as PlanRecord;
        const first = (w.start - after.horizonStart) / SLOT_MS;
        assert.equal(after.signals.lon?.priceGbpPerMwh[first], w.priceGbpPerMwh, "planned on the window's price");
        assert.notEqual(
          before.signals.lon?.priceGbpPerMwh[(w.start - before.horizonStart) / SLOT_MS],
          w.priceGbpPerMwh,
        );
        console.log(
          `London window ${new Date(w.start).toISOString()} (£${w.priceGbpPerMwh}/MWh, ${w.carbonGPerKwh} g): ` +
            `${kwhIn(before).toFixed(1)} -> ${kwhIn(after).toFixed(1)} kWh planned in it; shift told ${s.shift.plannedKwh} kWh`,
        );
        assert.ok(kwhIn(after) > kwhIn(before) + 1, 'the plan moves work into the window');
        // The shift the grid agent holds is what a plan made on the window puts there.
        assert.ok(
          plans.slice(k).some((p) => Math.abs(kwhIn(p) - (s.shift?.plannedKwh ?? -1)) < 0.01),
          'the shift states the kWh of a plan made on the window',
        );
      } finally {
        await Promise.allSettled([bppStore, computeStore, gridStore].map((x) => x.close()));
      }
    } finally {
      await Promise.allSettled(Object.values(running).map((c) => stopRole(c, 2000)));
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
