// How FlexLon reads a Kubernetes batch/v1 Job: its state, its GPUs, its FlexLon metadata from
// annotations, and who holds it. Pure functions over the Job object.
//
// Holds follow Kueue's pattern (kueue.x-k8s.io/queue-name + spec.suspend): a Job created suspended
// with the `flexlon.io/queue` label waits for FlexLon to admit it. After admission FlexLon marks
// the Job `flexlon.io/admitted`; from then on only FlexLon's own mark `flexlon.io/held` makes a
// suspension FlexLon's. A Job someone suspends by hand (`kubectl patch … suspend: true`) carries
// neither and is never resumed by FlexLon. A Job FlexLon itself keeps suspended until its begin
// time looks the same as one an operator suspends again, so operators who hold such a Job also set
// `flexlon.io/held-by: <who>` (docs/schedulers.md).
import type { V1Job } from '@kubernetes/client-node';
import type { ComputeJob, JobState } from '../../domain/compute.ts';
import {
  metadataFromText,
  METADATA_FIELDS,
  resolveMetadata,
  type MetadataFields,
  type QueuePolicy,
} from '../../domain/job-metadata.ts';
import { epochMs, type EpochMs } from '../../domain/time.ts';
import { kwh } from '../../domain/units.ts';

export const ANNOTATION = {
  /** All metadata as one JSON object (the same fields as a Slurm --comment). */
  flex: 'flexlon.io/flex',
  held: 'flexlon.io/held',
  admitted: 'flexlon.io/admitted',
  beginAt: 'flexlon.io/begin-at',
  id: 'flexlon.io/id',
  /** Set by an operator (any value but "flexlon") on a suspended Job: FlexLon must leave it suspended. */
  heldBy: 'flexlon.io/held-by',
} as const;
export const QUEUE_LABEL = 'flexlon.io/queue';

export interface KubeSite {
  readonly site: string;
  readonly namespaces: ReadonlyMap<string, QueuePolicy>;
}

export const nameOf = (j: V1Job): string => `${j.metadata?.namespace ?? 'default'}/${j.metadata?.name ?? ''}`;
const annotations = (j: V1Job): Record<string, string> => j.metadata?.annotations ?? {};
const time = (d: Date | string | undefined): EpochMs | undefined =>
  d === undefined ? undefined : epochMs(new Date(d).getTime());

/** One `flexlon.io/<field>` annotation per metadata field (dashes for underscores), or all in `flexlon.io/flex`. */
export const metadataOf = (j: V1Job, source: string): { fields: MetadataFields; issues: string[] } => {
  const a = annotations(j);
  const fromJson = metadataFromText(a[ANNOTATION.flex], `${source} ${ANNOTATION.flex}`);
  const fields: MetadataFields = { ...fromJson.fields };
  for (const f of METADATA_FIELDS) {
    const v = a[`flexlon.io/${f.replace(/_/g, '-')}`];
    if (v !== undefined) fields[f] = v;
  }
  return { fields, issues: fromJson.issues };
};

export const isSuspended = (j: V1Job): boolean => j.spec?.suspend === true;
export const isManaged = (j: V1Job): boolean => j.metadata?.labels?.[QUEUE_LABEL] !== undefined;

/** FlexLon's suspension: its own hold mark, or the admission hold of a managed Job not yet admitted. */
export const heldByFlexlon = (j: V1Job): boolean =>
  isSuspended(j) &&
  (annotations(j)[ANNOTATION.heldBy] ?? 'flexlon') === 'flexlon' &&
  (annotations(j)[ANNOTATION.held] === 'true' || (isManaged(j) && annotations(j)[ANNOTATION.admitted] !== 'true'));

export const beginAtOf = (j: V1Job): EpochMs | undefined => {
  const v = annotations(j)[ANNOTATION.beginAt];
  const t = v === undefined ? NaN : Date.parse(v);
  return Number.isFinite(t) ? epochMs(t) : undefined;
};

const finished = (j: V1Job): { state: JobState; at?: EpochMs } | undefined => {
  for (const c of j.status?.conditions ?? []) {
    if (c.status !== 'True') continue;
    if (c.type === 'Complete')
      return { state: 'completed', ...opt(time(j.status?.completionTime) ?? time(c.lastTransitionTime)) };
    if (c.type === 'Failed') return { state: 'completed', ...opt(time(c.lastTransitionTime)) };
  }
  return undefined;
};
const opt = (at: EpochMs | undefined) => (at === undefined ? {} : { at });

