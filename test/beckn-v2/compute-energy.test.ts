// DEG compute-energy, first slice (src/beckn/v2/compute-energy.ts): the grid agent's windows read
// from the DEG df-new-flow examples (../shared, read at test time) and from the LTS shape, FlexLon's
// own discover for windows checked against the LTS beckn.yaml, and held windows laid over FlexLon's
// shipped GB signals as the planner would see them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { CsvSignalSource } from '../../src/adapters/signals-csv/source.ts';
import { computeEnergyDiscover, contractedSignals, gridWindowsFromCatalog } from '../../src/beckn/v2/compute-energy.ts';
import { checkV2, loadOfficialSpec } from '../../src/beckn/v2/validate.ts';
import { SHIPPED_GRID } from '../../src/config.ts';
import { carbonOf, pricesOf } from '../../src/domain/signals.ts';
import { epochMs } from '../../src/domain/time.ts';
import { greedyPlan } from '../../src/optimise/greedy.ts';
import type { PlanningProblem } from '../../src/domain/planning.ts';
import type { SignalSource } from '../../src/ports.ts';
import { readSharedJson } from '../helpers/shared.ts';
import { LTS } from './deg-buyer.ts';

const example = (n: number) =>
  readSharedJson<{ message: { catalogs: unknown[] } }>(
    'beckn',
    'DEG',
    'df-new-flow',
    'examples',
    'compute-energy',
    'examples',
    '1.discover',
    `on_discover-response-${n}.json`,
  );

test('the DEG compute-energy on_discover examples read as grid windows; EUR and USD windows are listed as skipped', () => {
  const one = gridWindowsFromCatalog(example(1).message.catalogs[0]);
  assert.deepEqual(
    one.windows.map((w) => [
      w.offerId,
      w.gridArea,
      new Date(w.start).toISOString(),
      new Date(w.end).toISOString(),
      w.priceGbpPerMwh,
      w.carbonGPerKwh,
      w.renewablePercent,
      w.availableKw,
    ]),
    [
      [
        'offer-ce-cambridge-morning-001',
        'Cambridge-East',
        '2025-11-17T10:00:00.000Z',
        '2025-11-17T14:00:00.000Z',
        102,
        120,
        80,
        5000,
      ],
      [
        'offer-ce-manchester-afternoon-001',
        'Manchester',
        '2025-11-17T14:00:00.000Z',
        '2025-11-17T18:00:00.000Z',
        92,
        140,
        75,
        4500,
      ],
    ],
  );
  assert.deepEqual(one.skipped, []);
  for (const [n, currency] of [
    [2, 'EUR'],
    [3, 'USD'],
  ] as const) {
    const r = gridWindowsFromCatalog(example(n).message.catalogs[0]);
    assert.equal(r.windows.length, 0);
    assert.equal(r.skipped.length, 3);
    for (const s of r.skipped) assert.match(s.reason, new RegExp(`priced in "${currency}"; FlexLon plans in GBP`));
  }
});

/** A grid agent's catalogue in the LTS shape for 2024-01-15, including a window over midnight. */
const ltsCatalog = {
  id: 'grid-windows-2024-01-15',
  descriptor: { name: 'Grid windows' },
  provider: { id: 'grid-agent.example', descriptor: { name: 'Grid agent' } },
  validity: { startDate: '2024-01-15T00:00:00Z', endDate: '2024-01-15T23:59:59Z' },
  resources: [
    ['cam', 'Cambridge-East', '2024-01-15T10:00:00Z', '2024-01-15T14:00:00Z', 120],
    ['man', 'Manchester', '2024-01-15T14:00:00Z', '2024-01-15T18:00:00Z', 95],
    ['man-night', 'Manchester', '22:00:00Z', '06:00:00Z', 60],
  ].map(([id, area, start, end, carbon]) => ({
    id,
    resourceAttributes: {
      '@context': 'https://example.org/ComputeEnergy/v1/context.jsonld',
      '@type': 'ComputeEnergyWindow',
      gridParameters: { gridArea: area, carbonIntensity: carbon, carbonIntensityUnit: 'gCO2/kWh', renewableMix: 80 },
      timeWindow: { start, end },
      capacityParameters: { availableCapacity: 2, capacityUnit: 'MW' },
    },
  })),
  offers: [
    ['o-cam', 'cam', '0.102'],
    ['o-man', 'man', '0.092'],
    ['o-night', 'man-night', '0.061'],
  ].map(([id, rid, value]) => ({
    id,
    resourceIds: [rid],
    considerations: [
      {
        id: `${id}-price`,
        status: { code: 'QUOTED' },
        considerationAttributes: {
          '@context': 'https://example.org/ComputeEnergy/v1/context.jsonld',
          '@type': 'ComputeEnergyPricing',
          currency: 'GBP',
          value,
          unit: 'per_kWh',
        },
      },
    ],
  })),
};

