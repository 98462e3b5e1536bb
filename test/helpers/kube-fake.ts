// A FAKE of the Kubernetes batch/v1 Jobs API (no kube-apiserver can run on this machine), served
// over real HTTP on loopback so @kubernetes/client-node talks to it exactly as to a cluster, via a
// kubeconfig with a bearer token. Shapes follow the Kubernetes API reference for batch/v1 Job,
// JobList and meta/v1 Status (v1.30): resourceVersion/uid/creationTimestamp on create, 409
// AlreadyExists, 404 NotFound, 415 for a patch type it does not speak, RFC 7386 merge patch.
// It also plays a crude Job controller: an unsuspended Job starts (startTime, active) and
// completes after the seconds of its container's `sleep N` command (Complete condition,
// completionTime). It does NOT model pods, the Suspended condition's exact timing, RBAC, watches,
// admission webhooks, field selectors, or server-side apply; docs/schedulers.md lists what was and
// was not verified against it.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Obj = Record<string, unknown>;
type Job = {
  metadata: Obj & {
    name: string;
    namespace: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec: Obj & { suspend?: boolean; template?: Obj };
  status: Obj;
};

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly authorization: string | undefined;
}

const status = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: code < 300 ? 'Success' : 'Failure',
  message,
  reason,
  code,
});

/** RFC 7386 JSON merge patch. */
const mergePatch = (target: unknown, patch: unknown): unknown => {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Obj =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Obj) } : {};
  for (const [k, v] of Object.entries(patch as Obj)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
};

