import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { generateDay } from '../../src/sim/workload.ts';
import { A100_SXM_NODE, jobPowerKw, nodeIdleKw, nodeMaxKw } from '../../src/sim/power.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { settlementDaysMs } from '../../src/domain/settlement-day.ts';
import { CLOCK_CHANGE_DAYS } from '../helpers/clock-change.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';

const HOUR = 60 * MINUTE_MS;
const dayStart = epochMs(Date.UTC(2024, 0, 15));
const site = 'lon-1';

const assertValid = (job: ComputeJob, start: number): void => {
  const hours = job.work / job.gpus;
  const ctx = `job ${job.id}`;
  assert.ok(Number.isInteger(job.gpus) && job.gpus >= 1 && job.gpus <= 8, ctx);
  assert.ok(hours >= 1 && hours <= 6, `${ctx}: ${hours} h`);
  assert.ok(Math.abs(job.powerKw - jobPowerKw(A100_SXM_NODE, job.gpus)) < 1e-12, ctx);
  assert.ok(Math.abs(job.energyKwh - job.powerKw * hours) < 1e-9, ctx);
  assert.equal(job.remainingKwh, job.energyKwh, ctx);
  assert.equal(job.state, 'queued');
  assert.equal(job.slo, 'deferrable');
  assert.equal(job.preemptible, false);
  assert.equal(job.workUnit, 'gpu-hours');
  assert.equal(job.site, site);
  assert.deepEqual(job.allowedSites, [site]);
  // A day is 24 hours of arrivals, 23 or 25 on a clock-change day; due by the end of the next one.
  assert.ok(job.submittedAt >= start && job.submittedAt < start + settlementDaysMs(start, 1), ctx);
  assert.ok(job.releaseAt >= job.submittedAt, ctx);
  assert.ok(job.deadlineAt >= job.releaseAt + hours * HOUR, ctx);
  assert.ok(job.deadlineAt <= start + settlementDaysMs(start, 2), ctx);
  assert.equal(job.beginAt, undefined);
};

test('the same seed gives the same day; different seeds give different days', () => {
  const a = generateDay({ seed: 7, site, dayStart });
  assert.deepEqual(generateDay({ seed: 7, site, dayStart }), a);
  const b = generateDay({ seed: 8, site, dayStart });
  assert.notDeepEqual(b.jobs, a.jobs);
  assert.notDeepEqual(b.inferenceKw, a.inferenceKw);
});

test('defaults: 36 jobs and 48 half-hour inference slots, jobs in submission order with unique ids', () => {
  const day = generateDay({ seed: 1, site, dayStart });
  assert.equal(day.jobs.length, 36);
  assert.equal(day.inferenceKw.length, 48);
  assert.equal(new Set(day.jobs.map((j) => j.id)).size, 36);
  assert.equal(day.jobs[0]?.id, 'lon-1-2024-01-15-001');
  for (let i = 1; i < day.jobs.length; i++)
    assert.ok((day.jobs[i]?.submittedAt ?? 0) >= (day.jobs[i - 1]?.submittedAt ?? 0));
  assert.equal(generateDay({ seed: 1, site, dayStart, slotMinutes: 15 }).inferenceKw.length, 96);
});

test('property: every generated job is valid, for any seed, job count and day', () => {
  fc.assert(
    fc.property(
      fc.integer(),
      fc.integer({ min: 0, max: 80 }),
      fc.integer({ min: 0, max: 3650 }),
      (seed, jobs, dayOffset) => {
        const start = epochMs(dayStart + dayOffset * 24 * HOUR);
        const day = generateDay({ seed, site, dayStart: start, jobs });
        assert.equal(day.jobs.length, jobs);
        for (const job of day.jobs) assertValid(job, start);
      },
    ),
  );
});

test('submissions cluster in working hours and GPU counts favour 1, 2, 4 and 8', () => {
  const jobs = Array.from({ length: 40 }, (_, seed) => generateDay({ seed, site, dayStart }).jobs).flat();
  const working = jobs.filter((j) => {
    const h = (j.submittedAt - dayStart) / HOUR;
    return h >= 8 && h < 18;
  }).length;
  assert.ok(working / jobs.length > 0.55, `only ${working} of ${jobs.length} in working hours`);
  const powersOfTwo = jobs.filter((j) => [1, 2, 4, 8].includes(j.gpus)).length;
  assert.ok(powersOfTwo / jobs.length > 0.8, `${powersOfTwo} of ${jobs.length}`);
  assert.ok(jobs.some((j) => j.gpus === 8) && jobs.some((j) => j.gpus === 1));
});

test("the inference profile is low at night, higher in the day, within the pool's power range", () => {
  for (let seed = 0; seed < 20; seed++) {
    const { inferenceKw } = generateDay({ seed, site, dayStart, inferenceNodes: 4 });
    for (const v of inferenceKw) assert.ok(v >= 4 * nodeIdleKw(A100_SXM_NODE) && v <= 4 * nodeMaxKw(A100_SXM_NODE));
    const mean = (from: number, to: number): number =>
      inferenceKw.slice(from, to).reduce((a, b) => a + b, 0) / (to - from);
    assert.ok(mean(0, 12) < mean(28, 40), `seed ${seed}: night ${mean(0, 12)} vs afternoon ${mean(28, 40)}`);
  }
});

test('changing the job count leaves the inference profile unchanged', () => {
  assert.deepEqual(
    generateDay({ seed: 3, site, dayStart, jobs: 5 }).inferenceKw,
    generateDay({ seed: 3, site, dayStart }).inferenceKw,
  );
});

