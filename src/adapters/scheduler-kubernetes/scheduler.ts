// The Kubernetes adapter of the Scheduler port, over batch/v1 Jobs with @kubernetes/client-node:
//   hold     spec.suspend = true, annotation flexlon.io/held = "true"     (Kueue's mechanism)
//   release  remove flexlon.io/held, set flexlon.io/admitted; unsuspend now, or at flexlon.io/begin-at
//   defer    annotation flexlon.io/begin-at; Kubernetes has no begin time, so the Job stays
//            suspended and `reconcile` (the agent's poll) unsuspends it when the time comes
//   cancel   delete the Job (background propagation)
//   move     the Job manifest is created suspended in the other cluster, then deleted here
// Auth: in-cluster service account, a kubeconfig file, or the default kubeconfig lookup.
// Only Jobs in the configured namespaces that carry the flexlon.io/queue label are FlexLon's.
import { BatchV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Job } from '@kubernetes/client-node';
import type { Actuation, ComputeJob, PortableJob, RefusalCode, SchedulerCapabilities } from '../../domain/compute.ts';
import type { QueuePolicy } from '../../domain/job-metadata.ts';
import { epochMs, type EpochMs } from '../../domain/time.ts';
import { FlexError } from '../../errors.ts';
import type { Scheduler } from '../../ports.ts';
import { DEFAULT_QUEUE_POLICY as DEFAULT_POLICY } from '../../domain/job-metadata.ts';
import {
  ANNOTATION,
  beginAtOf,
  heldByFlexlon,
  isSuspended,
  nameOf,
  QUEUE_LABEL,
  stateOf,
  toComputeJob,
  type KubeSite,
} from './jobs.ts';

export interface KubernetesConfig {
  readonly site: string;
  /** `in-cluster` (service account), a kubeconfig path, or `default` (KUBECONFIG / ~/.kube/config). */
  readonly auth: 'in-cluster' | 'default' | { readonly kubeconfig: string };
  /** Namespaces FlexLon manages, with the defaults for their Jobs. */
  readonly namespaces: Readonly<Record<string, Partial<QueuePolicy>>>;
  readonly timeoutMs?: number;
}

const ok = (jobId: string): Actuation => ({ ok: true, jobId });
const refuse = (jobId: string, reason: string, code: RefusalCode): Actuation => ({ ok: false, jobId, reason, code });
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** How long a deleted Job is still reported as cancelled (Kubernetes forgets it at once). */
const FORGET_AFTER_MS = 30 * 60_000;

export class KubernetesScheduler implements Scheduler {
  readonly site: string;
  readonly capabilities: SchedulerCapabilities = { kind: 'kubernetes', beginTimes: false, powerCap: false, move: true };
  private readonly api: BatchV1Api;
  private readonly kube: KubeSite;
  private readonly timeoutMs: number;
  private byId = new Map<string, V1Job>();
  private lastSeen = new Map<string, ComputeJob>();
  private readonly gone = new Map<string, ComputeJob>();

  constructor(
    config: KubernetesConfig,
    private readonly now: () => number = Date.now,
  ) {
    if (typeof config.site !== 'string' || config.site.trim() === '')
      throw new FlexError('FLX_CONFIG_INVALID', 'kubernetes: site must be a non-empty site id', { path: 'site' });
    const names = Object.keys(config.namespaces ?? {});
    if (names.length === 0)
      throw new FlexError(
        'FLX_CONFIG_INVALID',
        'kubernetes: namespaces must name at least one namespace FlexLon manages',
        { path: 'namespaces' },
      );
    const kc = new KubeConfig();
    try {
      if (config.auth === 'in-cluster') kc.loadFromCluster();
      else if (config.auth === 'default') kc.loadFromDefault();
      else kc.loadFromFile(config.auth.kubeconfig);
    } catch (e) {
      throw new FlexError(
        'FLX_CONFIG_INVALID',
        `kubernetes: cannot load credentials (${typeof config.auth === 'string' ? config.auth : config.auth.kubeconfig}): ${(e as Error).message}`,
        { path: 'auth', cause: e },
      );
    }
    if (!kc.getCurrentCluster())
      throw new FlexError('FLX_CONFIG_INVALID', 'kubernetes: the kubeconfig has no current cluster', { path: 'auth' });
    this.api = kc.makeApiClient(BatchV1Api);
    this.site = config.site;
    this.kube = {
      site: config.site,
      namespaces: new Map(names.map((n) => [n, { ...DEFAULT_POLICY, ...config.namespaces[n] }])),
    };
    this.timeoutMs = config.timeoutMs ?? 10_000;
  }

