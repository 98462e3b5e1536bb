// The Slurm adapter of the Scheduler port. It reads the queue with `squeue --json` (22.05 ignores
// -j/-t there, so it filters itself) and acts with scontrol, sbatch and scancel:
//   defer   scontrol update JobId=N StartTime=<UTC>   (Slurm's own begin time: the job stays queued)
//   hold    AdminComment += flexlon:held, then scontrol hold N
//   release scontrol release N, then AdminComment -= flexlon:held — only if FlexLon's mark is there,
//           so a hold an operator or user placed by hand is never lifted
//   move    scontrol write batch_script N - → sbatch --hold on the other cluster → scancel N here
// Slurm 22.05 has no per-job GPU power cap, so setPowerCap is refused as unsupported.
import type { Actuation, ComputeJob, PortableJob, RefusalCode, SchedulerCapabilities } from '../../domain/compute.ts';
import { epochMs, type EpochMs } from '../../domain/time.ts';
import { FlexError } from '../../errors.ts';
import type { Scheduler } from '../../ports.ts';
import { isUnreachable, SlurmCommands } from './commands.ts';
import { HOLD_MARK, resolveSlurmConfig, type ResolvedSlurmConfig, type SlurmConfig } from './config.ts';
import { hasHoldMark, isHeld, parseSqueue, toComputeJob, type SqueueJob } from './squeue.ts';

export type { SlurmConfig } from './config.ts';

/** What a moved Slurm job carries: its batch script and the sbatch options that reproduce it. */
export interface SlurmJobSpec {
  readonly script: string;
  readonly name: string;
  readonly partition: string;
  readonly timeLimitMinutes?: number;
  readonly gres?: string;
  readonly cpusPerTask?: number;
  readonly workDir?: string;
  readonly comment: string;
}

const ok = (jobId: string): Actuation => ({ ok: true, jobId });
const refuse = (jobId: string, reason: string, code: RefusalCode): Actuation => ({ ok: false, jobId, reason, code });
const utc = (t: number): string => new Date(t).toISOString().slice(0, 19);

export class SlurmScheduler implements Scheduler {
  readonly site: string;
  readonly capabilities: SchedulerCapabilities = { kind: 'slurm', beginTimes: true, powerCap: false, move: true };
  private readonly cfg: ResolvedSlurmConfig;
  private readonly cmd: SlurmCommands;
  /** Last squeue snapshot, FlexLon id → squeue record. */
  private byId = new Map<string, SqueueJob>();
  /** Jobs seen running or waiting that have since left squeue (MinJobAge passed between polls). */
  private readonly vanished = new Map<string, ComputeJob>();
  private lastSeen = new Map<string, ComputeJob>();

  constructor(
    config: SlurmConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.cfg = resolveSlurmConfig(config);
    this.site = this.cfg.site;
    this.cmd = new SlurmCommands(this.cfg);
  }

  private async snapshot(): Promise<ComputeJob[]> {
    const jobs = parseSqueue(await this.cmd.must('squeue', ['--json']));
    const now = epochMs(this.now());
    const out = jobs.map((j) => ({ raw: j, job: toComputeJob(this.cfg, j, now) }));
    this.byId = new Map(out.map((x) => [x.job.id, x.raw]));
    const seen = new Map(out.map((x) => [x.job.id, x.job]));
    for (const [id, job] of this.lastSeen) {
      if (!seen.has(id) && (job.state === 'running' || job.state === 'queued' || job.state === 'held')) {
        this.vanished.set(id, {
          ...job,
          state: job.state === 'running' ? 'completed' : 'cancelled',
          remainingKwh: job.remainingKwh,
          finishedAt: now,
        });
      }
    }
    this.lastSeen = seen;
    return out.map((x) => x.job);
  }

  listJobs(): Promise<ComputeJob[]> {
    return this.snapshot();
  }

  async finishedSince(since: EpochMs): Promise<ComputeJob[]> {
    const jobs = await this.snapshot();
    const ended = jobs.filter(
      (j) => (j.state === 'completed' || j.state === 'cancelled') && (j.finishedAt ?? 0) >= since,
    );
    return [...ended, ...[...this.vanished.values()].filter((j) => (j.finishedAt ?? 0) >= since)];
  }

