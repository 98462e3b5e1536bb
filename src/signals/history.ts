// The SignalSource every recorded-data adapter shares (shipped CSV, a user's CSV, saved or live
// NESO/Elexon responses): a SignalHistory plus the forecast-vintage rule. forecast(asOf) returns,
// per slot, the newest forecast recorded as issued at or before asOf; where none was recorded it
// builds the vintage issued at asOf from the later value plus lead-scaled noise
// (src/domain/forecast-vintage.ts). outturn() returns the recorded values as they are.
import { FlexError } from '../errors.ts';
import {
  DEFAULT_VINTAGE_MODEL,
  NoisePath,
  noiseIndex,
  noiseSeed,
  vintageIssuedAt,
  vintageValue,
  type VintageModel,
} from '../domain/forecast-vintage.ts';
import { findRegion, NATIONAL_REGION_ID, regionLabel, type GridRegion } from '../domain/regions.ts';
import { PERIOD_MS } from '../domain/settlement-day.ts';
import type { SignalHistory, ForecastSignal } from '../domain/signal-history.ts';
import type { FilledValue, GridSignalPoint, SignalSeries } from '../domain/signals.ts';
import { isoOf, slotStart, type EpochMs, type SlotGrid } from '../domain/time.ts';
import { gbpPerMwh, gPerKwh } from '../domain/units.ts';
import type { SignalSource } from '../ports.ts';

export interface HistorySourceOptions {
  /** Where the data came from, for messages ("shipped data", a file name, "NESO API cache"). */
  readonly name: string;
  /** Synthetic vintages where nothing was recorded in time; false = recorded values only (then gaps are filled and flagged). */
  readonly vintages?: VintageModel | false;
}

type Slot = { value?: number; issuedAt?: number };

const hhmm = (t: number): string => isoOf(t).slice(0, 16) + 'Z';

export class HistorySignalSource implements SignalSource {
  private readonly model: VintageModel | false;
  private readonly noise = new Map<string, NoisePath>();

  constructor(
    readonly history: SignalHistory,
    readonly options: HistorySourceOptions,
  ) {
    this.model = options.vintages === undefined ? DEFAULT_VINTAGE_MODEL : options.vintages;
  }

  /** The region a caller names ("GB", "13", "London"), or a clear error. */
  region(name: string): GridRegion {
    const r = findRegion(name);
    if (!r)
      throw new FlexError(
        'FLX_SIGNAL_UNAVAILABLE',
        `unknown region "${name}": use GB, a NESO region id 1–17 or its name (e.g. 13 or London)`,
        { path: 'region' },
      );
    if (!this.history.regionIds().includes(r.id)) {
      const have = this.history
        .regionIds()
        .map((id) => regionLabel(findRegion(id) as GridRegion))
        .join(', ');
      throw new FlexError(
        'FLX_SIGNAL_UNAVAILABLE',
        `${this.options.name} has no carbon intensity for region ${regionLabel(r)} (it has: ${have || 'none'}); fetch it with \`flexlon signals fetch --region ${r.id}\``,
        { path: 'region' },
      );
    }
    return r;
  }

  private noiseAt(signal: ForecastSignal, region: number, start: number): number {
    const m = this.model;
    if (!m) return 0;
    const key = `${signal}|${region}`;
    let path = this.noise.get(key);
    if (!path) this.noise.set(key, (path = new NoisePath(noiseSeed(m.seed, signal, region), m[signal])));
    return path.at(noiseIndex(start));
  }