test("FlexLon's compute-energy discover is valid LTS; an LTS catalogue reads the same way, a window over midnight included", () => {
  const msg = computeEnergyDiscover(
    {
      version: '2.0.0',
      bapId: 'dc.flexlon.example',
      bapUri: 'http://dc.flexlon.example/v2',
      transactionId: randomUUID(),
      messageId: randomUUID(),
      timestamp: new Date().toISOString(),
      ttl: 'PT30S',
    },
    ['Cambridge-East', 'Manchester'],
    undefined,
    70,
  );
  assert.deepEqual(checkV2('lts', 'discover', msg), []);
  assert.deepEqual(loadOfficialSpec(LTS).check('discover', msg), []);
  const onDiscover = {
    context: { ...(msg as { context: object }).context, action: 'on_discover', bppId: 'g', bppUri: 'http://g' },
    message: { catalogs: [ltsCatalog] },
  };
  assert.deepEqual(loadOfficialSpec(LTS).check('on_discover', onDiscover), [], 'the fixture is LTS');
  const { windows } = gridWindowsFromCatalog(ltsCatalog);
  assert.deepEqual(
    windows.map((w) => [w.offerId, new Date(w.start).toISOString(), new Date(w.end).toISOString(), w.priceGbpPerMwh]),
    [
      ['o-cam', '2024-01-15T10:00:00.000Z', '2024-01-15T14:00:00.000Z', 102],
      ['o-man', '2024-01-15T14:00:00.000Z', '2024-01-15T18:00:00.000Z', 92],
      ['o-night', '2024-01-15T22:00:00.000Z', '2024-01-16T06:00:00.000Z', 61],
    ],
  );
});

test("held windows become the planner's price and carbon in their slots and region, the shipped forecast elsewhere", async () => {
  const base = new CsvSignalSource(SHIPPED_GRID);
  const { windows } = gridWindowsFromCatalog(ltsCatalog);
  const held = windows.filter((w) => w.offerId !== 'o-night');
  const regionOf = (area: string) =>
    ({ 'Cambridge-East': 'East England', Manchester: 'North West England' })[area] as string | undefined;
  const signals = contractedSignals(base, held, regionOf);
  const day = { start: epochMs(Date.parse('2024-01-15T00:00:00Z')), slotMinutes: 30, slots: 48 };
  const asOf = epochMs(Date.parse('2024-01-14T12:00:00Z'));
  for (const [region, from, to, price, carbon] of [
    ['East England', 20, 28, 102, 120],
    ['North West England', 28, 36, 92, 95],
  ] as const) {
    const before = await base.forecast(region, day, asOf);
    const after = await signals.forecast(region, day, asOf);
    after.points.forEach((p, k) => {
      const inside = k >= from && k < to;
      assert.deepEqual(
        [p.price, p.carbonForecast],
        inside ? [price, carbon] : [before.points[k]?.price, before.points[k]?.carbonForecast],
        `${region} slot ${k}`,
      );
    });
    assert.match(after.basis ?? '', /1 contracted grid window/);
  }
  // A region no held window is in is the base forecast, unchanged.
  assert.deepEqual(await signals.forecast('London', day, asOf), await base.forecast('London', day, asOf));
});

test("with windows held in two grid areas, the plan moves each site's deferrable work into its window", async () => {
  const base = new CsvSignalSource(SHIPPED_GRID);
  // Windows cheaper and cleaner than the day around them (the grid agent's quote), one per area.
  const cheap = {
    ...ltsCatalog,
    offers: ltsCatalog.offers.map((o) => ({
      ...o,
      considerations: o.considerations.map((c) => ({
        ...c,
        considerationAttributes: { ...c.considerationAttributes, value: '0.005' },
      })),
    })),
  };
  const held = gridWindowsFromCatalog(cheap).windows.filter((w) => w.offerId !== 'o-night');
  const regionOf = (area: string) =>
    ({ 'Cambridge-East': 'East England', Manchester: 'North West England' })[area] as string | undefined;
  const day = { start: epochMs(Date.parse('2024-01-15T00:00:00Z')), slotMinutes: 30, slots: 48 };
  const asOf = epochMs(Date.parse('2024-01-14T12:00:00Z'));
  // Two sites, one per area, each with 400 kWh of deferrable work (100 kW, any time in the day).
  const plan = async (signals: SignalSource) => {
    const sites = await Promise.all(
      [
        ['cambridge', 'East England'],
        ['manchester', 'North West England'],
      ].map(async ([id, region]) => {
        const s = await signals.forecast(region as string, day, asOf);
        return {
          id: id as string,
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
      start: new Date(day.start).toISOString(),
      slotMinutes: 30,
      slots: 48,
      sites,
      jobs: sites.map((site) => ({
        id: `train:${site.id}`,
        energyKwh: 400,
        maxPowerKw: 100,
        releaseSlot: 0,
        deadlineSlot: 48,
        preemptible: true,
        sites: [site.id],
      })),
      commitments: [],
    };
    return greedyPlan(problem);
  };
  const inWindow = (s: Awaited<ReturnType<typeof plan>>, site: string, from: number, to: number) =>
    (s.jobs.find((j) => j.site === site)?.powerKw ?? []).slice(from, to).reduce((a, b) => a + b, 0) * 0.5;
  const before = await plan(base);
  const after = await plan(contractedSignals(base, held, regionOf));
  // Cambridge's window is slots 20–27 (10:00–14:00), Manchester's 28–35 (14:00–18:00): 8 slots of
  // 100 kW = 400 kWh, the whole job.
  assert.ok(inWindow(before, 'cambridge', 20, 28) < 400 && inWindow(before, 'manchester', 28, 36) < 400);
  assert.equal(inWindow(after, 'cambridge', 20, 28), 400);
  assert.equal(inWindow(after, 'manchester', 28, 36), 400);
  assert.ok(after.costGbp < before.costGbp);
});
