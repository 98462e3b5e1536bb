// DEG compute-energy through the composed roles (issue 18): FlexLon as compute-energy BAP buys grid
// windows in two grid areas from FlexLon's grid agent, and the Flexibility Orchestrator's own plan
// (the composed BPP, its HiGHS planner, its simulated sites reporting through their agents) moves
// work into them. Every role is composed as `flexlon run` would: the registry, the grid agent and
// the compute agent (src/compose/compute-energy.ts, each registered as a 2.0 participant), the BPP
// with two sites, one in each area, and their compute agents, over signed HTTP on loopback with
// SQLite stores. The orchestrator is not changed: it plans on the compute agent's signal source
// (the shipped signals with the held windows laid over them) and re-plans when windows are bought.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplayClock } from '../../src/adapters/clock/clocks.ts';
import { CsvSignalSource } from '../../src/adapters/signals-csv/source.ts';
import { DEFAULT_PRICING } from '../../src/agents/flex/pricing.ts';
import type { PlanRecord } from '../../src/agents/flex/plan-record.ts';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { SHIPPED_GRID } from '../../src/config.ts';
import {
  composeAgent,
  composeBpp,
  composeRegistry,
  dispatchKeyId,
  freePort,
  type ComposedBpp,
  type RunningRole,
} from '../../src/compose/index.ts';
import {
  composeComputeAgent,
  composeGridAgent,
  type ComposedComputeAgent,
  type ComposedGridAgent,
} from '../../src/compose/compute-energy.ts';
import { makeKeys } from '../../src/compose/parts.ts';
import { epochMs } from '../../src/domain/time.ts';
import { createLogger } from '../../src/log.ts';
import { DEFAULT_WORK } from '../../src/optimise/planner.ts';
import { keyFilePath } from '../../src/adapters/keystore-file/keystore.ts';
import { eventually } from '../helpers/network.ts';

const DAY = Date.parse('2024-01-15T00:00:00Z');
const SLOT_MS = 30 * 60_000;
/** Market time when the sites report: mid-morning, with the day's jobs queued. */
const START = DAY + 10 * 3_600_000;
/** The grid areas and FlexLon's signal region of each (the shipped regional carbon has both). */
const AREAS = { 'Cambridge-East': 'East England', Manchester: 'North West England' } as const;
const SITES = [
  { id: 'cam', area: 'Cambridge-East', region: 'East England' },
  { id: 'man', area: 'Manchester', region: 'North West England' },
] as const;
const HOST = '127.0.0.1';
const GRID_ID = 'grid-agent.flexlon.local';
const BPP_ID = 'dc.flexlon.local';
const COMPUTE_ID = 'compute.dc.flexlon.local';

