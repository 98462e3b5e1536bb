import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BL01_DEFAULT, bl01Baseline, isWorkingDay, type MeterDay } from '../../src/settlement/baseline-bl01.ts';

// The synthetic BL01 vector in the project's market research notes (import MWh per settlement
// period, event SP35–36 on a working day), in kW: MWh per half hour × 2000.
const SP35 = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.2, 0.8, 1.0];
const SP36 = [0.9, 1.0, 1.0, 0.9, 1.0, 1.0, 1.1, 0.9, 1.0, 1.0];
const kw = (mwh: number) => mwh * 2000;

/** Working days before 2024-02-15 (a Thursday), newest first. */
const workingDaysBefore = (n: number): string[] => {
  const out: string[] = [];
  for (let t = Date.parse('2024-02-14T00:00:00Z'); out.length < n; t -= 86_400_000) {
    const d = new Date(t).toISOString().slice(0, 10);
    if (isWorkingDay(d, BL01_DEFAULT.holidays)) out.push(d);
  }
  return out;
};

const history = (): MeterDay[] =>
  workingDaysBefore(10).map((day, i) => ({
    day,
    importKw: Array.from({ length: 48 }, (_, t) =>
      t === 34 ? kw(SP35[i] ?? 0) : t === 35 ? kw(SP36[i] ?? 0) : kw(0.8),
    ),
  }));
// SP n is slot n − 1 (00:00 = SP1). IDA window SP29–34 = slots 28–33.
const eventMeter = Array.from({ length: 48 }, (_, t) =>
  t >= 28 && t <= 33 ? kw([0.86, 0.84, 0.85, 0.85, 0.83, 0.87][t - 28] ?? 0) : null,
);

test('BL01 reproduces the synthetic vector: UB 1.00 / 0.98 MWh, IDA +0.05, adjusted 1.05 / 1.03', () => {
  const plain = bl01Baseline(history(), '2024-02-15', eventMeter, 34, 36);
  assert.ok(plain.ok);
  assert.deepEqual(
    plain.baselineKw.map((x) => Math.round(x)),
    [kw(1.0), kw(0.98)].map(Math.round),
  );
  assert.equal(plain.selectedDays.length, 10);
  const withIda = bl01Baseline(history(), '2024-02-15', eventMeter, 34, 36, {
    ...BL01_DEFAULT,
    inDayAdjustment: { enabled: true, lengthSlots: 6, endOffsetSlots: 0 },
  });
  assert.ok(withIda.ok);
  assert.ok(Math.abs(withIda.inDayAdjustmentKw - kw(0.05)) < 1e-9);
  assert.deepEqual(
    withIda.baselineKw.map((x) => Math.round(x * 1000) / 1000),
    [kw(1.05), kw(1.03)],
  );
  // Delivered with IDA: (1.05 − 0.40) + (1.03 − 0.43) = 1.25 MWh; without: 1.15 MWh.
  const delivered = (b: readonly number[]) => (((b[0] ?? 0) - kw(0.4) + (b[1] ?? 0) - kw(0.43)) * 0.5) / 1000;
  assert.ok(Math.abs(delivered(withIda.baselineKw) - 1.25) < 1e-9);
  assert.ok(Math.abs(delivered(plain.baselineKw) - 1.15) < 1e-9);
});

test("BL01 takes days of the event day's type only, skips event days and incomplete days, and says why", () => {
  const h: MeterDay[] = [
    ...history().map((d) =>
      d.day === '2024-02-14'
        ? { ...d, eventDay: true }
        : d.day === '2024-02-13'
          ? { ...d, importKw: d.importKw.map((x, t) => (t === 3 ? null : x)) }
          : d,
    ),
    { day: '2024-02-10', importKw: new Array<number>(48).fill(999) }, // a Saturday: not a working day
  ];
  const r = bl01Baseline(h, '2024-02-15', eventMeter, 34, 36);
  assert.ok(r.ok);
  assert.equal(r.dayType, 'working');
  assert.equal(r.selectedDays.length, 8);
  assert.ok(!r.selectedDays.some((d) => ['2024-02-10', '2024-02-13', '2024-02-14'].includes(d)));
  assert.deepEqual(r.excluded, [
    { day: '2024-02-14', reason: 'event day' },
    { day: '2024-02-13', reason: 'incomplete meter data' },
  ]);
  const sat = bl01Baseline([{ day: '2024-02-10', importKw: new Array<number>(48).fill(7) }], '2024-02-17', [], 0, 2);
  assert.ok(sat.ok && sat.dayType === 'non-working' && sat.baselineKw[0] === 7);
  const none = bl01Baseline([], '2024-02-15', [], 0, 2);
  assert.equal(none.ok, false);
  assert.match(!none.ok ? none.reason : '', /only 0 eligible working day/);
});

test('property: the unadjusted baseline lies between the smallest and largest selected value of each period', () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.float({ min: 0, max: 1000, noNaN: true }), { minLength: 48, maxLength: 48 }), {
        minLength: 1,
        maxLength: 12,
      }),
      (days) => {
        const h = days.map((importKw, i) => ({
          day: new Date(Date.parse('2024-01-01T00:00:00Z') + i * 86_400_000).toISOString().slice(0, 10),
          importKw,
        }));
        const r = bl01Baseline(h, '2024-01-20', [], 0, 48, { ...BL01_DEFAULT, holidays: [] });
        if (!r.ok) return true;
        const chosen = h.filter((d) => r.selectedDays.includes(d.day));
        return r.unadjustedKw.every(
          (b, t) =>
            b >= Math.min(...chosen.map((d) => d.importKw[t] as number)) - 1e-6 &&
            b <= Math.max(...chosen.map((d) => d.importKw[t] as number)) + 1e-6,
        );
      },
    ),
  );
});

test('the in-day adjustment is described in words a reader can follow', async () => {
  const { BL01_DEFAULT, describeBl01 } = await import('../../src/settlement/baseline-bl01.ts');
  const on = (lengthSlots: number, endOffsetSlots: number) =>
    describeBl01({ ...BL01_DEFAULT, inDayAdjustment: { enabled: true, lengthSlots, endOffsetSlots } });
  // It read "on (6 periods ending 0 before the event)".
  assert.match(on(6, 0), /in-day adjustment on \(over the 6 periods just before the event\)$/);
  assert.match(on(6, 2), /in-day adjustment on \(over the 6 periods ending 2 periods before the event\)$/);
  assert.match(describeBl01(BL01_DEFAULT), /in-day adjustment off$/);
});
