// `flexlon settle --meter-prometheus URL --query Q`: the meter history and event day read from a
// Prometheus server's HTTP API (`GET /api/v1/query_range`), then parsed and integrated exactly as a
// saved answer is (src/formats/prometheus-range.ts). The range runs from `historyDays` before the
// event's settlement day to the end of the window, in requests of at most 10,000 samples (Prometheus
// refuses more than 11,000 points per series), joined into one answer before parsing.
import { FlexError } from '../errors.ts';
import { PERIOD_MS } from '../domain/settlement-day.ts';
import { parsePrometheusRange, type PowerUnit } from '../formats/prometheus-range.ts';
import type { MeterSeries } from '../formats/meter-csv.ts';

const DAY_MS = 86_400_000;
const MAX_POINTS = 10_000;
const TIMEOUT_MS = 30_000;

export interface PrometheusMeter {
  /** The server's base URL (http://host:9090, or with a path prefix). */
  readonly url: string;
  readonly query: string;
  readonly stepSeconds: number;
  readonly historyDays: number;
  readonly unit?: PowerUnit;
}

type Answer = {
  status?: string;
  data?: { resultType?: string; result?: { metric?: Record<string, string>; values?: [number, string][] }[] };
};

const unavailable = (why: string) => new FlexError('FLX_METER_UNAVAILABLE', why, { path: '--meter-prometheus' });

const getRange = async (p: PrometheusMeter, startS: number, endS: number): Promise<Answer> => {
  const u = new URL(`${p.url.replace(/\/+$/, '')}/api/v1/query_range`);
  u.searchParams.set('query', p.query);
  u.searchParams.set('start', String(startS));
  u.searchParams.set('end', String(endS));
  u.searchParams.set('step', String(p.stepSeconds));
  let res: Response;
  try {
    res = await fetch(u, { signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: 'application/json' } });
  } catch (e) {
    throw unavailable(`Prometheus at ${p.url} could not be reached: ${(e as Error).message}`);
  }
  const text = await res.text();
  let body: Answer;
  try {
    body = JSON.parse(text) as Answer;
  } catch {
    throw unavailable(`Prometheus at ${p.url} answered HTTP ${res.status} with no JSON: ${text.slice(0, 200)}`);
  }
  // The API answers 400/422/503 with {"status": "error", "errorType", "error"}: say its words.
  if (!res.ok || body.status !== 'success') {
    const e = body as { errorType?: string; error?: string };
    throw unavailable(
      `Prometheus at ${p.url} refused the query (HTTP ${res.status}${e.errorType ? `, ${e.errorType}` : ''}): ${e.error ?? text.slice(0, 200)}`,
    );
  }
  return body;
};

/** The meter series for a window on `eventDay` (YYYY-MM-DD) ending at `windowEnd` (epoch ms). */
export const prometheusMeter = async (
  p: PrometheusMeter,
  eventDay: string,
  windowEnd: number,
): Promise<MeterSeries> => {
  const stepMs = p.stepSeconds * 1000;
  if (!Number.isInteger(p.stepSeconds) || p.stepSeconds <= 0 || PERIOD_MS % stepMs !== 0)
    throw new FlexError('FLX_CLI_USAGE', `--step ${p.stepSeconds}: whole seconds that divide 1800 (60, 300, 900)`, {
      path: '--step',
    });
  // A day either side of UTC midnight holds the settlement day's start whatever the UK offset.
  const from = Date.parse(`${eventDay}T00:00:00Z`) - (p.historyDays + 1) * DAY_MS;
  const last = windowEnd - stepMs; // the last sample of the window's last period
  const values: [number, string][] = [];
  let metric: Record<string, string> | undefined;
  for (let a = from; a <= last; a += MAX_POINTS * stepMs) {
    const b = Math.min(last, a + (MAX_POINTS - 1) * stepMs);
    const answer = await getRange(p, a / 1000, b / 1000);
    const result = answer.data?.result ?? [];
    // More than one series, or another kind of result, is the parser's to refuse with its reason.
    if (answer.data?.resultType !== 'matrix' || result.length > 1)
      return parsePrometheusRange(answer, `${p.url} ${p.query}`, p.unit ? { unit: p.unit } : {});
    const r = result[0];
    if (!r) continue;
    if (metric && JSON.stringify(metric) !== JSON.stringify(r.metric ?? {}))
      throw new FlexError('FLX_DATA_INVALID', `${p.url} ${p.query}: the series changed its labels within the range`);
    metric = r.metric ?? {};
    values.push(...(r.values ?? []));
  }
  return parsePrometheusRange(
    { status: 'success', data: { resultType: 'matrix', result: metric ? [{ metric, values }] : [] } },
    `${p.url} ${p.query}`,
    p.unit ? { unit: p.unit } : {},
  );
};
