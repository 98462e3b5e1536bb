// DEG compute-energy over signed HTTP (issue 18): FlexLon as the compute agent (BAP) buys windows in
// two grid areas from FlexLon's grid agent (BPP), both 2.0 LTS, registered in a real registry on
// loopback; the windows held become planning signals and the plan moves each site's deferrable work
// into its area's window. Every 2.0 message of the exchange (as received, from the audit) validates
// against FlexLon's 2.0 envelope and the LTS beckn.yaml from ../shared.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { CsvSignalSource } from '../../src/adapters/signals-csv/source.ts';
import { createComputeBuyer, type ComputeBuyer, type HeldWindow } from '../../src/beckn/v2/compute-buyer.ts';
import { contractedSignals } from '../../src/beckn/v2/compute-energy.ts';
import { createGridAgent, type GridAgent } from '../../src/beckn/v2/grid-agent.ts';
import { checkV2, loadOfficialSpec } from '../../src/beckn/v2/validate.ts';
import { SHIPPED_GRID } from '../../src/config.ts';
import type { PlanningProblem } from '../../src/domain/planning.ts';
import { carbonOf, pricesOf } from '../../src/domain/signals.ts';
import { epochMs } from '../../src/domain/time.ts';
import { greedyPlan } from '../../src/optimise/greedy.ts';
import type { SignalSource, Store } from '../../src/ports.ts';
import { eventually, listen, startNetwork, type TestNetwork } from '../helpers/network.ts';
import { LTS } from './deg-buyer.ts';

const DAY = Date.parse('2024-01-15T00:00:00Z');
const AREAS = { 'Cambridge-East': 'East England', Manchester: 'North West England' } as const;
let net: TestNetwork;
let buyer: ComputeBuyer;
let grid: GridAgent;
const changedWindows: HeldWindow[] = [];
let gridUrl: string;
let stores: { grid: Store; dc: Store };
const signals = new CsvSignalSource(SHIPPED_GRID);
const errors: unknown[] = [];

before(async () => {
  net = await startNetwork();
  stores = { grid: await net.store('grid-agent'), dc: await net.store('compute') };
  const gridSigner = net.signer('grid-agent.example');
  const dcSigner = net.signer('dc-compute.example');
  const gridApp: FastifyInstance = net.app();
  const dcApp: FastifyInstance = net.app();
  const parts = (store: Store, signer = gridSigner) => ({
    signer,
    store,
    now: Date.now,
    resolver: net.resolver,
    onBackgroundError: (e: unknown) => errors.push(e),
  });
  // Routes first, then listen, then register the URLs.
  gridUrl = '';
  grid = createGridAgent({
    ...parts(stores.grid),
    id: gridSigner.subscriberId,
    get uri() {
      return gridUrl;
    },
    signals,
    areas: AREAS,
    windowSlots: 8,
    slotMinutes: 30,
    capacityKw: 2000,
    discount: 0.9,
  });
  grid.register(gridApp);
  gridUrl = await listen(gridApp);
  let dcUrl = '';
  buyer = createComputeBuyer({
    ...parts(stores.dc, dcSigner),
    id: dcSigner.subscriberId,
    get uri() {
      return dcUrl;
    },
    onWindowChanged: (w) => changedWindows.push(w),
  });
  buyer.register(dcApp);
  dcUrl = await listen(dcApp);
  await net.subscribe(gridSigner, 'BPP', gridUrl);
  await net.subscribe(dcSigner, 'BAP', dcUrl);
});

after(async () => {
  await net.stop();
});

/** kWh a plan puts at `site` in the 8 slots from `from`. */
const energyIn = (s: Awaited<ReturnType<typeof plan>>, site: string, from: number): number =>
  s.jobs
    .filter((j) => j.site === site)
    .flatMap((j) => j.powerKw.slice(from, from + 8))
    .reduce((a, b) => a + b, 0) * 0.5;

const day = { start: epochMs(DAY), slotMinutes: 30, slots: 48 };
const asOf = epochMs(DAY - 12 * 3_600_000);
/** A plan of 400 kWh of deferrable work per site (or one such job that may run at `jobSites`). */
const plan = async (source: SignalSource, jobSites?: readonly string[]) => {
  const sites = await Promise.all(
    Object.values(AREAS).map(async (region) => {
      const s = await source.forecast(region, day, asOf);
      return {
        id: region,
        itPowerLimitKw: 500,
        pue: 1.2,
        gridImportLimitKw: 1000,
        priceGbpPerMwh: pricesOf(s),
        carbonGPerKwh: carbonOf(s, 'forecast'),
      };
    }),
  );
  const problem: PlanningProblem = {
    version: 1,
    start: new Date(DAY).toISOString(),
    slotMinutes: 30,
    slots: 48,
    sites,
    jobs: (jobSites ? sites.slice(0, 1) : sites).map((s) => ({
      id: `train:${s.id}`,
      energyKwh: 400,
      maxPowerKw: 100,
      releaseSlot: 0,
      deadlineSlot: 48,
      preemptible: true,
      sites: jobSites ? [...jobSites] : [s.id],
    })),
    commitments: [],
  };
  return greedyPlan(problem);
};

