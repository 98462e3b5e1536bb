// DEG compute-energy windows kept and renewed (issue 18): the composed grid agent and compute agent
// (src/compose/compute-energy.ts) on a real registry, SQLite stores and signed HTTP on loopback, with
// market time set by the test. The compute agent buys a window per grid area (the first grid agent it
// names is not registered: it asks the next), tells the grid agent the plan's kWh in each (workload
// shift, recorded by the grid agent), and keeps what it holds: restarted, it plans on the same
// windows and buys nothing; the grid agent restarted still holds what it sold (a carbon spike reaches
// the buyer); once the windows lapse, the next renewal buys the next ones. The update / on_update
// messages validate against FlexLon's 2.0 envelope and the LTS beckn.yaml from ../shared.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsvSignalSource } from '../../src/adapters/signals-csv/source.ts';
import { plannedInWindows, type PlanImports } from '../../src/agents/flex/grid-windows.ts';
import { HELD_WINDOWS } from '../../src/beckn/v2/compute-buyer.ts';
import { SOLD_WINDOWS } from '../../src/beckn/v2/grid-agent.ts';
import { checkV2, loadOfficialSpec } from '../../src/beckn/v2/validate.ts';
import { SHIPPED_GRID } from '../../src/config.ts';
import { composeRegistry, freePort, type RunningRole } from '../../src/compose/index.ts';
import {
  composeComputeAgent,
  composeGridAgent,
  type ComputeAgentConfig,
  type ComposedComputeAgent,
  type ComposedGridAgent,
  type GridAgentConfig,
} from '../../src/compose/compute-energy.ts';
import { createLogger } from '../../src/log.ts';
import { eventually } from '../helpers/network.ts';
import { LTS } from './deg-buyer.ts';

const DAY = Date.parse('2024-01-15T00:00:00Z');
const HOUR = 3_600_000;
const AREAS = { 'Cambridge-East': 'East England', Manchester: 'North West England' } as const;
const SITES = { cam: 'East England', man: 'North West England' } as const;
const GRID_ID = 'grid-agent.flexlon.local';
const HOST = '127.0.0.1';
const log = createLogger('silent');
const base = new CsvSignalSource(SHIPPED_GRID);

let dir: string;
let registry: RunningRole;
let gridConfig: GridAgentConfig;
let computeConfig: ComputeAgentConfig;
let grid: ComposedGridAgent;
let compute: ComposedComputeAgent;
/** Market time, as the test sets it (10:07, mid-slot: windows are asked for from 10:30). */
let market = DAY + 10 * HOUR + 7 * 60_000;
const replans: string[] = [];

/** A plan over the day from 00:00 (30-minute slots): 150 kW at `cam` and 80 kW at `man` in every slot. */
const PLAN: PlanImports = {
  horizonStart: DAY,
  slotMinutes: 30,
  siteImportKw: { cam: Array<number>(96).fill(150), man: Array<number>(96).fill(80) },
};

const startGrid = () => composeGridAgent(gridConfig, { signals: base, log, marketNow: () => market });
const startCompute = async () => {
  const c = await composeComputeAgent(computeConfig, { signals: base, log, marketNow: () => market });
  c.planWith(async (reason) => {
    replans.push(reason);
    return PLAN;
  });
  return c;
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flexlon-ce-durable-'));
  const keys = { dir: join(dir, 'keys'), generate: true };
  const store = (name: string) => ({ kind: 'sqlite' as const, file: join(dir, `${name}.db`) });
  const at = async () => {
    const port = await freePort();
    return { host: HOST, port, publicUrl: `http://${HOST}:${port}` };
  };
  registry = await composeRegistry({ listen: await at(), store: store('registry'), logLevel: 'silent' });
  const registryRef = { url: registry.url, subscribe: true };
  gridConfig = {
    id: GRID_ID,
    listen: await at(),
    store: store('grid-agent'),
    keys,
    registry: registryRef,
    logLevel: 'silent',
    areas: AREAS,
    windowSlots: 8,
    slotMinutes: 30,
    capacityKw: 2000,
    discount: 0.9,
  };
  computeConfig = {
    id: 'compute.dc.flexlon.local',
    listen: await at(),
    store: store('compute-energy'),
    keys,
    registry: registryRef,
    logLevel: 'silent',
    areas: AREAS,
    sites: SITES,
    renew: { gridAgents: ['not-registered.example', GRID_ID], kw: 100, everyMinutes: 60, slotMinutes: 30 },
  };
  grid = await startGrid();
  compute = await startCompute();
});