  /**
   * One slot of one forecast signal as of `asOf`: the newest recorded vintage issued by then; else
   * the vintage issued at asOf, synthesised from the earliest later value (when vintages are on).
   */
  private asOf(
    signal: ForecastSignal,
    region: number,
    start: number,
    asOf: number,
    later: { value: number; knownAt: number } | undefined,
  ): Slot {
    const recorded = this.history.vintagesOf(region, start, signal);
    let best: Slot | undefined;
    for (const v of recorded) if (v.issuedAt <= asOf) best = { value: v.value, issuedAt: v.issuedAt };
    if (best) return best;
    const first = recorded[0];
    const source =
      first && (!later || first.issuedAt < later.knownAt) ? { value: first.value, knownAt: first.issuedAt } : later;
    if (!source) return {};
    if (source.knownAt <= asOf) return { value: source.value, issuedAt: source.knownAt };
    if (!this.model) return {};
    const issuedAt = vintageIssuedAt(asOf, this.model);
    return {
      value: vintageValue(
        source.value,
        source.knownAt,
        issuedAt,
        this.noiseAt(signal, region, start),
        this.model.fullErrorLeadMs,
      ),
      issuedAt,
    };
  }

  async forecast(regionName: string, grid: SlotGrid, asOf: EpochMs): Promise<SignalSeries> {
    const r = this.region(regionName);
    const carbon: Slot[] = [];
    const price: Slot[] = [];
    for (let i = 0; i < grid.slots; i++) {
      const start = slotStart(grid, i);
      const rec = this.history.get(r.id, start);
      // NESO overwrites its stored forecast until the period starts; MID is known once it ends.
      carbon.push(
        this.asOf(
          'carbon',
          r.id,
          start,
          asOf,
          rec?.carbonForecast === undefined
            ? undefined
            : { value: rec.carbonForecast, knownAt: rec.forecastIssuedAt ?? start },
        ),
      );
      const p = this.history.get(NATIONAL_REGION_ID, start)?.price;
      price.push(
        this.asOf(
          'price',
          NATIONAL_REGION_ID,
          start,
          asOf,
          p === undefined ? undefined : { value: p, knownAt: start + PERIOD_MS },
        ),
      );
    }
    const filled: FilledValue[] = [];
    const carbonValues = this.fill(carbon, grid, 'carbonForecast', filled, r, asOf);
    const priceValues = price.map((s, i) => s.value ?? this.weekMeanPrice(slotStart(grid, i), asOf, filled));
    const points: GridSignalPoint[] = carbonValues.map((c, i) => {
      const pr = priceValues[i];
      return {
        start: slotStart(grid, i),
        carbonForecast: gPerKwh(c),
        ...(pr === undefined ? {} : { price: gbpPerMwh(pr) }),
      };
    });
    const issued = [...carbon, ...price].reduce((m, s) => Math.max(m, s.issuedAt ?? -Infinity), -Infinity);
    const basis = this.model
      ? `recorded forecasts issued by ${hhmm(asOf)}, else synthetic vintages (seed ${this.model.seed}; carbon MAE ${this.model.carbon.mae}, price MAE ${this.model.price.mae} at ${this.model.fullErrorLeadMs / 3_600_000} h lead)`
      : `recorded forecasts issued by ${hhmm(asOf)} only`;
    return {
      region: regionName,
      issuedAt: (Number.isFinite(issued) ? issued : asOf) as EpochMs,
      slotMinutes: grid.slotMinutes,
      points,
      ...(filled.length ? { filled } : {}),
      basis,
    };
  }

  async outturn(regionName: string, grid: SlotGrid): Promise<SignalSeries> {
    const r = this.region(regionName);
    const carbon: Slot[] = [];
    for (let i = 0; i < grid.slots; i++) {
      const v = this.history.get(r.id, slotStart(grid, i))?.carbonForecast;
      carbon.push(v === undefined ? {} : { value: v });
    }
    const filled: FilledValue[] = [];
    const carbonValues = this.fill(carbon, grid, 'carbonForecast', filled, r);
    const points: GridSignalPoint[] = carbonValues.map((c, i) => {
      const start = slotStart(grid, i);
      const own = this.history.get(r.id, start);
      const nat = this.history.get(NATIONAL_REGION_ID, start);
      return {
        start,
        carbonForecast: gPerKwh(c),
        ...(own?.carbonActual === undefined ? {} : { carbonActual: gPerKwh(own.carbonActual) }),
        ...(nat?.price === undefined ? {} : { price: gbpPerMwh(nat.price) }),
        ...(nat?.imbalancePrice === undefined ? {} : { imbalancePrice: gbpPerMwh(nat.imbalancePrice) }),
      };
    });
    return {
      region: regionName,
      issuedAt: grid.start,
      slotMinutes: grid.slotMinutes,
      points,
      ...(filled.length ? { filled } : {}),
      basis: 'recorded outturn',
    };
  }

