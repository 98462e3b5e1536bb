// The CSV formats FlexLon reads, recognised by their header: the NESO national carbon-intensity and
// Elexon MID files as published (column names of data/grid/README.md), the NESO Data Portal regional
// file (one column per region), FlexLon's own normalised CSV (what `flexlon signals import` writes),
// and any other CSV through a column mapping. Each row goes into a SignalHistory; faults are
// reported there (file, line, period) and never averaged; a malformed row stops the read with a
// FLX_DATA_INVALID error naming file, line, column and value.
import { FlexError } from '../../errors.ts';
import { findRegion, GB_REGIONS, NATIONAL_REGION_ID } from '../../domain/regions.ts';
import { isSettlementDate, periodStart, periodsInDay, PERIOD_MS } from '../../domain/settlement-day.ts';
import type { SignalHistory } from '../../domain/signal-history.ts';
import { epochMs } from '../../domain/time.ts';
import type { CsvTable } from '../../formats/csv.ts';
import { readMapped, type ColumnMapping } from './mapping.ts';
import { invalid, parseNumber, parseUtc, requireHalfHour } from './parse.ts';

export const CSV_FORMATS = ['neso-national', 'elexon-mid', 'neso-regional', 'flexlon', 'mapped'] as const;
export type CsvFormat = (typeof CSV_FORMATS)[number];

/** The columns of FlexLon's normalised CSV, in order. Empty field = unknown. */
export const NORMALISED_COLUMNS = [
  'start_utc',
  'settlement_date',
  'settlement_period',
  'region_id',
  'region',
  'carbon_forecast_gco2_per_kwh',
  'carbon_actual_gco2_per_kwh',
  'carbon_index',
  'price_gbp_per_mwh',
  'price_volume_mwh',
  'imbalance_price_gbp_per_mwh',
  'forecast_issued_utc',
  'quality',
] as const;

/** NESO regional file labels appear one hour before the period they describe (grid-data/regional/SOURCES.md). */
export const REGIONAL_LABEL_SHIFT_MS = 60 * 60_000;

export const detectFormat = (header: readonly string[]): CsvFormat | undefined => {
  const has = (...cols: string[]) => cols.every((c) => header.includes(c));
  if (has('start_utc', 'region_id', 'carbon_forecast_gco2_per_kwh')) return 'flexlon';
  if (has('from_utc', 'forecast_gco2_per_kwh', 'actual_gco2_per_kwh')) return 'neso-national';
  if (has('start_utc', 'settlement_date', 'settlement_period', 'price_gbp_per_mwh', 'volume_mwh')) return 'elexon-mid';
  if (header[0] === 'datetime' && header.slice(1).every((h) => findRegion(h) !== undefined) && header.length > 1)
    return 'neso-regional';
  return undefined;
};

export interface ReadResult {
  readonly format: CsvFormat;
  readonly rows: number;
  /** Region id → period starts read, for the gap report. */
  readonly starts: ReadonlyMap<number, readonly number[]>;
}

class Starts {
  readonly map = new Map<number, number[]>();
  add(region: number, t: number): void {
    const l = this.map.get(region);
    if (l) l.push(t);
    else this.map.set(region, [t]);
  }
}

const readNational = (t: CsvTable, h: SignalHistory, s: Starts): void => {
  for (const r of t.rows) {
    const o = { file: t.file, line: r.line };
    const start = parseUtc(r.get('from_utc'), t.file, r.line, 'from_utc');
    requireHalfHour(start, t.file, r.line, 'from_utc');
    if (
      t.header.includes('to_utc') &&
      r.get('to_utc') !== '' &&
      parseUtc(r.get('to_utc'), t.file, r.line, 'to_utc') !== start + PERIOD_MS
    )
      throw invalid(t.file, r.line, `to_utc ${r.get('to_utc')} is not 30 minutes after from_utc ${r.get('from_utc')}`);
    const forecast = parseNumber(r.get('forecast_gco2_per_kwh'), t.file, r.line, 'forecast_gco2_per_kwh');
    let actual = parseNumber(r.get('actual_gco2_per_kwh'), t.file, r.line, 'actual_gco2_per_kwh');
    const at = { region: NATIONAL_REGION_ID, from: start, to: start };
    if (forecast === undefined) h.fault({ kind: 'blank-forecast', ...o, ...at, detail: 'forecast_gco2_per_kwh empty' });
    if (actual === undefined)
      h.fault({ kind: 'blank-actual', ...o, ...at, detail: 'actual_gco2_per_kwh empty: outturn carbon unknown' });
    else if (actual === 0) {
      h.fault({ kind: 'zero-actual', ...o, ...at, detail: 'actual_gco2_per_kwh 0: treated as missing' });
      actual = undefined;
    }
    const index = t.header.includes('index') ? r.get('index').trim() : '';
    h.put(
      NATIONAL_REGION_ID,
      start,
      {
        ...(forecast === undefined ? {} : { carbonForecast: forecast }),
        ...(actual === undefined ? {} : { carbonActual: actual }),
        ...(index ? { carbonIndex: index } : {}),
      },
      o,
    );
    s.add(NATIONAL_REGION_ID, start);
  }
};

