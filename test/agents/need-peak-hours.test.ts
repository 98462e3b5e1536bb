// The buyer's peak hours are UK local clock hours over the GB settlement day (docs/operator-guide.md,
// `policy.peakHours`): on shipped real data, the window the grid orchestrator asks for starts and ends
// within 16:00–20:00 UK time on a GMT day, a BST day and both clock-change days (46 and 50 periods).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GridOrchestrator } from '../../src/agents/grid/orchestrator.ts';
import { DEFAULT_NEED_POLICY } from '../../src/agents/grid/need-detection.ts';
import { CsvSignalSource } from '../../src/adapters/signals-csv/source.ts';
import { SHIPPED_GRID } from '../../src/config.ts';
import { londonOffsetMs, periodsInDay, settlementDayStart } from '../../src/domain/settlement-day.ts';
import type { SlotGrid } from '../../src/domain/time.ts';

const signals = new CsvSignalSource(SHIPPED_GRID);
const localHour = (t: number): number => ((t + londonOffsetMs(t)) % 86_400_000) / 3_600_000;

for (const date of ['2023-01-24', '2023-07-12', '2023-03-26', '2023-10-29']) {
  test(`the need on ${date} lies within the peak hours, UK local time`, async () => {
    const start = settlementDayStart(date);
    const bap = new GridOrchestrator({
      id: 'bap',
      region: 'GB',
      signals,
      policy: DEFAULT_NEED_POLICY,
      market: { now: () => start, waitUntil: async () => {} },
      store: { appendAudit: async (e: unknown) => e },
      wallNow: () => 0,
    } as never);
    const day: SlotGrid = { start, slotMinutes: 30, slots: periodsInDay(date) };
    const need = await bap.detectNeed(day);
    assert.ok(need, `a need on ${date}`);
    const [from, to] = DEFAULT_NEED_POLICY.peakHours;
    assert.ok(localHour(need.windowStart) >= from, `starts ${new Date(need.windowStart).toISOString()}`);
    // The window's end is at most the last hour's end (20:00 local), not past it.
    const end = localHour(need.windowEnd) || 24;
    assert.ok(end <= to, `ends ${new Date(need.windowEnd).toISOString()}`);
  });
}
