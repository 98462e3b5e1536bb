// Half-hourly meter data from the CSV shapes suppliers and DCC-style exports use (issue 17), per
// metering point (MPAN, MSID or a site meter id):
//   long  one row per period: a UTC start (`start`, `timestamp`, `interval_start` or `datetime`, ISO 8601
//         with a zone) or a settlement day and period (`settlement_date`, `settlement_period`), and the
//         value in a column named `kwh` (energy in the period) or `kw` (mean power);
//   wide  one row per settlement day: `date` (or `settlement_date`) then one column per period, named
//         1…50 (or `sp1`…`sp50`, or `kwh_1`…); a day holds 46, 48 or 50 values (clock changes), the rest empty.
// An optional `mpan`, `msid` or `meter_id` column names the metering point. Values become import kW
// (mean over the period: kWh ÷ 0.5 h). Gaps and duplicates are reported, never filled or guessed:
// a missing period stays missing; the same period twice with the same value is reported and kept
// once; with different values it is an error naming both lines.
import { FlexError } from '../errors.ts';
import {
  addDays,
  isSettlementDate,
  periodsInDay,
  settlementDayStart,
  periodStart,
  settlementPeriodOf,
  PERIOD_MS,
} from '../domain/settlement-day.ts';
import { parseCsv } from './csv.ts';

export type MeterUnit = 'kWh' | 'kW';

export interface MeterSeries {
  readonly file: string;
  readonly meterId: string | undefined;
  readonly shape: 'long' | 'wide' | 'prometheus';
  readonly unit: MeterUnit;
  /** Mean import kW per period, by UTC period start (epoch ms). */
  readonly kw: ReadonlyMap<number, number>;
  readonly from: number;
  /** End of the last period (exclusive). */
  readonly to: number;
  /** Periods between the first and the last with no reading: settlement day and period. */
  readonly gaps: readonly { readonly start: number; readonly date: string; readonly period: number }[];
  readonly duplicates: readonly { readonly start: number; readonly lines: readonly number[] }[];
}

const bad = (file: string, line: number, why: string, path?: string): FlexError =>
  new FlexError('FLX_DATA_INVALID', `${file}: line ${line}: ${why}`, path ? { path } : undefined);

const TIME_COLUMNS = ['start', 'timestamp', 'interval_start', 'datetime', 'start_utc'];
const ID_COLUMNS = ['mpan', 'msid', 'meter_id', 'meter'];

const lower = (h: readonly string[]) => h.map((x) => x.trim().toLowerCase());

/** The period column index (1–50) a wide header names, or undefined. */
const periodColumn = (h: string): number | undefined => {
  const m = /^(?:sp|period|kwh_|kw_|hh)?_?(\d{1,2})$/.exec(h);
  const n = m ? Number(m[1]) : NaN;
  return n >= 1 && n <= 50 ? n : undefined;
};

const numberAt = (file: string, line: number, text: string, what: string): number | undefined => {
  const t = text.trim();
  if (t === '') return undefined;
  const v = Number(t);
  if (!Number.isFinite(v)) throw bad(file, line, `${what} "${t}" is not a number`);
  if (v < 0) throw bad(file, line, `${what} ${v} is negative: import only (export is not settled here)`);
  return v;
};

/**
 * Parses meter CSV text. `unit` is needed only when the header does not say it (wide files, or a
 * long file whose value column is `value`).
 */
