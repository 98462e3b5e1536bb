// A P376 BL01-style baseline (BSC Baselining Methodology Document, BL01): for the event day's type
// (working or non-working), the most recent eligible days of that type within a look-back window,
// excluding event days and days with missing meter data; the baseline of each settlement period is
// the mean of those days' metered values in the same period; an optional additive in-day adjustment
// shifts it by the mean gap between actual and baseline in a window before the event.
// The window offsets, caps and fallbacks are not confirmed from the BMD itself, so they are
// configuration, and every result states the configuration it used.
// Days are UTC days of 48 half-hour slots for simulated history, or settlement days of 46/48/50
// periods for real meter data (Bl01Config.periodsOf; periods matched by number). Quantities are
// import kW (average per period).

export interface Bl01Config {
  readonly name: string;
  readonly lookbackDays: number;
  readonly workingDays: number;
  readonly nonWorkingDays: number;
  /** Fewer eligible days than this: no baseline (the deviation cannot be settled). */
  readonly minDays: number;
  readonly inDayAdjustment: {
    readonly enabled: boolean;
    readonly lengthSlots: number;
    readonly endOffsetSlots: number;
  };
  /** Non-working weekdays (YYYY-MM-DD): England and Wales bank holidays by default. */
  readonly holidays: readonly string[];
  /**
   * Periods in a day: 48 for the UTC days of simulated history (the default); for settlement days,
   * periodsInDay (46 or 50 on clock-change days). Periods are matched by number; a period a baseline
   * day lacks (SP 49–50 of a long event day) has no baseline.
   */
  readonly periodsOf?: (day: string) => number;
}

/** England and Wales bank holidays from the shipped data's first day (2022-11-25) to the end of 2024 (gov.uk/bank-holidays). */
export const EW_BANK_HOLIDAYS = [
  '2022-12-26',
  '2022-12-27',
  '2023-01-02',
  '2023-04-07',
  '2023-04-10',
  '2023-05-01',
  '2023-05-08',
  '2023-05-29',
  '2023-08-28',
  '2023-12-25',
  '2023-12-26',
  '2024-01-01',
  '2024-03-29',
  '2024-04-01',
  '2024-05-06',
  '2024-05-27',
  '2024-08-26',
  '2024-12-25',
  '2024-12-26',
] as const;

export const BL01_DEFAULT: Bl01Config = {
  name: 'BL01',
  lookbackDays: 60,
  workingDays: 10,
  nonWorkingDays: 4,
  minDays: 1,
  // Off by default: DFS removed the domestic in-day adjustment in 2023/24, and for a site that already
  // shifts load out of the hours before a peak it would lower the baseline for behaviour it is not paid for.
  inDayAdjustment: { enabled: false, lengthSlots: 6, endOffsetSlots: 0 },
  holidays: EW_BANK_HOLIDAYS,
};

export const describeBl01 = (c: Bl01Config): string =>
  `${c.name}: mean of the ${c.workingDays} most recent working days (${c.nonWorkingDays} non-working) of the same type within ${c.lookbackDays} days, excluding event days and incomplete days; in-day adjustment ${c.inDayAdjustment.enabled ? `on (${idaWindowWords(c.inDayAdjustment.lengthSlots, c.inDayAdjustment.endOffsetSlots)})` : 'off'}`;

/** "the 6 periods just before the event", or "... ending 2 periods before it": the in-day adjustment's window in words. */
const idaWindowWords = (length: number, offset: number): string =>
  `over the ${length} period${length === 1 ? '' : 's'} ${offset === 0 ? 'just before the event' : `ending ${offset} period${offset === 1 ? '' : 's'} before the event`}`;

/** One day of half-hourly metered import (kW), null where there is no reading. */
export interface MeterDay {
  readonly day: string;
  readonly importKw: readonly (number | null)[];
  /** The site delivered flexibility that day: its meter does not show normal behaviour. */
  readonly eventDay?: boolean;
}

export const SLOTS_PER_DAY = 48;

