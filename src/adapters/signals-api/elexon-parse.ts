// Elexon Insights Solution (BMRS) API responses (https://bmrs.elexon.co.uk/api-documentation), read
// into a SignalHistory:
//   MID            GET /datasets/MID?from&to&dataProviders=APXMIDP&format=json
//                  {"data":[{"dataset":"MID","startTime","dataProvider","settlementDate","settlementPeriod","price","volume"}]}
//                  (the /stream variant returns the bare array; both are accepted)
//   system prices  GET /balancing/settlement/system-prices/{settlementDate}?format=json
//                  {"data":[{"settlementDate","settlementPeriod","startTime","systemSellPrice","systemBuyPrice",…}]}
// Settlement date and period are checked against startTime under UK summer time; zero-volume MID
// rows are "no trades", not a £0 price; N2EXMIDP rows are skipped (zero volume almost always).
import { NATIONAL_REGION_ID } from '../../domain/regions.ts';
import { isPeriodStart, isSettlementDate, periodStart, periodsInDay } from '../../domain/settlement-day.ts';
import type { SignalHistory } from '../../domain/signal-history.ts';
import { epochMs } from '../../domain/time.ts';
import { JsonReader } from '../../formats/json.ts';

export type ElexonShape = 'mid' | 'system-prices';

export interface ElexonParseResult {
  readonly shape: ElexonShape;
  readonly rows: number;
  readonly skipped: number;
}

const rowsOf = (body: unknown): unknown[] | undefined =>
  Array.isArray(body)
    ? body
    : Array.isArray((body as { data?: unknown } | null)?.data)
      ? (body as { data: unknown[] }).data
      : undefined;

export const elexonShape = (body: unknown): ElexonShape | undefined => {
  const rows = rowsOf(body);
  const first = rows?.[0] as Record<string, unknown> | undefined;
  const datasets = (body as { metadata?: { datasets?: unknown } } | null)?.metadata?.datasets;
  if (!first)
    return rows && Array.isArray(datasets) && datasets.includes('DISEBSP') ? 'system-prices' : rows ? 'mid' : undefined;
  if ('systemSellPrice' in first) return 'system-prices';
  if ('price' in first && 'dataProvider' in first) return 'mid';
  return undefined;
};

/** The period a row is for: startTime, checked against settlementDate/settlementPeriod. */
const periodOf = (j: JsonReader, h: SignalHistory, row: Record<string, unknown>, path: string): number => {
  const start = j.time(row.startTime, `${path}.startTime`);
  if (!isPeriodStart(start)) throw j.fail(`${path}.startTime`, 'the start of a half hour', row.startTime);
  const date = j.string(row.settlementDate, `${path}.settlementDate`).slice(0, 10);
  const sp = j.number(row.settlementPeriod, `${path}.settlementPeriod`);
  if (!isSettlementDate(date)) throw j.fail(`${path}.settlementDate`, 'a day written YYYY-MM-DD', row.settlementDate);
  if (!Number.isInteger(sp) || sp < 1 || sp > periodsInDay(date))
    throw j.fail(`${path}.settlementPeriod`, `a period 1–${periodsInDay(date)} of ${date}`, row.settlementPeriod);
  if (periodStart(date, sp) !== start) {
    h.fault({
      kind: 'settlement-period-mismatch',
      file: j.file,
      region: NATIONAL_REGION_ID,
      from: epochMs(start),
      to: epochMs(start),
      detail: `${path}: ${date} period ${sp} starts at ${new Date(periodStart(date, sp)).toISOString()}, not ${String(row.startTime)}; startTime kept`,
    });
  }
  return start;
};

const readMid = (j: JsonReader, rows: unknown[], h: SignalHistory): ElexonParseResult => {
  let skipped = 0;
  rows.forEach((raw, i) => {
    const path = `data[${i}]`;
    const row = j.object(raw, path);
    if (j.string(row.dataProvider, `${path}.dataProvider`) !== 'APXMIDP') {
      skipped++;
      return;
    }
    const start = periodOf(j, h, row, path);
    const price = j.number(row.price, `${path}.price`);
    const volume = j.number(row.volume, `${path}.volume`);
    if (volume === 0)
      h.fault({
        kind: 'zero-volume',
        file: j.file,
        region: NATIONAL_REGION_ID,
        from: epochMs(start),
        to: epochMs(start),
        detail: `${path}: volume 0 (price ${price}): no trades, price treated as missing`,
      });
    h.put(
      NATIONAL_REGION_ID,
      epochMs(start),
      { ...(volume === 0 ? {} : { price }), priceVolume: volume },
      { file: j.file },
    );
  });
  if (skipped > 0)
    h.fault({
      kind: 'other-provider',
      file: j.file,
      detail: `${skipped} row(s) from providers other than APXMIDP skipped`,
    });
  return { shape: 'mid', rows: rows.length, skipped };
};

const readSystemPrices = (j: JsonReader, rows: unknown[], h: SignalHistory): ElexonParseResult => {
  rows.forEach((raw, i) => {
    const path = `data[${i}]`;
    const row = j.object(raw, path);
    const start = periodOf(j, h, row, path);
    // Single imbalance price since P305 (Nov 2015): SSP = SBP; a difference would be news, so report it.
    const ssp = j.number(row.systemSellPrice, `${path}.systemSellPrice`);
    const sbp = j.optionalNumber(row.systemBuyPrice, `${path}.systemBuyPrice`);
    if (sbp !== undefined && Math.abs(sbp - ssp) > 1e-9)
      h.fault({
        kind: 'conflicting-duplicate',
        file: j.file,
        region: NATIONAL_REGION_ID,
        from: epochMs(start),
        to: epochMs(start),
        detail: `${path}: systemBuyPrice ${sbp} differs from systemSellPrice ${ssp}; the sell price is kept`,
      });
    h.put(NATIONAL_REGION_ID, epochMs(start), { imbalancePrice: ssp }, { file: j.file });
  });
  return { shape: 'system-prices', rows: rows.length, skipped: 0 };
};

export const readElexonResponse = (body: unknown, h: SignalHistory, file: string): ElexonParseResult => {
  const j = new JsonReader(file);
  const rows = rowsOf(body);
  if (!rows) throw j.fail('data', 'an array of Elexon rows', (body as { data?: unknown } | null)?.data ?? body);
  const shape = elexonShape(body);
  if (!shape)
    throw j.fail(
      'data[0]',
      'a MID row (startTime, dataProvider, price, volume) or a system-price row (systemSellPrice)',
      rows[0],
    );
  return shape === 'mid' ? readMid(j, rows, h) : readSystemPrices(j, rows, h);
};
