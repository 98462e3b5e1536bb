// A user's own CSV, read through a column mapping such as
//   start=Time,carbon_forecast=CI forecast,carbon_actual=CI actual,price=Price,volume=Volume,time_zone=europe/london
// Each key names a FlexLon field and each value a column of the file (region= takes a NESO region
// id or name instead when the file holds one region). docs/signals.md lists the keys.
import { FlexError } from '../../errors.ts';
import { findRegion, NATIONAL_REGION_ID } from '../../domain/regions.ts';
import { isSettlementDate, londonOffsetMs, periodStart, periodsInDay } from '../../domain/settlement-day.ts';
import type { SignalHistory } from '../../domain/signal-history.ts';
import { epochMs, type EpochMs } from '../../domain/time.ts';
import type { CsvTable } from '../../formats/csv.ts';
import { invalid, parseNumber, parseUtc, requireHalfHour } from './parse.ts';

const COLUMN_KEYS = {
  start: 'period start timestamp',
  settlement_date: 'GB settlement date (UK local day), with settlement_period instead of start',
  settlement_period: 'settlement period 1–50',
  carbon_forecast: 'carbon intensity forecast, gCO2/kWh',
  carbon_actual: 'carbon intensity outturn, gCO2/kWh',
  price: 'price, £/MWh',
  volume: 'traded volume, MWh (0 = no trades: price treated as missing)',
  imbalance_price: 'imbalance price, £/MWh',
  forecast_issued: 'when the forecast on the row was issued',
  region_column: 'column holding a NESO region id or name',
} as const;

type ColumnKey = keyof typeof COLUMN_KEYS;

export interface ColumnMapping {
  readonly columns: Partial<Record<ColumnKey, string>>;
  /** The region when the file holds one (default GB). */
  readonly region: number;
  /** How timestamps without a zone are read. */
  readonly timeZone: 'utc' | 'europe/london';
}

export const MAPPING_HELP = [
  ...Object.entries(COLUMN_KEYS).map(([k, v]) => `${k}=COLUMN (${v})`),
  "region=ID|NAME (the file's region, default GB)",
  'time_zone=utc|europe/london (for timestamps without a zone; default utc)',
];

export const parseMapping = (spec: string): ColumnMapping => {
  const columns: Partial<Record<ColumnKey, string>> = {};
  let region = NATIONAL_REGION_ID;
  let timeZone: ColumnMapping['timeZone'] = 'utc';
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq < 1 || value === '')
      throw new FlexError('FLX_CLI_USAGE', `--map: "${part}" is not KEY=VALUE; keys: ${MAPPING_HELP.join('; ')}`, {
        path: '--map',
      });
    if (key === 'region') {
      const r = findRegion(value);
      if (!r)
        throw new FlexError('FLX_CLI_USAGE', `--map: region "${value}" is not a NESO region id or name`, {
          path: '--map',
        });
      region = r.id;
    } else if (key === 'time_zone') {
      if (value.toLowerCase() !== 'utc' && value.toLowerCase() !== 'europe/london')
        throw new FlexError('FLX_CLI_USAGE', `--map: time_zone must be utc or europe/london, got "${value}"`, {
          path: '--map',
        });
      timeZone = value.toLowerCase() as ColumnMapping['timeZone'];
    } else if (key in COLUMN_KEYS) columns[key as ColumnKey] = value;
    else
      throw new FlexError('FLX_CLI_USAGE', `--map: unknown key "${key}"; keys: ${MAPPING_HELP.join('; ')}`, {
        path: '--map',
      });
  }
  if (!columns.start && !(columns.settlement_date && columns.settlement_period))
    throw new FlexError(
      'FLX_CLI_USAGE',
      '--map: name the period with start=COLUMN, or settlement_date=COLUMN and settlement_period=COLUMN',
      { path: '--map' },
    );
  if (!columns.carbon_forecast && !columns.carbon_actual && !columns.price && !columns.imbalance_price)
    throw new FlexError(
      'FLX_CLI_USAGE',
      '--map: map at least one value column (carbon_forecast, carbon_actual, price or imbalance_price)',
      { path: '--map' },
    );
  return { columns, region, timeZone };
};

