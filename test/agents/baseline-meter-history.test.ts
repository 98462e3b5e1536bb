// BL01 over a real site's own meter history (issue 13 item 3): the half-hours a GPU meter saved in
// the agent's SQLite store are read back as BL01's days. Enough working days give the mean of the 10
// most recent; too little history gives no baseline (NaN), never a made-up one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { bl01FromMeter } from '../../src/compose/baseline.ts';
import { epochMs } from '../../src/domain/time.ts';

const dir = mkdtempSync(join(tmpdir(), 'flexlon-bl01-meter-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const DAY = 86_400_000;
const HALF_HOUR = 1_800_000;
// Thursday 2023-01-26: the 10 most recent working days before it run from 12 to 25 January.
const target = Date.parse('2023-01-26T00:00:00Z');

const readingsFor = (days: number, kwOf: (day: number, slot: number) => number) =>
  Array.from({ length: days }, (_, d) =>
    Array.from({ length: 48 }, (__, k) => ({
      site: 'lon',
      slotStart: epochMs(target - (days - d) * DAY + k * HALF_HOUR),
      slotMinutes: 30,
      importKw: kwOf(days - d, k),
      readAt: target - (days - d) * DAY + (k + 1) * HALF_HOUR,
      source: 'nvidia-smi',
    })),
  ).flat();

test('BL01 over the stored meter history: the mean of the 10 most recent working days, per half-hour', async () => {
  const store = await openSqliteStore(join(dir, 'a.db'));
  try {
    // 20 days back; each day's import is 100 kW + its half-hour index, plus 1 kW per day back, so
    // the mean of the 10 working days is exact to check.
    await store.saveMeterReadings(readingsFor(20, (back, k) => 100 + k + back));
    const baseline = bl01FromMeter((from, to) => store.meterReadings({ site: 'lon', from, to }));
    const kw = await baseline({ start: epochMs(target + 36 * HALF_HOUR), slotMinutes: 30, slots: 2 });
    const working = [] as number[];
    for (let back = 1; working.length < 10; back++) {
      const day = new Date(target - back * DAY).getUTCDay();
      if (day !== 0 && day !== 6) working.push(back);
    }
    const mean = working.reduce((a, b) => a + b, 0) / working.length;
    assert.ok(Math.abs((kw[0] ?? NaN) - (136 + mean)) < 1e-6, `18:00: ${kw[0]} against ${136 + mean}`);
    assert.ok(Math.abs((kw[1] ?? NaN) - (137 + mean)) < 1e-6, `18:30: ${kw[1]}`);
  } finally {
    await store.close();
  }
});

test('history with a gap in every day is no baseline (NaN), not a guess: incomplete days are excluded', async () => {
  const store = await openSqliteStore(join(dir, 'b.db'));
  try {
    // Each day lacks its 03:00 reading (a meter outage).
    await store.saveMeterReadings(readingsFor(20, () => 100).filter((r) => (r.slotStart % DAY) / HALF_HOUR !== 6));
    const baseline = bl01FromMeter((from, to) => store.meterReadings({ site: 'lon', from, to }));
    const kw = await baseline({ start: epochMs(target + 36 * HALF_HOUR), slotMinutes: 30, slots: 2 });
    assert.ok(
      kw.every((x) => Number.isNaN(x)),
      JSON.stringify(kw),
    );
  } finally {
    await store.close();
  }
});