let dir: string;
const roles: RunningRole[] = [];
let registryUrl: string;
let grid: ComposedGridAgent;
let compute: ComposedComputeAgent;
let bpp: ComposedBpp;
const clock = new ReplayClock(epochMs(START), 1);
const base = new CsvSignalSource(SHIPPED_GRID);
const log = createLogger('silent');
const at = async () => {
  const port = await freePort();
  return { host: HOST, port, publicUrl: `http://${HOST}:${port}` };
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flexlon-ce-composed-'));
  const keys = { dir: join(dir, 'keys'), generate: true };
  const store = (name: string) => ({ kind: 'sqlite' as const, file: join(dir, `${name}.db`) });
  const agentIds = SITES.map((s) => `agent-${s.id}.${BPP_ID}`);
  for (const id of [BPP_ID, dispatchKeyId(BPP_ID), ...agentIds]) await makeKeys(keys).signer(id);
  const registry = await composeRegistry({ listen: await at(), store: store('registry'), logLevel: 'silent' });
  roles.push(registry);
  registryUrl = registry.url;
  const registryRef = { url: registry.url, subscribe: true };
  grid = await composeGridAgent(
    {
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
    },
    { signals: base, log },
  );
  roles.push(grid);
  compute = await composeComputeAgent(
    {
      id: COMPUTE_ID,
      listen: await at(),
      store: store('compute-energy'),
      keys,
      registry: registryRef,
      logLevel: 'silent',
      areas: AREAS,
    },
    { signals: base, log },
  );
  roles.push(compute);
  const agentAt = await Promise.all(SITES.map(() => at()));
  const bppAt = await at();
  const peer = (subscriberId: string, url: string) => ({
    subscriberId,
    url,
    keyFile: keyFilePath(keys.dir, subscriberId),
  });
  bpp = await composeBpp(
    {
      id: BPP_ID,
      name: 'FlexLon data centres (Cambridge, Manchester)',
      listen: bppAt,
      store: store('flex-orchestrator'),
      logLevel: 'silent',
      keys,
      registry: registryRef,
      clock: { kind: 'system' },
      signals: { kind: 'shipped' },
      planner: { kind: 'highs', timeLimitSeconds: 5, milpTimeLimitSeconds: 0.25, work: DEFAULT_WORK },
      sites: SITES.map((s, i) => ({
        id: s.id,
        region: s.region,
        agentUrl: agentAt[i]?.publicUrl ?? '',
        agent: peer(agentIds[i] ?? '', agentAt[i]?.publicUrl ?? ''),
      })),
      slotMinutes: 30,
      horizonSlots: 48,
      pricing: DEFAULT_PRICING,
      quoteTtlSeconds: 300,
      supportEmail: `flexibility-desk@${BPP_ID}`,
      baseline: 'fifo',
      carbonCap: 'none',
      gatherReportsMs: 2000,
      incrementalReplans: false,
      outboxEveryMs: 1000,
    },
    // The orchestrator's signals: the shipped ones with the windows its compute agent holds.
    { clock, signals: compute.signals, log },
  );
  roles.push(bpp);
  compute.planWith((reason) => bpp.orchestrator.dispatchAll(reason));
  for (const [i, s] of SITES.entries()) {
    const agent = await composeAgent(
      {
        id: agentIds[i] ?? '',
        listen: agentAt[i] ?? (await at()),
        store: store(`agent-${s.id}`),
        logLevel: 'silent',
        keys,
        clock: { kind: 'system' },
        slotMinutes: 30,
        horizonSlots: 48,
        site: { id: s.id, region: s.region, gridImportLimitKw: 400, pue: 1.3 },
        orchestrator: peer(dispatchKeyId(BPP_ID), bppAt.publicUrl),
        scheduler: { kind: 'sim', profile: 'half-idle', seed: 7 + i, trainingNodes: 24, baseline: 'fifo' },
        pollSeconds: 30,
      },
      { clock, signals: base, log, drive: 'external' },
    );
    roles.push(agent);
    await agent.agent.tick(epochMs(START));
  }
});

