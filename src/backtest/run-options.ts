// What a backtest run (run.ts) is given: its options, their defaults, and the planner settings the
// backtest fixes. Apart from the run loop so that what reads them (the checkpoint key, run-key.ts;
// the strategies, run-strategies.ts; the CLI and the report) need not import the loop.
import type { SignalHistory } from '../domain/signal-history.ts';
import type { Solver } from '../ports.ts';
import { DEFAULT_WORK } from '../optimise/work.ts';
import { CAPACITY_VALUE_SHARE } from './capacity-value.ts';
import type { Fleet, FleetSite, SiteDay } from './fleet.ts';
import type { FleetFile } from './fleet-file.ts';
import type { ProductName } from './product-calendar.ts';
import type { StrategyName } from './strategies.ts';

export interface BacktestOptions {
  readonly from: string;
  readonly to: string;
  readonly sites: readonly string[];
  readonly fleet: Fleet;
  readonly strategies: readonly StrategyName[];
  readonly seed: number;
  readonly out: string;
  readonly history: SignalHistory;
  readonly solver: Solver;
  /** Planning horizon in periods (default 96 = 48 h). */
  readonly horizon?: number;
  /** flexlon: a fresh plan every this many periods, carried in between (default DEFAULTS.fullPlanEvery). */
  readonly fullPlanEvery?: number;
  /** £/tCO2 that values carbon in the objective and in the captured-saving share (default 70). */
  readonly carbonGbpPerTonne?: number;
  /**
   * The price forecast's carbon term a day ahead, £/MWh per gCO2/kWh (signal-view.ts, PRICE_PER_CARBON;
   * nearer leads weigh less, pricePerCarbonAt; 0: the forecast from prices alone). For tests on hand-made signals, whose carbon has no bearing on price.
   */
  readonly pricePerCarbon?: number;
  /**
   * flexlon's capacity value on a contended site, as a share of the lateness price per kWh-hour
   * (capacity-value.ts, CAPACITY_VALUE_SHARE; 0: none, the planner takes future room for free).
   */
  readonly capacityValueShare?: number;
  /** Flexibility products offered by flexlon and the oracle (products.ts; default none). */
  readonly products?: readonly ProductName[];
  /**
   * flexlon and the oracle cap running jobs' GPUs at sites that are not contended, where the node is
   * known (caps.ts capsFor; default true; docs/backtest.md "GPU power caps").
   */
  readonly caps?: boolean;
  /**
   * flexlon and the oracle move late waiting jobs to another site of the same node kind whose plan
   * has room for them, at the live market's move cost (moves.ts movesFor; default false;
   * docs/backtest.md "Site moves").
   */
  readonly moves?: boolean;
  /**
   * What the oracle foresees of arrivals: 'horizon' (the default, as the issue defines the oracle),
   * every job submitted within its 48 h horizon; 'none', only the jobs submitted so far, so its
   * foresight is the outturn signals alone (docs/backtest.md, "The oracle without arrivals").
   */
  readonly oracleArrivals?: 'horizon' | 'none';
  /** Tests: other sites or another workload than the profiles'. */
  readonly fleetSites?: readonly FleetSite[];
  /** `--fleet FILE` (fleet-file.ts): its sites replace `sites`, with the busy profile's jobs. */
  readonly fleetFile?: FleetFile;
  readonly workload?: (site: FleetSite, dayIndex: number, dayStart: number) => SiteDay;
  /** What `workload` is, for the checkpoint key and the report (`alibaba:PATH`; absent: the profiles'). */
  readonly workloadName?: string;
  readonly onDay?: (p: Progress) => void;
  readonly signal?: AbortSignal;
}

export interface Progress {
  readonly day: number;
  readonly days: number;
  readonly date: string;
  readonly periodsDone: number;
  readonly periods: number;
  readonly jobsFinished: number;
  readonly jobsOpen: number;
  /** Days replayed from a checkpoint rather than simulated in this run. */
  readonly resumedDays: number;
}

/**
 * The backtest's planner: work-bounded so runs repeat, with the exact MILP only up to 500 binaries
 * (the BPP's default is 5,000). Each site is planned on its own (planner-strategy.ts), and a site's
 * problem of 20–70 jobs often fits under 5,000 binaries, where a fresh plan took up to 2.7 s: a year
 * of them every 2 h would take half an hour. Measured over two weeks (docs/backtest.md, "Re-plans").
 */
export const BACKTEST_PLANNER = { work: DEFAULT_WORK, milpMaxBinaries: 500 } as const;

/**
 * A fresh plan every 4 periods for flexlon (carried between); the oracle's plans, which hold every
 * job of the next 24–48 h, are made afresh daily, and every 6 hours at a site that is not contended
 * (ORACLE_FULL_PLAN_EVERY).
 */
export const DEFAULTS = {
  horizon: 96,
  fullPlanEvery: 4,
  carbonGbpPerTonne: 70,
  capacityValueShare: CAPACITY_VALUE_SHARE,
} as const;
/**
 * The oracle's fresh plans: daily, and every 12 periods (6 h) at a site that is not contended
 * (offered load under 60 %). Daily only, its carried plans placed the day's new arrivals by repair
 * and on the idle year it lost to flexlon on lateness; every 12 periods everywhere, the busy year
 * took 2 minutes more and the oracle did worse there (objective £3.35 M against £3.26 M), as more
 * frequent fresh plans on full sites did before (docs/backtest.md "Re-plans").
 */
export const ORACLE_FULL_PLAN_EVERY = { contended: 48, uncontended: 12 } as const;
