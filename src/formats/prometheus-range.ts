// Meter data from a Prometheus range query (issue 17): the JSON of the HTTP API's
// `/api/v1/query_range` (https://prometheus.io/docs/prometheus/latest/querying/api/#range-queries):
//   {"status": "success", "data": {"resultType": "matrix",
//    "result": [{"metric": {label: value…}, "values": [[<unix s>, "<value>"], …]}]}}
// The query must give one series: a site's grid import as power (a gauge, in W or kW; aggregate
// several in the query, e.g. `sum(...)`, rather than here). It becomes the meter-series shape the
// CSV reader makes (meter-csv.ts): mean import kW per settlement period.
//
// Integration, never a guess: the answer's samples are evaluated every `step` seconds, and a period
// [a, a + 30 min) holds the samples at a, a + step, …; its kW is their mean, and only when every one
// of them is there (a number ≥ 0). A period missing any sample (the target was down, a stale series,
// NaN) is a gap, listed; it is never filled. The step must divide 30 minutes, and the samples must
// lie on one grid of it.
import { FlexError } from '../errors.ts';
import { PERIOD_MS, settlementPeriodOf } from '../domain/settlement-day.ts';
import type { MeterSeries } from './meter-csv.ts';

export type PowerUnit = 'W' | 'kW';

interface Matrix {
  readonly metric: Record<string, string>;
  readonly values: readonly [number, string][];
}

const bad = (source: string, why: string, path?: string): FlexError =>
  new FlexError('FLX_DATA_INVALID', `${source}: ${why}`, path ? { path } : undefined);

/** The one series of a query_range answer, checked for shape. */
const seriesOf = (json: unknown, source: string): Matrix => {
  const o = json as { status?: unknown; data?: { resultType?: unknown; result?: unknown }; error?: unknown };
  if (typeof o !== 'object' || o === null) throw bad(source, 'not a Prometheus API answer (a JSON object)');
  if (o.status !== 'success')
    throw bad(source, `Prometheus answered status ${JSON.stringify(o.status)}${o.error ? `: ${String(o.error)}` : ''}`);
  if (o.data?.resultType !== 'matrix')
    throw bad(
      source,
      `the result is ${JSON.stringify(o.data?.resultType)}, not a matrix: save the answer of /api/v1/query_range`,
      'data.resultType',
    );
  const result = o.data.result;
  if (!Array.isArray(result)) throw bad(source, 'data.result is not a list', 'data.result');
  if (result.length !== 1)
    throw bad(
      source,
      result.length === 0
        ? 'the query returned no series (no data in the range, or a wrong query)'
        : `the query returned ${result.length} series (${result
            .slice(0, 3)
            .map((r) => labels((r as Matrix).metric ?? {}))
            .join(', ')}…): one meter's import is needed; aggregate in the query (e.g. sum(...)) or select one series`,
      'data.result',
    );
  const r = result[0] as Partial<Matrix>;
  if (!Array.isArray(r.values)) throw bad(source, 'the series has no values', 'data.result[0].values');
  r.values.forEach((v, i) => {
    if (!Array.isArray(v) || typeof v[0] !== 'number' || typeof v[1] !== 'string')
      throw bad(source, `sample ${i} is not [unix seconds, "value"]`, `data.result[0].values[${i}]`);
  });
  return { metric: r.metric ?? {}, values: r.values };
};

const labels = (metric: Record<string, string>): string => {
  const { __name__: name, ...rest } = metric;
  const inner = Object.entries(rest)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return `${name ?? ''}{${inner}}`;
};

/** The unit of the series: given, or said by the metric name (…_watts, …_kilowatts); never assumed. */
const unitOf = (metric: Record<string, string>, given: PowerUnit | undefined, source: string): PowerUnit => {
  if (given) return given;
  const name = metric.__name__ ?? '';
  if (/_kilowatts?$/.test(name)) return 'kW';
  if (/_watts?$/.test(name)) return 'W';
  throw bad(source, `the series ${labels(metric)} does not say its unit: give --unit W or kW (import power)`);
};

