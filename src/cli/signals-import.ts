// `flexlon signals import`: a saved API response or a CSV file → FlexLon's normalised CSV, with a
// report of what was fixed (zero actuals and no-trade prices made missing, duplicates dropped,
// timestamps shifted) and rejected (blank and implausible rows, other providers) and which periods
// are missing. A malformed file is an error naming the line or field; nothing is written then.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  detectFormat,
  normalisedCsv,
  parseMapping,
  readCsv,
  readSavedFile,
  readTable,
  writeAtomically,
  type SavedFormat,
} from '../compose/tools.ts';
import { countFaults, FAULT_KINDS, SignalHistory, type DataFault } from '../domain/signal-history.ts';
import { FlexError } from '../errors.ts';
import { parseFlags, type Output } from './command.ts';

const FORMATS = ['neso-carbon-json', 'elexon-mid-json', 'elexon-system-prices-json', 'csv'] as const;
type ImportFormat = (typeof FORMATS)[number];

export const IMPORT_USAGE = `Usage: flexlon signals import --format FORMAT FILE --out FILE.csv [--map SPEC] [--json]

Turns a saved API response or a CSV file into FlexLon's normalised CSV (docs/signals.md) and reports
what it fixed or rejected. A malformed file stops with an error naming the line or field, and then
nothing is written; the output file appears whole or not at all.

  --format FORMAT         neso-carbon-json   NESO Carbon Intensity API, /intensity/{from}/{to} or regional
                          elexon-mid-json    Elexon Insights /datasets/MID (APXMIDP)
                          elexon-system-prices-json   Elexon /balancing/settlement/system-prices/{date}
                          csv                NESO national, Elexon MID, NESO regional or normalised CSV
                                             (recognised by the header), or any CSV with --map
  --out FILE.csv          where to write the normalised CSV (replaced if it exists)
  --map SPEC              column mapping for another CSV, e.g. start=Time,carbon_forecast=CI,price=Price
  --json                  print the report as JSON`;

const utc = (t: number): string => new Date(t).toISOString().slice(0, 16) + 'Z';

const FIXED = new Set([
  'zero-actual',
  'zero-volume',
  'duplicate',
  'shifted-label',
  'settlement-period-mismatch',
  'conflicting-duplicate',
]);
const REJECTED = new Set(['blank-row', 'implausible-row', 'other-provider', 'negative-carbon']);

const readInput = (
  file: string,
  format: ImportFormat,
  map: string | undefined,
  h: SignalHistory,
): { detected: string; items: number } => {
  if (format === 'csv') {
    const table = readCsv(file);
    const mapping = map ? parseMapping(map) : undefined;
    const detected = mapping ? 'mapped' : detectFormat(table.header);
    if (!detected)
      throw new FlexError(
        'FLX_DATA_INVALID',
        `${file}: line 1: the header (${table.header.join(', ')}) is not a CSV format FlexLon knows; give a column mapping with --map (see --help)`,
      );
    return { detected: `csv (${detected})`, items: readTable(table, h, detected, mapping).rows };
  }
  if (map) throw new FlexError('FLX_CLI_USAGE', '--map applies to --format csv only');
  const r = readSavedFile(file, h, format as SavedFormat);
  // The CSV reader reports gaps itself; for a response, a gap is a period missing inside its span.
  for (const region of h.regionIds()) {
    const starts = h.periodStarts(region);
    const [first, last] = [starts[0], starts[starts.length - 1]];
    if (first === undefined || last === undefined) continue;
    for (const g of h.gaps(region, first, last))
      h.fault({
        kind: 'missing-period',
        file,
        region,
        from: g.from,
        to: g.to,
        detail: `no period for ${g.periods} half hour(s)`,
      });
  }
  return { detected: r.format, items: r.items };
};

const describe = (f: DataFault): string =>
  `${f.kind}${f.from === undefined ? '' : ` ${utc(f.from)}${f.to !== undefined && f.to !== f.from ? ` → ${utc(f.to)}` : ''}`}${f.line ? ` (line ${f.line})` : ''}: ${f.detail}`;

export const runImport = async (argv: readonly string[], io: Output): Promise<number> => {
  const { values, positionals } = parseFlags(
    argv,
    { format: { type: 'string' }, out: { type: 'string' }, map: { type: 'string' }, json: { type: 'boolean' } },
    IMPORT_USAGE,
    true,
  );
  const format = values.format as ImportFormat | undefined;
  if (!format || !FORMATS.includes(format))
    throw new FlexError(
      'FLX_CLI_USAGE',
      `--format must be one of ${FORMATS.join(', ')}${format ? `, got "${format}"` : ''}\n\n${IMPORT_USAGE}`,
      { path: '--format' },
    );
  if (positionals.length !== 1)
    throw new FlexError('FLX_CLI_USAGE', `give exactly one input FILE (got ${positionals.length})\n\n${IMPORT_USAGE}`);
  if (!values.out)
    throw new FlexError('FLX_CLI_USAGE', `--out FILE.csv is required\n\n${IMPORT_USAGE}`, { path: '--out' });
  const input = positionals[0] as string;
  const out = values.out;
  if (!existsSync(input) || statSync(input).isDirectory())
    throw new FlexError('FLX_DATA_INVALID', `${input}: no such file`);
  if (resolve(input) === resolve(out))
    throw new FlexError('FLX_CLI_USAGE', '--out must not be the input file', { path: '--out' });

  const h = new SignalHistory();
  const { detected, items } = readInput(input, format, values.map, h);
  const { text, rows } = normalisedCsv(h);
  writeAtomically(out, text);

  const counts = countFaults(h.faults);
  const fixed = h.faults.filter((f) => FIXED.has(f.kind));
  const rejected = h.faults.filter((f) => REJECTED.has(f.kind));
  const missing = h.faults.filter((f) => f.kind === 'missing-period');
  const other = h.faults.filter((f) => !FIXED.has(f.kind) && !REJECTED.has(f.kind) && f.kind !== 'missing-period');
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          input,
          format: detected,
          read: items,
          written: rows,
          out,
          counts,
          fixed: fixed.map(describe),
          rejected: rejected.map(describe),
          missing: missing.map(describe),
          notes: other.map(describe),
        },
        null,
        2,
      ),
    );
    return 0;
  }
  io.out(`${input}: ${detected}, ${items} item(s) read → ${out}: ${rows} row(s) written`);
  const section = (title: string, list: DataFault[]) => {
    if (list.length === 0) return;
    io.out(`${title} (${list.length}):`);
    for (const f of list.slice(0, 50)) io.out(`  ${describe(f)}`);
    if (list.length > 50) io.out(`  … ${list.length - 50} more (--json lists all)`);
  };
  section('fixed', fixed);
  section('rejected', rejected);
  section('missing periods', missing);
  section('noted', other);
  if (h.faults.length === 0) io.out('no faults found');
  else io.out(`summary: ${counts.map((c) => `${c.count} ${c.kind} (${FAULT_KINDS[c.kind]})`).join('; ')}`);
  return 0;
};
