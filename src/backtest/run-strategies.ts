// The strategies a backtest run (run.ts) compares, made from its options: fifo, run-now and
// gsf-best-window as strategies.ts has them; flexlon and the oracle as the planner strategy
// (planner-strategy.ts) with the run's settings.
import { PlannerStrategy } from './planner-strategy.ts';
import type { ProductWindow } from './product-calendar.ts';
import { DEFAULTS, ORACLE_FULL_PLAN_EVERY, type BacktestOptions } from './run-options.ts';
import { fifo, gsfBestWindow, runNow, type Strategy, type StrategyName } from './strategies.ts';

export const makeStrategy = (
  name: StrategyName,
  o: BacktestOptions,
  dataStart: number,
  windows: readonly ProductWindow[],
): Strategy => {
  // Without arrivals (--oracle-arrivals none) the oracle's plans are flexlon's size, so it plans as
  // often as flexlon and its site does not backfill (which made up for plans that held a day of
  // arrivals): flexlon's rules on the outturn signals.
  const planner = (foresight: boolean) => {
    const seesArrivals = foresight && o.oracleArrivals !== 'none';
    return new PlannerStrategy(foresight ? 'oracle' : 'flexlon', {
      solver: o.solver,
      horizon: o.horizon ?? DEFAULTS.horizon,
      fullPlanEvery: seesArrivals ? ORACLE_FULL_PLAN_EVERY.contended : (o.fullPlanEvery ?? DEFAULTS.fullPlanEvery),
      ...(seesArrivals
        ? { fullPlanEveryUncontended: ORACLE_FULL_PLAN_EVERY.uncontended, backfillContended: true }
        : {}),
      carbonGbpPerTonne: o.carbonGbpPerTonne ?? DEFAULTS.carbonGbpPerTonne,
      capacityValueShare: o.capacityValueShare ?? DEFAULTS.capacityValueShare,
      foresight,
      ...(foresight && !seesArrivals ? { foreseeArrivals: false } : {}),
      windows,
      caps: o.caps ?? true,
      moves: o.moves ?? false,
    });
  };
  switch (name) {
    case 'fifo':
      return fifo();
    case 'run-now':
      return runNow();
    case 'gsf-best-window':
      return gsfBestWindow(dataStart);
    case 'flexlon':
      return planner(false);
    case 'oracle':
      return planner(true);
    default: {
      const never: never = name;
      throw new Error(`unknown strategy ${String(never)}`);
    }
  }
};