  /**
   * A price for a slot nothing was recorded for (the future, in live use; gaps in history): the mean
   * MID of the same half hour on the seven previous days, counting only prices known by `asOf` —
   * the causal forecaster the price noise is calibrated against. Reported in `filled`.
   */
  private weekMeanPrice(start: number, asOf: number, filled: FilledValue[]): number | undefined {
    const past: number[] = [];
    for (let d = 1; d <= 7; d++) {
      const t = start - d * 48 * PERIOD_MS;
      const p = this.history.get(NATIONAL_REGION_ID, t)?.price;
      if (p !== undefined && t + PERIOD_MS <= asOf) past.push(p);
    }
    if (past.length === 0) {
      filled.push({
        start: start as EpochMs,
        field: 'price',
        how: 'no price known: the planner carries the last known price forward',
      });
      return undefined;
    }
    filled.push({
      start: start as EpochMs,
      field: 'price',
      how: `no price recorded: mean of the same half hour on ${past.length} previous day(s)`,
    });
    return past.reduce((a, b) => a + b, 0) / past.length;
  }

  /**
   * Fills slots nothing was known for: first from the same half hour on an earlier day (up to a
   * week back, stored values known by `asOf` only), else from the nearest earlier slot of the series,
   * else the nearest later one. Every filled slot is listed in `filled`.
   */
  private fill(
    slots: readonly Slot[],
    grid: SlotGrid,
    field: FilledValue['field'],
    filled: FilledValue[],
    r: GridRegion,
    asOf = Infinity,
  ): number[] {
    const daysBack = (start: number): { value: number; from: number } | undefined => {
      for (let d = 1; d <= 7; d++) {
        const t = start - d * 48 * PERIOD_MS;
        const v = this.history.get(r.id, t)?.carbonForecast;
        if (v !== undefined && t <= asOf) return { value: v, from: t };
      }
      return undefined;
    };
    const values = slots.map((s, i) => {
      if (s.value !== undefined) return s.value;
      const back = daysBack(slotStart(grid, i));
      if (back)
        filled.push({
          start: slotStart(grid, i),
          field,
          how: `no data: same half hour ${(slotStart(grid, i) - back.from) / 86_400_000} day(s) earlier (${hhmm(back.from)})`,
        });
      return back?.value;
    });
    const firstKnown = values.findIndex((v) => v !== undefined);
    if (firstKnown < 0) {
      const span = this.history.span(r.id, 'carbonForecast');
      const cover = span ? `it covers ${hhmm(span.from)} to ${hhmm(span.to)}` : 'it has none';
      throw new FlexError(
        'FLX_SIGNAL_UNAVAILABLE',
        `${this.options.name} has no carbon intensity for ${regionLabel(r)} from ${hhmm(grid.start)} for ${grid.slots} half hours, nor in the week before (${cover}); fetch the period with \`flexlon signals fetch\` or read the APIs with --live`,
      );
    }
    let last = firstKnown;
    return values.map((v, i) => {
      if (v !== undefined) {
        last = i;
        return v;
      }
      const from = i < firstKnown ? firstKnown : last;
      filled.push({
        start: slotStart(grid, i),
        field,
        how: `no data: ${i < firstKnown ? 'next' : 'last'} known value (${hhmm(slotStart(grid, from))}) used`,
      });
      return values[from] as number;
    });
  }
}
