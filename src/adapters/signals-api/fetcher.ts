// HTTP GET of JSON for the grid-data APIs, with a disk cache, retries and rate-limit handling.
// Each cached response is stored as the API sent it (`<name>.json`, so the offline reader reads
// the real shape) beside `<name>.meta.json` ({url, fetchedAt, status}). Retries: network faults and
// 5xx with exponential back-off; 429 waits for Retry-After (RFC 9110 §10.2.3: seconds or an HTTP
// date), up to a cap. Other 4xx fail at once with the body's start (Elexon sends problem JSON).
// When the API cannot be reached, a cached copy of any age is used and marked stale.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlexError } from '../../errors.ts';
import { parseJsonText } from '../../formats/json.ts';
import { makeDirs } from '../../make-dirs.ts';

export interface FetcherOptions {
  /** Folder for cached responses; no caching without it. */
  readonly cacheDir?: string;
  readonly retries?: number;
  readonly backoffMs?: number;
  /** A Retry-After longer than this is not waited for: the call fails with the wait in the message. */
  readonly maxRetryAfterMs?: number;
  readonly timeoutMs?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called on each retry, for logs. */
  readonly onRetry?: (info: { url: string; attempt: number; waitMs: number; reason: string }) => void;
}

export interface Fetched {
  readonly url: string;
  readonly body: unknown;
  readonly fetchedAt: number;
  readonly fromCache: boolean;
  /** True when the API could not be reached and an old cached copy was used. */
  readonly stale: boolean;
  /** The cached body's file, when cached (the offline reader reads these). */
  readonly file?: string;
}

interface Meta {
  readonly url: string;
  readonly fetchedAt: number;
  readonly status: number;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** Seconds or an HTTP date, as milliseconds from now; undefined if absent or unreadable. */
export const retryAfterMs = (header: string | null, now: number): number | undefined => {
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const t = Date.parse(header);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
};

const causeOf = (e: unknown): string => {
  const c = (e as { cause?: { code?: string; message?: string } }).cause;
  return c?.code ?? c?.message ?? (e as Error).message;
};

export class CachedFetcher {
  private readonly o: Required<Omit<FetcherOptions, 'cacheDir' | 'onRetry'>> &
    Pick<FetcherOptions, 'cacheDir' | 'onRetry'>;

  constructor(options: FetcherOptions = {}) {
    this.o = {
      retries: 4,
      backoffMs: 500,
      maxRetryAfterMs: 120_000,
      timeoutMs: 30_000,
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      ...options,
    };
  }

  private paths(url: string): { body: string; meta: string } | undefined {
    if (!this.o.cacheDir) return undefined;
    const u = new URL(url);
    const readable = `${u.host}${u.pathname}`.replace(/[^A-Za-z0-9]+/g, '_').slice(0, 80);
    const name = `${readable}-${createHash('sha256').update(url).digest('hex').slice(0, 16)}`;
    return { body: join(this.o.cacheDir, `${name}.json`), meta: join(this.o.cacheDir, `${name}.meta.json`) };
  }

  private cached(url: string): (Fetched & { meta: Meta }) | undefined {
    const p = this.paths(url);
    if (!p || !existsSync(p.meta) || !existsSync(p.body)) return undefined;
    const meta = JSON.parse(readFileSync(p.meta, 'utf8')) as Meta;
    if (meta.url !== url) return undefined;
    return {
      url,
      body: parseJsonText(readFileSync(p.body, 'utf8'), p.body),
      fetchedAt: meta.fetchedAt,
      fromCache: true,
      stale: false,
      file: p.body,
      meta,
    };
  }

  private store(url: string, text: string, fetchedAt: number, status: number): string | undefined {
    const p = this.paths(url);
    if (!p || !this.o.cacheDir) return undefined;
    makeDirs(this.o.cacheDir);
    // Body first, then meta, each by rename: a reader never sees a half-written pair as complete.
    writeFileSync(`${p.body}.tmp`, text);
    renameSync(`${p.body}.tmp`, p.body);
    writeFileSync(`${p.meta}.tmp`, JSON.stringify({ url, fetchedAt, status } satisfies Meta));
    renameSync(`${p.meta}.tmp`, p.meta);
    return p.body;
  }

  /** GETs JSON. A cached copy younger than maxAgeMs is used without a request. */
  async getJson(url: string, maxAgeMs: number): Promise<Fetched> {
    const hit = this.cached(url);
    if (hit && this.o.now() - hit.fetchedAt <= maxAgeMs) return hit;
    try {
      return await this.fetchWithRetries(url);
    } catch (e) {
      if (hit && e instanceof FlexError && e.code === 'FLX_UPSTREAM_UNREACHABLE') return { ...hit, stale: true };
      throw e;
    }
  }

  private async fetchWithRetries(url: string): Promise<Fetched> {
    const host = new URL(url).host;
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= this.o.retries;
      let res: Response;
      try {
        res = await fetch(url, {
          headers: { accept: 'application/json', 'user-agent': 'flexlon (grid signals)' },
          signal: AbortSignal.timeout(this.o.timeoutMs),
        });
      } catch (e) {
        const cause = (e as Error).name === 'TimeoutError' ? `no answer within ${this.o.timeoutMs} ms` : causeOf(e);
        if (last)
          throw new FlexError(
            'FLX_UPSTREAM_UNREACHABLE',
            `cannot reach ${host} (${cause}) after ${attempt + 1} attempt(s)${NETWORK_CODES.has(cause) || cause === 'ENOTFOUND' ? ': this machine looks offline; use saved responses (--offline DIR) or the shipped data' : ''}`,
            { cause: e },
          );
        await this.wait(url, attempt, this.o.backoffMs * 2 ** attempt, cause);
        continue;
      }
      const text = await res.text();
      if (res.ok) {
        const body = parseJsonText(text, url);
        const fetchedAt = this.o.now();
        const file = this.store(url, text, fetchedAt, res.status);
        return { url, body, fetchedAt, fromCache: false, stale: false, ...(file ? { file } : {}) };
      }
      if (res.status === 429) {
        const wait = retryAfterMs(res.headers.get('retry-after'), this.o.now()) ?? this.o.backoffMs * 2 ** attempt;
        if (last || wait > this.o.maxRetryAfterMs)
          throw new FlexError(
            'FLX_UPSTREAM_RATE_LIMITED',
            `${host} answered 429 Too Many Requests ${attempt + 1} time(s); it asks to wait ${Math.ceil(wait / 1000)} s (Retry-After: ${res.headers.get('retry-after') ?? 'not given'})`,
          );
        await this.wait(url, attempt, wait, '429 Too Many Requests');
        continue;
      }
      const excerpt = text.replace(/\s+/g, ' ').slice(0, 300);
      if (res.status >= 500 && !last) {
        await this.wait(url, attempt, this.o.backoffMs * 2 ** attempt, `HTTP ${res.status}`);
        continue;
      }
      throw new FlexError('FLX_UPSTREAM_ERROR', `${url} answered HTTP ${res.status}${excerpt ? `: ${excerpt}` : ''}`);
    }
  }

  private async wait(url: string, attempt: number, waitMs: number, reason: string): Promise<void> {
    this.o.onRetry?.({ url, attempt: attempt + 1, waitMs, reason });
    await this.o.sleep(waitMs);
  }
}
