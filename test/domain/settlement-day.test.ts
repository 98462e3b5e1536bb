// GB settlement days: 46/48/50 periods, period starts in UTC across the clock changes, checked by
// hand-worked cases and against the Europe/London zone of the ICU database as an independent oracle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addDays,
  isSettlementDate,
  periodStart,
  periodsInDay,
  settlementDayStart,
  settlementDayStartAfter,
  settlementDayStartOf,
  settlementPeriodOf,
  summerTime,
} from '../../src/domain/settlement-day.ts';

const iso = (t: number) => new Date(t).toISOString().slice(0, 16) + 'Z';

test('clock-change days have 46 and 50 settlement periods; other days 48', () => {
  assert.equal(periodsInDay('2023-03-26'), 46);
  assert.equal(periodsInDay('2023-10-29'), 50);
  assert.equal(periodsInDay('2024-03-31'), 46);
  assert.equal(periodsInDay('2024-10-27'), 50);
  for (const d of ['2023-01-24', '2023-03-25', '2023-03-27', '2023-06-01', '2023-10-28', '2023-10-30', '2024-02-29'])
    assert.equal(periodsInDay(d), 48, d);
});

test('period starts in UTC: local midnight, and the hour that is skipped or repeated', () => {
  assert.equal(iso(periodStart('2023-01-24', 1)), '2023-01-24T00:00Z');
  assert.equal(iso(periodStart('2023-06-01', 1)), '2023-05-31T23:00Z');
  assert.equal(iso(periodStart('2023-06-01', 3)), '2023-06-01T00:00Z');
  // Spring: 01:00 GMT becomes 02:00 BST, so SP3 starts at 01:00Z and SP46 is the last.
  assert.equal(iso(periodStart('2023-03-26', 3)), '2023-03-26T01:00Z');
  assert.equal(iso(periodStart('2023-03-26', 46)), '2023-03-26T22:30Z');
  // Autumn: the day starts 23:00Z the day before and SP50 starts at 23:30Z.
  assert.equal(iso(periodStart('2023-10-29', 1)), '2023-10-28T23:00Z');
  assert.equal(iso(periodStart('2023-10-29', 50)), '2023-10-29T23:30Z');
  assert.throws(() => periodStart('2023-03-26', 47), /does not exist on 2023-03-26 \(it has 46\)/);
  assert.deepEqual(summerTime(2024), { start: Date.parse('2024-03-31T01:00Z'), end: Date.parse('2024-10-27T01:00Z') });
});

test('settlementPeriodOf inverts periodStart, and agrees with the Europe/London time zone', () => {
  const london = new Intl.DateTimeFormat('en-CA', {
    timeZone: 'Europe/London',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 20 * 365 * 48 }), (k) => {
      const t = Date.UTC(2015, 0, 1) + k * 1_800_000;
      const { date, period } = settlementPeriodOf(t);
      assert.equal(periodStart(date, period), t);
      assert.equal(date, london.format(new Date(t)), `local day of ${iso(t)}`);
      assert.equal(settlementDayStart(date) <= t, true);
    }),
    { numRuns: 2000 },
  );
});

test('the settlement day that holds an instant, and the days after it: 23, 24 or 25 hours long', () => {
  // 23:30 UTC on 11 July is 00:30 BST on the 12th: settlement day 2023-07-12, from 23:00 UTC.
  assert.equal(iso(settlementDayStartOf(Date.parse('2023-07-11T23:30:00Z'))), '2023-07-11T23:00Z');
  assert.equal(iso(settlementDayStartOf(Date.parse('2023-07-11T22:59:00Z'))), '2023-07-10T23:00Z');
  assert.equal(iso(settlementDayStartOf(Date.parse('2023-01-24T23:59:00Z'))), '2023-01-24T00:00Z');
  const spring = settlementDayStart('2023-03-26');
  assert.equal((settlementDayStartAfter(spring, 1) - spring) / 3_600_000, 23);
  const autumn = settlementDayStart('2023-10-29');
  assert.equal((settlementDayStartAfter(autumn, 1) - autumn) / 3_600_000, 25);
  assert.equal(iso(settlementDayStartAfter(autumn, -1)), '2023-10-27T23:00Z');
  assert.equal(addDays('2024-02-28', 2), '2024-03-01');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 20 * 365 * 48 }), fc.integer({ min: -10, max: 10 }), (k, n) => {
      const t = Date.UTC(2015, 0, 1) + k * 1_800_000;
      const start = settlementDayStartOf(t);
      assert.ok(start <= t && t < settlementDayStartAfter(t, 1));
      assert.equal(settlementDayStartAfter(t, n), settlementDayStart(addDays(settlementPeriodOf(t).date, n)));
    }),
    { numRuns: 1000 },
  );
});

test('only real calendar days are settlement dates', () => {
  assert.equal(isSettlementDate('2024-02-29'), true);
  assert.equal(isSettlementDate('2023-02-29'), false);
  assert.equal(isSettlementDate('2023-1-5'), false);
});
