// The Scheduler contract's environment over real Slurm 22.05: two single-node clusters (for moves),
// each with munged, slurmctld and slurmd, and FlexLon's shipped job_submit.lua so jobs of partition
// `batch` arrive held by FlexLon. Shared by the contract run without caps and the one with them.
import { epochMs } from '../../src/domain/time.ts';
import type { SlurmConfig } from '../../src/adapters/scheduler-slurm/config.ts';
import { SlurmScheduler } from '../../src/adapters/scheduler-slurm/scheduler.ts';
import type { SchedulerEnv } from '../contract/scheduler.contract.ts';
import { slurmTempDir, TestMunge, TestSlurm } from './slurm.ts';

export const slurmContractEnv = async (
  names: readonly [string, string],
  extra: Partial<Omit<SlurmConfig, 'site' | 'slurmConf'>> = {},
  cleanup: () => void = () => {},
): Promise<SchedulerEnv> => {
  const tmp = slurmTempDir();
  const munge = await TestMunge.start(tmp.dir);
  const [ca, cb] = await Promise.all(
    names.map((name) => TestSlurm.start(munge, { name, admissionHoldPartitions: ['batch'] })),
  );
  if (!ca || !cb) throw new Error('two clusters expected');
  const scheduler = (site: string, c: TestSlurm) =>
    new SlurmScheduler({
      site,
      slurmConf: c.conf,
      timeoutMs: 15_000,
      partitions: { batch: { maxDeferralHours: 12 } },
      ...extra,
    });
  // The contract's metadata names these sites.
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
      cleanup();
      tmp.remove();
    },
  };
};