const readMid = (t: CsvTable, h: SignalHistory, s: Starts): void => {
  const perDay = new Map<string, number>();
  for (const r of t.rows) {
    const o = { file: t.file, line: r.line };
    const provider = t.header.includes('data_provider') ? r.get('data_provider').trim() : 'APXMIDP';
    // N2EXMIDP reports volume 0 in almost every period; only APXMIDP is a price series (research §4.2).
    if (provider !== 'APXMIDP')
      throw invalid(
        t.file,
        r.line,
        `data_provider "${provider}": only APXMIDP rows are a price series; filter the file to APXMIDP`,
      );
    const start = parseUtc(r.get('start_utc'), t.file, r.line, 'start_utc');
    requireHalfHour(start, t.file, r.line, 'start_utc');
    const date = r.get('settlement_date').trim();
    const period = Number(r.get('settlement_period'));
    if (!isSettlementDate(date))
      throw invalid(t.file, r.line, `settlement_date "${date}" is not a day written YYYY-MM-DD`);
    if (!Number.isInteger(period) || period < 1 || period > periodsInDay(date))
      throw invalid(
        t.file,
        r.line,
        `settlement_period "${r.get('settlement_period')}" does not exist on ${date} (it has ${periodsInDay(date)})`,
      );
    const at = { region: NATIONAL_REGION_ID, from: start, to: start };
    if (periodStart(date, period) !== start)
      h.fault({
        kind: 'settlement-period-mismatch',
        ...o,
        ...at,
        detail: `${date} period ${period} starts at ${new Date(periodStart(date, period)).toISOString()}, not ${r.get('start_utc')}; start_utc kept`,
      });
    perDay.set(date, (perDay.get(date) ?? 0) + 1);
    const price = parseNumber(r.get('price_gbp_per_mwh'), t.file, r.line, 'price_gbp_per_mwh');
    const volume = parseNumber(r.get('volume_mwh'), t.file, r.line, 'volume_mwh');
    if (volume === 0)
      h.fault({
        kind: 'zero-volume',
        ...o,
        ...at,
        detail: `volume 0 (price ${r.get('price_gbp_per_mwh')}): no trades, price treated as missing`,
      });
    h.put(
      NATIONAL_REGION_ID,
      start,
      {
        ...(price === undefined || volume === 0 ? {} : { price }),
        ...(volume === undefined ? {} : { priceVolume: volume }),
      },
      o,
    );
    s.add(NATIONAL_REGION_ID, start);
  }
  for (const [date, n] of perDay) {
    const expected = periodsInDay(date);
    if (expected !== 48)
      h.fault({
        kind: 'clock-change-day',
        file: t.file,
        region: NATIONAL_REGION_ID,
        from: periodStart(date, 1),
        to: periodStart(date, expected),
        detail: `${date} is a clock-change day with ${expected} settlement periods; ${n} present`,
      });
  }
};

const readRegional = (t: CsvTable, h: SignalHistory, s: Starts): void => {
  const regions = t.header.slice(1).map((name) => findRegion(name)?.id ?? NaN);
  h.fault({
    kind: 'shifted-label',
    file: t.file,
    detail: `datetime labels moved ${REGIONAL_LABEL_SHIFT_MS / 60_000} min later to period starts (they run an hour early against the national series)`,
  });
  const rows = t.rows.map((r) => {
    const label = parseUtc(r.get('datetime'), t.file, r.line, 'datetime');
    requireHalfHour(label, t.file, r.line, 'datetime');
    return {
      line: r.line,
      start: epochMs(label + REGIONAL_LABEL_SHIFT_MS),
      values: t.header.slice(1).map((col) => parseNumber(r.get(col), t.file, r.line, col)),
    };
  });
  const sum = (i: number): number | undefined => {
    const v = rows[i]?.values;
    return v && v.every((x) => x !== undefined) ? v.reduce<number>((a, b) => a + (b as number), 0) : undefined;
  };
  rows.forEach((row, i) => {
    const o = { file: t.file, line: row.line };
    regions.forEach((region) => s.add(region, row.start));
    if (row.values.every((v) => v === undefined)) {
      h.fault({ kind: 'blank-row', ...o, from: row.start, to: row.start, detail: 'every region empty' });
      return;
    }
    // A row whose total collapses below 30 % of both neighbours' is a bad model run (2023-12-28T03:00).
    const [prev, here, next] = [sum(i - 1), sum(i), sum(i + 1)];
    if (here !== undefined && prev !== undefined && next !== undefined && here < 0.3 * prev && here < 0.3 * next) {
      h.fault({
        kind: 'implausible-row',
        ...o,
        from: row.start,
        to: row.start,
        detail: `regions sum to ${here} against ${prev} and ${next} either side: treated as missing`,
      });
      return;
    }
    row.values.forEach((v, k) => {
      const region = regions[k] as number;
      if (v === undefined)
        h.fault({
          kind: 'blank-forecast',
          ...o,
          region,
          from: row.start,
          to: row.start,
          detail: `${t.header[k + 1]} empty`,
        });
      else h.put(region, row.start, { carbonForecast: v }, o);
    });
  });
};

