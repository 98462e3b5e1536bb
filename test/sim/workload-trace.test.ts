// The trace-calibrated workload: its statistics match what was fitted on the traces, the fit is
// reproducible from the traces in place, and the shipped parameters are what the fit gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from '../../src/adapters/scheduler-sim/cluster.ts';
import { epochMs } from '../../src/domain/time.ts';
import { CALIBRATION } from '../../src/sim/calibration.ts';
import { fitTraces } from '../../src/sim/fit-traces.ts';
import { generateTraceDay } from '../../src/sim/workload-trace.ts';
import { sharedPath } from '../helpers/shared.ts';

const dayStart = epochMs(Date.UTC(2024, 0, 15));

test('the shipped calibration is exactly what scripts/fit-traces.ts fits on the shared traces', () => {
  assert.deepEqual(
    JSON.parse(JSON.stringify(fitTraces(sharedPath('traces')))),
    JSON.parse(JSON.stringify(CALIBRATION)),
  );
});

test('fitted facts of the traces: best effort is ~42 % of pods, GPU pods are mostly single-GPU, runs are short and heavy-tailed', () => {
  const { latencySensitive: ls, bestEffort: be } = CALIBRATION.alibaba;
  assert.equal(ls.pods + be.pods, 8045);
  assert.ok(Math.abs(be.pods / (ls.pods + be.pods) - 0.422) < 0.005);
  assert.ok(be.runHours.p50 < 0.1 && be.runHours.p90 > 2, 'median minutes, tail hours');
  assert.deepEqual(CALIBRATION.powerCap.capW, [100, 200, 250, 300, 350, 400]);
  assert.ok(CALIBRATION.azure.conv.requestsPerSecond > 5 && CALIBRATION.azure.code.requestsPerSecond > 2.5);
});

test('a generated day follows the fit: QoS split, single-GPU majority, log-normal run times, inflexible LS jobs', () => {
  const jobs = Array.from(
    { length: 30 },
    (_, seed) => generateTraceDay({ seed, site: 's', dayStart, jobs: 100 }).jobs,
  ).flat();
  const be = jobs.filter((j) => j.slo === 'deferrable');
  assert.ok(Math.abs(be.length / jobs.length - 0.422) < 0.03, `deferrable share ${be.length / jobs.length}`);
  assert.ok(jobs.filter((j) => j.gpus === 1).length / jobs.length > 0.9);
  const hours = be.map((j) => j.work / j.gpus).sort((a, b) => a - b);
  const median = hours[Math.floor(hours.length / 2)] ?? 0;
  assert.ok(
    median > 0.08 && median < 0.2,
    `BE median ${median} h (fit: ${Math.exp(CALIBRATION.alibaba.bestEffort.runHours.logMean)} h before the 5-minute floor)`,
  );
  for (const j of jobs) {
    assert.ok(j.deadlineAt >= j.releaseAt + (j.energyKwh / j.powerKw) * 3_600_000 - 1);
    if (j.slo === 'inflexible')
      assert.ok(Math.abs(j.deadlineAt - j.releaseAt - (j.energyKwh / j.powerKw) * 3_600_000) < 1);
  }
});

test('a generated day runs on the simulated cluster: LS jobs start at once, BE jobs wait for FlexLon', async () => {
  const day = generateTraceDay({ seed: 3, site: 's', dayStart, jobs: 40 });
  const c = new SimCluster(
    { site: 's', region: 'GB', gridImportLimitKw: 500, trainingNodes: 4, admission: 'held' },
    dayStart,
    day.inferenceKw,
  );
  c.submit(day.jobs);
  c.advanceTo(epochMs(dayStart + 86_400_000));
  const jobs = await c.listJobs();
  assert.ok(jobs.filter((j) => j.slo === 'inflexible').every((j) => j.state === 'completed' || j.state === 'running'));
  assert.ok(jobs.filter((j) => j.slo === 'deferrable').every((j) => j.state === 'held'));
  assert.equal(day.inferenceKw.length, 48);
});