  /** One API call with a deadline; transport failures and 5xx are FLX_SCHEDULER_UNAVAILABLE, other refusals FLX_SCHEDULER_COMMAND. */
  private async call<T>(what: string, f: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new FlexError(
              'FLX_SCHEDULER_UNAVAILABLE',
              `Kubernetes API did not answer ${what} within ${this.timeoutMs} ms`,
            ),
          ),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([f(), timeout]);
    } catch (e) {
      if (e instanceof FlexError) throw e;
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'number' && code < 500) {
        const body = (e as { body?: unknown }).body;
        const message =
          typeof body === 'string'
            ? (safeJson(body)?.message ?? body)
            : (body as { message?: string } | undefined)?.message;
        throw new FlexError(
          'FLX_SCHEDULER_COMMAND',
          `Kubernetes refused ${what} (HTTP ${code}): ${message ?? ''}`.trim(),
          { cause: e },
        );
      }
      throw new FlexError(
        'FLX_SCHEDULER_UNAVAILABLE',
        `Kubernetes API unreachable for ${what}: ${(e as Error).message}`,
        { cause: e },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  private async snapshot(): Promise<ComputeJob[]> {
    const jobs: V1Job[] = [];
    for (const namespace of this.kube.namespaces.keys()) {
      jobs.push(
        ...(await this.call(`list Jobs in ${namespace}`, () => this.api.listNamespacedJob({ namespace }))).items,
      );
    }
    const now = epochMs(this.now());
    const out = jobs.map((j) => ({
      raw: j,
      job: toComputeJob(this.kube, { ...DEFAULT_POLICY, slo: 'inflexible' }, j, now),
    }));
    this.byId = new Map(out.map((x) => [x.job.id, x.raw]));
    const seen = new Map(out.map((x) => [x.job.id, x.job]));
    for (const [id, job] of this.lastSeen) {
      if (!seen.has(id) && job.state !== 'completed' && job.state !== 'cancelled')
        this.gone.set(id, {
          ...job,
          state: job.state === 'running' ? 'completed' : 'cancelled',
          remainingKwh: job.remainingKwh,
          finishedAt: now,
        });
    }
    for (const [id, job] of this.gone)
      if ((job.finishedAt ?? 0) < now - FORGET_AFTER_MS || seen.has(id)) this.gone.delete(id);
    this.lastSeen = seen;
    return [...out.map((x) => x.job), ...this.gone.values()];
  }

  listJobs(): Promise<ComputeJob[]> {
    return this.snapshot();
  }

  async finishedSince(since: EpochMs): Promise<ComputeJob[]> {
    return (await this.snapshot()).filter(
      (j) => (j.state === 'completed' || j.state === 'cancelled') && (j.finishedAt ?? 0) >= since,
    );
  }

  private patch(j: V1Job, body: object): Promise<V1Job> {
    const namespace = j.metadata?.namespace ?? 'default';
    const name = j.metadata?.name ?? '';
    return this.call(`patch Job ${namespace}/${name}`, () =>
      this.api.patchNamespacedJob({ name, namespace, body }, MERGE_PATCH),
    );
  }

  /** Runs `f` on a waiting, managed Job after a fresh read. */
  private async waiting(jobId: string, verb: string, f: (j: V1Job) => Promise<void>): Promise<Actuation> {
    await this.snapshot();
    const j = this.byId.get(jobId);
    if (!j) return refuse(jobId, `no Job ${jobId} in Kubernetes at site ${this.site}`, 'not-found');
    const { state } = stateOf(j);
    if (state !== 'queued' && state !== 'held')
      return refuse(jobId, `Job ${nameOf(j)} is ${state}; only waiting Jobs can be ${verb}`, 'wrong-state');
    if (!this.kube.namespaces.has(j.metadata?.namespace ?? ''))
      return refuse(jobId, `Job ${nameOf(j)} is in a namespace FlexLon does not manage`, 'wrong-state');
    await f(j);
    return ok(jobId);
  }

  deferUntil(jobId: string, until: EpochMs): Promise<Actuation> {
    if (!Number.isFinite(until)) return Promise.resolve(refuse(jobId, `until is not a time: ${until}`, 'invalid'));
    return this.waiting(jobId, 'deferred', async (j) => {
      const held = heldByFlexlon(j) || stateOf(j).heldBy === 'other';
      // A released Job whose begin time has come starts now; otherwise it waits suspended.
      const suspend = held || until > this.now();
      await this.patch(j, {
        metadata: { annotations: { [ANNOTATION.beginAt]: new Date(until).toISOString() } },
        spec: { suspend },
      });
    });
  }

  hold(jobId: string): Promise<Actuation> {
    return this.waiting(jobId, 'held', async (j) => {
      if (stateOf(j).state === 'held') return; // already held, by whoever
      await this.patch(j, { metadata: { annotations: { [ANNOTATION.held]: 'true' } }, spec: { suspend: true } });
    });
  }

  async release(jobId: string): Promise<Actuation> {
    await this.snapshot();
    const j = this.byId.get(jobId);
    if (j && stateOf(j).heldBy === 'other')
      return refuse(
        jobId,
        `Job ${nameOf(j)} was suspended by hand, not by FlexLon; FlexLon leaves it to whoever suspended it`,
        'held-by-other',
      );
    return this.waiting(jobId, 'released', async (job) => {
      const begin = beginAtOf(job);
      await this.patch(job, {
        metadata: { annotations: { [ANNOTATION.held]: null, [ANNOTATION.admitted]: 'true' } },
        spec: { suspend: begin !== undefined && begin > this.now() },
      });
    });
  }

  /** Unsuspends released Jobs whose begin time has come (Kubernetes has no begin time of its own). */
  async reconcile(now: EpochMs): Promise<void> {
    await this.snapshot();
    for (const j of this.byId.values()) {
      const begin = beginAtOf(j);
      if (isSuspended(j) && stateOf(j).state === 'queued' && begin !== undefined && begin <= now)
        await this.patch(j, { spec: { suspend: false } });
    }
  }

  cancel(jobId: string): Promise<Actuation> {
    return this.waiting(jobId, 'cancelled', async (j) => {
      const namespace = j.metadata?.namespace ?? 'default';
      const name = j.metadata?.name ?? '';
      await this.call(`delete Job ${namespace}/${name}`, () =>
        this.api.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' }),
      );
    });
  }

  async exportJob(jobId: string): Promise<PortableJob | undefined> {
    await this.snapshot();
    const j = this.byId.get(jobId);
    if (!j || (stateOf(j).state !== 'queued' && stateOf(j).state !== 'held')) return undefined;
    const job = this.lastSeen.get(jobId);
    if (!job) return undefined;
    // Only what a user wrote: the server fills in uid, resourceVersion, selectors and status again.
    const {
      uid: _u,
      resourceVersion: _r,
      creationTimestamp: _c,
      managedFields: _m,
      generation: _g,
      selfLink: _s,
      ...metadata
    } = j.metadata ?? {};
    const template = structuredClone(j.spec?.template ?? {});
    delete template.metadata?.labels?.['controller-uid'];
    delete template.metadata?.labels?.['batch.kubernetes.io/controller-uid'];
    const spec = { ...j.spec, template, selector: undefined, manualSelector: undefined };
    return { id: jobId, kind: 'kubernetes', job, spec: { apiVersion: 'batch/v1', kind: 'Job', metadata, spec } };
  }

  async importJob(moved: PortableJob): Promise<Actuation> {
    if (moved.kind !== 'kubernetes')
      return refuse(moved.id, `a ${moved.kind} job cannot be created as a Kubernetes Job`, 'unsupported');
    if (!moved.job.allowedSites.includes(this.site))
      return refuse(moved.id, `job ${moved.id} may run only at ${moved.job.allowedSites.join(', ')}`, 'invalid');
    const manifest = moved.spec as V1Job;
    const namespace = manifest.metadata?.namespace ?? 'default';
    if (!this.kube.namespaces.has(namespace))
      return refuse(moved.id, `namespace ${namespace} is not managed by FlexLon at site ${this.site}`, 'invalid');
    const body: V1Job = {
      ...manifest,
      metadata: {
        ...manifest.metadata,
        labels: { ...manifest.metadata?.labels, [QUEUE_LABEL]: manifest.metadata?.labels?.[QUEUE_LABEL] ?? 'default' },
        annotations: { ...manifest.metadata?.annotations, [ANNOTATION.id]: moved.id, [ANNOTATION.held]: 'true' },
      },
      spec: { ...(manifest.spec as NonNullable<V1Job['spec']>), suspend: true },
    };
    try {
      await this.call(`create Job ${namespace}/${manifest.metadata?.name ?? ''}`, () =>
        this.api.createNamespacedJob({ namespace, body }),
      );
    } catch (e) {
      if (e instanceof FlexError && e.code === 'FLX_SCHEDULER_COMMAND')
        return refuse(moved.id, e.message, 'scheduler-error');
      throw e;
    }
    return ok(moved.id);
  }

  setPowerCap(jobId: string, _wattsPerGpu: number | null): Promise<Actuation> {
    return Promise.resolve(
      refuse(
        jobId,
        'Kubernetes has no GPU power cap in the Job API; it needs a node agent (DCGM / nvidia-smi DaemonSet), which FlexLon does not ship yet',
        'unsupported',
      ),
    );
  }
}

const safeJson = (s: string): { message?: string } | undefined => {
  try {
    return JSON.parse(s) as { message?: string };
  } catch {
    return undefined;
  }
};