  /** The squeue record of a job, re-reading the queue if the job is not in the last snapshot. */
  private async find(jobId: string): Promise<SqueueJob | undefined> {
    return this.byId.get(jobId) ?? (await this.snapshot(), this.byId.get(jobId));
  }

  /** Runs `f` on a pending job of a managed partition, after a fresh read of the queue. */
  private async pending(jobId: string, verb: string, f: (j: SqueueJob) => Promise<Actuation>): Promise<Actuation> {
    await this.snapshot();
    const j = this.byId.get(jobId);
    if (!j) return refuse(jobId, `no job ${jobId} in Slurm at site ${this.site}`, 'not-found');
    if (j.job_state !== 'PENDING')
      return refuse(jobId, `Slurm job ${j.job_id} is ${j.job_state}; only pending jobs can be ${verb}`, 'wrong-state');
    if (!this.cfg.partitions.has(j.partition))
      return refuse(
        jobId,
        `Slurm job ${j.job_id} is in partition ${j.partition}, which FlexLon does not manage`,
        'wrong-state',
      );
    return f(j);
  }

  /** scontrol for one job: a refusal by Slurm becomes a value; an unreachable controller is thrown. */
  private async scontrol(jobId: string, args: string[]): Promise<Actuation> {
    const r = await this.cmd.run('scontrol', args);
    if (r.code === 0) return ok(jobId);
    if (isUnreachable(r.stderr)) throw new FlexError('FLX_SCHEDULER_UNAVAILABLE', `scontrol: ${r.stderr}`);
    const code: RefusalCode = /Invalid job id/i.test(r.stderr)
      ? 'not-found'
      : /already (finished|completed)|not pending|Job is no longer pending/i.test(r.stderr)
        ? 'wrong-state'
        : 'scheduler-error';
    return refuse(jobId, `scontrol ${args.join(' ')}: ${r.stderr || `exit ${r.code}`}`, code);
  }

  private setAdminComment(jobId: string, j: SqueueJob, marked: boolean): Promise<Actuation> {
    const others = j.admin_comment.split(/\s+/).filter((t) => t !== '' && t !== HOLD_MARK);
    return this.scontrol(jobId, [
      'update',
      `JobId=${j.job_id}`,
      `AdminComment=${[...others, ...(marked ? [HOLD_MARK] : [])].join(' ')}`,
    ]);
  }

  deferUntil(jobId: string, until: EpochMs): Promise<Actuation> {
    return this.pending(jobId, 'deferred', async (j) => {
      if (!Number.isFinite(until)) return refuse(jobId, `until is not a time: ${until}`, 'invalid');
      return this.scontrol(jobId, [
        'update',
        `JobId=${j.job_id}`,
        `StartTime=${until <= this.now() ? 'now' : utc(until)}`,
      ]);
    });
  }

  hold(jobId: string): Promise<Actuation> {
    return this.pending(jobId, 'held', async (j) => {
      if (isHeld(j)) return ok(jobId); // already held (by FlexLon or by hand): nothing to add, and the owner stays who it was
      // Mark first: a crash between the two steps leaves a marked queued job (harmless), never an unmarked FlexLon hold.
      const marked = await this.setAdminComment(jobId, j, true);
      return marked.ok ? this.scontrol(jobId, ['hold', String(j.job_id)]) : marked;
    });
  }

  release(jobId: string): Promise<Actuation> {
    return this.pending(jobId, 'released', async (j) => {
      if (!isHeld(j)) return hasHoldMark(j) ? this.setAdminComment(jobId, j, false) : ok(jobId);
      if (!hasHoldMark(j))
        return refuse(
          jobId,
          `Slurm job ${j.job_id} was held by hand (${j.state_reason}), not by FlexLon; FlexLon leaves it to whoever held it`,
          'held-by-other',
        );
      const released = await this.scontrol(jobId, ['release', String(j.job_id)]);
      return released.ok ? this.setAdminComment(jobId, j, false) : released;
    });
  }

  cancel(jobId: string): Promise<Actuation> {
    return this.pending(jobId, 'cancelled', async (j) => {
      const r = await this.cmd.run('scancel', [String(j.job_id)]);
      if (r.code === 0) return ok(jobId);
      if (isUnreachable(r.stderr)) throw new FlexError('FLX_SCHEDULER_UNAVAILABLE', `scancel: ${r.stderr}`);
      return refuse(jobId, `scancel ${j.job_id}: ${r.stderr}`, 'scheduler-error');
    });
  }

