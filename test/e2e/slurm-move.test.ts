// A site move through the orchestrator over real Slurm 22.05 (issue 13's site-move lever, beside
// real schedulers rather than simulated ones): two single-node clusters, north and south, each with
// its own munged-authenticated slurmctld and slurmd and FlexLon's job_submit.lua; one Compute-Flex
// agent beside each; one Flexibility Orchestrator planning both. A user submits a job at north that
// may also run at south (the `sites` field of its --comment). A confirmed commitment caps north's
// import to its base load for the next hour, so at north the job would finish late; the plan runs it
// at south instead, and the orchestrator carries out the move over the signed agent link: export
// (scontrol write batch_script) at north, sbatch --hold at south, scancel at north, release at south.
// squeue on both clusters shows the outcome: cancelled at north, run at south, under one FlexLon id.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SlurmScheduler } from '../../src/adapters/scheduler-slurm/scheduler.ts';
import type { FlexSites } from '../helpers/flex-site.ts';
import { capNorthAndReport, movedRow, startNorthSouth } from '../helpers/site-move.ts';
import { eventually, slurmAvailable, slurmTempDir, TestMunge, TestSlurm } from '../helpers/slurm.ts';

const missing = slurmAvailable();
if (missing) throw new Error(missing);

const GPU_KW = 0.37;

describe('a site move between two real Slurm clusters, planned and dispatched by the orchestrator', () => {
  let tmp: ReturnType<typeof slurmTempDir>;
  let munge: TestMunge;
  const clusters = new Map<string, TestSlurm>();
  const schedulers = new Map<string, SlurmScheduler>();
  let fleet: FlexSites;

  before(async () => {
    tmp = slurmTempDir();
    munge = await TestMunge.start(tmp.dir);
    for (const site of ['north', 'south']) {
      const c = await TestSlurm.start(munge, { name: site, admissionHoldPartitions: ['batch'] });
      clusters.set(site, c);
      schedulers.set(
        site,
        new SlurmScheduler({
          site,
          slurmConf: c.conf,
          timeoutMs: 15_000,
          partitions: { batch: { gpuPowerKw: GPU_KW, maxDeferralHours: 12 } },
        }),
      );
    }
    fleet = await startNorthSouth(schedulers);
  });

  after(async () => {
    await fleet?.stop();
    for (const c of clusters.values()) await c.stop();
    await munge?.stop();
    tmp?.remove();
  });

  test('export at north, held import at south, scancel at north, release at south: the job runs once, at south', async (t) => {
    const north = clusters.get('north')!;
    const now = Date.now();
    // Due 40 minutes from now, a quarter of an hour of work on 4 GPUs.
    const deadline = new Date(now + 40 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const comment = JSON.stringify({ deadline, gpu_hours: 1, work: 1, sites: ['north', 'south'] });
    const native = north.sbatch([
      '--job-name=fine-tune',
      '--gres=gpu:4',
      '--time=5',
      `--comment=${comment}`,
      '--wrap=sleep 20',
    ]);
    const flexId = `north:${native}`;
    const northJobs = await schedulers.get('north')!.listJobs();
    assert.equal(northJobs.find((j) => j.id === flexId)?.state, 'held', 'held by FlexLon on arrival at north');
    assert.deepEqual(northJobs.find((j) => j.id === flexId)?.allowedSites, ['north', 'south']);

    await capNorthAndReport(fleet, now);
    const moved = await movedRow(fleet, flexId);
    assert.equal(moved.from, 'north');
    assert.equal(moved.to, 'south');
    t.diagnostic(`site-move audit: ${JSON.stringify(moved)}`);

    // squeue on each cluster: cancelled at north; at south the same FlexLon id, released and run.
    await eventually('north to cancel its copy', async () =>
      north.job(native).job_state === 'CANCELLED' ? true : undefined,
    );
    const there = await eventually('south to run the job', async () => {
      const j = (await schedulers.get('south')!.listJobs()).find((x) => x.id === flexId);
      return j && (j.state === 'running' || j.state === 'completed') ? j : undefined;
    });
    assert.equal(there.site, 'south');
    assert.equal(there.gpus, 4);
    assert.equal(there.name, 'fine-tune', 'the batch script and its name moved with it');
    assert.equal(clusters.get('south')!.job(there.nativeId!).admin_comment, '', "FlexLon's hold mark is gone at south");
    // Each agent audited its own step of the move.
    for (const site of ['north', 'south']) {
      const steps = (await fleet.agents.get(site)!.store.auditTrail()).filter(
        (r) => r.kind === 'dispatch' && JSON.stringify(r.payload).includes(flexId),
      );
      assert.ok(steps.length > 0, `${site}'s agent audited its step`);
    }
  });
});
