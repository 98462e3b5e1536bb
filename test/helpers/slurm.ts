// Real Slurm for tests: munged, slurmctld and slurmd (Debian slurm-wlm 22.05) started in the
// foreground as children of the test process, in a temporary directory, on free ports, with four
// fake GPUs (character devices made with mknod: slurmd drops file-less GPUs and rejects regular
// files). Everything is stopped by pid afterwards and the directory removed; nothing is left running.
// Needs root (mknod, munge user) and the packages `slurm-wlm munge` (.ci/run installs them).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './run-process.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './shared.ts';

export const slurmAvailable = (): string | undefined => {
  if (process.getuid?.() !== 0) return 'Slurm tests need root (mknod for fake GPUs, the munge user)';
  for (const bin of ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/squeue']) {
    if (!existsSync(bin))
      return `${bin} is missing: apt-get install -y --no-install-recommends slurm-wlm munge (.ci/run does this)`;
  }
  return undefined;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined) or the generous deadline passes. */
export const eventually = async <T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  deadlineMs = 60_000,
  everyMs = 250,
): Promise<T> => {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
};

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

const start = (
  file: string,
  args: string[],
  opts: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {},
): ChildProcess => {
  const child = spawn(file, args, {
    stdio: 'ignore',
    env: opts.env ?? process.env,
    ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid }),
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};

const stopChild = async (c: ChildProcess, deadlineMs = 15_000): Promise<void> => {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  const timedOut = await Promise.race([exited.then(() => false), sleep(deadlineMs).then(() => true)]);
  if (timedOut) {
    c.kill('SIGKILL');
    await exited;
  }
};

/** One munged for any number of test clusters. */
export class TestMunge {
  private constructor(
    readonly dir: string,
    readonly socket: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(dir: string): Promise<TestMunge> {
    const uid = Number(execFileSync('id', ['-u', 'munge']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'munge']).toString().trim());
    const m = join(dir, 'munge');
    const run = join(m, 'run');
    mkdirSync(run, { recursive: true });
    // munged insists the socket directory is reachable by all and the key is private to it.
    chmodSync(dir, 0o755);
    chmodSync(m, 0o711);
    chmodSync(run, 0o755);
    chownSync(m, uid, gid);
    chownSync(run, uid, gid);
    execFileSync('mungekey', ['-c', '-k', join(m, 'munge.key')], { uid, gid });
    const socket = join(run, 'munge.socket');
    const child = start(
      '/usr/sbin/munged',
      [
        '-F',
        `--socket=${socket}`,
        `--key-file=${join(m, 'munge.key')}`,
        `--log-file=${join(m, 'munged.log')}`,
        `--pid-file=${join(m, 'munged.pid')}`,
        `--seed-file=${join(m, 'munged.seed')}`,
      ],
      { uid, gid },
    );
    await eventually('munged socket', () => (existsSync(socket) ? true : undefined), 20_000, 100);
    return new TestMunge(dir, socket, child);
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

export interface TestSlurmOptions {
  readonly name: string;
  /** Partitions on the one node; the first is the default. */
  readonly partitions?: readonly string[];
  /** Install deploy/slurm/job_submit.lua so jobs in these partitions arrive held by FlexLon. */
  readonly admissionHoldPartitions?: readonly string[];
}

/** One single-node Slurm cluster with 8 CPUs and 4 fake GPUs. */
export class TestSlurm {
  private procs: ChildProcess[] = [];
  private constructor(
    readonly dir: string,
    readonly conf: string,
    readonly name: string,
  ) {}

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, SLURM_CONF: this.conf, TZ: 'UTC' };
  }