  async exportJob(jobId: string): Promise<PortableJob | undefined> {
    const j = await this.find(jobId);
    if (!j || j.job_state !== 'PENDING') return undefined;
    const job = toComputeJob(this.cfg, j, epochMs(this.now()));
    const script = await this.cmd.must('scontrol', ['write', 'batch_script', String(j.job_id), '-']);
    const spec: SlurmJobSpec = {
      script,
      name: j.name,
      partition: j.partition,
      comment: withId(j.comment, job.id),
      ...(j.time_limit > 0 && j.time_limit < 4_294_967_294 ? { timeLimitMinutes: j.time_limit } : {}),
      ...(j.tres_per_node ? { gres: j.tres_per_node.replace(/^gres[:/]/, '') } : {}),
      ...(j.cpus_per_task > 0 && j.cpus_per_task < 65_534 ? { cpusPerTask: j.cpus_per_task } : {}),
      ...(j.current_working_directory ? { workDir: j.current_working_directory } : {}),
    };
    return { id: job.id, kind: 'slurm', job, spec };
  }

  /** Submits a job moved from another Slurm cluster, held by FlexLon; its comment carries its FlexLon id. */
  async importJob(moved: PortableJob): Promise<Actuation> {
    if (moved.kind !== 'slurm')
      return refuse(moved.id, `a ${moved.kind} job cannot be submitted to Slurm`, 'unsupported');
    if (!moved.job.allowedSites.includes(this.site))
      return refuse(moved.id, `job ${moved.id} may run only at ${moved.job.allowedSites.join(', ')}`, 'invalid');
    const s = moved.spec as SlurmJobSpec;
    if (typeof s?.script !== 'string' || typeof s.name !== 'string')
      return refuse(moved.id, 'the moved job has no batch script', 'invalid');
    const args = [
      '--parsable',
      '--hold',
      `--job-name=${s.name}`,
      `--comment=${withId(s.comment, moved.id)}`,
      ...(this.cfg.partitions.has(s.partition) ? [`--partition=${s.partition}`] : []),
      ...(s.timeLimitMinutes ? [`--time=${s.timeLimitMinutes}`] : []),
      ...(s.gres ? [`--gres=${s.gres}`] : []),
      ...(s.cpusPerTask ? [`--cpus-per-task=${s.cpusPerTask}`] : []),
      ...(s.workDir ? [`--chdir=${s.workDir}`] : []),
    ];
    const r = await this.cmd.run('sbatch', args, s.script);
    if (r.code !== 0) {
      if (isUnreachable(r.stderr)) throw new FlexError('FLX_SCHEDULER_UNAVAILABLE', `sbatch: ${r.stderr}`);
      return refuse(moved.id, `sbatch at ${this.site}: ${r.stderr}`, 'scheduler-error');
    }
    const nativeId = r.stdout.trim().split(';')[0] ?? '';
    return this.scontrol(moved.id, ['update', `JobId=${nativeId}`, `AdminComment=${HOLD_MARK}`]);
  }

  setPowerCap(jobId: string, _wattsPerGpu: number | null): Promise<Actuation> {
    return Promise.resolve(
      refuse(
        jobId,
        "Slurm 22.05 cannot cap a job's GPU power (no per-job power limit); use a node-level agent (nvidia-smi -pl in a prolog) or run the job at a lower --gpu-freq",
        'unsupported',
      ),
    );
  }
}

/** The job's comment with its FlexLon id set, keeping what else it said. */
const withId = (comment: string, id: string): string => {
  try {
    const obj = JSON.parse(comment) as unknown;
    if (typeof obj === 'object' && obj !== null && !Array.isArray(obj)) {
      const o = obj as Record<string, unknown>;
      if (typeof o.flexlon === 'object' && o.flexlon !== null)
        return JSON.stringify({ ...o, flexlon: { ...(o.flexlon as object), id } });
      return JSON.stringify({ ...o, id });
    }
  } catch {
    /* free text: wrap it */
  }
  return JSON.stringify(comment.trim() === '' ? { id } : { id, note: comment });
};
