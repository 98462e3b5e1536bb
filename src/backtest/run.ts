// The backtest engine: a rolling-horizon simulation, settlement period by settlement period, of each
// strategy on its own copy of the same fleet, the same job arrivals and the same grid data. Each
// day's jobs join at their submission times; at every period start each strategy decides with what
// it may know then (signal-view.ts), the site's scheduler starts what it may, and the period is
// metered at outturn price and carbon. After the last day, two drain days with no new arrivals let
// every strategy finish the same work, so totals compare like with like. Checkpoints after each day
// (checkpoint.ts); one seed gives the same results (seeded workload and noise, work-bounded planner).
// This file sets the run up, resumes it, checkpoints it and gathers its output; a day of it is
// run-day.ts.
import { settlementDayStart, PERIOD_MS } from '../domain/settlement-day.ts';
import { loadDay, loadState, saveDay, saveState, type RunState, type StrategyState } from './checkpoint.ts';
import { objectiveBound, type ObjectiveBound } from './bound.ts';
import { productWindows } from './commitments.ts';
import { fleetSites, siteDayOf, type FleetSite, type SiteDay } from './fleet.ts';
import { PlannerStrategy } from './planner-strategy.ts';
import {
  carbonNoise,
  gridDataOf,
  newAudit,
  outturnCarbon,
  outturnPrice,
  PRICE_HISTORY_DAYS,
  type GridData,
  type ViewAudit,
} from './signal-view.ts';
import { BL01_SETTLEMENT } from './products.ts';
import type { ProductWindow } from './product-calendar.ts';
import { SiteSim } from './site-sim.ts';
import { batteryEndOf, type BatteryEnd } from './battery-end.ts';
import { DEFAULTS, type BacktestOptions } from './run-options.ts';
import { runKey } from './run-key.ts';
import { makeStrategy } from './run-strategies.ts';
import { DayDraws, simulateDay, type DayInputs, type Lane } from './run-day.ts';
import { LaneMeters } from './run-meters.ts';

export const DRAIN_DAYS = 2;
/** Periods of data past the horizon that gsf-best-window's 48 h look-ahead may read. */
const GSF_PAD = 96;
const DAY_MS = 86_400_000;

export interface RunOutput {
  readonly days: readonly string[];
  readonly audits: Record<string, ViewAudit>;
  readonly plannerStats: Record<string, unknown>;
  /** Jobs not finished at the end of the drain days, per strategy. */
  readonly open: Record<string, number>;
  readonly data: GridData;
  readonly firstPeriod: number;
  readonly periods: number;
  readonly resumedDays: number;
  /** The product windows called over the run (products.ts). */
  readonly windows: readonly ProductWindow[];
  /** Whether a site of the fleet has a battery (site-sim.ts). */
  readonly batteries: boolean;
  /** A proven lower bound on any strategy's objective (bound.ts). */
  readonly bound: ObjectiveBound;
  /** Per strategy, where a site has a battery: its stored energy at the end against the start (battery-end.ts). */
  readonly batteryEnd?: Record<string, BatteryEnd>;
}

export const datesBetween = (from: string, to: string, extra = 0): string[] => {
  const out: string[] = [];
  const end = Date.parse(`${to}T00:00:00Z`) + extra * DAY_MS;
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= end; t += DAY_MS) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
};

/** The run: its inputs for every day, and what the bound and the output need besides. */
interface Run extends DayInputs {
  readonly firstStart: number;
  readonly lastEnd: number;
  /** Settlement periods from the first day's start to the last drain day's end. */
  readonly periods: number;
  readonly workload: (site: FleetSite, dayIndex: number, dayStart: number) => SiteDay;
}