  static async start(munge: TestMunge, o: TestSlurmOptions): Promise<TestSlurm> {
    const dir = join(munge.dir, o.name);
    for (const d of ['state', 'spool', 'log', 'dev']) mkdirSync(join(dir, d), { recursive: true });
    for (let i = 0; i < 4; i++) execFileSync('mknod', [join(dir, 'dev', `nvidia${i}`), 'c', '195', String(i)]);
    const [ctld, slurmd] = [await freePort(), await freePort()];
    const parts = o.partitions ?? ['batch'];
    const conf = join(dir, 'slurm.conf');
    writeFileSync(
      conf,
      [
        `ClusterName=${o.name}`,
        'SlurmctldHost=localhost(127.0.0.1)',
        'AuthType=auth/munge',
        `AuthInfo=socket=${munge.socket}`,
        'CredType=cred/munge',
        'SlurmUser=root',
        'SlurmdUser=root',
        `SlurmctldPort=${ctld}`,
        `SlurmdPort=${slurmd}`,
        `StateSaveLocation=${dir}/state`,
        `SlurmdSpoolDir=${dir}/spool`,
        `SlurmctldPidFile=${dir}/slurmctld.pid`,
        `SlurmdPidFile=${dir}/slurmd.pid`,
        `SlurmctldLogFile=${dir}/log/slurmctld.log`,
        `SlurmdLogFile=${dir}/log/slurmd.log`,
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'SwitchType=switch/none',
        'MpiDefault=none',
        'SchedulerType=sched/backfill',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_Core',
        'SlurmdParameters=config_overrides',
        'ReturnToService=2',
        'GresTypes=gpu',
        'AccountingStorageType=accounting_storage/none',
        'JobAcctGatherType=jobacct_gather/none',
        'JobCompType=jobcomp/none',
        'MinJobAge=600',
        'MessageTimeout=5',
        ...(o.admissionHoldPartitions ? ['JobSubmitPlugins=lua'] : []),
        'NodeName=node1 NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=16000 Gres=gpu:4 State=UNKNOWN',
        ...parts.map(
          (p, i) => `PartitionName=${p} Nodes=ALL ${i === 0 ? 'Default=YES ' : ''}MaxTime=INFINITE State=UP`,
        ),
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'gres.conf'), `NodeName=node1 Name=gpu File=${dir}/dev/nvidia[0-3]\n`);
    if (o.admissionHoldPartitions) {
      // The shipped job_submit.lua, with this test's managed partitions filled in.
      const lua = readFileSync(join(projectRoot, 'deploy', 'slurm', 'job_submit.lua'), 'utf8');
      writeFileSync(
        join(dir, 'job_submit.lua'),
        lua.replace(
          /FLEXLON_PARTITIONS = \{[^}]*\}/,
          `FLEXLON_PARTITIONS = { ${o.admissionHoldPartitions.map((p) => `["${p}"] = true`).join(', ')} }`,
        ),
      );
    }
    const s = new TestSlurm(dir, conf, o.name);
    const env = s.env;
    s.procs.push(start('/usr/sbin/slurmctld', ['-D', '-f', conf], { env }));
    await eventually(
      `${o.name} slurmctld`,
      () => (s.run('scontrol', ['ping']).includes('UP') ? true : undefined),
      30_000,
    );
    s.procs.push(start('/usr/sbin/slurmd', ['-D', '-N', 'node1', '-f', conf], { env }));
    await eventually(
      `${o.name} node idle`,
      () => (/idle/.test(s.run('sinfo', ['-h', '-o', '%T'])) ? true : undefined),
      30_000,
    );
    return s;
  }

  run(cmd: string, args: readonly string[], input?: string): string {
    // From the cluster's own directory, so job output files (slurm-N.out) land there, not in the repo.
    return execFileSync(cmd, args, { env: this.env, input: input ?? '', timeout: 30_000, cwd: this.dir }).toString();
  }

  /** sbatch as a user would run it; returns the Slurm job id. */
  sbatch(args: readonly string[]): string {
    return (
      this.run('sbatch', ['--parsable', ...args])
        .trim()
        .split(';')[0] ?? ''
    );
  }

  squeue(): {
    job_id: number;
    job_state: string;
    state_reason: string;
    priority: number;
    eligible_time: number;
    admin_comment: string;
  }[] {
    return (JSON.parse(this.run('squeue', ['--json'])) as { jobs: ReturnType<TestSlurm['squeue']> }).jobs;
  }

  job(id: string) {
    const j = this.squeue().find((x) => String(x.job_id) === id);
    if (!j) throw new Error(`no job ${id} in ${this.name}`);
    return j;
  }

  /** Stops slurmctld only (to test an unreachable controller); `resume` starts it again from its state. */
  async stopController(): Promise<void> {
    const c = this.procs[0];
    if (c) await stopChild(c);
  }

  async resumeController(): Promise<void> {
    const c = start('/usr/sbin/slurmctld', ['-D', '-f', this.conf], { env: this.env });
    this.procs[0] = c;
    await eventually(
      `${this.name} slurmctld`,
      () => (this.run('scontrol', ['ping']).includes('UP') ? true : undefined),
      30_000,
    );
  }

  /** Cancels every job, waits until none runs, then stops slurmd and slurmctld by pid. */
  async stop(): Promise<void> {
    try {
      const ids = this.squeue()
        .filter((j) => !['COMPLETED', 'CANCELLED', 'FAILED', 'TIMEOUT'].includes(j.job_state))
        .map((j) => String(j.job_id));
      if (ids.length > 0) this.run('scancel', ids);
      await eventually(
        `${this.name} jobs to end`,
        () =>
          this.squeue().every((j) => !['RUNNING', 'COMPLETING', 'CONFIGURING'].includes(j.job_state))
            ? true
            : undefined,
        30_000,
      );
    } catch {
      // The controller may be down already; stopping the daemons below still ends everything.
    }
    for (const c of [...this.procs].reverse()) await stopChild(c);
  }
}

/** A temp directory for Slurm and munge that the munge user can traverse. */
export const slurmTempDir = (): { dir: string; remove: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-slurm-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
};
