// When the backtest's flexibility products are called (issue 15, `--products dfs,dso-peak,p415`):
// the dated DFS live events and the stated rules for DSO peak reduction and P415, each window
// announced at 14:00 UK local the day before (DFS 2022/23 was day-ahead). What a site commits and is
// paid for a window: products.ts, product-settlement.ts; docs/backtest.md, "Flexibility products",
// states each rule.
// - dfs: the shared notes and grid data hold no list of DFS event days, so the live events named in
//   public reports are used (DFS_LIVE_EVENTS, each with its source); DFS tests are left out (no dated
//   list was found).
// - dso-peak: no DSO call history ships, so it is called by a stated rule: every fourth working day
//   from November to March (working days counted from 2023-01-01), 16:00–19:00 UK local time.
// - p415: active (WMAN) on every fourth working day, offset by two from dso-peak, in the 2 h of the
//   day with the highest price forecast as known at the notice.
// BL01 excludes event days, so a product may not be called on every working day: the baseline would
// have no days to average (BSCP602: the deviation is lost).
import { EW_BANK_HOLIDAYS, isWorkingDay } from '../settlement/baseline-bl01.ts';
import { periodsInDay, PERIOD_MS, settlementDayStart } from '../domain/settlement-day.ts';

export const PRODUCTS = ['dfs', 'dso-peak', 'p415'] as const;
export type ProductName = (typeof PRODUCTS)[number];

const HOUR_MS = 3_600_000;

/** The DFS live events of winters 2022/23 and 2023/24 that public reports date; times are UK local. */
export const DFS_LIVE_EVENTS: readonly {
  date: string;
  from: string;
  to: string;
  source: string;
  /** The source dates the event but not its hours: those of the nearest dated event are assumed. */
  hoursAssumed?: true;
}[] = [
  {
    date: '2023-01-23',
    from: '17:00',
    to: '18:00',
    source: 'Wikipedia, "Demand Flexibility Service": the first live event at 5 pm on 23 January 2023, for an hour',
  },
  {
    date: '2023-01-24',
    from: '17:00',
    to: '18:00',
    source:
      'Wikipedia, "Demand Flexibility Service": a second live event the following day; the hour is not given there, the previous day\'s is assumed',
    hoursAssumed: true,
  },
  {
    date: '2023-11-29',
    from: '16:30',
    to: '18:00',
    source:
      'NESO news, "2.2 million sign up to Demand Flexibility Service": live events on 29 November and 1 December 2023, each an hour and a half; the time is not given there, 1 December\'s is assumed',
    hoursAssumed: true,
  },
  {
    date: '2023-12-01',
    from: '16:30',
    to: '18:00',
    source: 'Energy Live News, 30 November 2023, quoting the ESO: a live event 16:30–18:00 on Friday 1 December 2023',
  },
];

/** A called window of a product. */
export interface ProductWindow {
  readonly product: ProductName;
  /** Settlement date of the window. */
  readonly date: string;
  /** When the event was announced (ms): 14:00 UK local the day before. */
  readonly noticeAt: number;
  readonly start: number;
  readonly periods: number;
  /** The window's first settlement period, 0-based (SP − 1). */
  readonly fromSlot: number;
  readonly source: string;
}

const DAY_MS = 86_400_000;
export const dayAfter = (date: string, n = 1): string =>
  new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
const noticeOf = (date: string): number => settlementDayStart(date) - 10 * HOUR_MS;
const slotOfLocal = (hhmm: string): number => {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return (h * 60 + m) / 30;
};
const isWinter = (date: string): boolean => {
  const m = Number(date.slice(5, 7));
  return m >= 11 || m <= 3;
};

const COUNT_FROM = '2023-01-01';
/**
 * Working days counted from 2023-01-01 (negative before it), so the call rule does not depend on
 * --from; `mod4` of it is the day's place in the rule's four-day cycle.
 */
const workingIndex = (date: string): number => {
  let n = 0;
  for (let d = COUNT_FROM; d < date; d = dayAfter(d)) if (isWorkingDay(d, EW_BANK_HOLIDAYS)) n++;
  for (let d = date; d < COUNT_FROM; d = dayAfter(d)) if (isWorkingDay(d, EW_BANK_HOLIDAYS)) n--;
  return n;
};
const mod4 = (k: number): number => ((k % 4) + 4) % 4;

export const DSO_WINDOW = { from: '16:00', to: '19:00' } as const;
export const P415_PERIODS = 4;

/**
 * The windows called on the given settlement days. `priceForecast(noticeAt)` gives the causal price
 * forecast (£/MWh by period start) as known at a notice time, for choosing P415's active hours.
 */
export const productCalendar = (
  products: readonly ProductName[],
  days: readonly string[],
  priceForecast: (noticeAt: number) => (t: number) => number,
): ProductWindow[] => {
  const out: ProductWindow[] = [];
  const dfsDays = new Set<string>();
  if (products.includes('dfs'))
    for (const e of DFS_LIVE_EVENTS)
      if (days.includes(e.date)) {
        dfsDays.add(e.date);
        const fromSlot = slotOfLocal(e.from);
        out.push({
          product: 'dfs',
          date: e.date,
          noticeAt: noticeOf(e.date),
          start: settlementDayStart(e.date) + fromSlot * PERIOD_MS,
          periods: slotOfLocal(e.to) - fromSlot,
          fromSlot,
          source: e.source,
        });
      }
  if (!days.length) return out;
  let wi = workingIndex(days[0] as string);
  for (const date of days) {
    if (!isWorkingDay(date, EW_BANK_HOLIDAYS)) continue;
    const k = wi++;
    if (dfsDays.has(date)) continue;
    const dayStart = settlementDayStart(date);
    if (products.includes('dso-peak') && mod4(k) === 0 && isWinter(date)) {
      const fromSlot = slotOfLocal(DSO_WINDOW.from);
      out.push({
        product: 'dso-peak',
        date,
        noticeAt: noticeOf(date),
        start: dayStart + fromSlot * PERIOD_MS,
        periods: slotOfLocal(DSO_WINDOW.to) - fromSlot,
        fromSlot,
        source:
          'rule: every fourth working day (counted from 2023-01-01, backwards before it), November to March, 16:00–19:00 UK local',
      });
    }
    if (products.includes('p415') && mod4(k) === 2) {
      const f = priceForecast(noticeOf(date));
      const n = periodsInDay(date);
      let best = 0;
      let bestSum = -Infinity;
      for (let s = 0; s + P415_PERIODS <= n; s++) {
        let sum = 0;
        for (let i = 0; i < P415_PERIODS; i++) sum += f(dayStart + (s + i) * PERIOD_MS);
        // Strictly higher: ties keep the earliest window.
        if (sum > bestSum + 1e-9) {
          bestSum = sum;
          best = s;
        }
      }
      out.push({
        product: 'p415',
        date,
        noticeAt: noticeOf(date),
        start: dayStart + best * PERIOD_MS,
        periods: P415_PERIODS,
        fromSlot: best,
        source:
          'rule: every fourth working day (counted from 2023-01-01, backwards before it; offset 2), the 2 h of highest price forecast at the notice',
      });
    }
  }
  return out.sort((a, b) => a.start - b.start || a.product.localeCompare(b.product));
};
