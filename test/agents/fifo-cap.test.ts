// The FIFO carbon caps read off baselines, meter and intensity (src/agents/flex/carbon-cap.ts): FIFO's
// kg less the metered kg, or FIFO's kg per kWh with the allowance the metered day leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FifoCarbonCap } from '../../src/agents/flex/carbon-cap.ts';
import type { SignalSeries } from '../../src/domain/signals.ts';
import { epochMs, type EpochMs, type SlotGrid } from '../../src/domain/time.ts';
import { createLogger } from '../../src/log.ts';

const DAY = epochMs(Date.parse('2023-01-24T00:00:00Z'));
const SLOT = 1_800_000;

const series = (from: EpochMs, carbon: number[]): SignalSeries => ({
  region: 'GB',
  issuedAt: from,
  slotMinutes: 30,
  points: carbon.map((c, t) => ({ start: epochMs(from + t * SLOT), price: 100 as never, carbonForecast: c as never })),
});

// Two half hours metered (100 kW and 60 kW at 200 and 300 g/kWh); FIFO imported 80 kW throughout;
// the plan's two half hours ahead at 100 g/kWh.
const reads = {
  baseline: async (_site: string, _from: EpochMs, slots: number) => new Array<number>(slots).fill(80),
  meter: async (_site: string, _from: EpochMs, slots: number) => [100, 60].slice(0, slots),
  intensity: async (_region: string, g: SlotGrid) => series(g.start, [200, 300].slice(0, g.slots)),
};
const grid: SlotGrid = { start: epochMs(DAY + 2 * SLOT), slotMinutes: 30, slots: 2 };
const sites = [{ site: 'lon', region: 'GB' }];
const ahead = new Map([['GB', series(grid.start, [100, 100])]]);

test('the FIFO caps: kg, and kg per kWh with the allowance the day so far leaves', async () => {
  const log = createLogger('silent');
  // Open the day at its start, so the origin is midnight and two half hours are past.
  for (const kind of ['kg', 'intensity'] as const) {
    const cap = new FifoCarbonCap(reads, log, kind);
    await cap.cap({ ...grid, start: DAY }, sites, new Map([['GB', series(DAY, [200, 300])]]));
    const c = await cap.cap(grid, sites, ahead);
    // FIFO: 40 kWh a half hour at 200, 300, 100, 100 g = 8 + 12 + 4 + 4 = 28 kg over 160 kWh.
    // Metered: 50 kWh at 200 g + 30 kWh at 300 g = 19 kg over 80 kWh.
    if (kind === 'kg') assert.deepEqual(c, { kg: 28 - 19 });
    else {
      assert.ok(c && Math.abs((c.gPerKwh ?? 0) - 175) < 1e-9, JSON.stringify(c));
      // 175 g × 80 kWh − 19 kg = −5 kg: the day so far ran dirtier than FIFO, so the plan must be cleaner.
      assert.ok(Math.abs(c.kg - -5) < 1e-9, JSON.stringify(c));
    }
  }
});

test('no FIFO baseline: no cap, said once', async () => {
  const warned: string[] = [];
  const log = { ...createLogger('silent'), warn: (_o: unknown, msg: string) => warned.push(msg) } as never;
  const cap = new FifoCarbonCap({ ...reads, baseline: async () => [NaN] }, log, 'intensity');
  assert.equal(await cap.cap(grid, sites, ahead), undefined);
  assert.equal(await cap.cap(grid, sites, ahead), undefined);
  assert.equal(warned.length, 1);
  assert.match(warned[0] ?? '', /plans are not carbon-capped/);
});

test('a baseline missing an hour (SP49–50 of the autumn change under BL01) takes the period before; a longer gap, no cap', async () => {
  const log = createLogger('silent');
  // The plan's two half hours ahead have no baseline (a 50-period day's SP49–50 against 48-period history).
  const gap = {
    ...reads,
    baseline: async (_site: string, _from: EpochMs, slots: number) =>
      Array.from({ length: slots }, (_, t) => (t >= slots - 2 ? NaN : 80)),
  };
  const cap = new FifoCarbonCap(gap, log, 'kg');
  await cap.cap({ ...grid, start: DAY }, sites, new Map([['GB', series(DAY, [200, 300])]]));
  // As the first test: the missing hour at 80 kW, FIFO's kW in the period before.
  assert.deepEqual(await cap.cap(grid, sites, ahead), { kg: 28 - 19 });
  const long = {
    ...reads,
    baseline: async (_site: string, _from: EpochMs, slots: number) =>
      Array.from({ length: slots }, (_, t) => (t >= 1 ? NaN : 80)),
  };
  assert.equal(await new FifoCarbonCap(long, log, 'kg').cap(grid, sites, ahead), undefined);
});

test('two sites: FIFO’s intensity is the fleet’s, over both sites’ kWh; FIFO with no import gives no intensity cap', async () => {
  const log = createLogger('silent');
  // man imports twice what lon does on FIFO, at 100 g/kWh throughout (its own region).
  const twoReads = {
    baseline: async (site: string, _from: EpochMs, slots: number) =>
      new Array<number>(slots).fill(site === 'man' ? 160 : 80),
    meter: async (_site: string, _from: EpochMs, slots: number) => new Array<number>(slots).fill(0),
    intensity: async (region: string, g: SlotGrid) =>
      series(g.start, new Array<number>(g.slots).fill(region === 'NW' ? 100 : 400)),
  };
  const both = [
    { site: 'lon', region: 'GB' },
    { site: 'man', region: 'NW' },
  ];
  const signals = new Map([
    ['GB', series(grid.start, [400, 400])],
    ['NW', series(grid.start, [100, 100])],
  ]);
  const cap = await new FifoCarbonCap(twoReads, log, 'intensity').cap(grid, both, signals);
  // 40 kWh a half hour at 400 g and 80 at 100 g: (16 + 8) kg over 120 kWh = 200 g/kWh; nothing metered.
  assert.ok(cap && Math.abs((cap.gPerKwh ?? 0) - 200) < 1e-9 && Math.abs(cap.kg) < 1e-9, JSON.stringify(cap));
  const idle = {
    ...twoReads,
    baseline: async (_s: string, _f: EpochMs, slots: number) => new Array<number>(slots).fill(0),
  };
  assert.equal(await new FifoCarbonCap(idle, log, 'intensity').cap(grid, both, signals), undefined);
  assert.deepEqual(await new FifoCarbonCap(idle, log, 'kg').cap(grid, both, signals), { kg: 0 });
});
