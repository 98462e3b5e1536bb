// Field parsers shared by the CSV formats: each error names the file, line, column and value.
import { FlexError } from '../../errors.ts';
import { isPeriodStart } from '../../domain/settlement-day.ts';
import { epochMs, type EpochMs } from '../../domain/time.ts';

export const invalid = (file: string, line: number, detail: string): FlexError =>
  new FlexError('FLX_DATA_INVALID', `${file}: line ${line}: ${detail}`);

/** A UTC timestamp: ISO-8601 with Z or an offset; without one it is read as UTC. */
export const parseUtc = (s: string, file: string, line: number, column: string): EpochMs => {
  const v = s.trim();
  const iso = /[zZ]$|[+-]\d{2}:?\d{2}$/.test(v) ? v : `${v.replace(' ', 'T')}Z`;
  const t = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(v)
    ? Date.parse(iso.replace(/T(\d{2}:\d{2})([zZ+-])/, 'T$1:00$2'))
    : NaN;
  if (Number.isNaN(t)) throw invalid(file, line, `${column} "${s}" is not a timestamp (write YYYY-MM-DDTHH:MMZ)`);
  return epochMs(t);
};

export const parseNumber = (s: string, file: string, line: number, column: string): number | undefined => {
  if (s.trim() === '') return undefined;
  const n = Number(s);
  if (!Number.isFinite(n)) throw invalid(file, line, `${column} "${s}" is not a number`);
  return n;
};

export const requireHalfHour = (t: number, file: string, line: number, column: string): void => {
  if (!isPeriodStart(t))
    throw invalid(
      file,
      line,
      `${column} ${new Date(t).toISOString()} is not the start of a half hour (FlexLon works in 30-minute settlement periods)`,
    );
};
