// SignalSource over the NESO carbon-intensity and Elexon MID CSV files (their published column
// names). National data only: region "GB". Faults are handled as the data notes say: empty or zero
// actuals and zero-volume prices are missing values, not zeros.
import { FlexError } from '../../errors.ts';
import type { GridSignalPoint, SignalSeries } from '../../domain/signals.ts';
import { slotStart, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import { gbpPerMwh, gPerKwh } from '../../domain/units.ts';
import type { SignalSource } from '../../ports.ts';
import { readCsv } from './csv.ts';

interface Row { forecast?: number; actual?: number; price?: number }

const parseUtc = (s: string, file: string, line: number): number => {
  const t = Date.parse(s.endsWith('Z') ? s : `${s}Z`);
  if (Number.isNaN(t)) throw new FlexError('FLX_DATA_INVALID', `${file}: line ${line}: "${s}" is not a UTC timestamp`);
  return t;
};

const num = (s: string, file: string, line: number, column: string): number | undefined => {
  if (s.trim() === '') return undefined;
  const n = Number(s);
  if (!Number.isFinite(n)) throw new FlexError('FLX_DATA_INVALID', `${file}: line ${line}: ${column} "${s}" is not a number`);
  return n;
};

export class CsvSignalSource implements SignalSource {
  private readonly rows = new Map<number, Row>();

  constructor(files: { readonly carbon: string; readonly price: string }) {
    const carbon = readCsv(files.carbon, ['from_utc', 'forecast_gco2_per_kwh', 'actual_gco2_per_kwh']);
    for (const r of carbon.rows) {
      const t = parseUtc(r.get('from_utc'), carbon.file, r.line);
      const forecast = num(r.get('forecast_gco2_per_kwh'), carbon.file, r.line, 'forecast_gco2_per_kwh');
      const actual = num(r.get('actual_gco2_per_kwh'), carbon.file, r.line, 'actual_gco2_per_kwh');
      this.rows.set(t, { ...this.rows.get(t), ...(forecast === undefined ? {} : { forecast }), ...(actual === undefined || actual === 0 ? {} : { actual }) });
    }
    const price = readCsv(files.price, ['start_utc', 'price_gbp_per_mwh', 'volume_mwh']);
    for (const r of price.rows) {
      const t = parseUtc(r.get('start_utc'), price.file, r.line);
      const p = num(r.get('price_gbp_per_mwh'), price.file, r.line, 'price_gbp_per_mwh');
      const volume = num(r.get('volume_mwh'), price.file, r.line, 'volume_mwh');
      // Zero volume means no trades in the period: the 0.0 price is not a price.
      if (p !== undefined && volume !== 0) this.rows.set(t, { ...this.rows.get(t), price: p });
    }
  }

  /** First and last period start held (epoch ms). */
  span(): { from: number; to: number } {
    const keys = [...this.rows.keys()];
    return { from: Math.min(...keys), to: Math.max(...keys) };
  }

  private series(region: string, grid: SlotGrid, asOf: EpochMs, pick: (r: Row) => GridSignalPoint | undefined): SignalSeries {
    if (region !== 'GB') throw new FlexError('FLX_CONFIG_INVALID', `the CSV signal source holds national (GB) data only, not region "${region}"`);
    const points: GridSignalPoint[] = [];
    for (let i = 0; i < grid.slots; i++) {
      const start = slotStart(grid, i);
      const row = this.rows.get(start);
      const p = row ? pick(row) : undefined;
      if (!p) throw new FlexError('FLX_DATA_INVALID', `no carbon-intensity data for the period starting ${new Date(start).toISOString()} (data covers ${new Date(this.span().from).toISOString()} to ${new Date(this.span().to).toISOString()})`);
      points.push({ ...p, start });
    }
    return { region, issuedAt: asOf, slotMinutes: grid.slotMinutes, points };
  }

  async forecast(region: string, grid: SlotGrid, asOf: EpochMs): Promise<SignalSeries> {
    return this.series(region, grid, asOf, (r) => (r.forecast === undefined ? undefined : {
      start: 0 as EpochMs, carbonForecast: gPerKwh(r.forecast), ...(r.price === undefined ? {} : { price: gbpPerMwh(r.price) }),
    }));
  }

  async outturn(region: string, grid: SlotGrid): Promise<SignalSeries> {
    return this.series(region, grid, grid.start, (r) => (r.forecast === undefined ? undefined : {
      start: 0 as EpochMs, carbonForecast: gPerKwh(r.forecast),
      ...(r.actual === undefined ? {} : { carbonActual: gPerKwh(r.actual) }), ...(r.price === undefined ? {} : { price: gbpPerMwh(r.price) }),
    }));
  }
}
