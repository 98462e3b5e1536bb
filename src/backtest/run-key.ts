// The checkpoint key of a backtest run: everything that changes its result, so that a checkpoint
// (checkpoint.ts) made with other arguments, or by code that decides otherwise, is refused rather
// than resumed. Its fields and their order are what every checkpoint written so far holds: a change
// here refuses them all.
import { BACKTEST_BUSY_FILL } from './fleet.ts';
import { MUST_START_LATE_GBP_PER_GPU_HOUR } from './reserve.ts';
import { DEFAULTS, ORACLE_FULL_PLAN_EVERY, type BacktestOptions } from './run-options.ts';
import {
  PRICE_HISTORY_DAYS,
  PRICE_LEVEL_LOOKBACK,
  PRICE_LEVEL_PERIODS,
  PRICE_RECENT_PERIODS,
  PRICE_SHAPE_DAYS,
  PRICE_PER_CARBON,
  PRICE_CARBON_HOURS,
  PRICE_CARBON_NOW_SHARE,
} from './signal-view.ts';

/** What a checkpoint must match: everything that changes the result. */
export const runKey = (o: BacktestOptions): string =>
  JSON.stringify({
    from: o.from,
    to: o.to,
    sites: o.sites,
    fleet: o.fleet,
    // The busy day's size changed with the calibration (fleet.ts): a checkpoint of the old one is refused.
    ...(o.fleet === 'busy' ? { busyFill: BACKTEST_BUSY_FILL } : {}),
    strategies: o.strategies,
    seed: o.seed,
    horizon: o.horizon ?? DEFAULTS.horizon,
    fullPlanEvery: o.fullPlanEvery ?? DEFAULTS.fullPlanEvery,
    // The oracle's fresh plans were daily before 2026-12-06: those checkpoints are refused.
    oracleFullPlanEvery: ORACLE_FULL_PLAN_EVERY,
    // Checkpoints made before the oracle backfilled at contended sites (2026-12-06) are refused.
    oracleBackfill: 'contended',
    carbon: o.carbonGbpPerTonne ?? DEFAULTS.carbonGbpPerTonne,
    // Checkpoints made with another price forecast are refused.
    priceForecast: {
      model: 'profile, local days',
      shapeDays: PRICE_SHAPE_DAYS,
      historyDays: PRICE_HISTORY_DAYS,
      basePeriods: PRICE_RECENT_PERIODS,
      levelPeriods: PRICE_LEVEL_PERIODS,
      levelLookback: PRICE_LEVEL_LOOKBACK,
      perCarbon: o.pricePerCarbon ?? PRICE_PER_CARBON,
      carbonNowShare: PRICE_CARBON_NOW_SHARE,
      carbonHours: PRICE_CARBON_HOURS,
    },
    // Checkpoints made before flexlon priced capacity (or with another share) are refused.
    capacityValueShare: o.capacityValueShare ?? DEFAULTS.capacityValueShare,
    // Checkpoints made before a sold window's periods took only the plan's starts (2026-12-07) are refused.
    ...(o.products?.length ? { products: o.products, heldPeriods: 'plan starts only' } : {}),
    // With caps on (the default) the results differ from a run without them, or from before them:
    // those checkpoints are refused, and the other way round.
    // Checkpoints made under an earlier cap rule are refused: the lowest cap only (before 2026-12-07),
    // then the cap saving most per unit of work (339968c), then over the hours it can be kept without
    // higher-cap starts (4ede8be).
    ...((o.caps ?? true)
      ? {
          caps: 'whole-job plan, capped by rule at the cap saving most over the hours it can be kept, capped starts at a higher cap where the lowest is too slow',
        }
      : {}),
    ...(o.moves ? { moves: 'late waiting jobs, by rule' } : {}),
    ...(o.oracleArrivals === 'none' ? { oracleArrivals: 'none' } : {}),
    custom: o.workload !== undefined || o.fleetSites !== undefined,
    ...(o.workloadName ? { workload: o.workloadName } : {}),
    // A workload of must-start jobs planned before their lateness was priced as hard (2026-12-07) is refused.
    ...(o.workloadName
      ? {
          mustStartLateGbpPerGpuHour: MUST_START_LATE_GBP_PER_GPU_HOUR,
          mustStartFirst: 'site QoS, pre-emptive, whatever the strategy decided',
        }
      : {}),
    // A changed fleet file changes the result: its sites as parsed are part of the key.
    ...(o.fleetFile ? { fleetFile: o.fleetFile.sites } : {}),
  });
