// The Compute-Flex agent's own behaviour, over the simulated cluster with a real orchestrator on
// loopback: admission by holding on sight, refusals reported back, the flexibility summary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from '../../src/adapters/scheduler-sim/cluster.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { epochMs } from '../../src/domain/time.ts';
import { kw, kwh } from '../../src/domain/units.ts';
import { startFlexSite } from '../helpers/flex-site.ts';

const job = (id: string, now: number): ComputeJob => ({
  id,
  name: id,
  site: 's',
  slo: 'deferrable',
  gpus: 8,
  powerKw: kw(2.9),
  energyKwh: kwh(2.9),
  remainingKwh: kwh(2.9),
  submittedAt: epochMs(now - 120_000),
  releaseAt: epochMs(now - 120_000),
  deadlineAt: epochMs(now + 12 * 3_600_000),
  preemptible: false,
  allowedSites: ['s'],
  work: 8,
  workUnit: 'gpu-hours',
  state: 'queued',
});

test('agent: holds new jobs on sight where the scheduler does not, reports refusals, and sums up flexibility', async () => {
  const now = Date.now();
  // Admission 'immediate': jobs would start at once unless the agent holds them first.
  const cluster = new SimCluster(
    { site: 's', region: 'GB', gridImportLimitKw: 100, trainingNodes: 2, inferenceNodes: 0 },
    epochMs(now - 120_000),
  );
  cluster.submit([job('j1', now), job('j2', now)]);
  const site = await startFlexSite({
    site: 's',
    scheduler: cluster,
    baseLoadKw: 2,
    itPowerLimitKw: 50,
    holdNewJobs: true,
  });
  try {
    const first = await site.agent.report(epochMs(now));
    assert.deepEqual(
      first.jobs.map((j) => [j.id, j.state, j.heldBy]),
      [
        ['j1', 'held', 'flexlon'],
        ['j2', 'held', 'flexlon'],
      ],
    );
    assert.ok(first.flexibility, 'the report carries the summary');
    assert.equal(first.flexibility.minPowerKw[0], 2, 'nothing has to run now: only base load');
    assert.equal(
      first.flexibility.deferrable.reduce((n, w) => n + w.jobs, 0),
      2,
    );

    // An operator holds j2 by hand; the plan wants both to start: j2's refusal comes back in the next report.
    await cluster.holdByHand('j2');
    await site.agent.apply(
      [
        { jobId: 'j1', beginAt: epochMs(now) },
        { jobId: 'j2', beginAt: epochMs(now) },
      ],
      'test',
    );
    const second = await site.agent.report(epochMs(now));
    assert.deepEqual(
      second.refused?.map((r) => [r.jobId, r.ok === false && r.code]),
      [['j2', 'held-by-other']],
    );
    assert.equal(second.jobs.find((j) => j.id === 'j1')?.state, 'queued');
    assert.equal(second.jobs.find((j) => j.id === 'j2')?.heldBy, 'other');
    assert.equal((await site.agent.report(epochMs(now))).refused, undefined, 'each refusal is reported once');
  } finally {
    await site.stop();
  }
});