test('bad options are refused', () => {
  assert.throws(() => generateDay({ seed: 1, site, dayStart, slotMinutes: 7 }), /slotMinutes/);
  assert.throws(() => generateDay({ seed: 1, site, dayStart, jobs: -1 }), /jobs/);
  assert.throws(() => generateDay({ seed: 1, site, dayStart, power: { ...A100_SXM_NODE, gpuPeakW: 10 } }), /gpuPeakW/);
});

test('job ids name the UK date of the settlement day: the days either side of the spring clock change do not share ids', async () => {
  const { settlementDayStart } = await import('../../src/domain/settlement-day.ts');
  // 2023-03-26 starts at 00:00 UTC (GMT); 2023-03-27 at 23:00 UTC on the 26th (BST).
  const ids = ['2023-03-26', '2023-03-27'].map((date) =>
    generateDay({ seed: 1, site, dayStart: settlementDayStart(date) }).jobs.map((j) => j.id),
  );
  assert.match(ids[1]![0]!, /-2023-03-27-001$/);
  assert.equal(new Set([...ids[0]!, ...ids[1]!]).size, ids[0]!.length + ids[1]!.length);
});

test('arrivals follow the UK clock through a clock change: 23 hours of them on the spring day, 25 on the autumn day', async () => {
  const { settlementDayStart } = await import('../../src/domain/settlement-day.ts');
  const { arrivalHours } = await import('../../src/sim/workload.ts');
  const weights = Array.from({ length: 24 }, (_, h) => h + 1);
  const clockOf = (start: number, e: number): number => {
    const at = new Date(start + e * HOUR).toLocaleString('en-GB', {
      timeZone: 'Europe/London',
      hour: '2-digit',
      hourCycle: 'h23',
    });
    return Number(at);
  };
  for (const [date, hours] of [
    ['2023-03-25', 24],
    ['2023-03-26', 23],
    ['2023-07-12', 24],
    ['2023-10-29', 25],
  ] as const) {
    const start = settlementDayStart(date);
    for (const from of [0, -6]) {
      const entries = arrivalHours(start, weights, from);
      assert.equal(entries.length, hours, `${date} from ${from}`);
      // Each entry is an hour of the window, at its own UK clock hour's weight.
      assert.deepEqual(
        entries.map(([e]) => e).sort((a, b) => a - b),
        Array.from({ length: hours }, (_, k) => from + k),
      );
      for (const [e, w] of entries) assert.equal(w, clockOf(start, e) + 1, `${date} hour ${e}`);
    }
  }
  // An ordinary day lists the clock hours in order, midnight first, as the draws always read them.
  assert.deepEqual(
    arrivalHours(settlementDayStart('2023-07-12'), weights, -6).map(([e]) => e),
    [...Array.from({ length: 18 }, (_, k) => k), -6, -5, -4, -3, -2, -1],
  );
  // Spring: 01:00 does not happen; autumn: it happens twice (BST, then GMT), each with its weight.
  const clocks = (date: string) => arrivalHours(settlementDayStart(date), weights, 0).map(([, w]) => w - 1);
  assert.ok(!clocks('2023-03-26').includes(1));
  assert.equal(clocks('2023-10-29').filter((c) => c === 1).length, 2);
});

test('a clock-change day draws its jobs within its own 23 or 25 hours, due by the end of the next settlement day', async () => {
  const { settlementDayStart } = await import('../../src/domain/settlement-day.ts');
  for (const { date, start, hours } of CLOCK_CHANGE_DAYS) {
    const next = settlementDayStart(date === '2023-03-26' ? '2023-03-27' : '2023-10-30');
    const after = settlementDayStart(date === '2023-03-26' ? '2023-03-28' : '2023-10-31');
    assert.equal(next - start, hours * HOUR);
    const jobs = Array.from(
      { length: 20 },
      (_, seed) => generateDay({ seed, site, dayStart: start, jobs: 60 }).jobs,
    ).flat();
    assert.ok(
      jobs.every((j) => j.submittedAt >= start && j.submittedAt < next),
      date,
    );
    assert.ok(
      jobs.every((j) => j.deadlineAt <= after),
      date,
    );
    // The day's last hour has arrivals (on the autumn day the 24-hour draw left it empty).
    assert.ok(
      jobs.some((j) => j.submittedAt >= next - HOUR),
      date,
    );
  }
});

test("a clock-change day's inference profile has one value per period of the day, following the UK clock", async () => {
  const { settlementDayStart } = await import('../../src/domain/settlement-day.ts');
  for (const { date, start, hours } of CLOCK_CHANGE_DAYS)
    assert.equal(generateDay({ seed: 4, site, dayStart: start }).inferenceKw.length, hours * 2, date);
  // The clock hour each period's value is drawn for: spring skips 01:00–02:00, autumn has it twice.
  const { slotClockHours } = await import('../../src/sim/workload.ts');
  assert.deepEqual(slotClockHours(settlementDayStart('2023-03-26'), 30).slice(0, 4), [0.25, 0.75, 2.25, 2.75]);
  assert.deepEqual(slotClockHours(settlementDayStart('2023-10-29'), 30).slice(2, 6), [1.25, 1.75, 1.25, 1.75]);
  assert.deepEqual(
    slotClockHours(settlementDayStart('2023-07-12'), 30).slice(0, 2),
    [0.25, 0.75],
    'a summer day starts at UK midnight, 23:00 UTC',
  );
});
