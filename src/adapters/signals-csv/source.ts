// SignalSource over CSV files: the shipped NESO / Elexon data, the NESO regional file, FlexLon's
// normalised CSV, or a user's own CSV through a column mapping. Files are recognised by their
// header (formats.ts); faults found while reading are kept in `history.faults` for reports.
import { FlexError } from '../../errors.ts';
import type { VintageModel } from '../../domain/forecast-vintage.ts';
import { NATIONAL_REGION_ID } from '../../domain/regions.ts';
import { SignalHistory } from '../../domain/signal-history.ts';
import { HistorySignalSource } from '../../signals/history.ts';
import { readCsv } from '../../formats/csv.ts';
import { detectFormat, readTable, type CsvFormat } from './formats.ts';
import type { ColumnMapping } from './mapping.ts';

/** Shipped or user files. The keys only document intent: every file's format comes from its header. */
export interface GridDataFiles {
  readonly carbon?: string | readonly string[];
  readonly price?: string | readonly string[];
  readonly regional?: string | readonly string[];
}

export interface FileRead {
  readonly file: string;
  readonly format: CsvFormat;
  readonly rows: number;
}

const list = (x: string | readonly string[] | undefined): readonly string[] =>
  x === undefined ? [] : typeof x === 'string' ? [x] : x;

/** Reads CSV files into one history. A malformed file stops the read with FLX_DATA_INVALID. */
export const loadCsvHistory = (
  files: readonly string[],
  mapping?: ColumnMapping,
  history = new SignalHistory(),
): { history: SignalHistory; reads: FileRead[] } => {
  const reads: FileRead[] = [];
  for (const file of files) {
    const table = readCsv(file);
    const format = mapping ? 'mapped' : detectFormat(table.header);
    if (!format) {
      throw new FlexError(
        'FLX_DATA_INVALID',
        `${file}: line 1: the header (${table.header.join(', ')}) is not a format FlexLon knows (NESO national, Elexon MID, NESO regional, FlexLon normalised); for another CSV give a column mapping with --map`,
      );
    }
    const r = readTable(table, history, format, mapping);
    reads.push({ file, format, rows: r.rows });
  }
  return { history, reads };
};

export class CsvSignalSource extends HistorySignalSource {
  readonly reads: readonly FileRead[];

  constructor(
    files: GridDataFiles,
    options: { vintages?: VintageModel | false; mapping?: ColumnMapping; name?: string } = {},
  ) {
    const all = [...list(files.carbon), ...list(files.price), ...list(files.regional)];
    const { history, reads } = loadCsvHistory(all, options.mapping);
    super(history, {
      name: options.name ?? 'the CSV grid data',
      ...(options.vintages === undefined ? {} : { vintages: options.vintages }),
    });
    this.reads = reads;
  }

  /** First and last period start for which the national series has both a carbon forecast and a price. */
  span(): { from: number; to: number } {
    const carbon = this.history.span(NATIONAL_REGION_ID, 'carbonForecast');
    const price = this.history.span(NATIONAL_REGION_ID, 'price');
    if (!carbon || !price)
      throw new FlexError(
        'FLX_SIGNAL_UNAVAILABLE',
        `${this.options.name} has no national ${carbon ? 'price' : 'carbon intensity'} data`,
      );
    return { from: Math.max(carbon.from, price.from), to: Math.min(carbon.to, price.to) };
  }
}
