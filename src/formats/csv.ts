// Minimal RFC 4180 CSV reading (the shipped data files, meter exports): a header row, comma separated, optional
// double-quoted fields. Errors name the file and line.
import { readFileSync } from 'node:fs';
import { FlexError } from '../errors.ts';

export interface CsvTable {
  readonly file: string;
  readonly header: readonly string[];
  readonly rows: readonly { readonly line: number; readonly get: (column: string) => string }[];
}

const splitLine = (line: string): string[] => {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
};

export const readCsv = (file: string, required: readonly string[] = []): CsvTable => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FlexError('FLX_DATA_INVALID', `cannot read ${file}: ${(e as Error).message}`);
  }
  return parseCsv(text, file, required);
};

/** Parses CSV text; `file` is only used in messages. A UTF-8 byte-order mark is ignored. */
export const parseCsv = (text: string, file: string, required: readonly string[] = []): CsvTable => {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitLine(lines[0] ?? '').map((h) => h.trim());
  if (header.length === 1 && header[0] === '')
    throw new FlexError('FLX_DATA_INVALID', `${file}: the file is empty (line 1 should be the header)`);
  for (const col of required)
    if (!header.includes(col))
      throw new FlexError('FLX_DATA_INVALID', `${file}: line 1 has no column "${col}" (found: ${header.join(', ')})`);
  const index = new Map(header.map((h, i) => [h, i]));
  const rows = lines.slice(1).flatMap((raw, i) => {
    if (raw.trim() === '') return [];
    const cells = splitLine(raw);
    const line = i + 2;
    if (cells.length !== header.length)
      throw new FlexError(
        'FLX_DATA_INVALID',
        `${file}: line ${line} has ${cells.length} fields, the header has ${header.length}`,
      );
    return [{ line, get: (column: string) => cells[index.get(column) ?? -1] ?? '' }];
  });
  return { file, header, rows };
};