export const runBacktest = async (o: BacktestOptions): Promise<RunOutput> => {
  const run = setUp(o);
  const key = runKey(o);
  const saved = loadState(o.out, key);
  const start = saved?.daysDone ?? 0;
  resume(run, saved, start);
  let periodsDone = 0;
  let jobsFinished = saved?.jobsFinished ?? 0;
  for (let k = 0; k < run.allDays.length; k++) {
    const date = run.allDays[k] as string;
    const dayStart = settlementDayStart(date);
    const dayEnd = settlementDayStart(datesBetween(date, date, 1)[1] as string);
    const n = (dayEnd - dayStart) / PERIOD_MS;
    if (k < start) {
      periodsDone += n;
      continue;
    }
    if (o.signal?.aborted) throw Object.assign(new Error('backtest stopped'), { name: 'AbortError' });
    const chunk = await simulateDay(run, { k, date, start: dayStart, periods: n });
    periodsDone += n;
    jobsFinished += chunk.finished[run.lanes[0]?.strategy.name ?? '']?.length ?? 0;
    saveDay(o.out, k, chunk);
    saveState(o.out, stateOf(key, k + 1, run.lanes, jobsFinished));
    o.onDay?.({
      day: k + 1,
      days: run.allDays.length,
      date,
      periodsDone,
      periods: run.periods,
      jobsFinished,
      jobsOpen: run.lanes[0]?.sims.reduce((a, s) => a + s.open, 0) ?? 0,
      resumedDays: start,
    });
  }
  const bound = await boundOf(run);
  return outputOf(run, start, bound);
};

/** The run's days, grid data and product windows, and a lane for each strategy on its own copy of the fleet. */
const setUp = (o: BacktestOptions): Run => {
  const horizon = o.horizon ?? DEFAULTS.horizon;
  const sites = o.fleetSites ?? o.fleetFile?.sites ?? fleetSites(o.sites, o.fleet);
  const days = datesBetween(o.from, o.to);
  const allDays = datesBetween(o.from, o.to, DRAIN_DAYS);
  const firstStart = settlementDayStart(o.from);
  const dataStart = firstStart - PRICE_HISTORY_DAYS * DAY_MS - DAY_MS;
  const lastEnd = settlementDayStart(datesBetween(o.to, o.to, DRAIN_DAYS + 1).at(-1) as string);
  const periods = (lastEnd - firstStart) / PERIOD_MS;
  const data = gridDataOf(o.history, dataStart, (lastEnd - dataStart) / PERIOD_MS + horizon + GSF_PAD, o.seed);
  const noise = carbonNoise(o.seed);
  const windows = productWindows(o.products ?? [], days, data, noise, o.pricePerCarbon);
  const noticesAt = noticesByPeriod(windows, firstStart);
  const eventDays = new Set(windows.map((w) => w.date));
  const lanes: Lane[] = o.strategies.map((name) => ({
    strategy: makeStrategy(name, o, dataStart, windows),
    sims: sites.map((s) => new SiteSim(s.spec)),
    audit: newAudit(),
  }));
  const meters = new LaneMeters(
    lanes.map((l) => l.strategy.name),
    sites,
  );
  const workload = o.workload ?? ((s: FleetSite, k: number, t: number) => siteDayOf(s, o.fleet, o.seed, k, t));
  const draws = new DayDraws(sites, allDays, workload);
  return {
    o,
    sites,
    days,
    allDays,
    firstStart,
    dataStart,
    lastEnd,
    periods,
    data,
    noise,
    windows,
    noticesAt,
    eventDays,
    lanes,
    meters,
    workload,
    draws,
  };
};

/** Each window at the period of its notice. */
const noticesByPeriod = (windows: readonly ProductWindow[], firstStart: number): Map<number, ProductWindow[]> => {
  const noticesAt = new Map<number, ProductWindow[]>();
  for (const w of windows) {
    // A window announced before the first day is committed to at the first period.
    const t = Math.max(firstStart, Math.floor(w.noticeAt / PERIOD_MS) * PERIOD_MS);
    noticesAt.set(t, [...(noticesAt.get(t) ?? []), w]);
  }
  return noticesAt;
};

