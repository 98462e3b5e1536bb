// Every SignalSource adapter against the same contract: the shipped CSV, FlexLon's normalised CSV,
// saved API responses read offline, and the live API clients over real HTTP on loopback.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsvSignalSource, loadCsvHistory } from '../../src/adapters/signals-csv/source.ts';
import { normalisedCsv } from '../../src/adapters/signals-csv/write.ts';
import { SavedResponseSignalSource } from '../../src/adapters/signals-api/saved.ts';
import { liveSource } from '../../src/compose/signals.ts';
import { SHIPPED_GRID, PROJECT_ROOT } from '../../src/config.ts';
import { epochMs, type SlotGrid } from '../../src/domain/time.ts';
import { signalSourceContract } from '../contract/signal-source.contract.ts';
import { startGridApi } from '../helpers/grid-api.ts';

const day = (d: string, slots = 48): SlotGrid => ({
  start: epochMs(Date.parse(`${d}T00:00:00Z`)),
  slotMinutes: 30,
  slots,
});
const fixtures = join(PROJECT_ROOT, 'test', 'fixtures', 'signals');

/** A value straight from a shipped CSV line, read without FlexLon's code. */
const csvValue = (file: string, key: string, column: number): number | undefined => {
  const line = readFileSync(join(PROJECT_ROOT, 'data', 'grid', file), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(key));
  const v = line?.split(',')[column];
  return v === undefined || v === '' ? undefined : Number(v);
};

// 2023-01-28 17:00Z; 03:30Z that day had no trades (MID volume 0).
const jan28 = {
  slot: 34,
  carbonForecast: csvValue('gb_carbon_intensity_national_2023.csv', '2023-01-28T17:00Z', 2) as number,
  carbonActual: csvValue('gb_carbon_intensity_national_2023.csv', '2023-01-28T17:00Z', 3) as number,
  price: csvValue('gb_market_index_price_apx_2023.csv', '2023-01-28T17:00Z', 3) as number,
};
// 2024-01-10 16:30Z in London: the regional file labels it 15:30 (labels run an hour early).
const londonLine = readFileSync(
  join(PROJECT_ROOT, 'data', 'grid', 'gb_regional_carbon_intensity_neso_2023-12-05_2024-03-03.csv'),
  'utf8',
)
  .split('\n')
  .find((l) => l.startsWith('2024-01-10T15:30:00'));
const london = {
  slot: 33,
  carbonForecast: Number(londonLine?.split(',')[13]),
  price: csvValue('gb_market_index_price_apx_2024.csv', '2024-01-10T16:30Z', 3) as number,
};

let shippedSource: CsvSignalSource | undefined;
const shipped = () => (shippedSource ??= new CsvSignalSource(SHIPPED_GRID));

signalSourceContract('CsvSignalSource over the shipped national data', async () => ({
  source: shipped(),
  region: 'GB',
  grid: day('2023-01-28'),
  known: jan28,
  fault: { slot: 7, field: 'price' },
  cleanup: async () => {},
}));

signalSourceContract('CsvSignalSource over the shipped regional sample (London)', async () => ({
  source: shipped(),
  region: '13',
  grid: day('2024-01-10'),
  known: london,
  cleanup: async () => {},
}));

signalSourceContract("CsvSignalSource over FlexLon's normalised CSV", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-norm-'));
  // The 2023 files: the day below is in them.
  const { history } = loadCsvHistory(
    [...SHIPPED_GRID.price, ...SHIPPED_GRID.carbon].filter((f) => f.includes('_2023.')),
  );
  const file = join(dir, 'normalised.csv');
  writeFileSync(file, normalisedCsv(history).text);
  return {
    source: new CsvSignalSource({ carbon: file }),
    region: 'GB',
    grid: day('2023-01-28'),
    known: jan28,
    fault: { slot: 7, field: 'price' },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

signalSourceContract('SavedResponseSignalSource over saved NESO / Elexon responses', async () => ({
  source: new SavedResponseSignalSource([fixtures]),
  region: 'GB',
  grid: day('2023-01-31', 6),
  known: {
    slot: 4,
    carbonForecast: csvValue('gb_carbon_intensity_national_2023.csv', '2023-01-31T02:00Z', 2) as number,
    carbonActual: csvValue('gb_carbon_intensity_national_2023.csv', '2023-01-31T02:00Z', 3) as number,
  },
  fault: { slot: 2, field: 'carbonActual' },
  cleanup: async () => {},
}));

const live =
  (region: string, grid: SlotGrid, known: typeof jan28 | typeof london, fault?: { slot: number; field: 'price' }) =>
  async () => {
    const api = await startGridApi();
    const cacheDir = mkdtempSync(join(tmpdir(), 'flexlon-cache-'));
    return {
      source: liveSource({ kind: 'live', cacheDir, nesoUrl: api.url, elexonUrl: api.url, fetcher: { retries: 0 } }),
      region,
      grid,
      known,
      ...(fault ? { fault } : {}),
      cleanup: async () => {
        await api.close();
        rmSync(cacheDir, { recursive: true, force: true });
      },
    };
  };

signalSourceContract(
  'ApiSignalSource (live NESO + Elexon clients) over loopback HTTP, national',
  live('GB', day('2023-01-28'), jan28, { slot: 7, field: 'price' }),
);
signalSourceContract(
  'ApiSignalSource (live NESO + Elexon clients) over loopback HTTP, London',
  live('London', day('2024-01-10'), london),
);
