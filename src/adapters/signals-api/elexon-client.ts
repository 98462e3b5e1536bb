// Live client for the Elexon Insights Solution API (https://data.elexon.co.uk/bmrs/api/v1, no key).
// MID comes from /datasets/MID for APXMIDP, at most 7 days per request (longer ranges are refused
// with HTTP 400); system prices come per settlement date. Only rows starting inside the requested
// range are kept.
import { PERIOD_MS, settlementPeriodOf } from '../../domain/settlement-day.ts';
import type { SignalHistory } from '../../domain/signal-history.ts';
import type { CachedFetcher, Fetched } from './fetcher.ts';
import { chunks } from './neso-client.ts';
import { readElexonResponse } from './elexon-parse.ts';

export const ELEXON_API = 'https://data.elexon.co.uk/bmrs/api/v1';
export const ELEXON_MAX_CHUNK_MS = 7 * 86_400_000;
const SETTLED_AFTER_MS = 2 * 86_400_000;
const FRESH_MS = 30 * 60_000;

export interface ElexonClientOptions {
  readonly fetcher: CachedFetcher;
  readonly baseUrl?: string;
  readonly now?: () => number;
}

const startsIn = (row: unknown, from: number, to: number): boolean => {
  const t = Date.parse(String((row as { startTime?: unknown } | null)?.startTime));
  return Number.isNaN(t) || (t >= from && t < to);
};

const keepRows = (body: unknown, from: number, to: number): unknown => {
  if (Array.isArray(body)) return body.filter((r) => startsIn(r, from, to));
  const b = body as { data?: unknown } | null;
  return b && Array.isArray(b.data) ? { ...b, data: b.data.filter((r) => startsIn(r, from, to)) } : body;
};

export class ElexonClient {
  readonly baseUrl: string;

  constructor(private readonly o: ElexonClientOptions) {
    this.baseUrl = (o.baseUrl ?? ELEXON_API).replace(/\/$/, '');
  }

  private maxAge(to: number): number {
    return (this.o.now ?? Date.now)() - to > SETTLED_AFTER_MS ? Infinity : FRESH_MS;
  }

  /** APXMIDP market index price for periods starting in [from, to), into `h`. */
  async loadMid(h: SignalHistory, from: number, to: number): Promise<Fetched[]> {
    const out: Fetched[] = [];
    for (const c of chunks(from, to, ELEXON_MAX_CHUNK_MS)) {
      const q = new URLSearchParams({
        from: new Date(c.from).toISOString(),
        to: new Date(c.to - PERIOD_MS).toISOString(),
        dataProviders: 'APXMIDP',
        format: 'json',
      });
      const got = await this.o.fetcher.getJson(`${this.baseUrl}/datasets/MID?${q}`, this.maxAge(c.to));
      out.push(got);
      readElexonResponse(keepRows(got.body, c.from, c.to), h, got.file ?? got.url);
    }
    return out;
  }

  /** Imbalance prices for every settlement day touching [from, to), into `h`. */
  async loadSystemPrices(h: SignalHistory, from: number, to: number): Promise<Fetched[]> {
    const days = new Set<string>();
    for (let t = from; t < to; t += PERIOD_MS) days.add(settlementPeriodOf(t).date);
    const out: Fetched[] = [];
    for (const day of days) {
      const got = await this.o.fetcher.getJson(
        `${this.baseUrl}/balancing/settlement/system-prices/${day}?format=json`,
        this.maxAge(Date.parse(`${day}T00:00:00Z`) + 86_400_000),
      );
      out.push(got);
      readElexonResponse(keepRows(got.body, from, to), h, got.file ?? got.url);
    }
    return out;
  }
}
