// Flags shared by the `flexlon signals` commands: which data to read and which period.
import { defaultDataDir, isCalendarDay } from '../config.ts';
import { liveSource, recordedSource, signalCacheDir, type SignalChoice } from '../compose/signals.ts';
import type { HistorySignalSource } from '../signals/history.ts';
import { parseMapping } from '../compose/tools.ts';
import { findRegion, type GridRegion } from '../domain/regions.ts';
import { PERIOD_MS } from '../domain/settlement-day.ts';
import type { SlotGrid } from '../domain/time.ts';
import { FlexError } from '../errors.ts';

export const SOURCE_FLAGS = {
  data: { type: 'string', multiple: true },
  map: { type: 'string' },
  offline: { type: 'string', multiple: true },
  live: { type: 'boolean' },
  'data-dir': { type: 'string' },
  'cache-dir': { type: 'string' },
  'neso-url': { type: 'string' },
  'elexon-url': { type: 'string' },
} as const;

export const SOURCE_HELP = `Data (default: the shipped GB data, data/grid):
  --data FILE             a CSV file to read instead (repeatable): NESO national, Elexon MID,
                          NESO regional or FlexLon normalised CSV, recognised by the header
  --map SPEC              read --data files through a column mapping, e.g.
                          start=Time,carbon_forecast=CI,price=Price,time_zone=europe/london
  --offline PATH          saved NESO / Elexon API responses (a file or a folder, repeatable)
  --live                  the NESO Carbon Intensity and Elexon Insights APIs (cached on disk)
  --cache-dir DIR         cache for --live (default: <data dir>/cache/signals)
  --data-dir DIR          FlexLon data directory (default: $FLEXLON_DATA_DIR or ~/.flexlon)
  --neso-url URL, --elexon-url URL   other API base URLs (a mirror, a test server)`;

export interface SourceValues {
  readonly data?: string[] | undefined;
  readonly map?: string | undefined;
  readonly offline?: string[] | undefined;
  readonly live?: boolean | undefined;
  readonly 'data-dir'?: string | undefined;
  readonly 'cache-dir'?: string | undefined;
  readonly 'neso-url'?: string | undefined;
  readonly 'elexon-url'?: string | undefined;
}

export const signalChoice = (v: SourceValues): SignalChoice => {
  const picked = [v.data?.length ? '--data' : '', v.offline?.length ? '--offline' : '', v.live ? '--live' : ''].filter(
    Boolean,
  );
  if (picked.length > 1) throw new FlexError('FLX_CLI_USAGE', `choose one of ${picked.join(', ')}`);
  if (v.map && !v.data?.length)
    throw new FlexError('FLX_CLI_USAGE', '--map applies to --data files; give --data FILE too');
  if (v.data?.length) return { kind: 'csv', files: v.data, ...(v.map ? { mapping: parseMapping(v.map) } : {}) };
  if (v.offline?.length) return { kind: 'offline', paths: v.offline };
  if (v.live) {
    return {
      kind: 'live',
      cacheDir: v['cache-dir'] ?? signalCacheDir(v['data-dir'] ?? defaultDataDir()),
      ...(v['neso-url'] ? { nesoUrl: httpUrl('--neso-url', v['neso-url']) } : {}),
      ...(v['elexon-url'] ? { elexonUrl: httpUrl('--elexon-url', v['elexon-url']) } : {}),
    };
  }
  return { kind: 'shipped' };
};

/** The recorded history behind the choice, for the slots given (live: fetched for them). */
export const openSource = async (choice: SignalChoice, region: string, grid: SlotGrid): Promise<HistorySignalSource> =>
  choice.kind === 'live' ? liveSource(choice).load(region, grid, true) : recordedSource(choice);

const httpUrl = (flag: string, raw: string): string => {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new FlexError(
      'FLX_CLI_USAGE',
      `${flag}: "${raw}" is not a URL (expected e.g. https://api.carbonintensity.org.uk)`,
      { path: flag },
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new FlexError('FLX_CLI_USAGE', `${flag}: "${raw}" must be an http or https URL`, { path: flag });
  return raw.replace(/\/+$/, '');
};

/** A day (YYYY-MM-DD, 00:00 UTC) or an ISO-8601 instant with a zone, on a half hour. */
export const parseInstant = (flag: string, raw: string): number => {
  const t = /^\d{4}-\d{2}-\d{2}$/.test(raw)
    ? isCalendarDay(raw)
      ? Date.parse(`${raw}T00:00:00Z`)
      : NaN
    : /(Z|[+-]\d{2}:\d{2})$/.test(raw)
      ? Date.parse(raw)
      : NaN;
  if (Number.isNaN(t))
    throw new FlexError(
      'FLX_CLI_USAGE',
      `${flag}: "${raw}" is not a day (YYYY-MM-DD) or a UTC time (2023-06-01T17:30Z)`,
      { path: flag },
    );
  if (t % PERIOD_MS !== 0)
    throw new FlexError('FLX_CLI_USAGE', `${flag}: ${raw} is not on a half hour`, { path: flag });
  return t;
};

export const periodRange = (from: string | undefined, to: string | undefined, maxDays = 366): SlotGrid => {
  if (!from)
    throw new FlexError('FLX_CLI_USAGE', '--from is required (a day YYYY-MM-DD or a UTC time)', { path: '--from' });
  const a = parseInstant('--from', from);
  const b = to === undefined ? a + 86_400_000 : parseInstant('--to', to);
  // --to is where the range ends, not included (flexlon backtest's --to is the last day included): say
  // so where the two are the same day, the usual slip.
  if (b <= a)
    throw new FlexError(
      'FLX_CLI_USAGE',
      `--to (${to}) must be after --from (${from}): the range ends at --to, not including it${b === a && /^\d{4}-\d{2}-\d{2}$/.test(from) ? `; for the one day ${from}, leave --to out or give the next day` : ''}`,
      { path: '--to' },
    );
  if (b - a > maxDays * 86_400_000)
    throw new FlexError('FLX_CLI_USAGE', `--from to --to spans more than ${maxDays} days`, { path: '--to' });
  return { start: a as SlotGrid['start'], slotMinutes: 30, slots: (b - a) / PERIOD_MS };
};

export const regionArg = (raw: string | undefined): GridRegion => {
  const r = findRegion(raw ?? 'GB');
  if (!r)
    throw new FlexError(
      'FLX_CLI_USAGE',
      `--region: "${raw}" is not a NESO region; use GB or an id 1–17 (1 North Scotland … 13 London, 14 South East England) or its name`,
      { path: '--region' },
    );
  return r;
};