test('the compute agent buys a window in each of two grid areas over 2.0; its plan moves work into them', async () => {
  const held = await buyer.buyWindows(
    { id: 'grid-agent.example', uri: `${gridUrl}/v2` },
    Object.keys(AREAS),
    { from: DAY, to: DAY + 86_400_000 },
    100,
  );
  assert.deepEqual(
    held.map((w) => w.gridArea),
    ['Cambridge-East', 'Manchester'],
  );
  for (const w of held) {
    assert.equal(w.end - w.start, 4 * 3_600_000, 'a four-hour window');
    assert.match(w.contractId, /^[0-9a-f-]{36}$/);
  }
  assert.deepEqual(errors, []);

  // Every message of the exchange, as each side received it, is valid 2.0 LTS.
  const spec = loadOfficialSpec(LTS);
  const received = [...(await stores.grid.auditTrail()), ...(await stores.dc.auditTrail())].filter(
    (a) => a.kind === 'beckn.in',
  );
  assert.deepEqual(received.map((a) => (a.payload as { action: string }).action).sort(), [
    'confirm',
    'confirm',
    'discover',
    'init',
    'init',
    'on_confirm',
    'on_confirm',
    'on_discover',
    'on_init',
    'on_init',
    'on_select',
    'on_select',
    'select',
    'select',
  ]);
  for (const a of received) {
    const { action, body } = a.payload as { action: string; body: string };
    const msg = JSON.parse(body) as unknown;
    assert.deepEqual(checkV2('lts', action, msg), [], `${action}: FlexLon's 2.0 envelope`);
    assert.deepEqual(spec.check(action, msg), [], `${action}: the LTS beckn.yaml`);
  }
  // The last on_confirm's row is written when its Ack is back, which may be after the buyer moved on.
  const outs = async () =>
    [...(await stores.grid.auditTrail()), ...(await stores.dc.auditTrail())].filter((a) => a.kind === 'beckn.out');
  await eventually(async () => (await outs()).length >= 14, 'every beckn.out row');
  const sent = await outs();
  assert.equal(sent.length, 14);
  for (const a of sent) assert.equal((a.payload as { ackCheck: string }).ackCheck, 'counter-signature verified');

  // The windows held as planning signals: each site's deferrable work moves into its window.
  // The grid agent sells the day's lowest-carbon window at 10 % of its mean forecast price: the
  // contracted price and carbon, laid over the forecast, make it the best place for the work.
  const before = await plan(signals);
  const after = await plan(contractedSignals(signals, held, (a) => AREAS[a as keyof typeof AREAS]));
  for (const w of held) {
    const region = AREAS[w.gridArea as keyof typeof AREAS];
    const from = (w.start - DAY) / 1_800_000;
    assert.equal(energyIn(after, region, from), 400, `${w.gridArea}: all the work in its window`);
    assert.ok(energyIn(before, region, from) < 400, `${w.gridArea}: not all of it there before`);
  }
});

test('a carbon spike on a held window reaches the compute agent unasked and moves work out of it; a workload shift is confirmed', async () => {
  const [cambridge, manchester] = buyer.held();
  assert.ok(cambridge && manchester);
  const regionOf = (a: string) => AREAS[a as keyof typeof AREAS];
  const slot = (w: HeldWindow) => (w.start - DAY) / 1_800_000;
  // One job that may run in either area: before the spike, in one of the two windows entirely.
  const before = await plan(contractedSignals(signals, buyer.held(), regionOf), Object.values(AREAS));
  assert.equal(
    energyIn(before, AREAS['Cambridge-East'], slot(cambridge)) + energyIn(before, AREAS.Manchester, slot(manchester)),
    400,
  );
  // The grid agent: Cambridge's window turns dirty and dear (450 g, £0.30/kWh), told unasked.
  await grid.carbonSpike(cambridge.contractId, 450, 0.3);
  await eventually(() => changedWindows.length === 1, 'the on_update');
  const spiked = buyer.held().find((w) => w.contractId === cambridge.contractId);
  assert.deepEqual([spiked?.carbonGPerKwh, spiked?.priceGbpPerMwh], [450, 300]);
  const after = await plan(contractedSignals(signals, buyer.held(), regionOf), Object.values(AREAS));
  assert.equal(energyIn(after, AREAS['Cambridge-East'], slot(cambridge)), 0, 'no work left in the spiked window');
  assert.equal(energyIn(after, AREAS.Manchester, slot(manchester)), 400, "all of it in Manchester's");
  // The workload shift: Manchester's window taken from 100 kW to 400 kW (update → on_update).
  const shifted = await buyer.shiftWorkload(manchester.contractId, 400);
  assert.equal(shifted.kw, 400);
  // A shift beyond the grid agent's capacity is refused (50002, 409), the window unchanged.
  await assert.rejects(buyer.shiftWorkload(manchester.contractId, 5000), /50002/);
  assert.equal(buyer.held().find((w) => w.contractId === manchester.contractId)?.kw, 400);
  // The update and on_update messages, as received, are valid 2.0 LTS.
  const spec = loadOfficialSpec(LTS);
  const updates = [...(await stores.grid.auditTrail()), ...(await stores.dc.auditTrail())].filter(
    (a) => a.kind === 'beckn.in' && ['update', 'on_update'].includes((a.payload as { action: string }).action),
  );
  assert.equal(updates.length, 3, 'the spike, the shift and its answer');
  for (const a of updates) {
    const { action, body } = a.payload as { action: string; body: string };
    assert.deepEqual(checkV2('lts', action, JSON.parse(body)), []);
    assert.deepEqual(spec.check(action, JSON.parse(body)), [], `${action}: the LTS beckn.yaml`);
  }
});
