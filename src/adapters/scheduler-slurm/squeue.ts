// Reads `squeue --json` (Slurm 22.05, openapi/v0.0.38) and turns each job into a ComputeJob with
// its flexibility metadata. Only the fields used here are typed; their shape is checked, because a
// different Slurm release may rename them and a silent misread would plan with wrong numbers.
import type { ComputeJob, JobState } from '../../domain/compute.ts';
import { metadataFromText, resolveMetadata, type QueuePolicy } from '../../domain/job-metadata.ts';
import { epochMs, type EpochMs } from '../../domain/time.ts';
import { kwh } from '../../domain/units.ts';
import { FlexError } from '../../errors.ts';
import { HOLD_MARK, type ResolvedSlurmConfig } from './config.ts';

export interface SqueueJob {
  readonly job_id: number;
  readonly name: string;
  readonly job_state: string;
  readonly state_reason: string;
  readonly priority: number;
  readonly partition: string;
  readonly qos: string;
  readonly comment: string;
  readonly admin_comment: string;
  readonly user_name: string;
  /** Epoch seconds; 0 when unset. */
  readonly submit_time: number;
  readonly start_time: number;
  readonly end_time: number;
  readonly eligible_time: number;
  readonly deadline: number;
  /** Minutes; NO_VAL/INFINITE are ≥ 4294967294. */
  readonly time_limit: number;
  readonly tres_per_node: string;
  readonly tres_per_job: string;
  readonly node_count: number;
  readonly cpus: number;
  readonly cpus_per_task: number;
  readonly current_working_directory: string;
}

const NUMBER_FIELDS = ['job_id', 'priority', 'submit_time'] as const;
/** Numbers Slurm leaves out or sets to null for some jobs (a job cancelled while pending has no cpus). */
const OPTIONAL_NUMBERS = [
  'start_time',
  'end_time',
  'eligible_time',
  'deadline',
  'time_limit',
  'node_count',
  'cpus',
  'cpus_per_task',
] as const;
const STRING_FIELDS = ['name', 'job_state'] as const;
const OPTIONAL_STRINGS = [
  'state_reason',
  'partition',
  'qos',
  'comment',
  'admin_comment',
  'user_name',
  'tres_per_node',
  'tres_per_job',
  'current_working_directory',
] as const;

/** Parses squeue's output; errors reported inside the JSON (22.05 exits 0 when slurmctld is down) are thrown. */
export const parseSqueue = (stdout: string): SqueueJob[] => {
  let doc: { errors?: { description?: string; error?: string }[]; jobs?: unknown[] };
  try {
    doc = JSON.parse(stdout) as typeof doc;
  } catch {
    throw new FlexError(
      'FLX_SCHEDULER_COMMAND',
      'squeue --json did not print JSON: is this Slurm 22.05 or later with the serializer_json plugin?',
    );
  }
  if (Array.isArray(doc.errors) && doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new FlexError(
      'FLX_SCHEDULER_UNAVAILABLE',
      `squeue: ${e?.description ?? 'error'} (${e?.error ?? 'unknown'}): is slurmctld running?`,
    );
  }
  if (!Array.isArray(doc.jobs)) throw new FlexError('FLX_SCHEDULER_COMMAND', 'squeue --json printed no "jobs" list');
  return doc.jobs.map((raw, i) => {
    const j = raw as Record<string, unknown>;
    for (const f of NUMBER_FIELDS)
      if (typeof j[f] !== 'number')
        throw new FlexError(
          'FLX_SCHEDULER_COMMAND',
          `squeue --json: jobs[${i}].${f} is not a number; this Slurm release's JSON is not the 22.05 (v0.0.38) shape FlexLon reads`,
        );
    for (const f of STRING_FIELDS)
      if (typeof j[f] !== 'string')
        throw new FlexError(
          'FLX_SCHEDULER_COMMAND',
          `squeue --json: jobs[${i}].${f} is not a string; this Slurm release's JSON is not the 22.05 (v0.0.38) shape FlexLon reads`,
        );
    const job: Record<string, unknown> = { ...j };
    for (const f of OPTIONAL_NUMBERS) if (typeof j[f] !== 'number') job[f] = 0;
    for (const f of OPTIONAL_STRINGS) if (typeof j[f] !== 'string') job[f] = '';
    return job as unknown as SqueueJob;
  });
};

const ENDED: Readonly<Record<string, JobState>> = {
  COMPLETED: 'completed',
  FAILED: 'completed',
  TIMEOUT: 'completed',
  NODE_FAIL: 'completed',
  OUT_OF_MEMORY: 'completed',
  BOOT_FAIL: 'completed',
  DEADLINE: 'completed',
  PREEMPTED: 'completed',
  CANCELLED: 'cancelled',
  REVOKED: 'cancelled',
};
const HOLD_REASONS = new Set(['JobHeldAdmin', 'JobHeldUser']);

