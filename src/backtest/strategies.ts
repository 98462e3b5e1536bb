// The backtest's strategies (issue 15): who decides when each waiting job may start.
// - fifo: the site's scheduler alone, strict first come first served (no backfill), every job
//   eligible as soon as it is released.
// - run-now: the site's scheduler alone with backfill: any released job that fits starts now.
// - gsf-best-window: the Green Software Foundation Carbon Aware SDK rule. When a job is first seen,
//   its start is the one whose window of the job's length has the lowest mean forecast carbon
//   intensity before its deadline (ties: the earliest), ignoring capacity; from then on it queues
//   FIFO, so a full cluster delays it further. It reads forecasts as issued at that decision only.
// - flexlon and oracle: the planner (planner-strategy.ts).
import { PERIOD_MS } from '../domain/settlement-day.ts';
import type { SiteMove } from './moves.ts';
import type { SignalView } from './signal-view.ts';
import type { BatterySetpoint } from './site-battery.ts';
import type { SimJob } from './sim-job.ts';
import type { SiteSim, StartOrder } from './site-sim.ts';

export const STRATEGIES = ['fifo', 'run-now', 'gsf-best-window', 'flexlon', 'oracle'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

/** NESO publishes carbon forecasts 48 h ahead: gsf-best-window looks no further. */
export const GSF_LOOKAHEAD_PERIODS = 96;

export interface Decision {
  /** Which waiting jobs the site's scheduler may start now (their beginAt still applies). */
  readonly eligible: (j: SimJob) => boolean;
  readonly order: StartOrder;
  /** Jobs the site may also start into GPUs left free once the eligible ones are placed (site-sim.ts). */
  readonly early?: (j: SimJob) => boolean;
  /** A site battery's setpoint over the period (absent: the battery holds its charge). */
  readonly battery?: (site: string) => BatterySetpoint | undefined;
  /** Per site, the power (kW) of running jobs capped over the period (site-sim.ts step; absent: none). */
  readonly caps?: (site: string) => ReadonlyMap<string, number> | undefined;
  /** Waiting jobs moved to another site's queue before the period runs (moves.ts; absent: none). */
  readonly moves?: readonly SiteMove[];
}

export interface DecideContext {
  readonly now: number;
  /** Index of the period starting at `now` in the grid data. */
  readonly period: number;
  readonly sites: readonly SiteSim[];
  /** Forecasts as issued by `now` (the oracle gets the outturn instead). */
  readonly view: SignalView;
}

export interface Strategy {
  readonly name: StrategyName;
  /** True for the oracle: it reads outturn signals and jobs before they are submitted. */
  readonly foresight: boolean;
  decide(ctx: DecideContext): Promise<Decision>;
  /** State a resume needs (a carried plan), JSON. */
  save(): unknown;
  load(state: unknown): void;
}

const all = (): boolean => true;

const stateless = (name: StrategyName, order: StartOrder): Strategy => ({
  name,
  foresight: false,
  decide: () => Promise.resolve({ eligible: all, order }),
  save: () => null,
  load: () => undefined,
});

export const fifo = (): Strategy => stateless('fifo', 'fifo');
export const runNow = (): Strategy => stateless('run-now', 'backfill');

/** Periods a job runs at full power. */
export const runPeriods = (j: SimJob): number =>
  Math.max(1, Math.ceil(j.remainingKwh / (j.powerKw * (PERIOD_MS / 3_600_000)) - 1e-9));

/**
 * The start (as a period index ≥ `period`) whose window of `len` periods has the lowest mean
 * forecast carbon and still ends by `deadlinePeriod` (exclusive); `period` when none does.
 */
export const bestWindow = (view: SignalView, period: number, len: number, deadlinePeriod: number): number => {
  const last = Math.min(deadlinePeriod - len, period + GSF_LOOKAHEAD_PERIODS - len);
  if (last <= period) return period;
  const c: number[] = [];
  for (let k = period; k < last + len; k++) c.push(view.carbon(k));
  let sum = 0;
  for (let k = 0; k < len; k++) sum += c[k] as number;
  let best = period;
  let bestSum = sum;
  for (let s = period + 1; s <= last; s++) {
    sum += (c[s - period + len - 1] as number) - (c[s - period - 1] as number);
    // Strictly lower: ties keep the earliest start.
    if (sum < bestSum - 1e-9) {
      bestSum = sum;
      best = s;
    }
  }
  return best;
};

export const gsfBestWindow = (dataStart: number): Strategy => ({
  name: 'gsf-best-window',
  foresight: false,
  decide(ctx) {
    for (const site of ctx.sites)
      for (const j of site.waiting) {
        if (j.beginAt !== undefined) continue;
        const release = Math.max(ctx.period, Math.ceil((j.releaseAt - dataStart) / PERIOD_MS));
        const deadline = Math.floor((j.deadlineAt - dataStart) / PERIOD_MS);
        const start = bestWindow(ctx.view, release, runPeriods(j), deadline);
        j.beginAt = dataStart + start * PERIOD_MS;
      }
    return Promise.resolve({ eligible: all, order: 'fifo' });
  },
  save: () => null,
  load: () => undefined,
});
