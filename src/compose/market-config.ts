// The demo market's configuration, checked before anything is written: the data directory must be
// one a run folder can be made in, the shipped grid data must cover the day and the next (the demo
// plans two days ahead), and the number of sites must be one the simulation has.
import { existsSync, statSync, accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import type { CsvSignalSource } from '../adapters/signals-csv/source.ts';
import type { DemoConfig } from '../config.ts';
import { addDays, settlementDayStartAfter, settlementPeriodOf } from '../domain/settlement-day.ts';
import type { EpochMs } from '../domain/time.ts';
import { FlexError } from '../errors.ts';
import { SIM_SITES } from '../sim/sites.ts';
import { SLOT_MINUTES } from './market-roles.ts';

export const MAX_SITES = SIM_SITES.length;

/**
 * Checks the data directory before anything is written: its nearest existing ancestor must be a
 * writable directory, and it may not live in /proc or /sys (where mkdir can spin forever).
 */
export const ensureDataDir = (dir: string): string => {
  const bad = (why: string) =>
    new FlexError(
      'FLX_CONFIG_INVALID',
      `data directory ${dir}: ${why} (set --data-dir or FLEXLON_DATA_DIR to a writable folder)`,
      { path: '--data-dir' },
    );
  if (/^\/(proc|sys)(\/|$)/.test(dir)) throw bad('a kernel pseudo-filesystem cannot hold data');
  let probe = dir;
  while (!existsSync(probe)) {
    const parent = dirname(probe);
    if (parent === probe) break;
    probe = parent;
  }
  if (!statSync(probe).isDirectory()) throw bad(`${probe} is a file, not a directory`);
  try {
    accessSync(probe, constants.W_OK);
  } catch {
    throw bad(`${probe} is not writable`);
  }
  return dir;
};

/** The day (`--date`) against the grid data's span, and the number of sites (`--sites`). */
export const checkDemoConfig = (c: DemoConfig, signals: CsvSignalSource, dayStart: EpochMs): void => {
  const span = signals.span();
  // The demo plans two settlement days ahead: the day and the next must be covered, to the last
  // half hour. The dates it can replay run from the first whole settlement day the data holds to the
  // one before the last whole day.
  const last = span.to + SLOT_MINUTES * 60_000;
  if (dayStart < span.from || settlementDayStartAfter(dayStart, 2) > last) {
    const first = settlementPeriodOf(span.from);
    const from = first.period === 1 ? first.date : addDays(first.date, 1);
    // The settlement day holding the data's end is partial (or starts there): the day before it is
    // the last whole one, and the demo's day is the one before that.
    const end = settlementPeriodOf(last);
    const latest = addDays(end.date, -2);
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `--date: the shipped grid data covers ${new Date(span.from).toISOString().slice(0, 10)} to ${new Date(span.to).toISOString().slice(0, 16)}Z; the demo needs the settlement day and the next one (pick --date from ${from} to ${latest})`,
      { path: '--date' },
    );
  }
  if (!Number.isInteger(c.sites) || c.sites < 1 || c.sites > MAX_SITES)
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `--sites: must be a whole number from 1 to ${MAX_SITES}, got ${c.sites}`,
      {
        path: '--sites',
      },
    );
};