const dayIndex = (day: string): number => Math.round(Date.parse(`${day}T00:00:00Z`) / 86_400_000);

export const isWorkingDay = (day: string, holidays: readonly string[]): boolean => {
  const dow = new Date(`${day}T00:00:00Z`).getUTCDay();
  return dow !== 0 && dow !== 6 && !holidays.includes(day);
};

export type Bl01Result =
  | {
      readonly ok: true;
      readonly method: string;
      readonly dayType: 'working' | 'non-working';
      readonly selectedDays: readonly string[];
      readonly excluded: readonly { readonly day: string; readonly reason: string }[];
      /** Unadjusted baseline for every slot of the day (kW). */
      readonly unadjustedKw: readonly number[];
      readonly inDayAdjustmentKw: number;
      /** Baseline for the event slots [fromSlot, toSlot) (kW). */
      readonly baselineKw: readonly number[];
    }
  | {
      readonly ok: false;
      readonly reason: string;
      readonly excluded: readonly { readonly day: string; readonly reason: string }[];
    };

export const bl01Baseline = (
  history: readonly MeterDay[],
  eventDay: string,
  eventDayMeter: readonly (number | null)[],
  fromSlot: number,
  toSlot: number,
  c: Bl01Config = BL01_DEFAULT,
): Bl01Result => {
  const periods = (day: string) => c.periodsOf?.(day) ?? SLOTS_PER_DAY;
  const working = isWorkingDay(eventDay, c.holidays);
  const wanted = working ? c.workingDays : c.nonWorkingDays;
  const event = dayIndex(eventDay);
  const excluded: { day: string; reason: string }[] = [];
  const candidates = [...history]
    .filter((d) => dayIndex(d.day) < event && dayIndex(d.day) >= event - c.lookbackDays)
    .sort((a, b) => dayIndex(b.day) - dayIndex(a.day));
  const selected: MeterDay[] = [];
  for (const d of candidates) {
    if (selected.length >= wanted) break;
    if (isWorkingDay(d.day, c.holidays) !== working) continue;
    if (d.eventDay) {
      excluded.push({ day: d.day, reason: 'event day' });
      continue;
    }
    if (d.importKw.length !== periods(d.day) || d.importKw.some((x) => x === null || !Number.isFinite(x))) {
      excluded.push({ day: d.day, reason: 'incomplete meter data' });
      continue;
    }
    selected.push(d);
  }
  if (selected.length < Math.max(1, c.minDays)) {
    return {
      ok: false,
      reason: `only ${selected.length} eligible ${working ? 'working' : 'non-working'} day(s) in the ${c.lookbackDays} days before ${eventDay} (at least ${c.minDays} needed)`,
      excluded,
    };
  }
  const unadjustedKw = Array.from({ length: periods(eventDay) }, (_, t) => {
    const have = selected.filter((d) => t < d.importKw.length);
    return have.length === 0 ? NaN : have.reduce((a, d) => a + (d.importKw[t] as number), 0) / have.length;
  });
  let ida = 0;
  if (c.inDayAdjustment.enabled) {
    const end = fromSlot - c.inDayAdjustment.endOffsetSlots;
    const start = Math.max(0, end - c.inDayAdjustment.lengthSlots);
    const gaps: number[] = [];
    for (let t = start; t < end; t++) {
      const actual = eventDayMeter[t];
      if (actual !== null && actual !== undefined && Number.isFinite(actual) && Number.isFinite(unadjustedKw[t]))
        gaps.push(actual - (unadjustedKw[t] as number));
    }
    if (gaps.length > 0) ida = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  }
  return {
    ok: true,
    method: describeBl01(c),
    dayType: working ? 'working' : 'non-working',
    selectedDays: selected.map((d) => d.day),
    excluded,
    unadjustedKw,
    inDayAdjustmentKw: ida,
    baselineKw: unadjustedKw.slice(fromSlot, toSlot).map((u) => u + ida),
  };
};
