// Baselines on real meter history, per settlement day (46/48/50 periods), each named with its
// parameters in every settlement (issue 17). Sign convention: quantities are import kW; delivered =
// baseline − metered, so a reduction is positive.
//   bl01       P376 BL01 (baseline-bl01.ts): mean of the same period over recent days of the same type
//   dfs        NESO Demand Flexibility Service 2022/23: the previous 10 working days (4 non-working),
//              excluding event days, plus an in-day adjustment from the 3 hours before the event
//              (Utility Week, June 2023; DFS 2023/24 removed it for domestic assets only)
//   ena        ENA Flexibility Services Standard Agreement: a historical baseline (BL01, no in-day
//              adjustment) plus the same-day adjustment — the asset's mean load in the hour starting
//              2 hours before the event less the baseline then, only if positive; none for batteries
//   nominated  the provider's own baseline, submitted before the window (the buyer may reject it)
import { FlexError } from '../errors.ts';
import { periodsInDay } from '../domain/settlement-day.ts';
import { BL01_DEFAULT, bl01Baseline, describeBl01, type Bl01Config, type MeterDay } from './baseline-bl01.ts';
import type { BaselineName } from './product.ts';

/** One event: settlement periods [fromPeriod, toPeriod) of one settlement day (1-based, as published). */
export interface SettlementWindow {
  readonly date: string;
  readonly fromPeriod: number;
  readonly toPeriod: number;
}

export const BL01_SETTLEMENT: Bl01Config = { ...BL01_DEFAULT, periodsOf: periodsInDay };

export const DFS_2022_23: Bl01Config = {
  ...BL01_SETTLEMENT,
  name: 'DFS-2022/23',
  workingDays: 10,
  nonWorkingDays: 4,
  lookbackDays: 60,
  inDayAdjustment: { enabled: true, lengthSlots: 6, endOffsetSlots: 0 },
};

/** ENA standard agreement: the same-day adjustment, which can only be positive. */
export const enaSameDayAdjustment = (baselineKw: number, preEventLoadKw: number): number =>
  Math.max(0, preEventLoadKw - baselineKw);

export interface EventBaseline {
  readonly method: string;
  /** Baseline kW for each period of the window. */
  readonly baselineKw: readonly number[];
  readonly selectedDays: readonly string[];
  readonly excluded: readonly { readonly day: string; readonly reason: string }[];
  readonly adjustmentKw: number;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The baseline of a window by a named method, from the meter's settlement days (`days` may hold the
 * event day itself: it is never used as history). `eventDays` are earlier days the site delivered
 * flexibility on (excluded from history); `nominated` is the provider's baseline for the window.
 */
export const eventBaseline = (
  name: BaselineName,
  days: readonly MeterDay[],
  w: SettlementWindow,
  options: {
    readonly eventDays?: readonly string[];
    readonly nominatedKw?: readonly number[];
    readonly battery?: boolean;
  } = {},
): EventBaseline => {
  const n = w.toPeriod - w.fromPeriod;
  if (!(n > 0) || w.fromPeriod < 1 || w.toPeriod - 1 > periodsInDay(w.date))
    throw new FlexError(
      'FLX_DATA_INVALID',
      `the window must be settlement periods within ${w.date} (it has ${periodsInDay(w.date)})`,
    );
  if (name === 'nominated') {
    const kw = options.nominatedKw;
    if (!kw || kw.length !== n || kw.some((x) => !Number.isFinite(x) || x < 0))
      throw new FlexError(
        'FLX_DATA_INVALID',
        `a nominated baseline needs ${n} values (kW ≥ 0), one per period of the window`,
        {
          path: 'nominated',
        },
      );
    return {
      method: 'nominated: the provider’s baseline, submitted before the window',
      baselineKw: kw,
      selectedDays: [],
      excluded: [],
      adjustmentKw: 0,
    };
  }
  const eventDays = new Set(options.eventDays ?? []);
  const history: MeterDay[] = days.filter((d) => d.day < w.date).map((d) => ({ ...d, eventDay: eventDays.has(d.day) }));
  const today = days.find((d) => d.day === w.date)?.importKw ?? [];
  const config =
    name === 'dfs' ? DFS_2022_23 : name === 'ena' ? { ...BL01_SETTLEMENT, name: 'ENA-SA' } : BL01_SETTLEMENT;
  const from = w.fromPeriod - 1;
  const r = bl01Baseline(
    history,
    w.date,
    today,
    from,
    from + n,
    name === 'ena' ? { ...config, inDayAdjustment: { ...config.inDayAdjustment, enabled: false } } : config,
  );
  if (!r.ok) throw new FlexError('FLX_DATA_INVALID', `no ${name} baseline for ${w.date}: ${r.reason}`);
  const missing = r.baselineKw.findIndex((x) => !Number.isFinite(x));
  if (missing >= 0)
    throw new FlexError(
      'FLX_DATA_INVALID',
      `no ${name} baseline for period ${w.fromPeriod + missing} of ${w.date}: none of the baseline days has that period (a clock-change day)`,
    );
  if (name !== 'ena')
    return {
      method: describeBl01(config),
      baselineKw: r.baselineKw,
      selectedDays: r.selectedDays,
      excluded: r.excluded,
      adjustmentKw: r.inDayAdjustmentKw,
    };
  // The hour starting 2 hours before the event: periods [from − 4, from − 2).
  const hour = [from - 4, from - 3].filter((t) => t >= 0);
  const load = hour
    .map((t) => today[t])
    .filter((x): x is number => x !== null && x !== undefined && Number.isFinite(x));
  const adjustment =
    options.battery || load.length < hour.length || hour.length === 0
      ? 0
      : enaSameDayAdjustment(mean(hour.map((t) => r.unadjustedKw[t] as number)), mean(load));
  return {
    method: `ENA standard agreement: ${describeBl01({ ...config, inDayAdjustment: { ...config.inDayAdjustment, enabled: false } })}, plus the same-day adjustment max(0, mean load − baseline) over the hour starting 2 hours before the event${options.battery ? ' (none: a battery)' : ''}`,
    baselineKw: r.baselineKw.map((b) => b + adjustment),
    selectedDays: r.selectedDays,
    excluded: r.excluded,
    adjustmentKw: adjustment,
  };
};
