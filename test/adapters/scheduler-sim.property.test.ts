// Properties of the simulated cluster under any workload seed and any mix of deferrals, holds and
// step sizes: starts respect release/beginAt and strict FIFO, GPU capacity is never exceeded, every
// job runs for exactly its energy / power, and metered energy is conserved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SimCluster } from '../../src/adapters/scheduler-sim/cluster.ts';
import { A100_SXM_NODE, nodeIdleKw } from '../../src/sim/power.ts';
import { generateDay } from '../../src/sim/workload.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';

const HOUR = 60 * MINUTE_MS;
const t0 = epochMs(Date.UTC(2024, 2, 4));
const site = 'lon-1';
const horizonH = 120; // long enough for the worst case: 20 jobs × 8 GPUs × 6 h on 16 GPUs after a 40 h deferral

/** Most GPUs in use at once, from the jobs' run intervals [startedAt, finishedAt). */
const peakGpus = (jobs: readonly ComputeJob[]): number => {
  const events = jobs.flatMap((j) =>
    j.startedAt === undefined
      ? []
      : [
          { t: j.startedAt, d: j.gpus },
          { t: j.finishedAt ?? Infinity, d: -j.gpus },
        ],
  );
  events.sort((a, b) => a.t - b.t || a.d - b.d); // at a tie, a finish frees GPUs before a start takes them
  let used = 0;
  let peak = 0;
  for (const e of events) peak = Math.max(peak, (used += e.d));
  return peak;
};

const scenario = fc.record({
  seed: fc.integer(),
  trainingNodes: fc.integer({ min: 2, max: 4 }),
  deferrals: fc.array(fc.record({ job: fc.nat(), minutes: fc.integer({ min: 0, max: 40 * 60 }) }), { maxLength: 15 }),
  holds: fc.array(fc.nat(), { maxLength: 5 }),
  steps: fc.array(fc.integer({ min: 1, max: 8 * 60 }), { minLength: 1, maxLength: 30 }),
});

test('property: starts respect release, beginAt and FIFO; GPUs never oversubscribed; energy conserved', async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async ({ seed, trainingNodes, deferrals, holds, steps }) => {
      const day = generateDay({ seed, site, dayStart: t0, jobs: 20 });
      const c = new SimCluster({ site, region: 'GB', gridImportLimitKw: 500, trainingNodes }, t0, day.inferenceKw);
      c.submit(day.jobs);
      const n = day.jobs.length;
      for (const d of deferrals) await c.deferUntil(day.jobs[d.job % n]?.id ?? '', epochMs(t0 + d.minutes * MINUTE_MS));
      const held = new Set(holds.map((h) => day.jobs[h % n]?.id ?? ''));
      for (const id of held) assert.equal((await c.hold(id)).ok, true);
      // Advance in uneven steps; release the held jobs after the first one.
      let releasedAt = c.now;
      for (const [i, minutes] of steps.entries()) {
        c.advanceTo(epochMs(Math.min(t0 + horizonH * HOUR, c.now + minutes * MINUTE_MS)));
        assert.ok(c.gpusInUse <= c.totalGpus);
        if (i === 0) {
          releasedAt = c.now;
          for (const id of held) assert.equal((await c.release(id)).ok, true);
        }
      }
      c.advanceTo(epochMs(t0 + horizonH * HOUR));
      const jobs = await c.listJobs();

      const eligibleAt = (j: ComputeJob): number =>
        Math.max(j.releaseAt, j.beginAt ?? -Infinity, held.has(j.id) ? releasedAt : -Infinity, t0);
      for (const [i, j] of jobs.entries()) {
        assert.equal(j.state, 'completed', `${j.id} should have finished within ${horizonH} h`);
        const start = j.startedAt ?? NaN;
        assert.ok(start >= eligibleAt(j), `${j.id} started at ${start} before it was eligible at ${eligibleAt(j)}`);
        assert.ok(
          Math.abs((j.finishedAt ?? NaN) - start - (j.energyKwh / j.powerKw) * HOUR) <= 2,
          `${j.id} ran for the wrong time`,
        );
        // Strict FIFO: an earlier job that was already eligible when this one started had started too.
        for (const earlier of jobs.slice(0, i)) {
          if (eligibleAt(earlier) <= start)
            assert.ok((earlier.startedAt ?? Infinity) <= start, `${j.id} overtook ${earlier.id}`);
        }
      }
      assert.ok(peakGpus(jobs) <= c.totalGpus, `peak ${peakGpus(jobs)} GPUs of ${c.totalGpus}`);

      const slots = horizonH * 2;
      const metered = (await c.importKw({ start: t0, slotMinutes: 30, slots })).reduce((a, b) => a + b * 0.5, 0);
      const jobsKwh = jobs.reduce((a, j) => a + j.energyKwh, 0);
      const inferenceKwh = Array.from({ length: slots }, (_, s) => (day.inferenceKw[s % 48] ?? NaN) * 0.5).reduce(
        (a, b) => a + b,
        0,
      );
      const idleKwh = trainingNodes * nodeIdleKw(A100_SXM_NODE) * horizonH;
      const expected = (idleKwh + jobsKwh + inferenceKwh) * c.pue;
      assert.ok(Math.abs(metered - expected) <= 1e-9 * expected, `metered ${metered} vs ${expected}`);
    }),
    { numRuns: 150 },
  );
});