after(async () => {
  for (const r of [compute, grid, registry]) await r?.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

/** The contracts confirmed to the compute agent so far (its audit of on_confirm received). */
const confirmsReceived = async (): Promise<number> =>
  (await compute.store.auditTrail()).filter(
    (a) => a.kind === 'beckn.in' && (a.payload as { action: string }).action === 'on_confirm',
  ).length;

test(
  "renewal buys a window per grid area, tells the grid agent the plan's kWh in each, and a restarted compute agent buys nothing it holds",
  { timeout: 120_000 },
  async () => {
    const bought = await compute.renew();
    assert.deepEqual(bought.map((w) => w.gridArea).sort(), ['Cambridge-East', 'Manchester']);
    for (const w of bought) {
      assert.ok(w.start >= DAY + 10.5 * HOUR && w.end <= DAY + 34.5 * HOUR, 'within the next 24 h from 10:30');
      assert.equal((w.start - DAY) % (30 * 60_000), 0, 'on a slot boundary');
    }
    assert.equal(replans.length, 1);
    assert.match(replans[0] ?? '', /^grid windows bought: /);
    // The workload shift: the plan's kWh in each window (8 slots of 150 kW or 80 kW × 0.5 h), told to
    // the grid agent, which recorded it with the sale.
    const expected = plannedInWindows(
      PLAN,
      bought,
      (a) => AREAS[a as keyof typeof AREAS],
      (s) => SITES[s as 'cam'],
    );
    assert.deepEqual(
      expected.map((p) => p.kwh).sort((a, b) => a - b),
      [320, 600],
    );
    const sold = grid.agent.sold();
    for (const w of bought) {
      const s = sold.get(w.contractId);
      assert.equal(s?.buyer, 'compute.dc.flexlon.local');
      assert.equal(s?.shift?.plannedKwh, w.gridArea === 'Cambridge-East' ? 600 : 320, `${w.gridArea}: planned kWh`);
      assert.equal(s?.kw, w.gridArea === 'Cambridge-East' ? 150 : 80, `${w.gridArea}: the plan's peak kW`);
      assert.equal(compute.buyer.held().find((h) => h.contractId === w.contractId)?.plannedKwh, s?.shift?.plannedKwh);
    }
    // Both sides' documents hold them.
    const held = await compute.store.getDocument<{ windows: unknown[] }>(HELD_WINDOWS.kind, HELD_WINDOWS.id);
    assert.equal(held?.windows.length, 2);
    const stored = await grid.store.getDocument<{ sold: unknown[] }>(SOLD_WINDOWS.kind, SOLD_WINDOWS.id);
    assert.equal(stored?.sold.length, 2);
    // The update and on_update messages, as received, are valid 2.0 LTS with the shift in them.
    const spec = loadOfficialSpec(LTS);
    const updates = [...(await grid.store.auditTrail()), ...(await compute.store.auditTrail())].filter(
      (a) => a.kind === 'beckn.in' && ['update', 'on_update'].includes((a.payload as { action: string }).action),
    );
    assert.equal(updates.length, 4, 'two workload shifts and their confirmations');
    for (const a of updates) {
      const { action, body } = a.payload as { action: string; body: string };
      const msg = JSON.parse(body) as { message: { contract: { performance?: { status: { code: string } }[] } } };
      assert.deepEqual(checkV2('lts', action, msg), [], `${action}: FlexLon's 2.0 envelope`);
      assert.deepEqual(spec.check(action, msg), [], `${action}: the LTS beckn.yaml`);
      assert.equal(msg.message.contract.performance?.[0]?.status.code, 'WORKLOAD_SHIFT');
    }

    // Restarted on the same store: the same windows, nothing bought, nothing sent again.
    const confirms = await confirmsReceived();
    await compute.stop();
    compute = await startCompute();
    assert.deepEqual(
      compute.buyer
        .held()
        .map((w) => w.contractId)
        .sort(),
      bought.map((w) => w.contractId).sort(),
    );
    assert.deepEqual(await compute.renew(), []);
    assert.equal(await confirmsReceived(), confirms, 'no window bought twice');
    assert.equal(grid.agent.sold().size, 2);
  },
);

test(
  'a restarted grid agent still holds what it sold: a carbon spike reaches the buyer and re-plans',
  { timeout: 60_000 },
  async () => {
    const cambridge = compute.buyer.held().find((w) => w.gridArea === 'Cambridge-East');
    assert.ok(cambridge);
    await grid.stop();
    grid = await startGrid();
    assert.equal(grid.agent.sold().get(cambridge.contractId)?.shift?.plannedKwh, 600, 'the shift kept too');
    const before = replans.length;
    await grid.agent.carbonSpike(cambridge.contractId, 450, 0.3);
    await eventually(() => replans.length > before, 'the re-plan on the spike', 30_000);
    assert.match(replans.at(-1) ?? '', new RegExp(`^grid window ${cambridge.contractId} \\(Cambridge-East\\)`));
    const now = compute.buyer.held().find((w) => w.contractId === cambridge.contractId);
    assert.deepEqual([now?.carbonGPerKwh, now?.priceGbpPerMwh], [450, 300]);
    // A shift whose energy is not kWh of 0 or more is refused (30000), the window as it was.
    await assert.rejects(
      compute.buyer.shiftWorkload(cambridge.contractId, { kw: 10, plannedKwh: -5 }),
      /HTTP 400 30000 FLX_REQ_SCHEMA: a workload shift states plannedEnergy in kWh/,
    );
    assert.equal(grid.agent.sold().get(cambridge.contractId)?.shift?.plannedKwh, 600);
    // Kept across a restart of the compute agent too.
    await compute.stop();
    compute = await startCompute();
    assert.equal(compute.buyer.held().find((w) => w.contractId === cambridge.contractId)?.carbonGPerKwh, 450);
  },
);

test('once the windows lapse, the next renewal buys the next ones', { timeout: 60_000 }, async () => {
  const old = compute.buyer.held();
  market = Math.max(...old.map((w) => w.end)) + 60_000;
  const bought = await compute.renew();
  assert.deepEqual(bought.map((w) => w.gridArea).sort(), ['Cambridge-East', 'Manchester']);
  assert.ok(bought.every((w) => w.start >= market && !old.some((o) => o.contractId === w.contractId)));
  assert.deepEqual(
    compute.buyer
      .held()
      .map((w) => w.contractId)
      .sort(),
    bought.map((w) => w.contractId).sort(),
    'the lapsed windows are no longer held',
  );
  assert.equal(grid.agent.sold().size, 4);
});
