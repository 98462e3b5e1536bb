// The GB clock-change days of 2023 the tests of day lengths share: each settlement day, its start
// (UK local midnight) and how many hours it lasts.
import { settlementDayStart } from '../../src/domain/settlement-day.ts';

export const CLOCK_CHANGE_DAYS = (['2023-03-26', '2023-10-29'] as const).map((date) => ({
  date,
  start: settlementDayStart(date),
  hours: date === '2023-03-26' ? 23 : 25,
}));
