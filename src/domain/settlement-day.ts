// GB settlement days and periods. A settlement day is a UK *local* calendar day; its periods are
// 30 minutes long and numbered from 1 at local midnight (BSC Section X-1), so a day has 46 periods
// when the clocks go forward, 50 when they go back, 48 otherwise. UK summer time runs from 01:00 UTC
// on the last Sunday of March to 01:00 UTC on the last Sunday of October (The Summer Time Order
// 2002, SI 2002/262, which follows Directive 2000/84/EC). Pure arithmetic: no time-zone database.
import { epochMs, type EpochMs } from './time.ts';

export const PERIOD_MS = 30 * 60_000;
const HOUR_MS = 3_600_000;
/** A settlement period in hours (kW × PERIOD_H = kWh in one period). */
export const PERIOD_H = PERIOD_MS / HOUR_MS;
const DAY_MS = 86_400_000;

/** 00:00 UTC of the last Sunday of a month (month0: 0 = January). */
const lastSundayUtc = (year: number, month0: number): number => {
  const last = new Date(Date.UTC(year, month0 + 1, 0));
  return Date.UTC(year, month0, last.getUTCDate() - last.getUTCDay());
};

/** Summer time in the UK for a year: [start, end) in UTC. */
export const summerTime = (year: number): { readonly start: EpochMs; readonly end: EpochMs } => ({
  start: epochMs(lastSundayUtc(year, 2) + HOUR_MS),
  end: epochMs(lastSundayUtc(year, 9) + HOUR_MS),
});

/** UK local time minus UTC at instant t: 1 h in summer time, otherwise 0. */
export const londonOffsetMs = (t: number): number => {
  const { start, end } = summerTime(new Date(t).getUTCFullYear());
  return t >= start && t < end ? HOUR_MS : 0;
};

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar day written YYYY-MM-DD. */
export const isSettlementDate = (date: string): boolean => {
  const m = DATE_RE.exec(date);
  if (!m) return false;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(t).toISOString().slice(0, 10) === date;
};

/** The UTC instant at which a settlement day starts (local midnight). */
export const settlementDayStart = (date: string): EpochMs => {
  if (!isSettlementDate(date)) throw new RangeError(`"${date}" is not a day written YYYY-MM-DD`);
  const midnightUtc = Date.parse(`${date}T00:00:00Z`);
  // Local midnight is 23:00 UTC the day before when summer time is in force an hour before
  // midnight UTC; on the day the clocks go forward it is still winter time at that instant.
  return epochMs(midnightUtc - londonOffsetMs(midnightUtc - HOUR_MS));
};

/** The calendar day `days` after `date` (before it when negative), written YYYY-MM-DD. */
export const addDays = (date: string, days: number): string =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);

const nextDate = (date: string): string => addDays(date, 1);

/** Number of settlement periods in a settlement day: 46, 48 or 50. */
export const periodsInDay = (date: string): number =>
  (settlementDayStart(nextDate(date)) - settlementDayStart(date)) / PERIOD_MS;

/** UTC start of settlement period `period` (1-based) of settlement day `date`. */
export const periodStart = (date: string, period: number): EpochMs => {
  const n = periodsInDay(date);
  if (!Number.isInteger(period) || period < 1 || period > n)
    throw new RangeError(`settlement period ${period} does not exist on ${date} (it has ${n})`);
  return epochMs(settlementDayStart(date) + (period - 1) * PERIOD_MS);
};

export interface SettlementPeriodRef {
  readonly date: string;
  readonly period: number;
}

/** The settlement day and period that contain instant t. */
export const settlementPeriodOf = (t: number): SettlementPeriodRef => {
  const date = new Date(t + londonOffsetMs(t)).toISOString().slice(0, 10);
  return { date, period: Math.floor((t - settlementDayStart(date)) / PERIOD_MS) + 1 };
};

/** The UTC instant at which the settlement day that contains t starts (UK local midnight). */
export const settlementDayStartOf = (t: number): EpochMs => settlementDayStart(settlementPeriodOf(t).date);

/** The UTC instant at which the settlement day `days` after the one that contains t starts. */
export const settlementDayStartAfter = (t: number, days: number): EpochMs =>
  settlementDayStart(addDays(settlementPeriodOf(t).date, days));

/**
 * How long `days` settlement days last from the start of the one holding t (ms): 24 h a day, but 23
 * or 25 h for a clock-change day. Counted from that day's start, so a t that is not a UK midnight
 * (a simulation started at 00:00 UTC in summer) still measures whole days.
 */
export const settlementDaysMs = (t: number, days: number): number =>
  settlementDayStartAfter(t, days) - settlementDayStartOf(t);

/** True when t is on a half-hour boundary in UTC (every settlement period starts on one). */
export const isPeriodStart = (t: number): boolean => t % PERIOD_MS === 0;

/** Rounds an instant down to the start of its half hour. */
export const floorToPeriod = (t: number): EpochMs => epochMs(Math.floor(t / PERIOD_MS) * PERIOD_MS);