/**
 * From a checkpoint of `start` days: each lane's meters rebuilt from the saved days within BL01's
 * look-back, then its sites, strategy and forecast reads as they were saved.
 */
const resume = (run: Run, saved: RunState | undefined, start: number): void => {
  if (run.windows.length)
    for (let k = Math.max(0, start - BL01_SETTLEMENT.lookbackDays - 1); k < start; k++) {
      const c = loadDay(run.o.out, k);
      for (const lane of run.lanes) run.meters.keep(lane.strategy.name, c.date, c.rows[lane.strategy.name] ?? []);
    }
  if (saved)
    for (const lane of run.lanes) {
      const s = saved.strategies[lane.strategy.name] as StrategyState;
      lane.sims.forEach((sim, i) => sim.restore(s.sites[i] as StrategyState['sites'][number]));
      lane.strategy.load(s.strategy);
      lane.audit.reads = s.audit.reads;
      lane.audit.maxLeadMs = s.audit.maxLeadMs ?? -Infinity;
    }
};

/** The simulation state after `daysDone` days: every lane's sites, strategy and forecast reads. */
const stateOf = (key: string, daysDone: number, lanes: readonly Lane[], jobsFinished: number): RunState => ({
  key,
  daysDone,
  jobsFinished,
  strategies: Object.fromEntries(
    lanes.map((l) => [
      l.strategy.name,
      {
        sites: l.sims.map((s) => s.snapshot()),
        strategy: l.strategy.save(),
        audit: { reads: l.audit.reads, maxLeadMs: Number.isFinite(l.audit.maxLeadMs) ? l.audit.maxLeadMs : null },
      },
    ]),
  ),
});

const boundOf = (run: Run): Promise<ObjectiveBound> =>
  objectiveBound({
    sites: run.sites,
    allDays: run.allDays,
    jobDays: run.days.length,
    end: run.lastEnd,
    data: run.data,
    dataStart: run.dataStart,
    carbonGbpPerTonne: run.o.carbonGbpPerTonne ?? DEFAULTS.carbonGbpPerTonne,
    workload: run.workload,
    solver: run.o.solver,
    caps: run.o.caps ?? true,
    moves: run.o.moves ?? false,
  });

/** Per strategy, its batteries' end of run, at the run's mean outturn price and carbon. */
const batteryEndsOf = ({ firstStart, dataStart, periods, data, lanes }: Run): Record<string, BatteryEnd> => {
  const first = (firstStart - dataStart) / PERIOD_MS;
  let price = 0;
  let carbon = 0;
  for (let i = first; i < first + periods; i++) {
    price += outturnPrice(data, i);
    carbon += outturnCarbon(data, i);
  }
  return Object.fromEntries(
    lanes.map((l) => [l.strategy.name, batteryEndOf(l.sims, price / periods, carbon / periods)]),
  );
};

const outputOf = (run: Run, start: number, bound: ObjectiveBound): RunOutput => {
  const { sites, lanes } = run;
  return {
    days: run.allDays,
    open: Object.fromEntries(lanes.map((l) => [l.strategy.name, l.sims.reduce((a, s) => a + s.open, 0)])),
    audits: Object.fromEntries(lanes.map((l) => [l.strategy.name, l.audit])),
    plannerStats: Object.fromEntries(
      lanes.flatMap((l) => (l.strategy instanceof PlannerStrategy ? [[l.strategy.name, l.strategy.stats]] : [])),
    ),
    data: run.data,
    firstPeriod: (run.firstStart - run.dataStart) / PERIOD_MS,
    periods: run.periods,
    resumedDays: start,
    windows: run.windows,
    batteries: sites.some((s) => s.spec.battery !== undefined),
    bound,
    ...(sites.some((s) => s.spec.battery !== undefined) ? { batteryEnd: batteryEndsOf(run) } : {}),
  };
};
