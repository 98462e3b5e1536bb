// The Scheduler contract against real Slurm 22.05: two single-node clusters (for moves), each with
// munged, slurmctld and slurmd started by this file and stopped after it, and FlexLon's shipped
// job_submit.lua so jobs of partition `batch` arrive held by FlexLon.
import { epochMs } from '../../src/domain/time.ts';
import { SlurmScheduler } from '../../src/adapters/scheduler-slurm/scheduler.ts';
import { schedulerContract } from '../contract/scheduler.contract.ts';
import { slurmAvailable, slurmTempDir, TestMunge, TestSlurm } from '../helpers/slurm.ts';

const missing = slurmAvailable();
if (missing) throw new Error(missing);

schedulerContract('Slurm 22.05 (real slurmctld + slurmd)', async () => {
  const tmp = slurmTempDir();
  const munge = await TestMunge.start(tmp.dir);
  const [ca, cb] = await Promise.all([
    TestSlurm.start(munge, { name: 'contracta', admissionHoldPartitions: ['batch'] }),
    TestSlurm.start(munge, { name: 'contractb', admissionHoldPartitions: ['batch'] }),
  ]);
  const scheduler = (site: string, c: TestSlurm) =>
    new SlurmScheduler({ site, slurmConf: c.conf, timeoutMs: 15_000, partitions: { batch: { maxDeferralHours: 12 } } });
  const a = scheduler('contract-a', ca);
  const b = scheduler('contract-b', cb);
  return {
    scheduler: a,
    other: b,
    submit: async (o, to) => {
      const c = to === b ? cb : ca;
      const id = c.sbatch([
        `--job-name=${o.name}`,
        `--gres=gpu:${o.gpus}`,
        `--time=${Math.ceil(o.seconds / 60)}`,
        ...(o.meta ? [`--comment=${JSON.stringify(o.meta)}`] : []),
        `--wrap=sleep ${o.seconds}`,
      ]);
      return `${(to ?? a).site}:${id}`;
    },
    holdByHand: async (id) => {
      ca.run('scontrol', ['hold', id.split(':')[1] ?? '']);
    },
    now: () => epochMs(Date.now()),
    tick: () => new Promise((r) => setTimeout(r, 500)),
    stop: async () => {
      await Promise.all([ca.stop(), cb.stop()]);
      await munge.stop();
      tmp.remove();
    },
  };
});
