// The Slurm adapter of the Scheduler port. It reads the queue with `squeue --json` (22.05 ignores
// -j/-t there, so it filters itself) and acts with scontrol, sbatch and scancel:
//   defer   scontrol update JobId=N StartTime=<UTC>   (Slurm's own begin time: the job stays queued)
//   hold    AdminComment += flexlon:held, then scontrol hold N
//   release scontrol release N, then AdminComment -= flexlon:held — only if FlexLon's mark is there,
//           so a hold an operator or user placed by hand is never lifted
//   move    scontrol write batch_script N - → sbatch --hold on the other cluster → scancel N here
//   cap     nvidia-smi -i I -pl W on the GPUs Slurm gave the job (power-cap.ts), where the site opts in
//           with `powerCaps`; Slurm 22.05 has no per-job power limit, so without it caps are unsupported.
import type { Actuation, ComputeJob, PortableJob, RefusalCode, SchedulerCapabilities } from '../../domain/compute.ts';
import { epochMs, type EpochMs } from '../../domain/time.ts';
import { kw } from '../../domain/units.ts';
import { FlexError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Scheduler } from '../../ports.ts';
import { isUnreachable, SlurmCommands } from './commands.ts';
import { HOLD_MARK, resolveSlurmConfig, type ResolvedSlurmConfig, type SlurmConfig } from './config.ts';
import { PowerCaps, type CapJob } from './power-cap.ts';
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
  readonly capabilities: SchedulerCapabilities;
  private readonly cfg: ResolvedSlurmConfig;
  private readonly cmd: SlurmCommands;
  /** Present where the site opted in to GPU power caps. */
  private readonly caps?: PowerCaps;
  /** Last squeue snapshot as the caps see it, FlexLon id → job. */
  private capView = new Map<string, CapJob>();
  /** Last squeue snapshot, FlexLon id → squeue record. */
  private byId = new Map<string, SqueueJob>();
  /** Jobs seen running or waiting that have since left squeue (MinJobAge passed between polls). */
  private readonly vanished = new Map<string, ComputeJob>();
  private lastSeen = new Map<string, ComputeJob>();

  constructor(
    config: SlurmConfig,
    private readonly now: () => number = Date.now,
    private readonly log?: Logger,
  ) {
    this.cfg = resolveSlurmConfig(config);
    this.site = this.cfg.site;
    this.cmd = new SlurmCommands(this.cfg);
    if (this.cfg.powerCaps) this.caps = new PowerCaps(this.cfg.powerCaps, this.cmd, log);
    this.capabilities = { kind: 'slurm', beginTimes: true, powerCap: this.caps !== undefined, move: true };
  }

  private async snapshot(): Promise<ComputeJob[]> {
    const jobs = parseSqueue(await this.cmd.must('squeue', ['--json']));
    const now = epochMs(this.now());
    const out = jobs.map((j) => ({ raw: j, job: this.withCap(toComputeJob(this.cfg, j, now)) }));
    this.byId = new Map(out.map((x) => [x.job.id, x.raw]));
    this.capView = new Map(out.map((x) => [x.job.id, { id: x.job.id, slurmJobId: x.raw.job_id, state: x.job.state }]));
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

  /**
   * The job with FlexLon's cap on it and, where its GPUs' limits are known, the lowest power it can
   * run at: a GPU under a cap draws no more than the cap, and what the job is estimated to draw
   * above its GPUs' default limits is taken as non-GPU power that a cap does not touch. An upper
   * bound on the capped draw, so a reduction offered on it is one the job can deliver.
   */
  private withCap(job: ComputeJob): ComputeJob {
    if (!this.caps || job.gpus === 0 || !this.cfg.partitions.has(job.queue ?? '')) return job;
    const capW = this.caps.capOf(job.id);
    const limits = this.caps.limitsOf(job.id);
    const minKw = limits
      ? Math.min(
          job.powerKw,
          (job.gpus * limits.minW) / 1000 + Math.max(0, job.powerKw - (job.gpus * limits.defaultW) / 1000),
        )
      : undefined;
    return {
      ...job,
      ...(capW === undefined ? {} : { powerCapW: capW }),
      ...(minKw === undefined || minKw >= job.powerKw || !limits
        ? {}
        : {
            minPowerKw: kw(minKw),
            // minPowerKw is drawn at the GPUs' min limit, full power at their default limit.
            powerCapRangeW: { minW: limits.minW, maxW: limits.defaultW },
          }),
    };
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

  /**
   * Caps the GPUs of a running job (nvidia-smi -pl on each GPU Slurm gave it), records the cap of a
   * waiting job for when it starts, and with null puts back the limits FlexLon changed. Jobs of
   * partitions FlexLon does not manage are never capped.
   */
  async setPowerCap(jobId: string, wattsPerGpu: number | null): Promise<Actuation> {
    if (!this.caps)
      return refuse(
        jobId,
        "Slurm 22.05 cannot cap a job's GPU power by itself (no per-job power limit), and this site has not enabled FlexLon's nvidia-smi caps (slurm.powerCaps)",
        'unsupported',
      );
    if (wattsPerGpu !== null && !(Number.isFinite(wattsPerGpu) && wattsPerGpu > 0))
      return refuse(jobId, `a power cap must be a positive number of watts per GPU, got ${wattsPerGpu}`, 'invalid');
    await this.snapshot();
    await this.caps.sweep(this.capView);
    const j = this.byId.get(jobId);
    const view = this.capView.get(jobId);
    if (!j || !view) return refuse(jobId, `no job ${jobId} in Slurm at site ${this.site}`, 'not-found');
    if (!this.cfg.partitions.has(j.partition))
      return refuse(
        jobId,
        `Slurm job ${j.job_id} is in partition ${j.partition}, which FlexLon does not manage`,
        'wrong-state',
      );
    return this.caps.set(view, wattsPerGpu);
  }

  /**
   * Puts back the GPU limits of capped jobs that have ended and applies recorded caps to jobs that
   * have started. An unreadable controller is left to the queue read that follows (the agent then
   * reports its last known queue as stale), so it is logged here, not thrown.
   */
  async reconcile(_now: EpochMs): Promise<void> {
    if (!this.caps) return;
    try {
      await this.snapshot();
      await this.caps.sweep(this.capView);
    } catch (e) {
      if (!(e instanceof FlexError && (e.code === 'FLX_SCHEDULER_UNAVAILABLE' || e.code === 'FLX_SCHEDULER_COMMAND')))
        throw e;
      this.log?.warn({ code: e.code, error: e.message }, 'power caps not reconciled: Slurm unreadable');
    }
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
