// Raw HTTP for the resilience suite: node:http, so a request can go with no Content-Type, no body or
// any header at all (fetch would add a Content-Type of its own), and a /health probe that runs
// beside the attack and keeps the slowest answer per role.
import { Agent, request } from 'node:http';

export interface Answer {
  readonly status: number;
  readonly text: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly ms: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export const post = (
  url: string,
  body: Buffer | undefined,
  headers: Record<string, string>,
  timeoutMs = 30_000,
): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
            ms: performance.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });

export const closeAgent = (): void => agent.destroy();

export interface HealthProbe {
  /** The slowest /health answer per role (ms), and any failure seen. */
  stop(): Promise<{ slowestMs: Record<string, number>; probes: number; failures: string[] }>;
}

/** GETs every role's /health every `everyMs` (each role at most one probe in flight) until stopped. */
export const probeHealth = (urls: Readonly<Record<string, string>>, everyMs = 100): HealthProbe => {
  const slowestMs: Record<string, number> = {};
  const failures: string[] = [];
  let probes = 0;
  let running = true;
  const loops = Object.entries(urls).map(async ([role, base]) => {
    slowestMs[role] = 0;
    while (running) {
      const started = performance.now();
      try {
        const r = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5000) });
        const body = (await r.json()) as { ok?: boolean };
        if (r.status !== 200 || body.ok !== true) failures.push(`${role}: HTTP ${r.status}`);
      } catch (e) {
        failures.push(`${role}: ${(e as Error).message}`);
      }
      const ms = performance.now() - started;
      probes++;
      slowestMs[role] = Math.max(slowestMs[role] ?? 0, ms);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { slowestMs, probes, failures };
    },
  };
};