/**
 * Parses a query_range answer into mean import kW per settlement period. `source` names it in
 * messages and in the series (the URL and query, or the file).
 */
export const parsePrometheusRange = (
  json: unknown,
  source: string,
  options: { unit?: PowerUnit } = {},
): MeterSeries & { readonly stepSeconds: number; readonly sourceUnit: PowerUnit } => {
  const s = seriesOf(json, source);
  const unit = unitOf(s.metric, options.unit, source);
  const samples: { at: number; kw: number | undefined }[] = s.values.map(([t, v], i) => {
    const at = Math.round(t * 1000);
    const x = Number(v);
    // Prometheus writes NaN (and ±Inf) as strings: no reading then.
    if (!Number.isFinite(x)) return { at, kw: undefined };
    if (x < 0)
      throw bad(
        source,
        `sample ${i} (${new Date(at).toISOString()}) is ${x}: import only (export is not settled here)`,
      );
    return { at, kw: unit === 'W' ? x / 1000 : x };
  });
  if (samples.length === 0) throw bad(source, 'the series has no samples');
  samples.sort((a, b) => a.at - b.at);
  let stepMs = Infinity;
  for (let i = 1; i < samples.length; i++)
    stepMs = Math.min(stepMs, (samples[i] as { at: number }).at - (samples[i - 1] as { at: number }).at);
  if (samples.length === 1) stepMs = PERIOD_MS;
  if (!(stepMs > 0)) throw bad(source, 'two samples have the same time');
  if (PERIOD_MS % stepMs !== 0)
    throw bad(
      source,
      `the step (${stepMs / 1000} s) does not divide 30 minutes: query with a step of 60, 300 or 900 s`,
    );
  const first = samples[0]?.at as number;
  const offGrid = samples.find((x) => (x.at - first) % stepMs !== 0);
  if (offGrid)
    throw bad(source, `the sample at ${new Date(offGrid.at).toISOString()} is not on the ${stepMs / 1000} s step`);
  if (first % stepMs !== 0)
    throw bad(source, `the samples are not aligned to the ${stepMs / 1000} s step (query with start on a whole step)`);
  const per = PERIOD_MS / stepMs;
  const byPeriod = new Map<number, number[]>();
  for (const x of samples) {
    if (x.kw === undefined) continue;
    const start = Math.floor(x.at / PERIOD_MS) * PERIOD_MS;
    const list = byPeriod.get(start) ?? [];
    list.push(x.kw);
    byPeriod.set(start, list);
  }
  const kw = new Map<number, number>();
  for (const [start, xs] of [...byPeriod].sort(([a], [b]) => a - b))
    if (xs.length === per) kw.set(start, xs.reduce((a, b) => a + b, 0) / per);
  const from = Math.floor(first / PERIOD_MS) * PERIOD_MS;
  const lastAt = samples[samples.length - 1]?.at as number;
  const to = Math.floor(lastAt / PERIOD_MS) * PERIOD_MS + PERIOD_MS;
  const gaps: { start: number; date: string; period: number }[] = [];
  for (let t = from; t < to; t += PERIOD_MS)
    if (!kw.has(t)) {
      const sp = settlementPeriodOf(t);
      gaps.push({ start: t, date: sp.date, period: sp.period });
    }
  if (kw.size === 0)
    throw bad(source, `no settlement period has all its ${per} samples: nothing can be settled on this answer`);
  const id = s.metric.mpan ?? s.metric.msid ?? s.metric.meter_id ?? s.metric.site ?? s.metric.instance;
  return {
    file: source,
    meterId: id ?? (labels(s.metric) || undefined),
    shape: 'prometheus',
    unit: 'kW',
    kw,
    from,
    to,
    gaps,
    duplicates: [],
    stepSeconds: stepMs / 1000,
    sourceUnit: unit,
  };
};
