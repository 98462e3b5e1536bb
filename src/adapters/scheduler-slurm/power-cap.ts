// GPU power caps for Slurm jobs (issue 13 item 2), applied with nvidia-smi -pl on the GPUs Slurm
// allocated to the job. Slurm 22.05 has no per-job power limit of its own, so FlexLon remembers what
// it capped (per job: node, GPU index, the limit before FlexLon's first cap) and puts it back:
//   null for a running job       restores its GPUs now
//   a job that has ended         restored on the next reconcile (local) or left to the node's Epilog
//                                (srun: the job's allocation is gone, so no step can run on its node)
//   a waiting job                the cap is recorded and applied by the first reconcile after it starts
// What was capped is kept in memory and, with powerCaps.stateFile, in a file read back at start-up.
import type { Actuation, JobState, RefusalCode } from '../../domain/compute.ts';
import { FlexError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { loadCaps, saveCaps, type AppliedCap, type CappedGpu, type CapState } from './cap-store.ts';
import { isUnreachable, type SlurmCommands } from './commands.ts';
import type { ResolvedPowerCaps } from './config.ts';
import { NvidiaSmi, parseJobGpus, type GpuLimits, type NodeGpus, type Target } from './nvidia-smi.ts';

/** What the caps need to know of a job from the last squeue read. */
export interface CapJob {
  readonly id: string;
  readonly slurmJobId: number;
  readonly state: JobState;
}

/** The limits every GPU seen so far allows (the narrowest), for checking a waiting job's cap. */
interface Range {
  readonly minW: number;
  readonly maxW: number;
  readonly defaultW: number;
}

const ok = (jobId: string): Actuation => ({ ok: true, jobId });
const refuse = (jobId: string, reason: string, code: RefusalCode): Actuation => ({ ok: false, jobId, reason, code });
const sameGpu = (a: { node: string; index: number }, b: { node: string; index: number }) =>
  a.node === b.node && a.index === b.index;

export class PowerCaps {
  private readonly smi: NvidiaSmi;
  private readonly state: CapState;
  private readonly applied: Map<string, AppliedCap>;
  /** Caps of waiting jobs, W per GPU, applied when they start. */
  private readonly pending: Map<string, number>;
  private range?: Range;

  constructor(
    private readonly cfg: ResolvedPowerCaps,
    private readonly cmd: SlurmCommands,
    private readonly log?: Logger,
  ) {
    this.smi = new NvidiaSmi(cfg, cmd);
    this.state = loadCaps(cfg.stateFile);
    this.applied = this.state.applied;
    this.pending = this.state.pending;
  }

  /** Keeps the state file in step after every change; a failed write is logged (the caps themselves stand). */
  private save(): void {
    if (this.cfg.stateFile === undefined) return;
    try {
      saveCaps(this.cfg.stateFile, this.state);
    } catch (e) {
      this.log?.error({ file: this.cfg.stateFile, error: (e as Error).message }, 'power-cap state not saved');
    }
  }

  /** The cap FlexLon holds for a job (W per GPU): applied (the highest of its GPUs) or waiting to be. */
  capOf(jobId: string): number | undefined {
    const rec = this.applied.get(jobId);
    if (rec && rec.gpus.length > 0) return Math.max(...rec.gpus.map((g) => g.capW));
    return this.pending.get(jobId);
  }

  /** The deepest cap a job's GPUs allow and their default limit (W), where known. */
  limitsOf(jobId: string): { minW: number; defaultW: number } | undefined {
    const gpus = this.applied.get(jobId)?.gpus ?? [];
    if (gpus.length === 0) return this.range;
    return { minW: Math.max(...gpus.map((g) => g.minW)), defaultW: Math.min(...gpus.map((g) => g.defaultW)) };
  }

  /** Caps (or with null uncaps) one job; the caller has re-read the queue and run `sweep`. */
  async set(job: CapJob, w: number | null): Promise<Actuation> {
    try {
      return await this.dispatch(job, w);
    } finally {
      this.save();
    }
  }

  private dispatch(job: CapJob, w: number | null): Promise<Actuation> {
    switch (job.state) {
      case 'queued':
      case 'held':
        return this.record(job, w);
      case 'running':
        return w === null ? this.lift(job) : this.apply(job, w);
      case 'completed':
      case 'cancelled':
        // Its GPUs are no longer its own: sweep has restored (or handed to the Epilog) what FlexLon set.
        this.pending.delete(job.id);
        return Promise.resolve(
          w === null
            ? ok(job.id)
            : refuse(
                job.id,
                `Slurm job ${job.slurmJobId} has ended; only running or waiting jobs can be capped`,
                'wrong-state',
              ),
        );
      default: {
        const never: never = job.state;
        throw new FlexError('FLX_INTERNAL', `unknown job state ${String(never)}`);
      }
    }
  }

  /**
   * After each queue read (reconcile): restores the GPUs of jobs that are no longer running, then
   * applies the recorded caps of waiting jobs that have started.
   */
  async sweep(jobs: ReadonlyMap<string, CapJob>): Promise<void> {
    try {
      await this.sweepOnce(jobs);
    } finally {
      this.save();
    }
  }

  private async sweepOnce(jobs: ReadonlyMap<string, CapJob>): Promise<void> {
    for (const [id, rec] of [...this.applied]) {
      const j = jobs.get(id);
      if (j?.state === 'running') continue;
      // A job requeued by Slurm waits again: its cap waits with it.
      const cap = this.capOf(id);
      if ((j?.state === 'queued' || j?.state === 'held') && cap !== undefined) this.pending.set(id, cap);
      await this.restoreEnded(id, rec);
    }
    for (const [id, w] of [...this.pending]) {
      const j = jobs.get(id);
      if (j === undefined || j.state === 'completed' || j.state === 'cancelled') this.pending.delete(id);
      if (j?.state !== 'running') continue;
      const r = await this.apply(j, w);
      if (r.ok) continue;
      // A transient failure (nvidia-smi, scontrol) is tried again next time; a cap the GPUs refuse is dropped.
      if (r.code !== 'scheduler-error') this.pending.delete(id);
      this.log?.warn({ job: id, code: r.code, reason: r.reason }, 'recorded GPU power cap not applied at job start');
    }
  }

  private async record(job: CapJob, w: number | null): Promise<Actuation> {
    if (w === null) {
      this.pending.delete(job.id);
      return ok(job.id);
    }
    const range = await this.knownRange();
    if (range && (w < range.minW || w > range.maxW))
      return refuse(
        job.id,
        `${w} W per GPU is outside this site's GPU power limits ${range.minW}–${range.maxW} W`,
        'invalid',
      );
    // Without a known range (srun, no GPU read yet) the cap is checked when the job starts.
    this.pending.set(job.id, w);
    return ok(job.id);
  }

  /** The site's range; an agent on the GPU node (local) can read it before any job runs. */
  private async knownRange(): Promise<Range | undefined> {
    if (this.range || this.cfg.run !== 'local') return this.range;
    const all = await this.smi.limits(undefined);
    if (all.ok) this.learn(all.value);
    return this.range;
  }

  private learn(limits: readonly GpuLimits[]): void {
    const all = [...limits, ...(this.range ? [{ ...this.range, index: -1, limitW: 0 }] : [])];
    if (all.length === 0) return;
    this.range = {
      minW: Math.max(...all.map((g) => g.minW)),
      maxW: Math.min(...all.map((g) => g.maxW)),
      defaultW: Math.min(...all.map((g) => g.defaultW)),
    };
  }

  /** The job's GPUs per node, from `scontrol show job -d`; refusals as values, an unreachable controller thrown. */
  private async gpusOf(job: CapJob): Promise<NodeGpus[] | Actuation> {
    const r = await this.cmd.run('scontrol', ['show', 'job', '-d', String(job.slurmJobId)]);
    if (r.code === 0) return parseJobGpus(r.stdout);
    if (isUnreachable(r.stderr)) throw new FlexError('FLX_SCHEDULER_UNAVAILABLE', `scontrol: ${r.stderr}`);
    const code: RefusalCode = /Invalid job id/i.test(r.stderr) ? 'not-found' : 'scheduler-error';
    return refuse(job.id, `scontrol show job -d ${job.slurmJobId}: ${r.stderr || `exit ${r.code}`}`, code);
  }

  private async apply(job: CapJob, w: number): Promise<Actuation> {
    const where = await this.gpusOf(job);
    if (!Array.isArray(where)) return where;
    if (where.length === 0)
      return refuse(
        job.id,
        `Slurm job ${job.slurmJobId} has no GPUs allocated (no GRES=gpu in scontrol show job -d)`,
        'invalid',
      );
    // Read every GPU first, so a cap one of them refuses changes none of them.
    const read: { t: Target; l: GpuLimits }[] = [];
    for (const g of where) {
      const t = { slurmJobId: job.slurmJobId, node: g.node };
      const r = await this.smi.limits(t, g.indices);
      if (!r.ok) return refuse(job.id, r.reason, 'scheduler-error');
      read.push(...r.value.map((l) => ({ t, l })));
    }
    this.learn(read.map((x) => x.l));
    const out = read.find(({ l }) => w < l.minW || w > l.maxW);
    if (out)
      return refuse(
        job.id,
        `${w} W per GPU is outside the power limits of GPU ${out.l.index} on ${out.t.node}: ${out.l.minW}–${out.l.maxW} W`,
        'invalid',
      );
    const rec = this.applied.get(job.id) ?? { slurmJobId: job.slurmJobId, gpus: [] };
    this.applied.set(job.id, rec);
    for (const { t, l } of read) {
      const gpu = { node: t.node, index: l.index };
      const previousW = rec.gpus.find((g) => sameGpu(g, gpu))?.previousW ?? this.takeOver(job.id, gpu) ?? l.limitW;
      const r = await this.smi.setLimit(t, l.index, w);
      // GPUs already set stay recorded, so null (or the job's end) still puts them back.
      if (!r.ok) return refuse(job.id, r.reason, 'scheduler-error');
      const capped: CappedGpu = { ...gpu, previousW, minW: l.minW, defaultW: l.defaultW, capW: w };
      rec.gpus = [...rec.gpus.filter((g) => !sameGpu(g, gpu)), capped];
    }
    this.pending.delete(job.id);
    return ok(job.id);
  }

  /**
   * A GPU still recorded for an ended job that could not be restored yet now belongs to this job:
   * it takes over that job's saved limit (the one before any FlexLon cap), and the ended job lets go.
   */
  private takeOver(jobId: string, gpu: { node: string; index: number }): number | undefined {
    for (const [id, rec] of this.applied) {
      if (id === jobId) continue;
      const found = rec.gpus.find((g) => sameGpu(g, gpu));
      if (!found) continue;
      rec.gpus = rec.gpus.filter((g) => g !== found);
      if (rec.gpus.length === 0) this.applied.delete(id);
      return found.previousW;
    }
    return undefined;
  }

  /** Puts the job's GPUs back to their saved limit (the default if none was saved); what fails stays recorded. */
  private async restore(jobId: string, rec: AppliedCap, target: (node: string) => Target | undefined) {
    for (const g of [...rec.gpus]) {
      const r = await this.smi.setLimit(target(g.node), g.index, g.previousW > 0 ? g.previousW : g.defaultW);
      if (!r.ok) return refuse(jobId, r.reason, 'scheduler-error');
      rec.gpus = rec.gpus.filter((x) => x !== g);
    }
    this.applied.delete(jobId);
    return ok(jobId);
  }

  private async lift(job: CapJob): Promise<Actuation> {
    this.pending.delete(job.id);
    const rec = this.applied.get(job.id);
    if (!rec) return ok(job.id); // nothing of FlexLon's to lift; a limit someone else set is theirs
    return this.restore(job.id, rec, (node) => ({ slurmJobId: rec.slurmJobId, node }));
  }

  private async restoreEnded(jobId: string, rec: AppliedCap): Promise<void> {
    if (this.cfg.run === 'srun') {
      // No step can run in an allocation that has ended; the node's Epilog restores the limits (docs/schedulers.md).
      this.applied.delete(jobId);
      this.log?.info(
        { job: jobId, gpus: rec.gpus.map((g) => `${g.node}:${g.index}`) },
        'capped job ended: its GPU limits are left to the node Epilog',
      );
      return;
    }
    const r = await this.restore(jobId, rec, () => undefined);
    if (!r.ok)
      this.log?.warn({ job: jobId, reason: r.reason }, 'GPU power limit not restored after the job ended; will retry');
  }
}