const readNormalised = (t: CsvTable, h: SignalHistory, s: Starts): void => {
  for (const r of t.rows) {
    const o = { file: t.file, line: r.line };
    const start = parseUtc(r.get('start_utc'), t.file, r.line, 'start_utc');
    requireHalfHour(start, t.file, r.line, 'start_utc');
    const region = findRegion(r.get('region_id'));
    if (!region)
      throw invalid(
        t.file,
        r.line,
        `region_id "${r.get('region_id')}" is not a NESO region id (1–18; 18 = GB): ${GB_REGIONS.map((g) => g.id).join(', ')}`,
      );
    const n = (c: string) => (t.header.includes(c) ? parseNumber(r.get(c), t.file, r.line, c) : undefined);
    const issued =
      t.header.includes('forecast_issued_utc') && r.get('forecast_issued_utc').trim() !== ''
        ? parseUtc(r.get('forecast_issued_utc'), t.file, r.line, 'forecast_issued_utc')
        : undefined;
    const forecast = n('carbon_forecast_gco2_per_kwh');
    const fields = {
      ...(forecast === undefined || issued !== undefined ? {} : { carbonForecast: forecast }),
      ...(n('carbon_actual_gco2_per_kwh') === undefined
        ? {}
        : { carbonActual: n('carbon_actual_gco2_per_kwh') as number }),
      ...(n('price_gbp_per_mwh') === undefined ? {} : { price: n('price_gbp_per_mwh') as number }),
      ...(n('price_volume_mwh') === undefined ? {} : { priceVolume: n('price_volume_mwh') as number }),
      ...(n('imbalance_price_gbp_per_mwh') === undefined
        ? {}
        : { imbalancePrice: n('imbalance_price_gbp_per_mwh') as number }),
      ...(t.header.includes('carbon_index') && r.get('carbon_index').trim()
        ? { carbonIndex: r.get('carbon_index').trim() }
        : {}),
    };
    // A row with an issue time is one vintage of the forecast; several may exist per period.
    if (forecast !== undefined && issued !== undefined)
      h.putVintage(region.id, start, 'carbon', { issuedAt: issued, value: forecast });
    h.put(region.id, start, fields, o);
    s.add(region.id, start);
  }
};

/** Missing half hours inside each region's span, as runs; a run every region shares is reported once. */
const reportGaps = (file: string, h: SignalHistory, starts: ReadonlyMap<number, readonly number[]>): void => {
  const runs = new Map<string, { from: number; to: number; regions: number[] }>();
  for (const [region, list] of starts) {
    const sorted = [...new Set(list)].sort((a, b) => a - b);
    const have = new Set(sorted);
    const first = sorted[0];
    const last = sorted[sorted.length - 1];
    if (first === undefined || last === undefined) continue;
    let run: number | undefined;
    for (let x = first; x <= last + PERIOD_MS; x += PERIOD_MS) {
      if (x <= last && !have.has(x)) {
        run ??= x;
        continue;
      }
      if (run === undefined) continue;
      const key = `${run}|${x - PERIOD_MS}`;
      const r = runs.get(key) ?? { from: run, to: x - PERIOD_MS, regions: [] };
      r.regions.push(region);
      runs.set(key, r);
      run = undefined;
    }
  }
  for (const r of [...runs.values()].sort((a, b) => a.from - b.from)) {
    const n = (r.to - r.from) / PERIOD_MS + 1;
    const one = r.regions.length === 1 || r.regions.length < starts.size;
    const detail = `no row for ${n} half hour(s)${starts.size > 1 ? (one ? ` in region(s) ${r.regions.join(', ')}` : ` in all ${starts.size} regions`) : ''}`;
    h.fault({
      kind: 'missing-period',
      file,
      ...(r.regions.length === 1 ? { region: r.regions[0] as number } : {}),
      from: epochMs(r.from),
      to: epochMs(r.to),
      detail,
    });
  }
};

/** Reads one parsed table into the history. `mapping` is required for the "mapped" format. */
export const readTable = (t: CsvTable, h: SignalHistory, format: CsvFormat, mapping?: ColumnMapping): ReadResult => {
  const s = new Starts();
  switch (format) {
    case 'neso-national':
      readNational(t, h, s);
      break;
    case 'elexon-mid':
      readMid(t, h, s);
      break;
    case 'neso-regional':
      readRegional(t, h, s);
      break;
    case 'flexlon':
      readNormalised(t, h, s);
      break;
    case 'mapped': {
      if (!mapping) throw new FlexError('FLX_CLI_USAGE', 'the "mapped" CSV format needs a column mapping (--map)');
      readMapped(t, h, mapping, (region, start) => s.add(region, start));
      break;
    }
    default: {
      const never: never = format;
      throw new Error(`unknown format ${String(never)}`);
    }
  }
  reportGaps(t.file, h, s.map);
  return { format, rows: t.rows.length, starts: s.map };
};
