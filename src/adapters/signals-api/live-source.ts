// SignalSource over the live NESO Carbon Intensity and Elexon Insights APIs. Each call fetches (or
// reads from the disk cache) what the slots need: carbon for the region, MID for the slots and the
// week before them (the causal price forecast for periods with no price yet), and — for outturn —
// system prices. Forecasts fetched before a period starts are recorded as vintages issued at the
// fetch time, so the same forecast(asOf) rule as for shipped data applies.
import type { VintageModel } from '../../domain/forecast-vintage.ts';
import { findRegion, isNational } from '../../domain/regions.ts';
import { SignalHistory } from '../../domain/signal-history.ts';
import type { SignalSeries } from '../../domain/signals.ts';
import { gridEnd, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import { FlexError } from '../../errors.ts';
import type { SignalSource } from '../../ports.ts';
import type { ElexonClient } from './elexon-client.ts';
import { HistorySignalSource } from '../../signals/history.ts';
import type { Fetched } from './fetcher.ts';
import type { NesoCarbonClient } from './neso-client.ts';

const WEEK_MS = 7 * 86_400_000;

export interface ApiSourceOptions {
  readonly neso: NesoCarbonClient;
  readonly elexon: ElexonClient;
  readonly now?: () => number;
  readonly vintages?: VintageModel | false;
  readonly systemPrices?: boolean;
  /** Told about responses served from an old cache because the API was unreachable. */
  readonly onStale?: (f: Fetched) => void;
}

export class ApiSignalSource implements SignalSource {
  constructor(private readonly o: ApiSourceOptions) {}

  /** Fetches what the slots need into a fresh history (the disk cache makes repeats cheap). */
  async load(region: string, grid: SlotGrid, outturn: boolean): Promise<HistorySignalSource> {
    const r = findRegion(region);
    if (!r)
      throw new FlexError(
        'FLX_SIGNAL_UNAVAILABLE',
        `unknown region "${region}": use GB, a NESO region id 1–17 or its name`,
        { path: 'region' },
      );
    const h = new SignalHistory();
    const now = (this.o.now ?? Date.now)();
    const end = gridEnd(grid);
    const fetched = [...(await this.o.neso.load(h, r.id, grid.start, end))];
    // MID exists only for periods already traded; asking for the future is wasted requests.
    const priceEnd = Math.min(end, now);
    if (priceEnd > grid.start - WEEK_MS)
      fetched.push(...(await this.o.elexon.loadMid(h, grid.start - WEEK_MS, priceEnd)));
    if (outturn && this.o.systemPrices && priceEnd > grid.start)
      fetched.push(...(await this.o.elexon.loadSystemPrices(h, grid.start, priceEnd)));
    for (const f of fetched) if (f.stale) this.o.onStale?.(f);
    if (!isNational(r) && h.regionIds().length === 0)
      throw new FlexError('FLX_SIGNAL_UNAVAILABLE', `the NESO API returned no regional data for region ${r.id}`);
    return new HistorySignalSource(h, {
      name: 'the NESO and Elexon APIs',
      ...(this.o.vintages === undefined ? {} : { vintages: this.o.vintages }),
    });
  }

  async forecast(region: string, grid: SlotGrid, asOf: EpochMs): Promise<SignalSeries> {
    return (await this.load(region, grid, false)).forecast(region, grid, asOf);
  }

  async outturn(region: string, grid: SlotGrid): Promise<SignalSeries> {
    return (await this.load(region, grid, true)).outturn(region, grid);
  }
}
