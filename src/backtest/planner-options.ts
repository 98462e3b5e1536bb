// What a planner strategy (planner-strategy.ts) is set up with, what it counts, and the job plan it
// carries between fresh ones. flexlon and the oracle are the same strategy with other settings
// (run-strategies.ts makes both). Kept apart from the strategy so that its parts, the prices it
// plans at (planner-prices.ts) and the battery's plan (battery-plan.ts), read them without
// importing the strategy, which imports them.
import type { Schedule } from '../domain/planning.ts';
import type { Solver } from '../ports.ts';
import type { ProductWindow } from './product-calendar.ts';

export interface PlannerStrategyOptions {
  readonly solver: Solver;
  /** Slots planned ahead (96 = 48 h, the market's horizon). */
  readonly horizon: number;
  /** A fresh plan every this many periods (counted from the data's start), carried in between. */
  readonly fullPlanEvery: number;
  /**
   * A fresh plan also every this many periods at a site that is not contended (offered load under
   * OFFERED_FREE; absent: none beyond fullPlanEvery). The oracle's (run-options.ts ORACLE_FULL_PLAN_EVERY).
   */
  readonly fullPlanEveryUncontended?: number;
  /**
   * The oracle: at a contended site (offered load at least OFFERED_FREE) every waiting job may also
   * start into GPUs its plan leaves free, after the plan's starts and in submission order (the site
   * scheduler's own backfill). Its plans hold every job of the next 24–48 h
   * (100+ at a busy site), past the exact MILP, and their placement left GPUs idle while jobs waited
   * (docs/backtest.md, "The oracle's backfill"). Not flexlon's: its plans of 20–40 jobs leave no such holes, and
   * backfilling them cost lateness there.
   */
  readonly backfillContended?: boolean;
  /** £ per tonne of CO2 priced into the planner's objective. */
  readonly carbonGbpPerTonne: number;
  /** flexlon's capacity value as a share of the lateness price per kWh-hour (CAPACITY_VALUE_SHARE). */
  readonly capacityValueShare: number;
  /** The oracle: outturn signals, and jobs seen from their release, whether submitted yet or not. */
  readonly foresight: boolean;
  /**
   * The oracle only: false, it plans the jobs submitted so far, as flexlon does (`--oracle-arrivals
   * none`); its foresight is then the outturn signals alone (docs/backtest.md, "The oracle without
   * arrivals"). Absent: true.
   */
  readonly foreseeArrivals?: boolean;
  /** Flexibility product windows (products.ts): each priced into the plan from its notice. */
  readonly windows?: readonly ProductWindow[];
  /** GPU power caps on running jobs, where a site's node is known (caps.ts capsFor; absent: none; the backtest's default is on). */
  readonly caps?: boolean;
  /** Late waiting jobs moved to another site with room for them (moves.ts movesFor; absent: none). */
  readonly moves?: boolean;
}

export interface PlannerStats {
  plans: number;
  fresh: number;
  /** Plans the planner could not make (every waiting job was then released, FIFO). */
  failed: number;
  /** Periods with no plan because no waiting job fitted the free GPUs (or none waited). */
  skipped: number;
}

/** A site's last job plan, carried between fresh ones, and the period it was made in. */
export interface Carry {
  readonly period: number;
  readonly schedule: Schedule;
}