after(async () => {
  for (const r of [...roles].reverse()) await r.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

/** kWh the plan imports at `site` in [from, to). */
const kwhIn = (p: PlanRecord, site: string, from: number, to: number): number => {
  const first = (from - p.horizonStart) / SLOT_MS;
  const n = (to - from) / SLOT_MS;
  return (p.siteImportKw[site] ?? []).slice(first, first + n).reduce((a, b) => a + b, 0) * 0.5;
};

test(
  "the compute agent buys windows in two grid areas from FlexLon's grid agent; the orchestrator's plan moves work into them",
  { timeout: 240_000 },
  async (t) => {
    // Both 2.0 roles are in the registry as 2.0 participants at their /v2 base.
    const records = await new HttpRegistry({ url: registryUrl, now: Date.now }).lookup({ subscriber_id: GRID_ID });
    assert.equal(records[0]?.beckn_version, '2.0.0');
    assert.equal(records[0]?.subscriber_url, `${grid.url}/v2`);

    const initial = await bpp.store.latestPlan<PlanRecord>();
    assert.ok(initial, 'the sites reported and the orchestrator planned');
    const held = await compute.buyWindows(GRID_ID, { from: START, to: START + 86_400_000 }, 100);
    assert.deepEqual(
      held.map((w) => w.gridArea),
      ['Cambridge-East', 'Manchester'],
    );
    // Buying re-planned and dispatched: the latest plan is the one made on the windows.
    const latest = await bpp.store.latestPlan<PlanRecord>();
    assert.ok(latest && latest.id !== initial.id);
    const replanned: PlanRecord = latest;
    assert.match(replanned.reason, /^grid windows bought: Cambridge-East .*, Manchester /);
    for (const [i, s] of SITES.entries()) {
      const w = held[i];
      assert.ok(w !== undefined);
      assert.equal(w.end - w.start, 4 * 3_600_000);
      // The plan was made on the window's contracted price and carbon in its slots, at its site only.
      const first: number = (w.start - replanned.horizonStart) / SLOT_MS;
      const sig: PlanRecord['signals'][string] | undefined = replanned.signals[s.id];
      assert.ok(sig);
      for (let k: number = first; k < first + 8; k++) {
        assert.equal(sig.priceGbpPerMwh[k], w.priceGbpPerMwh, `${s.id} slot ${k}: the window's price`);
        assert.equal(sig.carbonGPerKwh[k], w.carbonGPerKwh, `${s.id} slot ${k}: the window's carbon`);
      }
      assert.notEqual(initial.signals[s.id]?.priceGbpPerMwh[first], w.priceGbpPerMwh);
      const was = kwhIn(initial, s.id, w.start, w.end);
      const now = kwhIn(replanned, s.id, w.start, w.end);
      const total = (p: PlanRecord) => (p.siteImportKw[s.id] ?? []).reduce((a, b) => a + b, 0) * 0.5;
      t.diagnostic(
        `${s.id} (${w.gridArea} ${new Date(w.start).toISOString()}, £${w.priceGbpPerMwh}/MWh, ${w.carbonGPerKwh} g): ` +
          `${was.toFixed(1)} -> ${now.toFixed(1)} kWh in the window, ${(total(initial) - was).toFixed(1)} -> ${(total(replanned) - now).toFixed(1)} outside`,
      );
      assert.ok(now > was + 1, `${s.id}: more work in ${w.gridArea}'s window (${was} kWh before, ${now} after)`);
      // Moved, not added: what the window gained came from the rest of the horizon.
      assert.ok(total(replanned) - now < total(initial) - was - 1, `${s.id}: less work outside the window`);
    }
  },
);

test(
  'a carbon spike on a held window re-plans the orchestrator unasked, and work leaves the spiked window',
  { timeout: 240_000 },
  async (t) => {
    const held = compute.buyer.held();
    const cambridge = held.find((w) => w.gridArea === 'Cambridge-East');
    assert.ok(cambridge, 'the first test bought the windows');
    const initial = await bpp.store.latestPlan<PlanRecord>();
    assert.ok(initial);
    const was = kwhIn(initial, 'cam', cambridge.start, cambridge.end);
    // The grid agent: Cambridge's window turns dirty and dear (450 g, £0.30/kWh), told unasked (on_update).
    await grid.agent.carbonSpike(cambridge.contractId, 450, 0.3);
    let latest: PlanRecord | undefined;
    await eventually(
      async () => {
        latest = await bpp.store.latestPlan<PlanRecord>();
        return latest !== undefined && latest.id !== initial.id;
      },
      'the re-plan after the spike',
      60_000,
    );
    const spiked: PlanRecord = latest as PlanRecord;
    assert.match(
      spiked.reason,
      new RegExp(`^grid window ${cambridge.contractId} \\(Cambridge-East\\) changed by ${GRID_ID}`),
    );
    const first = (cambridge.start - spiked.horizonStart) / SLOT_MS;
    assert.deepEqual(
      [spiked.signals.cam?.priceGbpPerMwh[first], spiked.signals.cam?.carbonGPerKwh[first]],
      [300, 450],
      "the plan was made on the window's new price and carbon",
    );
    const now = kwhIn(spiked, 'cam', cambridge.start, cambridge.end);
    t.diagnostic(`cam in the spiked window: ${was.toFixed(1)} -> ${now.toFixed(1)} kWh`);
    assert.ok(now < was - 1, `work leaves the spiked window (${was} kWh before, ${now} after)`);
  },
);

test('buying from a grid agent the registry does not hold, or holds as 1.1.1, is refused with FLX_PROVIDER_NOT_FOUND', async () => {
  const within = { from: START, to: START + 86_400_000 };
  await assert.rejects(
    compute.buyWindows('nobody.example', within, 100),
    (e) => (e as { code?: string }).code === 'FLX_PROVIDER_NOT_FOUND' && /not subscribed/.test((e as Error).message),
  );
  // The BPP is registered without beckn_version (1.1.1): compute-energy is 2.0 only.
  await assert.rejects(
    compute.buyWindows(BPP_ID, within, 100),
    (e) =>
      (e as { code?: string }).code === 'FLX_PROVIDER_NOT_FOUND' &&
      /registered as Beckn 1\.1\.1: compute-energy is Beckn 2\.0 only/.test((e as Error).message),
  );
});