export const parseMeterCsv = (text: string, file: string, options: { unit?: MeterUnit } = {}): MeterSeries => {
  const table = parseCsv(text, file);
  const header = lower(table.header);
  const col = (names: readonly string[]) => names.map((n) => header.indexOf(n)).find((i) => i >= 0);
  const idCol = col(ID_COLUMNS);
  const cell = (r: (typeof table.rows)[number], i: number | undefined) =>
    i === undefined ? '' : r.get(table.header[i] as string);
  const values = new Map<number, { kw: number; line: number }>();
  const duplicates: { start: number; lines: number[] }[] = [];
  const ids = new Set<string>();
  let unit: MeterUnit | undefined;
  let shape: 'long' | 'wide';
  const put = (line: number, start: number, v: number | undefined, u: MeterUnit) => {
    if (v === undefined) return;
    const kw = u === 'kWh' ? v / 0.5 : v;
    const seen = values.get(start);
    if (seen) {
      if (Math.abs(seen.kw - kw) > 1e-9)
        throw bad(
          file,
          line,
          `the period starting ${new Date(start).toISOString()} is also on line ${seen.line} with another value (${seen.kw} kW against ${kw} kW): remove one`,
        );
      const dup = duplicates.find((d) => d.start === start);
      if (dup) dup.lines.push(line);
      else duplicates.push({ start, lines: [seen.line, line] });
      return;
    }
    values.set(start, { kw, line });
  };
  const timeCol = col(TIME_COLUMNS);
  const dateCol = col(['settlement_date', 'date']);
  const spCol = col(['settlement_period', 'period', 'sp']);
  const wide = header.map(periodColumn);
  if (timeCol !== undefined || (dateCol !== undefined && spCol !== undefined)) {
    shape = 'long';
    const kwhCol = col(['kwh', 'consumption_kwh', 'import_kwh']);
    const kwCol = col(['kw', 'import_kw', 'demand_kw']);
    const valueCol = kwhCol ?? kwCol ?? col(['value', 'consumption']);
    if (valueCol === undefined)
      throw bad(
        file,
        1,
        `no value column: name it kwh (energy per period) or kw (mean power) (found: ${table.header.join(', ')})`,
      );
    unit = kwhCol !== undefined ? 'kWh' : kwCol !== undefined ? 'kW' : options.unit;
    if (!unit) throw bad(file, 1, 'the value column does not say its unit: name it kwh or kw, or give --unit kWh|kW');
    for (const r of table.rows) {
      let start: number;
      if (timeCol !== undefined) {
        const t = cell(r, timeCol).trim();
        if (!/(Z|[+-]\d\d:?\d\d)$/.test(t))
          throw bad(file, r.line, `the time "${t}" has no zone: write it in UTC (…Z) or with an offset`);
        start = Date.parse(t);
        if (!Number.isFinite(start)) throw bad(file, r.line, `"${t}" is not an ISO 8601 time`);
        if (start % PERIOD_MS !== 0) throw bad(file, r.line, `${t} is not the start of a half hour`);
      } else {
        const date = cell(r, dateCol).trim();
        const sp = Number(cell(r, spCol));
        if (!isSettlementDate(date)) throw bad(file, r.line, `"${date}" is not a settlement date (YYYY-MM-DD)`);
        if (!Number.isInteger(sp) || sp < 1 || sp > periodsInDay(date))
          throw bad(
            file,
            r.line,
            `settlement period ${cell(r, spCol)} does not exist on ${date} (it has ${periodsInDay(date)})`,
          );
        start = periodStart(date, sp);
      }
      if (idCol !== undefined) ids.add(cell(r, idCol).trim());
      put(r.line, start, numberAt(file, r.line, cell(r, valueCol), 'the value'), unit);
    }
  } else if (dateCol !== undefined && wide.some((x) => x !== undefined)) {
    shape = 'wide';
    unit =
      options.unit ??
      (header.some((h) => h.startsWith('kw_')) ? 'kW' : header.some((h) => h.startsWith('kwh_')) ? 'kWh' : undefined);
    if (!unit) throw bad(file, 1, 'a file with a column per period does not say its unit: give --unit kWh|kW');
    for (const r of table.rows) {
      const date = cell(r, dateCol).trim();
      if (!isSettlementDate(date)) throw bad(file, r.line, `"${date}" is not a settlement date (YYYY-MM-DD)`);
      const n = periodsInDay(date);
      if (idCol !== undefined) ids.add(cell(r, idCol).trim());
      wide.forEach((sp, i) => {
        if (sp === undefined) return;
        const v = numberAt(file, r.line, cell(r, i), `period ${sp}`);
        if (v === undefined) return;
        if (sp > n)
          throw bad(file, r.line, `${date} has ${n} settlement periods (clock change), but period ${sp} holds a value`);
        put(r.line, periodStart(date, sp), v, unit as MeterUnit);
      });
    }
  } else {
    throw bad(
      file,
      1,
      `not a meter file this reads: give a UTC start column (${TIME_COLUMNS.join(', ')}) or settlement_date + settlement_period with kwh or kw, or date + one column per period (found: ${table.header.join(', ')})`,
    );
  }
  if (values.size === 0) throw bad(file, 2, 'no readings');
  if (ids.size > 1)
    throw bad(
      file,
      2,
      `readings for ${ids.size} metering points (${[...ids].slice(0, 3).join(', ')}…): give one file per meter`,
    );
  const starts = [...values.keys()].sort((a, b) => a - b);
  const from = starts[0] as number;
  const last = starts[starts.length - 1] as number;
  const gaps: MeterSeries['gaps'][number][] = [];
  for (let t = from; t <= last; t += PERIOD_MS)
    if (!values.has(t)) {
      const sp = settlementPeriodOf(t);
      gaps.push({ start: t, date: sp.date, period: sp.period });
    }
  return {
    file,
    meterId: [...ids][0] || undefined,
    shape,
    unit,
    kw: new Map(starts.map((t) => [t, (values.get(t) as { kw: number }).kw])),
    from,
    to: last + PERIOD_MS,
    gaps,
    duplicates,
  };
};

/**
 * Import kW by period start (UTC epoch ms) as the settlement days from `firstDay` to `lastDay`
 * (46/48/50 periods each), null where a period has no reading. A meter file's series and a site's
 * stored meter readings (compose/baseline.ts) are grouped for BL01 alike.
 */
export const settlementDaysOf = (
  kw: ReadonlyMap<number, number>,
  firstDay: string,
  lastDay: string,
): { day: string; importKw: (number | null)[] }[] => {
  const out: { day: string; importKw: (number | null)[] }[] = [];
  for (let d = firstDay; d <= lastDay; d = addDays(d, 1)) {
    const start = settlementDayStart(d);
    out.push({
      day: d,
      importKw: Array.from({ length: periodsInDay(d) }, (_, i) => kw.get(start + i * PERIOD_MS) ?? null),
    });
  }
  return out;
};

/** The series as settlement days (46/48/50 periods each), null where a period has no reading. */
export const meterDays = (s: MeterSeries): { day: string; importKw: (number | null)[] }[] =>
  settlementDaysOf(s.kw, settlementPeriodOf(s.from).date, settlementPeriodOf(s.to - PERIOD_MS).date);
