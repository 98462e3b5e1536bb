// The prices a planner strategy (planner-strategy.ts) plans a site's jobs at, over its horizon.
// - The planner minimises £: energy at the price it is given plus lateness. The backtest prices
//   carbon into that price (£/MWh + carbon £/t × gCO2/kWh / 1000, since 1 gCO2/kWh = 1 kg/MWh), so
//   the plan weighs £ and carbon as the metrics do (docs/backtest.md, "Objective").
// - A product window announced by then adds its pay (window-book.ts); the site's jobs see only their
//   share of it where its battery answers the rest (forJobs).
// - flexlon adds its capacity value on a contended site (capacity-value.ts); the oracle, which plans
//   the jobs to come, needs no such estimate.
import type { PlanningProblem } from '../domain/planning.ts';
import { PERIOD_MS } from '../domain/settlement-day.ts';
import type { GridSignalPoint, SignalSeries } from '../domain/signals.ts';
import { epochMs, type EpochMs } from '../domain/time.ts';
import { gbpPerMwh, gPerKwh } from '../domain/units.ts';
import { withCapacityValue as withValues } from '../optimise/capacity-value.ts';
import { capacityValue, offeredAt, type OfferedLoad } from './capacity-value.ts';
import type { PlannerStrategyOptions } from './planner-options.ts';
import type { DecideContext } from './strategies.ts';
import type { WindowBook } from './window-book.ts';

/**
 * The planner's signals for the horizon: price = forecast (or outturn) + carbon at the carbon
 * price, + the pay of each product window announced by now.
 */
export const plannerSignals = (
  ctx: DecideContext,
  o: Pick<PlannerStrategyOptions, 'horizon' | 'carbonGbpPerTonne'>,
  book: WindowBook,
): SignalSeries => {
  const points: GridSignalPoint[] = [];
  for (let t = 0; t < o.horizon; t++) {
    const carbon = ctx.view.carbon(ctx.period + t);
    const forecast = ctx.view.price(ctx.period + t);
    const start = ctx.now + t * PERIOD_MS;
    // A product window announced by now: each MWh not used there earns its pay (window-book.ts).
    const adder = book.payAt(start, ctx.now, forecast);
    const price = forecast + adder + (o.carbonGbpPerTonne * carbon) / 1000;
    points.push({
      start: epochMs(start),
      carbonForecast: gPerKwh(carbon),
      price: gbpPerMwh(price),
    });
  }
  return { region: 'GB', issuedAt: ctx.now as EpochMs, slotMinutes: 30, points };
};

/**
 * flexlon only: each site's slots priced up by its capacity value × hours ahead. The oracle sees
 * the jobs to come and plans them, so it needs no estimate of what they will take.
 */
export const withCapacityValue = (
  problem: PlanningProblem,
  ctx: DecideContext,
  o: Pick<PlannerStrategyOptions, 'capacityValueShare'>,
  offered: OfferedLoad,
): PlanningProblem => {
  const values = new Map<string, number>();
  for (const sim of ctx.sites.filter((x) => problem.sites.some((s) => s.id === x.spec.id))) {
    const kwPerGpu = (sim.spec.trainingMaxKw - sim.spec.trainingIdleKw) / sim.spec.gpus;
    values.set(sim.spec.id, capacityValue(offeredAt(offered, sim, ctx.now), kwPerGpu, o.capacityValueShare));
  }
  return withValues(problem, values);
};

/**
 * A site's job problem with only its jobs' share of each window's pay (window-choice.ts): the
 * signals carry the whole of it, which the battery plans against.
 */
export const forJobs = (
  problem: PlanningProblem,
  site: string,
  ctx: DecideContext,
  book: WindowBook,
): PlanningProblem => {
  const spec = problem.sites.find((x) => x.id === site);
  if (!spec) return problem;
  let prices: number[] | undefined;
  for (let t = 0; t < problem.slots; t++) {
    const start = ctx.now + t * PERIOD_MS;
    if (!book.batteryCarries(site, start, ctx.now)) continue;
    prices ??= [...spec.priceGbpPerMwh];
    prices[t] = (prices[t] as number) - book.batteryPayAt(site, start, ctx.now, ctx.view.price(ctx.period + t));
  }
  if (!prices) return problem;
  const priceGbpPerMwh = prices;
  return { ...problem, sites: problem.sites.map((x) => (x.id === site ? { ...x, priceGbpPerMwh } : x)) };
};
