// OpenADR 3-style events in FlexLon's profile: timing of intervals, the need an event expresses,
// payload checks, and DSO product payments (availability + utilisation, WPD performance factor).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dsoPayment,
  durationMs,
  eventProblems,
  eventSlots,
  eventToNeed,
  type GridEvent,
} from '../../src/domain/grid-events.ts';

const D = { wantedKw: 200, maxPriceGbpPerMwh: 3000 };
const ev = (intervals: GridEvent['intervals'], extra: Partial<GridEvent> = {}): GridEvent => ({
  id: 'e1',
  programID: 'p1',
  intervalPeriod: { start: '2023-01-24T16:00:00Z', duration: 'PT30M' },
  intervals,
  ...extra,
});
const iso = (t: number) => new Date(t).toISOString().slice(11, 16);

test('ISO-8601 durations and interval timing (defaults from the event, overrides per interval)', () => {
  assert.equal(durationMs('PT30M'), 1_800_000);
  assert.equal(durationMs('P1DT2H'), 26 * 3_600_000);
  assert.throws(() => durationMs('P1M'), /not an ISO-8601 duration/);
  const slots = eventSlots(
    ev([
      { id: 0, payloads: [] },
      { id: 1, payloads: [] },
      { id: 2, intervalPeriod: { start: '2023-01-24T19:00:00Z', duration: 'PT1H' }, payloads: [] },
    ]),
  );
  assert.deepEqual(
    slots.map((s) => [iso(s.start), iso(s.end)]),
    [
      ['16:00', '16:30'],
      ['16:30', '17:00'],
      ['19:00', '20:00'],
    ],
  );
});

test('an import-capacity limit is an import-limit need over its contiguous block; set-point and price carry over', () => {
  const e = ev([
    { id: 0, payloads: [{ type: 'SIMPLE', values: [0] }] },
    {
      id: 1,
      payloads: [
        { type: 'IMPORT_CAPACITY_LIMIT', values: [300] },
        { type: 'DISPATCH_SETPOINT', values: [120] },
        { type: 'PRICE', values: [450] },
      ],
    },
    {
      id: 2,
      payloads: [
        { type: 'IMPORT_CAPACITY_LIMIT', values: [250] },
        { type: 'DISPATCH_SETPOINT', values: [150] },
        { type: 'PRICE', values: [450] },
      ],
    },
    { id: 3, payloads: [{ type: 'SIMPLE', values: [0] }] },
    { id: 4, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [100] }] },
  ]);
  const n = eventToNeed(e, { programName: 'x', programType: 'DSO_SCHEDULED_UTILISATION' }, D);
  assert.equal(n?.need.kind, 'import-limit');
  assert.deepEqual([iso(n?.need.windowStart ?? 0), iso(n?.need.windowEnd ?? 0)], ['16:30', '17:30']);
  assert.equal(n?.need.wantedKw, 150, 'the largest set-point in the block');
  assert.equal(n?.importLimitKw, 250, 'the tightest limit in the block');
  assert.equal(n?.need.maxPriceGbpPerMwh, 450);
  assert.equal(n?.product, 'DSO_SCHEDULED_UTILISATION');
});

test('GHG-only events are carbon needs, SIMPLE levels ≥ 1 price needs with the defaults; level 0 asks nothing', () => {
  assert.equal(
    eventToNeed(ev([{ id: 0, payloads: [{ type: 'GHG', values: [320] }] }]), undefined, D)?.need.kind,
    'carbon-peak',
  );
  const simple = eventToNeed(ev([{ id: 0, payloads: [{ type: 'SIMPLE', values: [2] }] }]), undefined, D);
  assert.deepEqual(
    [simple?.need.kind, simple?.need.wantedKw, simple?.need.maxPriceGbpPerMwh],
    ['price-peak', 200, 3000],
  );
  assert.equal(eventToNeed(ev([{ id: 0, payloads: [{ type: 'SIMPLE', values: [0] }] }]), undefined, D), undefined);
});

test('payload checks name the interval and payload at fault', () => {
  assert.deepEqual(eventProblems(ev([{ id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [-5] }] }])), [
    'intervals[0].payloads[0].values: IMPORT_CAPACITY_LIMIT cannot be negative',
  ]);
  assert.deepEqual(eventProblems(ev([{ id: 0, payloads: [{ type: 'PRICE', values: ['cheap'] }] }])), [
    'intervals[0].payloads[0].values: a PRICE payload holds one number',
  ]);
  assert.match(
    eventProblems(
      ev([{ id: 0, payloads: [{ type: 'PRICE', values: [1] }] }], { intervalPeriod: undefined as never }),
    )[0] ?? '',
    /intervals\[0\] has no start/,
  );
  assert.deepEqual(eventProblems(ev([{ id: 0, payloads: [{ type: 'ALERT_FLEX_ALERT', values: ['x'] }] }])), [
    'intervals: no interval carries IMPORT_CAPACITY_LIMIT, DISPATCH_SETPOINT, SIMPLE, PRICE, GHG',
  ]);
});

test('DSO payments: availability only for products that have it; utilisation capped at contract; WPD performance factor', () => {
  const prices = { availabilityGbpPerMwH: 12, utilisationGbpPerMwh: 300 };
  const full = dsoPayment('DSO_OPERATIONAL_UTILISATION_SCHEDULED_AVAILABILITY', prices, {
    availableMw: 0.2,
    availableHours: 4,
    contractedMwh: 0.1,
    deliveredMwh: 0.12,
  });
  assert.deepEqual([full.availabilityGbp, full.utilisationGbp, full.performanceFactor], [12 * 0.2 * 4, 30, 1]);
  assert.equal(
    dsoPayment('DSO_PEAK_REDUCTION', prices, {
      availableMw: 0.2,
      availableHours: 4,
      contractedMwh: 0.1,
      deliveredMwh: 0.1,
    }).availabilityGbp,
    0,
  );
  // Research §3.3 table: delivered 96 % → 1.00, 90 % → 0.85, 70 % → 0.25, 63 % → 0.04, 61.67 % → 0.
  for (const [delivered, factor] of [
    [0.96, 1],
    [0.9, 0.85],
    [0.7, 0.25],
    [0.63, 0.04],
    [0.6167, 0],
  ] as const) {
    assert.ok(
      Math.abs(
        dsoPayment('DSO_PEAK_REDUCTION', prices, {
          availableMw: 0,
          availableHours: 0,
          contractedMwh: 1,
          deliveredMwh: delivered,
        }).performanceFactor - factor,
      ) < 0.002,
      `${delivered}`,
    );
  }
});
