// GPU power caps through the Slurm adapter (issue 13 item 2) against real Slurm 22.05 (slurmctld +
// slurmd started here, four fake GPUs) and the recording nvidia-smi stand-in: jobs are submitted
// with --gres=gpu:N, and the stand-in's log shows which GPUs FlexLon set, to what, and through what
// (here, or srun inside the job). The Scheduler contract also runs once with caps enabled.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseJobGpus } from '../../src/adapters/scheduler-slurm/nvidia-smi.ts';
import { SlurmScheduler, type SlurmConfig } from '../../src/adapters/scheduler-slurm/scheduler.ts';
import type { Actuation, ComputeJob } from '../../src/domain/compute.ts';
import { epochMs } from '../../src/domain/time.ts';
import { FlexError } from '../../src/errors.ts';
import { schedulerContract } from '../contract/scheduler.contract.ts';
import { slurmContractEnv } from '../helpers/slurm-contract.ts';
import { powerCapStandin, type PowerCapStandin } from '../helpers/nvidia-smi-powercap-standin.ts';
import { eventually, slurmAvailable, slurmTempDir, TestMunge, TestSlurm } from '../helpers/slurm.ts';

const missing = slurmAvailable();
if (missing) throw new Error(missing);

const SITE = 'cap-lon';

describe('Slurm power caps: configuration', () => {
  const base: SlurmConfig = { site: SITE, partitions: { batch: {} } };
  const code = (c: unknown) => {
    try {
      new SlurmScheduler(c as SlurmConfig);
    } catch (e) {
      return e instanceof FlexError ? `${e.code} ${e.message}` : String(e);
    }
    return 'accepted';
  };

  test('caps are off unless the site configures them, and the capability says so', () => {
    assert.equal(new SlurmScheduler(base).capabilities.powerCap, false);
    assert.equal(new SlurmScheduler({ ...base, powerCaps: {} }).capabilities.powerCap, true);
  });

  test('a bad powerCaps setting fails fast, naming the field', () => {
    assert.match(code({ ...base, powerCaps: { run: 'ssh' } }), /^FLX_CONFIG_INVALID slurm: powerCaps\.run /);
    assert.match(code({ ...base, powerCaps: { nvidiaSmi: '' } }), /^FLX_CONFIG_INVALID slurm: powerCaps\.nvidiaSmi /);
    assert.match(
      code({ ...base, powerCaps: { nvidia_smi: '/x' } }),
      /^FLX_CONFIG_INVALID slurm: powerCaps\.nvidia_smi /,
    );
    assert.match(code({ ...base, powerCaps: 'yes' }), /^FLX_CONFIG_INVALID slurm: powerCaps /);
    assert.match(code({ ...base, powerCaps: { stateFile: 7 } }), /^FLX_CONFIG_INVALID slurm: powerCaps\.stateFile /);
  });

  test("a state file that is not FlexLon's power-cap state stops the agent at start-up", () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexlon-capstate-'));
    try {
      const file = join(dir, 'caps.json');
      writeFileSync(file, '{"version": 1, "applied": {"x": {"slurmJobId": "7", "gpus": []}}}');
      assert.match(
        code({ ...base, powerCaps: { stateFile: file } }),
        /^FLX_CONFIG_INVALID slurm: powerCaps\.stateFile .*malformed entry for x/,
      );
      writeFileSync(file, 'not json');
      assert.match(
        code({ ...base, powerCaps: { stateFile: file } }),
        /^FLX_CONFIG_INVALID slurm: powerCaps\.stateFile /,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The test cluster has one node and untyped GPUs; what multi-node and typed allocations look like in
// `scontrol show job -d` (22.05) is read here directly.
describe('Slurm power caps: reading a multi-node allocation', () => {
  test('each node of each group gets its own GPU indices; typed GRES and index lists are read', () => {
    const detail = [
      'JobId=42 JobName=train',
      '   JOB_GRES=gpu:h200:6',
      '     Nodes=gpu[01-02] CPU_IDs=0-15 Mem=0 GRES=gpu:h200:2(IDX:0-1)',
      '     Nodes=gpu07 CPU_IDs=0-7 Mem=0 GRES=gpu:h200:2(IDX:1,3),mps:0(IDX:N/A)',
      '     Nodes=cpu01 CPU_IDs=0-7 Mem=0 GRES=',
    ].join('\n');
    assert.deepEqual(parseJobGpus(detail), [
      { node: 'gpu01', indices: [0, 1] },
      { node: 'gpu02', indices: [0, 1] },
      { node: 'gpu07', indices: [1, 3] },
    ]);
  });
});

describe('Slurm power caps: nvidia-smi -pl on the GPUs Slurm allocated (real Slurm, stand-in nvidia-smi)', () => {
  let tmp: ReturnType<typeof slurmTempDir>;
  let munge: TestMunge;
  let cluster: TestSlurm;
  let smi: PowerCapStandin;
  let local: SlurmScheduler;
  const scheduler = (extra: Partial<SlurmConfig> = {}) =>
    new SlurmScheduler({
      site: SITE,
      slurmConf: cluster.conf,
      timeoutMs: 15_000,
      partitions: { batch: { maxDeferralHours: 12 } },
      ...extra,
    });
  const submit = (gpus: number, ...more: string[]) =>
    `${SITE}:${cluster.sbatch([`--gres=gpu:${gpus}`, '--time=10', ...more, '--wrap=sleep 600'])}`;
  const native = (id: string) => id.split(':')[1] ?? '';
  /** The GRES indices Slurm itself reports for the job (read here independently of the adapter). */
  const slurmGpus = (id: string): number[] => {
    const m = /GRES=gpu(?::\w+)?:\d+\(IDX:([\d,-]+)\)/.exec(cluster.run('scontrol', ['show', 'job', '-d', native(id)]));
    return (m?.[1] ?? '').split(',').flatMap((p) => {
      const [a = '0', b = a] = p.split('-');
      return Array.from({ length: Number(b) - Number(a) + 1 }, (_, i) => Number(a) + i);
    });
  };
  const running = (id: string) =>
    eventually(`job ${id} running`, () => (cluster.job(native(id)).job_state === 'RUNNING' ? true : undefined));
  const ended = (id: string) =>
    // COMPLETING still holds the job's GPUs (its epilog runs); the adapter counts it as running.
    eventually(`job ${id} ended`, () =>
      ['CANCELLED', 'COMPLETED', 'FAILED'].includes(cluster.job(native(id)).job_state) ? true : undefined,
    );
  const jobOf = async (s: SlurmScheduler, id: string): Promise<ComputeJob | undefined> =>
    (await s.listJobs()).find((j) => j.id === id);
  const limits = () => smi.gpus().map((g) => g.limitW);
  const refusal = (r: Actuation) => (r.ok ? 'ok' : r.code);

  before(async () => {
    tmp = slurmTempDir();
    munge = await TestMunge.start(tmp.dir);
    cluster = await TestSlurm.start(munge, { name: 'powercap' });
    smi = powerCapStandin(4);
    local = scheduler({ powerCaps: { nvidiaSmi: smi.path, run: 'local' } });
  });

  after(async () => {
    await cluster?.stop();
    await munge?.stop();
    smi?.remove();
    tmp?.remove();
  });

  test('a running job gets exactly its allocated GPUs capped; other GPUs are not touched', async () => {
    const two = submit(2);
    const one = submit(1);
    await Promise.all([running(two), running(one)]);
    const idx = slurmGpus(one);
    assert.equal(idx.length, 1);
    smi.clearCalls();
    assert.deepEqual(await local.setPowerCap(one, 300), { ok: true, jobId: one });
    assert.deepEqual(smi.setCalls(), [{ index: idx[0], watts: 300 }], 'one nvidia-smi -i I -pl 300, for its GPU only');
    assert.deepEqual(
      smi.calls()[0]?.argv,
      [
        '--query-gpu=index,power.min_limit,power.max_limit,power.default_limit,power.limit',
        '--format=csv,noheader,nounits',
        '-i',
        String(idx[0]),
      ],
      "the GPU's limits are read before it is set",
    );
    assert.deepEqual(
      limits(),
      [0, 1, 2, 3].map((i) => (i === idx[0] ? 300 : 700)),
    );
    const j = await jobOf(local, one);
    assert.equal(j?.powerCapW, 300);
    assert.ok(j?.minPowerKw !== undefined && j.minPowerKw < j.powerKw, `minPowerKw ${j?.minPowerKw} < ${j?.powerKw}`);
    assert.equal((await jobOf(local, two))?.powerCapW, undefined);

    // A cap outside the H200's 200–700 W is refused by FlexLon, before nvidia-smi is asked to set anything.
    smi.clearCalls();
    for (const w of [150, 701]) {
      const r = await local.setPowerCap(two, w);
      assert.equal(refusal(r), 'invalid');
      assert.match(r.ok ? '' : r.reason, /200–700 W/);
    }
    assert.deepEqual(smi.setCalls(), [], 'no -pl was run');
    assert.equal(refusal(await local.setPowerCap(two, Number.NaN)), 'invalid');

    await local.setPowerCap(one, null);
    await cluster.run('scancel', [native(two), native(one)]);
    await Promise.all([ended(two), ended(one)]);
  });

  test('null restores the limits the GPUs had before FlexLon capped them, even after a re-cap', async () => {
    const id = submit(2);
    await running(id);
    const idx = slurmGpus(id);
    smi.setLimit(idx[0] ?? 0, 650); // an operator's own limit, set before FlexLon
    const before = limits();
    assert.equal((await local.setPowerCap(id, 250)).ok, true);
    assert.equal((await local.setPowerCap(id, 400)).ok, true);
    assert.deepEqual(
      limits(),
      before.map((w, i) => (idx.includes(i) ? 400 : w)),
    );
    smi.clearCalls();
    assert.deepEqual(await local.setPowerCap(id, null), { ok: true, jobId: id });
    assert.deepEqual(limits(), before, 'back to 650 W and 700 W, not to 250 W');
    assert.deepEqual(
      smi.setCalls().sort((a, b) => a.index - b.index),
      idx.map((i) => ({ index: i, watts: before[i] })),
    );
    assert.equal((await jobOf(local, id))?.powerCapW, undefined);
    smi.clearCalls();
    assert.deepEqual(await local.setPowerCap(id, null), { ok: true, jobId: id }, 'lifting twice is harmless');
    assert.deepEqual(smi.setCalls(), []);
    smi.setLimit(idx[0] ?? 0, 700);
    cluster.run('scancel', [native(id)]);
    await ended(id);
  });

  test('a job that ends while capped has its GPUs restored by the next reconcile', async () => {
    const id = submit(1);
    await running(id);
    const [gpu = -1] = slurmGpus(id);
    assert.equal((await local.setPowerCap(id, 350)).ok, true);
    assert.equal(smi.gpus()[gpu]?.limitW, 350);
    cluster.run('scancel', [native(id)]);
    await ended(id);
    smi.clearCalls();
    await local.reconcile(epochMs(Date.now()));
    assert.deepEqual(smi.setCalls(), [{ index: gpu, watts: 700 }]);
    assert.deepEqual(limits(), [700, 700, 700, 700]);
    assert.equal(refusal(await local.setPowerCap(id, 300)), 'wrong-state', 'an ended job cannot be capped');
  });

  test('a waiting job keeps its cap until it starts; reconcile then applies it to its GPUs', async () => {
    const id = submit(1, '--hold');
    smi.clearCalls();
    assert.equal(refusal(await local.setPowerCap(id, 100)), 'invalid', "checked against the node's GPU limits");
    assert.deepEqual(await local.setPowerCap(id, 450), { ok: true, jobId: id });
    assert.deepEqual(smi.setCalls(), [], 'nothing is set while it waits');
    const waiting = await jobOf(local, id);
    assert.equal(waiting?.state, 'held');
    assert.equal(waiting?.powerCapW, 450);
    cluster.run('scontrol', ['release', native(id)]);
    await running(id);
    await local.reconcile(epochMs(Date.now()));
    const [gpu = -1] = slurmGpus(id);
    assert.deepEqual(smi.setCalls(), [{ index: gpu, watts: 450 }]);
    assert.equal((await jobOf(local, id))?.powerCapW, 450);
    assert.equal((await local.setPowerCap(id, null)).ok, true);
    cluster.run('scancel', [native(id)]);
    await ended(id);
  });

  test('a failing nvidia-smi is a scheduler-error refusal, not an exception', async () => {
    const id = submit(1);
    await running(id);
    smi.fail('all');
    const r = await local.setPowerCap(id, 300);
    assert.equal(refusal(r), 'scheduler-error');
    assert.match(r.ok ? '' : r.reason, /couldn't communicate with the NVIDIA driver/);
    smi.fail('set');
    const s = await local.setPowerCap(id, 300);
    assert.equal(refusal(s), 'scheduler-error');
    assert.match(s.ok ? '' : s.reason, /Insufficient Permissions/);
    smi.fail('none');
    const gone = scheduler({ powerCaps: { nvidiaSmi: `${smi.path}-not-installed`, run: 'local' } });
    const n = await gone.setPowerCap(id, 300);
    assert.equal(refusal(n), 'scheduler-error');
    assert.match(n.ok ? '' : n.reason, /not found/);
    assert.deepEqual(limits(), [700, 700, 700, 700]);
    cluster.run('scancel', [native(id)]);
    await ended(id);
  });

  test("srun mode runs nvidia-smi inside the job's allocation on its node", async () => {
    const viaSrun = scheduler({ powerCaps: { nvidiaSmi: smi.path, run: 'srun' } });
    const id = submit(2);
    await running(id);
    const idx = slurmGpus(id);
    smi.clearCalls();
    assert.deepEqual(await viaSrun.setPowerCap(id, 500), { ok: true, jobId: id });
    assert.ok(
      smi.calls().length > 0 && smi.calls().every((c) => c.slurmJobId === native(id)),
      `every call ran as a step of job ${native(id)}: ${JSON.stringify(smi.calls())}`,
    );
    assert.deepEqual(
      smi.setCalls().map((c) => c.index),
      idx,
    );
    assert.equal((await viaSrun.setPowerCap(id, null)).ok, true);
    assert.deepEqual(limits(), [700, 700, 700, 700]);
    cluster.run('scancel', [native(id)]);
    await ended(id);
  });

  test('with a state file, an agent restarted while a job is capped still restores its GPUs', async () => {
    const stateFile = join(tmp.dir, 'power-caps.json');
    const caps = { nvidiaSmi: smi.path, run: 'local' as const, stateFile };
    const id = submit(2);
    await running(id);
    const idx = slurmGpus(id);
    smi.setLimit(idx[1] ?? 0, 600); // an operator's own limit
    const before = limits();
    assert.equal((await scheduler({ powerCaps: caps }).setPowerCap(id, 300)).ok, true);
    const restarted = scheduler({ powerCaps: caps }); // a new agent process would construct exactly this
    assert.equal((await jobOf(restarted, id))?.powerCapW, 300);
    smi.clearCalls();
    assert.deepEqual(await restarted.setPowerCap(id, null), { ok: true, jobId: id });
    assert.deepEqual(limits(), before, 'back to the 600 W the operator set and 700 W');
    smi.setLimit(idx[1] ?? 0, 700);
    cluster.run('scancel', [native(id)]);
    await ended(id);
  });

  test('reconcile with slurmctld down does not throw: the queue read after it reports the outage', async () => {
    await cluster.stopController();
    try {
      await local.reconcile(epochMs(Date.now()));
      await assert.rejects(
        local.listJobs(),
        (e: unknown) => e instanceof FlexError && e.code === 'FLX_SCHEDULER_UNAVAILABLE',
      );
    } finally {
      await cluster.resumeController();
    }
  });

  test('a site without powerCaps refuses caps as unsupported and runs nothing', async () => {
    const id = submit(1);
    smi.clearCalls();
    const r = await scheduler().setPowerCap(id, 300);
    assert.equal(refusal(r), 'unsupported');
    assert.deepEqual(smi.calls(), []);
    assert.equal(refusal(await local.setPowerCap(`${SITE}:999999`, 300)), 'not-found');
    cluster.run('scancel', [native(id)]);
  });
});

// The whole Scheduler contract once more, with caps on (local mode, the stand-in as nvidia-smi):
// its power-cap case then checks the capable path (an absurd cap refused, 250 W recorded and reported).
schedulerContract('Slurm 22.05 with nvidia-smi power caps (local, stand-in)', () => {
  const smi = powerCapStandin(4);
  return slurmContractEnv(['capcona', 'capconb'], { powerCaps: { nvidiaSmi: smi.path, run: 'local' } }, () =>
    smi.remove(),
  );
});
