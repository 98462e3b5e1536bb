// Live client for the NESO Carbon Intensity API (https://api.carbonintensity.org.uk, no key,
// CC BY 4.0). Times are UTC half hours written YYYY-MM-DDTHH:MMZ; a request spans at most 14 days
// (the API's documented limit), so longer ranges are fetched in chunks. Each chunk keeps only the
// periods that start inside it, since the API also returns the period ending at `from`.
import { findRegion, isNational } from '../../domain/regions.ts';
import { PERIOD_MS, floorToPeriod } from '../../domain/settlement-day.ts';
import type { SignalHistory } from '../../domain/signal-history.ts';
import type { CachedFetcher, Fetched } from './fetcher.ts';
import { readNesoResponse } from './neso-parse.ts';

export const NESO_API = 'https://api.carbonintensity.org.uk';
export const NESO_MAX_CHUNK_MS = 14 * 86_400_000;
/** Periods that ended this long ago are settled: cached copies of them need no refresh. */
const SETTLED_AFTER_MS = 2 * 86_400_000;
/** NESO re-forecasts every half hour. */
const FRESH_MS = 30 * 60_000;

export const nesoTime = (t: number): string => new Date(t).toISOString().slice(0, 16) + 'Z';

/** [from, to) split into chunks of at most `max`, on half-hour boundaries. */
export const chunks = (from: number, to: number, max: number): { from: number; to: number }[] => {
  const out: { from: number; to: number }[] = [];
  const start: number = floorToPeriod(from);
  const end = Math.ceil(to / PERIOD_MS) * PERIOD_MS;
  for (let a = start; a < end; a += max) out.push({ from: a, to: Math.min(a + max, end) });
  return out;
};

const inChunk = (item: unknown, c: { from: number; to: number }): boolean => {
  const t = Date.parse(String((item as { from?: unknown } | null)?.from));
  return Number.isNaN(t) || (t >= c.from && t < c.to);
};

export interface NesoClientOptions {
  readonly fetcher: CachedFetcher;
  readonly baseUrl?: string;
  readonly now?: () => number;
}

export class NesoCarbonClient {
  readonly baseUrl: string;

  constructor(private readonly o: NesoClientOptions) {
    this.baseUrl = (o.baseUrl ?? NESO_API).replace(/\/$/, '');
  }

  private maxAge(to: number): number {
    return (this.o.now ?? Date.now)() - to > SETTLED_AFTER_MS ? Infinity : FRESH_MS;
  }

  /** National (regionId 18 / GB) or one region's carbon intensity for [from, to), into `h`. */
  async load(h: SignalHistory, regionId: number, from: number, to: number): Promise<Fetched[]> {
    const region = findRegion(regionId);
    if (!region) throw new RangeError(`unknown NESO region ${regionId}`);
    const out: Fetched[] = [];
    for (const c of chunks(from, to, NESO_MAX_CHUNK_MS)) {
      const path = isNational(region)
        ? `/intensity/${nesoTime(c.from)}/${nesoTime(c.to)}`
        : `/regional/intensity/${nesoTime(c.from)}/${nesoTime(c.to)}/regionid/${regionId}`;
      const got = await this.o.fetcher.getJson(`${this.baseUrl}${path}`, this.maxAge(c.to));
      out.push(got);
      readNesoResponse(trim(got.body, c), h, { file: got.file ?? got.url, fetchedAt: got.fetchedAt });
    }
    return out;
  }
}

/** The response with only the periods starting inside the chunk (both NESO shapes). */
const trim = (body: unknown, c: { from: number; to: number }): unknown => {
  const b = body as { data?: unknown } | null;
  if (!b || typeof b !== 'object') return body;
  if (Array.isArray(b.data)) {
    return {
      ...b,
      data: b.data
        .map((d: unknown) =>
          d && typeof d === 'object' && Array.isArray((d as { data?: unknown }).data)
            ? { ...d, data: (d as { data: unknown[] }).data.filter((x) => inChunk(x, c)) }
            : d,
        )
        .filter((d: unknown) => !(d && typeof d === 'object' && 'from' in d) || inChunk(d, c)),
    };
  }
  if (b.data && typeof b.data === 'object' && Array.isArray((b.data as { data?: unknown }).data)) {
    return { ...b, data: { ...b.data, data: (b.data as { data: unknown[] }).data.filter((x) => inChunk(x, c)) } };
  }
  return body;
};
