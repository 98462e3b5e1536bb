// The demo market's configuration, checked before anything is written: the data directory must be
// one a run folder can be made in, the shipped grid data must cover the day and the next (the demo
// plans two days ahead), and the number of sites must be one the simulation has.
import { existsSync, statSync, accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import type { CsvSignalSource } from '../adapters/signals-csv/source.ts';
import type { DemoConfig } from '../config.ts';
import type { EpochMs } from '../domain/time.ts';
import { FlexError } from '../errors.ts';
import { SIM_SITES } from '../sim/sites.ts';
import { SLOT_MINUTES } from './market-roles.ts';

const DAY_MS = 86_400_000;

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
  // The demo plans two days ahead: the day and the next must be covered, to the last half hour.
  if (dayStart < span.from || dayStart + 2 * DAY_MS - SLOT_MINUTES * 60_000 > span.to) {
    const latest = Math.floor((span.to + SLOT_MINUTES * 60_000 - 2 * DAY_MS) / DAY_MS) * DAY_MS;
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `--date: the shipped grid data covers ${new Date(span.from).toISOString().slice(0, 10)} to ${new Date(span.to).toISOString().slice(0, 16)}Z; the demo needs the day and the next one (pick --date from ${new Date(Math.ceil(span.from / DAY_MS) * DAY_MS).toISOString().slice(0, 10)} to ${new Date(latest).toISOString().slice(0, 10)})`,
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
