// The offline reader: saved NESO and Elexon API responses, in the shape the APIs return them —
// files you saved yourself, or the live client's disk cache (whose `<name>.meta.json` beside each
// response records when it was fetched, which makes its forecasts real vintages).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FlexError } from '../../errors.ts';
import type { VintageModel } from '../../domain/forecast-vintage.ts';
import { SignalHistory } from '../../domain/signal-history.ts';
import { HistorySignalSource } from '../../signals/history.ts';
import { elexonShape, readElexonResponse } from './elexon-parse.ts';
import { nesoShape, readNesoResponse } from './neso-parse.ts';
import { readJsonFile } from '../../formats/json.ts';

export const SAVED_FORMATS = ['neso-carbon-json', 'elexon-mid-json', 'elexon-system-prices-json'] as const;
export type SavedFormat = (typeof SAVED_FORMATS)[number];

export const detectSavedFormat = (body: unknown): SavedFormat | undefined => {
  if (nesoShape(body)) return 'neso-carbon-json';
  const e = elexonShape(body);
  return e === 'mid' ? 'elexon-mid-json' : e === 'system-prices' ? 'elexon-system-prices-json' : undefined;
};

const fetchedAtOf = (file: string): number | undefined => {
  const meta = file.replace(/\.json$/, '.meta.json');
  if (meta === file || !existsSync(meta)) return undefined;
  const t = (JSON.parse(readFileSync(meta, 'utf8')) as { fetchedAt?: unknown }).fetchedAt;
  return typeof t === 'number' ? t : undefined;
};

/** Reads one saved response into `h`. With `expected`, a response of another kind is an error. */
export const readSavedFile = (
  file: string,
  h: SignalHistory,
  expected?: SavedFormat,
): { format: SavedFormat; items: number } => {
  const body = readJsonFile(file);
  const format = detectSavedFormat(body);
  if (!format)
    throw new FlexError(
      'FLX_DATA_INVALID',
      `${file}: not a NESO carbon-intensity or Elexon MID / system-price response (no "data" array of periods); formats: ${SAVED_FORMATS.join(', ')}`,
    );
  if (expected && format !== expected)
    throw new FlexError('FLX_DATA_INVALID', `${file}: this is a ${format} response, not ${expected}`);
  if (format === 'neso-carbon-json') {
    const fetchedAt = fetchedAtOf(file);
    return {
      format,
      items: readNesoResponse(body, h, { file, ...(fetchedAt === undefined ? {} : { fetchedAt }) }).periods,
    };
  }
  return { format, items: readElexonResponse(body, h, file).rows };
};

/** Every `*.json` response in the given files and folders (not recursive; meta files skipped). */
export const savedFiles = (paths: readonly string[]): string[] =>
  paths.flatMap((p) => {
    if (!existsSync(p)) throw new FlexError('FLX_CONFIG_INVALID', `${p} does not exist`, { path: '--offline' });
    if (!statSync(p).isDirectory()) return [p];
    return readdirSync(p)
      .filter((f) => f.endsWith('.json') && !f.endsWith('.meta.json'))
      .sort()
      .map((f) => join(p, f));
  });

export class SavedResponseSignalSource extends HistorySignalSource {
  constructor(paths: readonly string[], options: { vintages?: VintageModel | false } = {}) {
    const h = new SignalHistory();
    const files = savedFiles(paths);
    if (files.length === 0)
      throw new FlexError('FLX_CONFIG_INVALID', `no saved responses (*.json) in ${paths.join(', ')}`, {
        path: '--offline',
      });
    for (const f of files) readSavedFile(f, h);
    super(h, {
      name: `the saved responses in ${paths.join(', ')}`,
      ...(options.vintages === undefined ? {} : { vintages: options.vintages }),
    });
  }
}
