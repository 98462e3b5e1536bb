// NESO Carbon Intensity API responses (https://carbon-intensity.github.io/api-definitions/), read
// into a SignalHistory. Three shapes:
//   national   GET /intensity/{from}/{to}:  {"data":[{"from","to","intensity":{"forecast","actual","index"}}]}
//   by region  GET /regional/intensity/{from}/{to}/regionid/{n}:
//              {"data":{"regionid","dnoregion","shortname","data":[{"from","to","intensity":{"forecast","index"},"generationmix":[…]}]}}
//              (the docs' example wraps that object in an array; both are accepted)
//   all        GET /regional/{from}/{to}:   {"data":[{"from","to","regions":[{"regionid","shortname","intensity","generationmix"}]}]}
// A response fetched at a known time (live client, cache) is a forecast *vintage* for the periods
// that had not started then; without a fetch time the values are NESO's stored (latest) forecast.
import { NATIONAL_REGION_ID, findRegion } from '../../domain/regions.ts';
import { PERIOD_MS, isPeriodStart } from '../../domain/settlement-day.ts';
import type { SignalHistory } from '../../domain/signal-history.ts';
import { epochMs } from '../../domain/time.ts';
import { JsonReader } from '../../formats/json.ts';

export type NesoShape = 'national' | 'regional';

export interface ParseOptions {
  readonly file: string;
  /** When the response was fetched; periods starting later hold forecasts issued then. */
  readonly fetchedAt?: number;
}

export interface ParseResult {
  readonly shape: NesoShape;
  readonly periods: number;
  readonly regions: readonly number[];
}

/** Which NESO shape a parsed body is, or undefined if it is not a NESO carbon-intensity response. */
export const nesoShape = (body: unknown): NesoShape | undefined => {
  const data = (body as { data?: unknown } | null)?.data;
  const first = Array.isArray(data) ? data[0] : data;
  if (first === null || typeof first !== 'object')
    return Array.isArray(data) && data.length === 0 ? 'national' : undefined;
  if ('regions' in first || 'regionid' in first) return 'regional';
  if ('intensity' in first && 'from' in first) return 'national';
  return undefined;
};

class Period {
  constructor(
    readonly j: JsonReader,
    readonly h: SignalHistory,
    readonly o: ParseOptions,
  ) {}

  start(item: Record<string, unknown>, path: string): number {
    const from = this.j.time(item.from, `${path}.from`);
    if (!isPeriodStart(from)) throw this.j.fail(`${path}.from`, 'the start of a half hour', item.from);
    if (item.to !== undefined && this.j.time(item.to, `${path}.to`) !== from + PERIOD_MS)
      throw this.j.fail(`${path}.to`, `${new Date(from + PERIOD_MS).toISOString()} (30 minutes after from)`, item.to);
    return from;
  }

  /** Stores a forecast: a vintage issued at the fetch time if the period had not started, else the stored value. */
  forecast(region: number, start: number, value: number | undefined, path: string): void {
    const at = { file: this.o.file, region, from: epochMs(start), to: epochMs(start) };
    if (value === undefined) {
      this.h.fault({ kind: 'blank-forecast', ...at, detail: `${path} is null` });
      return;
    }
    const f = this.o.fetchedAt;
    if (f !== undefined && f < start)
      this.h.putVintage(region, epochMs(start), 'carbon', { issuedAt: epochMs(f), value });
    else this.h.put(region, epochMs(start), { carbonForecast: value }, { file: this.o.file });
  }
}

const national = (body: Record<string, unknown>, p: Period): ParseResult => {
  const { j, h, o } = p;
  const data = j.array(body.data, 'data');
  data.forEach((raw, i) => {
    const path = `data[${i}]`;
    const item = j.object(raw, path);
    const start = p.start(item, path);
    const intensity = j.object(item.intensity, `${path}.intensity`);
    p.forecast(
      NATIONAL_REGION_ID,
      start,
      j.optionalNumber(intensity.forecast, `${path}.intensity.forecast`),
      `${path}.intensity.forecast`,
    );
    let actual = j.optionalNumber(intensity.actual, `${path}.intensity.actual`);
    const at = { file: o.file, region: NATIONAL_REGION_ID, from: epochMs(start), to: epochMs(start) };
    // A null actual is normal for a period that had not ended when fetched.
    if (actual === undefined && !(o.fetchedAt !== undefined && o.fetchedAt < start + PERIOD_MS))
      h.fault({ kind: 'blank-actual', ...at, detail: `${path}.intensity.actual is null` });
    if (actual === 0) {
      h.fault({ kind: 'zero-actual', ...at, detail: `${path}.intensity.actual is 0: treated as missing` });
      actual = undefined;
    }
    const index = typeof intensity.index === 'string' ? intensity.index : undefined;
    h.put(
      NATIONAL_REGION_ID,
      epochMs(start),
      { ...(actual === undefined ? {} : { carbonActual: actual }), ...(index ? { carbonIndex: index } : {}) },
      { file: o.file },
    );
  });
  return { shape: 'national', periods: data.length, regions: [NATIONAL_REGION_ID] };
};

const regionOf = (j: JsonReader, item: Record<string, unknown>, path: string): number => {
  const id = j.number(item.regionid, `${path}.regionid`);
  if (!findRegion(id)) throw j.fail(`${path}.regionid`, 'a NESO region id 1–18', item.regionid);
  return id;
};

const regional = (body: Record<string, unknown>, p: Period): ParseResult => {
  const { j } = p;
  const regions = new Set<number>();
  let periods = 0;
  const data = Array.isArray(body.data) ? body.data : [j.object(body.data, 'data')];
  data.forEach((raw, i) => {
    const path = Array.isArray(body.data) ? `data[${i}]` : 'data';
    const item = j.object(raw, path);
    if ('regions' in item) {
      // All regions, one period.
      const start = p.start(item, path);
      periods++;
      j.array(item.regions, `${path}.regions`).forEach((r, k) => {
        const rp = `${path}.regions[${k}]`;
        const reg = j.object(r, rp);
        const id = regionOf(j, reg, rp);
        regions.add(id);
        p.forecast(
          id,
          start,
          j.optionalNumber(j.object(reg.intensity, `${rp}.intensity`).forecast, `${rp}.intensity.forecast`),
          `${rp}.intensity.forecast`,
        );
      });
    } else {
      // One region, many periods.
      const id = regionOf(j, item, path);
      regions.add(id);
      j.array(item.data, `${path}.data`).forEach((d, k) => {
        const dp = `${path}.data[${k}]`;
        const period = j.object(d, dp);
        const start = p.start(period, dp);
        periods++;
        p.forecast(
          id,
          start,
          j.optionalNumber(j.object(period.intensity, `${dp}.intensity`).forecast, `${dp}.intensity.forecast`),
          `${dp}.intensity.forecast`,
        );
      });
    }
  });
  return { shape: 'regional', periods, regions: [...regions].sort((a, b) => a - b) };
};

/** Reads a parsed NESO response into the history; a wrong shape is FLX_DATA_INVALID naming the field. */
export const readNesoResponse = (body: unknown, h: SignalHistory, o: ParseOptions): ParseResult => {
  const j = new JsonReader(o.file);
  const root = j.object(body, '(top level)');
  if ('error' in root && !('data' in root))
    throw j.fail('error', 'no error (the API answered with an error body)', root.error);
  const shape = nesoShape(root);
  if (!shape) throw j.fail('data', 'NESO carbon-intensity periods (national or regional)', root.data);
  const p = new Period(j, h, o);
  return shape === 'national' ? national(root, p) : regional(root, p);
};
