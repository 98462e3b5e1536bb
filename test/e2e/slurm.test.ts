// End to end beside real Slurm 22.05 (munged, slurmctld, slurmd started here, stopped after):
// users submit jobs with JSON --comment as they always would → FlexLon's job_submit.lua holds them
// on arrival → the Compute-Flex agent reads them → a confirmed commitment makes the orchestrator
// defer some → `squeue --json` shows their begin time moved past the window → the commitment is
// cancelled → the agent releases them → they run. Also: the controller going away, and holds
// placed by hand.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SlurmScheduler } from '../../src/adapters/scheduler-slurm/scheduler.ts';
import { epochMs } from '../../src/domain/time.ts';
import { FlexError } from '../../src/errors.ts';
import { startFlexSite, type FlexSite } from '../helpers/flex-site.ts';
import { eventually, slurmAvailable, slurmTempDir, TestMunge, TestSlurm } from '../helpers/slurm.ts';

const missing = slurmAvailable();
if (missing) throw new Error(missing);

const SLOT_MS = 1_800_000;
const GPU_KW = 0.37;

describe('Slurm end to end (real daemons)', () => {
  let tmp: ReturnType<typeof slurmTempDir>;
  let munge: TestMunge;
  let slurm: TestSlurm;
  let scheduler: SlurmScheduler;
  let site: FlexSite;

  before(async () => {
    tmp = slurmTempDir();
    munge = await TestMunge.start(tmp.dir);
    slurm = await TestSlurm.start(munge, {
      name: 'e2e',
      partitions: ['batch', 'interactive'],
      admissionHoldPartitions: ['batch'],
    });
    scheduler = new SlurmScheduler({
      site: 'hpc',
      slurmConf: slurm.conf,
      timeoutMs: 4000,
      partitions: { batch: { gpuPowerKw: GPU_KW, maxDeferralHours: 12 } },
    });
    site = await startFlexSite({ site: 'hpc', scheduler, baseLoadKw: 1, itPowerLimitKw: 10 });
  });

  after(async () => {
    await site?.stop();
    await slurm?.stop();
    await munge?.stop();
    tmp?.remove();
  });

  test('comments → agent → commitment defers some jobs (squeue shows the begin time moved) → cancelled → they run', async (t) => {
    const deadline = new Date(Date.now() + 12 * 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    // Half a GPU-hour each: one job fills 0.37 kW of a half-hour slot at full power.
    const comment = JSON.stringify({ deadline, gpu_hours: 0.5, work: 0.5 });
    const ids = ['train-a', 'train-b', 'train-c'].map((name) =>
      slurm.sbatch([`--job-name=${name}`, '--gres=gpu:1', '--time=5', `--comment=${comment}`, '--wrap=sleep 20']),
    );
    const shell = slurm.sbatch(['--partition=interactive', '--job-name=shell', '--time=5', '--wrap=sleep 60']);

    // The agent reads them: held by FlexLon on arrival, metadata from the comments; the
    // interactive partition is not FlexLon's, so that job runs as usual and is inflexible.
    const report = await site.agent.report(epochMs(Date.now()));
    const byNative = new Map(report.jobs.map((j) => [j.nativeId, j]));
    for (const id of ids) {
      const j = byNative.get(id);
      assert.equal(j?.state, 'held');
      assert.equal(j?.heldBy, 'flexlon');
      assert.equal(j?.deadlineAt, Date.parse(deadline));
      assert.ok(Math.abs((j?.energyKwh ?? 0) - 0.5 * GPU_KW) < 1e-9);
    }
    await eventually('the interactive job to run', async () =>
      (await scheduler.listJobs()).find((j) => j.nativeId === shell)?.state === 'running' ? true : undefined,
    );
    assert.equal((await scheduler.listJobs()).find((j) => j.nativeId === shell)?.slo, 'inflexible');

    // A confirmed commitment: import ≤ base + one job over this slot and the next.
    const slot0 = Math.floor(Date.now() / SLOT_MS) * SLOT_MS;
    const windowEnd = slot0 + 2 * SLOT_MS;
    await site.commit('order-1', epochMs(slot0), 2, 1 + 0.01 + GPU_KW + 0.05);
    await site.agent.tick();
    const dispatched = await site.agentStore.auditTrail();
    const applyMs = (dispatched.filter((r) => r.kind === 'dispatch').at(-1)?.payload as { applyMs: number }).applyMs;
    t.diagnostic(`agent applied the rolling plan to Slurm in ${applyMs} ms`);

    const states = () => ids.map((id) => slurm.job(id));
    await eventually('one job to start', () =>
      states().some((j) => j.job_state === 'RUNNING' || j.job_state === 'COMPLETED') ? true : undefined,
    );
    const waiting = states().filter((j) => j.job_state === 'PENDING');
    assert.equal(waiting.length, 2, 'the other two wait');
    for (const j of waiting) {
      assert.ok(
        j.eligible_time * 1000 >= slot0 + SLOT_MS,
        `begin time ${new Date(j.eligible_time * 1000).toISOString()} moved to a later slot`,
      );
      assert.notEqual(j.priority, 0, 'released with a begin time, not held');
      assert.equal(j.admin_comment, '', "FlexLon's hold mark is gone");
    }
    assert.ok(
      waiting.some((j) => j.eligible_time * 1000 >= windowEnd),
      'at least one is deferred past the window',
    );

    // The confirm path: the orchestrator re-plans and pushes the dispatch; time it end to end.
    const started = performance.now();
    await site.bpp.dispatchAll('commitment order-1', 'order-1');
    t.diagnostic(
      `confirm → plan → signed dispatch → scontrol applied in ${Math.round(performance.now() - started)} ms`,
    );

    // Cancelled: the next plan has no window, so the deferred jobs may start now, and do.
    await site.cancelOrder('order-1');
    await site.agent.tick();
    await eventually(
      'every job to run',
      () => (states().every((j) => j.job_state === 'RUNNING' || j.job_state === 'COMPLETED') ? true : undefined),
      90_000,
    );
  });

  test('a job the user submitted held (sbatch --hold) is theirs: reported held by someone else, never released', async () => {
    const id = slurm.sbatch(['--hold', '--job-name=mine', '--gres=gpu:1', '--time=5', '--wrap=sleep 5']);
    await site.agent.tick();
    const j = (await scheduler.listJobs()).find((x) => x.nativeId === id);
    assert.equal(j?.state, 'held');
    assert.equal(j?.heldBy, 'other');
    assert.equal(slurm.job(id).priority, 0, 'still held after the agent applied its plan');
    assert.equal((await scheduler.release(j?.id ?? '')).ok, false);
  });

  test('slurmctld down: commands fail clearly within the timeout; the agent reports its last known queue; it recovers', async () => {
    const before = (await site.agent.report(epochMs(Date.now()))).jobs.length;
    await slurm.stopController();
    try {
      await assert.rejects(
        scheduler.listJobs(),
        (e: unknown) => e instanceof FlexError && e.code === 'FLX_SCHEDULER_UNAVAILABLE' && /slurmctld/.test(e.message),
      );
      const stale = await site.agent.report(epochMs(Date.now()));
      assert.ok(stale.staleSince !== undefined, 'the report says it is stale');
      assert.equal(stale.jobs.length, before, 'the last known queue is kept');
    } finally {
      await slurm.resumeController();
    }
    const fresh = await site.agent.report(epochMs(Date.now()));
    assert.equal(fresh.staleSince, undefined);
  });
});