const sleepSeconds = (job: Job): number => {
  const c = ((job.spec.template as Obj | undefined)?.spec as Obj | undefined)?.containers as
    { command?: string[]; args?: string[] }[] | undefined;
  const words = [...(c?.[0]?.command ?? []), ...(c?.[0]?.args ?? [])];
  const i = words.indexOf('sleep');
  return i >= 0 ? Number(words[i + 1] ?? 0) : 0;
};

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  private readonly jobs = new Map<string, Job>();
  private rv = 1000;
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dir = mkdtempSync(join(tmpdir(), 'flexlon-kube-'));
  readonly token = randomUUID();
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server?.listen(this.port, '127.0.0.1', () => r()));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    this.timer = setInterval(() => this.control(), 200);
    return this;
  }

  /** Stops answering (to test an unreachable API server); start() again resumes on the same port. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A kubeconfig file for the fake: one cluster, one token user, as `kubectl config view --raw` writes it. */
  kubeconfig(): string {
    const path = join(this.dir, `kubeconfig-${this.port}`);
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: http://127.0.0.1:${this.port}`,
        // Plain HTTP on loopback: client-node refuses http:// unless TLS verification is off.
        '    insecure-skip-tls-verify: true',
        'contexts:',
        '- name: fake',
        '  context:',
        '    cluster: fake',
        '    user: flexlon-agent',
        'current-context: fake',
        'users:',
        '- name: flexlon-agent',
        '  user:',
        `    token: ${this.token}`,
        '',
      ].join('\n'),
    );
    return path;
  }

  /** A user's `kubectl apply` (no FlexLon involved). */
  create(body: Obj): Job {
    const meta = body.metadata as Job['metadata'];
    const key = `${meta.namespace}/${meta.name}`;
    const uid = randomUUID();
    const spec = (body.spec ?? {}) as Job['spec'];
    const job: Job = {
      ...(body as Obj),
      metadata: {
        ...meta,
        uid,
        resourceVersion: String(++this.rv),
        generation: 1,
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      },
      spec: {
        parallelism: 1,
        completions: 1,
        backoffLimit: 6,
        suspend: false,
        ...spec,
        selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } },
      },
      status: {},
    };
    this.jobs.set(key, job);
    return job;
  }

  get(namespace: string, name: string): Job | undefined {
    return this.jobs.get(`${namespace}/${name}`);
  }

  /** An operator's `kubectl patch --type=merge`. */
  patch(namespace: string, name: string, patch: Obj): void {
    const job = this.get(namespace, name);
    if (job) this.jobs.set(`${namespace}/${name}`, this.bump(mergePatch(job, patch) as Job, job));
  }

  private bump(next: Job, prev: Job): Job {
    next.metadata.resourceVersion = String(++this.rv);
    if (JSON.stringify(next.spec) !== JSON.stringify(prev.spec))
      next.metadata.generation = Number(prev.metadata.generation ?? 1) + 1;
    if (next.spec.suspend === true && prev.spec.suspend !== true) next.status = { ...next.status, active: 0 };
    return next;
  }

  /** The crude Job controller. */
  private control(): void {
    const now = Date.now();
    for (const job of this.jobs.values()) {
      const st = job.status;
      if ((st.conditions as unknown[] | undefined)?.length || job.spec.suspend === true) continue;
      if (st.startTime === undefined) {
        job.status = {
          ...st,
          startTime: new Date(now).toISOString().replace(/\.\d+Z$/, 'Z'),
          active: job.spec.parallelism ?? 1,
        };
        job.metadata.resourceVersion = String(++this.rv);
      } else if (now - Date.parse(String(st.startTime)) >= sleepSeconds(job) * 1000 + 1000) {
        const at = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z');
        job.status = {
          ...st,
          active: 0,
          succeeded: job.spec.completions ?? 1,
          completionTime: at,
          conditions: [{ type: 'Complete', status: 'True', lastProbeTime: at, lastTransitionTime: at }],
        };
        job.metadata.resourceVersion = String(++this.rv);
      }
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      contentType: req.headers['content-type'],
      authorization: req.headers.authorization,
    });
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${this.token}`)
      return send(401, status(401, 'Unauthorized', 'Unauthorized'));
    const m = /^\/apis\/batch\/v1\/namespaces\/([a-z0-9-]+)\/jobs(?:\/([a-z0-9.-]+))?$/.exec(url.pathname);
    if (!m)
      return send(404, status(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`));
    const [, ns = '', name] = m;
    const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Obj) : {};
    const existing = name ? this.get(ns, name) : undefined;
    if (name && !existing && req.method !== 'POST')
      return send(404, status(404, 'NotFound', `jobs.batch "${name}" not found`));
    switch (`${req.method} ${name ? 'one' : 'all'}`) {
      case 'GET all':
        return send(200, {
          apiVersion: 'batch/v1',
          kind: 'JobList',
          metadata: { resourceVersion: String(this.rv) },
          items: [...this.jobs.values()].filter((j) => j.metadata.namespace === ns),
        });
      case 'POST all': {
        const meta = (body.metadata ?? {}) as Obj;
        if (typeof meta.name !== 'string')
          return send(422, status(422, 'Invalid', 'Job.batch is invalid: metadata.name: Required value'));
        if (this.get(ns, meta.name))
          return send(409, status(409, 'AlreadyExists', `jobs.batch "${meta.name}" already exists`));
        return send(201, this.create({ ...body, metadata: { ...meta, namespace: ns } }));
      }
      case 'GET one':
        return send(200, existing);
      case 'PATCH one': {
        if (req.headers['content-type'] !== 'application/merge-patch+json')
          return send(
            415,
            status(
              415,
              'UnsupportedMediaType',
              `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json (fake)`,
            ),
          );
        this.patch(ns, name ?? '', body);
        return send(200, this.get(ns, name ?? ''));
      }
      case 'DELETE one':
        this.jobs.delete(`${ns}/${name}`);
        return send(200, {
          ...status(200, '', ''),
          details: { name, group: 'batch', kind: 'jobs', uid: existing?.metadata.uid },
        });
      default:
        return send(405, status(405, 'MethodNotAllowed', `${req.method} is not supported by the fake`));
    }
  }
}

/** A Job as a user writes it for a FlexLon-managed namespace: suspended, with the queue label (the Kueue pattern). */
export const jobManifest = (
  name: string,
  o: { readonly gpus: number; readonly seconds: number; readonly meta?: Readonly<Record<string, unknown>> },
) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: {
    name,
    namespace: 'ml',
    labels: { 'flexlon.io/queue': 'batch' },
    annotations: o.meta ? { 'flexlon.io/flex': JSON.stringify(o.meta) } : {},
  },
  spec: {
    suspend: true,
    activeDeadlineSeconds: Math.max(60, o.seconds),
    template: {
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'main',
            image: 'busybox',
            command: ['sleep', String(o.seconds)],
            resources: { limits: { 'nvidia.com/gpu': String(o.gpus) } },
          },
        ],
      },
    },
  },
});