/**
 * Waiting: suspended, held (by FlexLon or by hand) or released with a begin time that FlexLon
 * enforces by keeping it suspended. Running: unsuspended and started.
 */
export const stateOf = (j: V1Job): { state: JobState; heldBy?: 'flexlon' | 'other'; finishedAt?: EpochMs } => {
  const end = finished(j);
  if (end) return { state: end.state, ...(end.at === undefined ? {} : { finishedAt: end.at }) };
  if (isSuspended(j)) {
    if (heldByFlexlon(j)) return { state: 'held', heldBy: 'flexlon' };
    // Released by FlexLon but its begin time has not come: FlexLon keeps it suspended until then.
    const byHand = (annotations(j)[ANNOTATION.heldBy] ?? 'flexlon') !== 'flexlon';
    if (!byHand && annotations(j)[ANNOTATION.admitted] === 'true' && beginAtOf(j) !== undefined)
      return { state: 'queued' };
    return { state: 'held', heldBy: 'other' };
  }
  return { state: j.status?.startTime ? 'running' : 'queued' };
};

/** GPUs the Job asks for: nvidia.com/gpu limits of its containers × parallelism. */
export const gpusOf = (j: V1Job): number => {
  const perPod = (j.spec?.template?.spec?.containers ?? []).reduce(
    (n, c) => n + Number(c.resources?.limits?.['nvidia.com/gpu'] ?? c.resources?.requests?.['nvidia.com/gpu'] ?? 0),
    0,
  );
  return perPod * Math.max(1, j.spec?.parallelism ?? 1);
};

const cpusOf = (j: V1Job): number =>
  (j.spec?.template?.spec?.containers ?? []).reduce((n, c) => {
    const v = String(c.resources?.requests?.cpu ?? '0');
    return n + (v.endsWith('m') ? Number(v.slice(0, -1)) / 1000 : Number(v) || 0);
  }, 0);

export const toComputeJob = (site: KubeSite, unmanaged: QueuePolicy, j: V1Job, now: EpochMs): ComputeJob => {
  const ns = j.metadata?.namespace ?? 'default';
  const nsPolicy = site.namespaces.get(ns);
  const managed = nsPolicy !== undefined && isManaged(j);
  const policy = managed ? nsPolicy : unmanaged;
  const submittedAt = time(j.metadata?.creationTimestamp) ?? now;
  const gpus = gpusOf(j);
  const source = `Job ${nameOf(j)}`;
  const meta0 = metadataOf(j, source);
  const limit = j.spec?.activeDeadlineSeconds;
  const meta = resolveMetadata(
    meta0.fields,
    { site: site.site, submittedAt, gpus, cpus: cpusOf(j), ...(limit ? { timeLimitMinutes: limit / 60 } : {}) },
    policy,
    source,
    meta0.issues,
  );
  const { state, heldBy, finishedAt } = stateOf(j);
  const startedAt = state === 'running' || state === 'completed' ? time(j.status?.startTime) : undefined;
  const ranH = startedAt === undefined ? 0 : Math.max(0, now - startedAt) / 3_600_000;
  const remaining =
    state === 'completed' || state === 'cancelled'
      ? 0
      : Math.max(meta.energyKwh - meta.powerKw * ranH, state === 'running' ? meta.powerKw / 60 : 0);
  const beginAt = state === 'queued' || state === 'held' ? beginAtOf(j) : undefined;
  return {
    id: annotations(j)[ANNOTATION.id] ?? meta.flexId ?? `${site.site}:${nameOf(j)}`,
    nativeId: nameOf(j),
    name: j.metadata?.name ?? '',
    site: site.site,
    slo: managed ? meta.slo : 'inflexible',
    gpus,
    powerKw: meta.powerKw,
    energyKwh: meta.energyKwh,
    remainingKwh: kwh(remaining),
    submittedAt,
    releaseAt: submittedAt,
    deadlineAt: meta.deadlineAt,
    preemptible: meta.preemptible,
    allowedSites: meta.allowedSites.includes(site.site) ? meta.allowedSites : [site.site, ...meta.allowedSites],
    work: meta.work,
    workUnit: meta.workUnit,
    state,
    queue: ns,
    ...(heldBy === undefined ? {} : { heldBy }),
    ...(beginAt === undefined ? {} : { beginAt }),
    ...(startedAt === undefined ? {} : { startedAt }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
    ...(meta.issues.length > 0 ? { metadataIssues: meta.issues } : {}),
  };
};
