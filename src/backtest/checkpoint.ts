// Checkpoints in the output folder, so a backtest stopped by Ctrl-C or a crash resumes where it
// stopped: after each settlement day, that day's rows go to checkpoint/day-NNNN.json (written once)
// and the simulation state (every strategy's queues and carried plan) to checkpoint/state.json.
// Both are written to a temporary file and renamed, so a stop mid-write leaves the last good pair.
// A checkpoint made with other arguments is refused rather than mixed in.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlexError } from '../errors.ts';
import type { Offer } from './products.ts';
import type { SiteState } from './site-sim.ts';
import type { Finished } from './sim-job.ts';
import { makeDirs } from '../make-dirs.ts';

export interface PeriodRow {
  /** Period start (ms). */
  readonly t: number;
  /** Grid import per site over the period, kWh. */
  readonly siteKwh: readonly number[];
  readonly gbp: number;
  readonly gCo2: number;
  readonly gpuHours: number;
  readonly running: number;
  readonly waiting: number;
  /** Battery wear over the period, £ (absent: no battery used). Part of the strategy's £. */
  readonly wearGbp?: number;
  /** Battery energy discharged over the period, kWh (absent: none). */
  readonly dischargedKwh?: number;
  /** Jobs moved to another site at the period's start, and what the moves cost, £ (absent: none). */
  readonly moves?: number;
  readonly moveGbp?: number;
  /** Running jobs pre-empted for must-start ones in the period (site-sim.ts; absent: none). */
  readonly preempted?: number;
}

export interface DayChunk {
  readonly date: string;
  readonly rows: Record<string, PeriodRow[]>;
  readonly finished: Record<string, Finished[]>;
  /** Commitments made that day per strategy, with --products (products.ts). */
  readonly offers?: Record<string, Offer[]>;
}

export interface StrategyState {
  readonly sites: SiteState[];
  readonly strategy: unknown;
  readonly audit: { reads: number; maxLeadMs: number | null };
}

export interface RunState {
  readonly key: string;
  readonly daysDone: number;
  /** The first strategy's jobs finished in those days, for the progress line of a resumed run (absent before 2026-12-07: 0). */
  readonly jobsFinished?: number;
  readonly strategies: Record<string, StrategyState>;
}

const dir = (out: string): string => join(out, 'checkpoint');
const dayFile = (out: string, k: number): string => join(dir(out), `day-${String(k).padStart(4, '0')}.json`);

const writeAtomic = (file: string, body: string): void => {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, body);
  renameSync(tmp, file);
};

export const saveDay = (out: string, k: number, chunk: DayChunk): void => {
  makeDirs(dir(out));
  writeAtomic(dayFile(out, k), JSON.stringify(chunk));
};

export const saveState = (out: string, state: RunState): void => {
  makeDirs(dir(out));
  writeAtomic(join(dir(out), 'state.json'), JSON.stringify(state));
};

/** The saved state if there is one for these arguments; a different run's is an error. */
export const loadState = (out: string, key: string): RunState | undefined => {
  const file = join(dir(out), 'state.json');
  if (!existsSync(file)) return undefined;
  const state = JSON.parse(readFileSync(file, 'utf8')) as RunState;
  if (state.key !== key)
    throw new FlexError(
      'FLX_CLI_USAGE',
      `${out} holds the checkpoint of a backtest with other arguments (${keyDiff(state.key, key)}); give another --out, or delete ${dir(out)} to start again`,
    );
  return state;
};

/** Which of a run key's fields differ, each as `field: saved → now` (values longer than 60 characters cut). */
const keyDiff = (saved: string, now: string): string => {
  const parse = (k: string): Record<string, unknown> => {
    try {
      const v: unknown = JSON.parse(k);
      return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  };
  const [a, b] = [parse(saved), parse(now)];
  const cut = (v: unknown): string => {
    const t = v === undefined ? 'not given' : JSON.stringify(v);
    return t.length > 60 ? `${t.slice(0, 57)}...` : t;
  };
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
    (k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]),
  );
  return fields.length ? fields.map((k) => `${k}: ${cut(a[k])} → ${cut(b[k])}`).join('; ') : 'a different version';
};

export const loadDay = (out: string, k: number): DayChunk =>
  JSON.parse(readFileSync(dayFile(out, k), 'utf8')) as DayChunk;