/** UK local wall-clock time (read as if UTC) to UTC; the skipped and repeated hours are errors. */
const londonToUtc = (localAsUtc: number, file: string, line: number, raw: string): EpochMs => {
  const fits = [0, 3_600_000].filter((off) => londonOffsetMs(localAsUtc - off) === off);
  if (fits.length === 1) return epochMs(localAsUtc - (fits[0] as number));
  throw invalid(
    file,
    line,
    `"${raw}" is ${fits.length === 0 ? 'skipped' : 'repeated'} when the UK clocks change, so it names no single instant: map settlement_date and settlement_period instead, or use UTC timestamps`,
  );
};

const startOf = (t: CsvTable, r: CsvTable['rows'][number], m: ColumnMapping): EpochMs => {
  const c = m.columns;
  if (c.start) {
    const raw = r.get(c.start);
    const zoned = /[zZ]$|[+-]\d{2}:?\d{2}$/.test(raw.trim());
    const t0 = parseUtc(raw, t.file, r.line, c.start);
    return m.timeZone === 'europe/london' && !zoned ? londonToUtc(t0, t.file, r.line, raw) : t0;
  }
  const date = r.get(c.settlement_date as string).trim();
  const period = Number(r.get(c.settlement_period as string));
  if (!isSettlementDate(date))
    throw invalid(t.file, r.line, `${c.settlement_date} "${date}" is not a day written YYYY-MM-DD`);
  if (!Number.isInteger(period) || period < 1 || period > periodsInDay(date))
    throw invalid(
      t.file,
      r.line,
      `${c.settlement_period} "${r.get(c.settlement_period as string)}" does not exist on ${date} (it has ${periodsInDay(date)})`,
    );
  return periodStart(date, period);
};

export const readMapped = (
  t: CsvTable,
  h: SignalHistory,
  m: ColumnMapping,
  onStart: (region: number, start: number) => void,
): void => {
  const c = m.columns;
  for (const col of Object.values(c))
    if (!t.header.includes(col))
      throw new FlexError(
        'FLX_DATA_INVALID',
        `${t.file}: line 1 has no column "${col}" named in --map (found: ${t.header.join(', ')})`,
      );
  for (const r of t.rows) {
    const o = { file: t.file, line: r.line };
    const start = startOf(t, r, m);
    requireHalfHour(start, t.file, r.line, c.start ?? c.settlement_period ?? 'start');
    let region = m.region;
    if (c.region_column) {
      const found = findRegion(r.get(c.region_column));
      if (!found)
        throw invalid(t.file, r.line, `${c.region_column} "${r.get(c.region_column)}" is not a NESO region id or name`);
      region = found.id;
    }
    const n = (k: ColumnKey) => (c[k] ? parseNumber(r.get(c[k] as string), t.file, r.line, c[k] as string) : undefined);
    const at = { region, from: start, to: start };
    let actual = n('carbon_actual');
    if (c.carbon_actual && actual === undefined)
      h.fault({ kind: 'blank-actual', ...o, ...at, detail: `${c.carbon_actual} empty` });
    if (actual === 0) {
      h.fault({ kind: 'zero-actual', ...o, ...at, detail: `${c.carbon_actual} 0: treated as missing` });
      actual = undefined;
    }
    const forecast = n('carbon_forecast');
    if (c.carbon_forecast && forecast === undefined)
      h.fault({ kind: 'blank-forecast', ...o, ...at, detail: `${c.carbon_forecast} empty` });
    const volume = n('volume');
    const price = n('price');
    if (volume === 0)
      h.fault({ kind: 'zero-volume', ...o, ...at, detail: `${c.volume} 0: no trades, price treated as missing` });
    const issued =
      c.forecast_issued && r.get(c.forecast_issued).trim() !== ''
        ? parseUtc(r.get(c.forecast_issued), t.file, r.line, c.forecast_issued)
        : undefined;
    if (forecast !== undefined && issued !== undefined)
      h.putVintage(region, start, 'carbon', { issuedAt: issued, value: forecast });
    const imbalance = n('imbalance_price');
    h.put(
      region,
      start,
      {
        ...(forecast === undefined || issued !== undefined ? {} : { carbonForecast: forecast }),
        ...(actual === undefined ? {} : { carbonActual: actual }),
        ...(price === undefined || volume === 0 ? {} : { price }),
        ...(volume === undefined ? {} : { priceVolume: volume }),
        ...(imbalance === undefined ? {} : { imbalancePrice: imbalance }),
      },
      o,
    );
    onStart(region, start);
  }
};
