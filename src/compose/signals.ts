// Picks the SignalSource adapter for commands that read grid signals (part of the composition root;
// src/compose.ts wires the market). Shipped data by default; a user's CSV files; saved API
// responses (offline); or the live NESO and Elexon APIs with a disk cache.
import { join } from 'node:path';
import { CsvSignalSource } from '../adapters/signals-csv/source.ts';
import type { ColumnMapping } from '../adapters/signals-csv/mapping.ts';
import { ElexonClient } from '../adapters/signals-api/elexon-client.ts';
import type { HistorySignalSource } from '../signals/history.ts';
import { CachedFetcher, type FetcherOptions } from '../adapters/signals-api/fetcher.ts';
import { SavedResponseSignalSource } from '../adapters/signals-api/saved.ts';
import { ApiSignalSource } from '../adapters/signals-api/live-source.ts';
import { NesoCarbonClient } from '../adapters/signals-api/neso-client.ts';
import { SHIPPED_GRID } from '../config.ts';
import type { VintageModel } from '../domain/forecast-vintage.ts';

export type SignalChoice =
  | { readonly kind: 'shipped' }
  | { readonly kind: 'csv'; readonly files: readonly string[]; readonly mapping?: ColumnMapping }
  | { readonly kind: 'offline'; readonly paths: readonly string[] }
  | {
      readonly kind: 'live';
      readonly cacheDir: string;
      readonly nesoUrl?: string;
      readonly elexonUrl?: string;
      readonly fetcher?: FetcherOptions;
    };

/** Where the live clients cache responses under a FlexLon data directory. */
export const signalCacheDir = (dataDir: string): string => join(dataDir, 'cache', 'signals');

export const liveClients = (
  c: Extract<SignalChoice, { kind: 'live' }>,
): { neso: NesoCarbonClient; elexon: ElexonClient; fetcher: CachedFetcher } => {
  const fetcher = new CachedFetcher({ ...c.fetcher, cacheDir: c.cacheDir });
  return {
    fetcher,
    neso: new NesoCarbonClient({ fetcher, ...(c.nesoUrl ? { baseUrl: c.nesoUrl } : {}) }),
    elexon: new ElexonClient({ fetcher, ...(c.elexonUrl ? { baseUrl: c.elexonUrl } : {}) }),
  };
};

/** A recorded-data source (everything but live), for commands that also report faults. */
export const recordedSource = (
  c: Exclude<SignalChoice, { kind: 'live' }>,
  vintages?: VintageModel | false,
): HistorySignalSource => {
  const v = vintages === undefined ? {} : { vintages };
  switch (c.kind) {
    case 'shipped':
      return new CsvSignalSource(SHIPPED_GRID, { ...v, name: 'the shipped data' });
    case 'csv':
      return new CsvSignalSource(
        { carbon: c.files },
        { ...v, ...(c.mapping ? { mapping: c.mapping } : {}), name: c.files.join(', ') },
      );
    case 'offline':
      return new SavedResponseSignalSource(c.paths, v);
    default: {
      const never: never = c;
      throw new Error(`unknown source ${JSON.stringify(never)}`);
    }
  }
};

export const liveSource = (
  c: Extract<SignalChoice, { kind: 'live' }>,
  vintages?: VintageModel | false,
): ApiSignalSource => {
  const { neso, elexon } = liveClients(c);
  return new ApiSignalSource({ neso, elexon, systemPrices: true, ...(vintages === undefined ? {} : { vintages }) });
};