export const isHeld = (j: SqueueJob): boolean =>
  j.job_state === 'PENDING' && (j.priority === 0 || HOLD_REASONS.has(j.state_reason));
export const hasHoldMark = (j: SqueueJob): boolean => j.admin_comment.split(/\s+/).includes(HOLD_MARK);

const stateOf = (j: SqueueJob): JobState => {
  if (j.job_state === 'PENDING') return isHeld(j) ? 'held' : 'queued';
  return ENDED[j.job_state] ?? 'running'; // RUNNING, CONFIGURING, COMPLETING, SUSPENDED, RESIZING
};

/** GPUs the job asked for: gres:gpu[:type]:N per node (× nodes) or per job. */
export const gpusOf = (j: SqueueJob): number => {
  const count = (tres: string | undefined): number => {
    const m = /(?:^|,)gres[:/]gpu(?::[\w.-]+)?:(\d+)/.exec(tres ?? '');
    return m ? Number(m[1]) : 0;
  };
  return count(j.tres_per_node) * Math.max(1, j.node_count) || count(j.tres_per_job);
};

const seconds = (s: number): EpochMs | undefined => (s > 0 ? epochMs(s * 1000) : undefined);

/** The policy for a job: its partition's (or the unmanaged one), with its QoS's overrides. */
export const policyOf = (cfg: ResolvedSlurmConfig, j: SqueueJob): { policy: QueuePolicy; managed: boolean } => {
  const partition = cfg.partitions.get(j.partition);
  if (!partition) return { policy: cfg.unmanaged, managed: false };
  return { policy: { ...partition, ...(cfg.qos.get(j.qos) ?? {}) }, managed: true };
};

/** One squeue job as FlexLon sees it, at `now`. */
export const toComputeJob = (cfg: ResolvedSlurmConfig, j: SqueueJob, now: EpochMs): ComputeJob => {
  const { policy, managed } = policyOf(cfg, j);
  const submittedAt = seconds(j.submit_time) ?? now;
  const gpus = gpusOf(j);
  const text = metadataFromText(j.comment, `job ${j.job_id} --comment`);
  const meta = resolveMetadata(
    text.fields,
    {
      site: cfg.site,
      submittedAt,
      gpus,
      cpus: j.cpus,
      ...(j.time_limit > 0 && j.time_limit < 4_294_967_294 ? { timeLimitMinutes: j.time_limit } : {}),
      ...(j.deadline > 0 ? { nativeDeadlineAt: epochMs(j.deadline * 1000) } : {}),
    },
    policy,
    `job ${j.job_id} --comment`,
    text.issues,
  );
  const state = stateOf(j);
  const startedAt = state === 'running' || state === 'completed' ? seconds(j.start_time) : undefined;
  const finishedAt = state === 'completed' || state === 'cancelled' ? seconds(j.end_time) : undefined;
  const ranH =
    startedAt === undefined
      ? 0
      : Math.max(0, (state === 'running' ? now : (finishedAt ?? now)) - startedAt) / 3_600_000;
  // A running job's remaining energy is its estimate less what it has run; never 0 while it still runs.
  const remaining =
    state === 'completed' || state === 'cancelled'
      ? 0
      : Math.max(meta.energyKwh - meta.powerKw * ranH, state === 'running' ? meta.powerKw / 60 : 0);
  // Before its begin time, eligible_time is the begin time; otherwise it equals the submit time.
  const beginAt =
    (state === 'queued' || state === 'held') && j.eligible_time > j.submit_time ? seconds(j.eligible_time) : undefined;
  return {
    id: meta.flexId ?? `${cfg.site}:${j.job_id}`,
    nativeId: String(j.job_id),
    name: j.name,
    site: cfg.site,
    // The operator's partition set-up wins over a user's comment: FlexLon never moves jobs of partitions it does not manage.
    slo: managed ? meta.slo : 'inflexible',
    gpus,
    powerKw: meta.powerKw,
    energyKwh: meta.energyKwh,
    remainingKwh: kwh(remaining),
    submittedAt,
    releaseAt: submittedAt,
    deadlineAt: meta.deadlineAt,
    preemptible: meta.preemptible,
    allowedSites: meta.allowedSites.includes(cfg.site) ? meta.allowedSites : [cfg.site, ...meta.allowedSites],
    work: meta.work,
    workUnit: meta.workUnit,
    state,
    queue: j.partition,
    ...(state === 'held' ? { heldBy: hasHoldMark(j) ? ('flexlon' as const) : ('other' as const) } : {}),
    ...(beginAt === undefined ? {} : { beginAt }),
    ...(startedAt === undefined ? {} : { startedAt }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
    ...(meta.issues.length > 0 ? { metadataIssues: meta.issues } : {}),
  };
};
