// The backtest engine: a rolling-horizon simulation, settlement period by settlement period, of each
// strategy on its own copy of the same fleet, the same job arrivals and the same grid data. Each
// day's jobs join at their submission times; at every period start each strategy decides with what
// it may know then (signal-view.ts), the site's scheduler starts what it may, and the period is
// metered at outturn price and carbon. After the last day, two drain days with no new arrivals let
// every strategy finish the same work, so totals compare like with like. Checkpoints after each day
// (checkpoint.ts); one seed gives the same results (seeded workload and noise, work-bounded planner).
import { settlementDayStart, PERIOD_MS } from '../domain/settlement-day.ts';
import type { SignalHistory } from '../domain/signal-history.ts';
import type { Solver } from '../ports.ts';
import {
  loadDay,
  loadState,
  saveDay,
  saveState,
  type DayChunk,
  type PeriodRow,
  type StrategyState,
} from './checkpoint.ts';
import { objectiveBound, type ObjectiveBound } from './bound.ts';
import { commitAtNotice, offersAt, productWindows, windowTerms } from './commitments.ts';
import { BACKTEST_BUSY_FILL, fleetSites, siteDayOf, type Fleet, type FleetSite, type SiteDay } from './fleet.ts';
import { CAPACITY_VALUE_SHARE } from './capacity-value.ts';
import { hasNoSlack, MUST_START_LATE_GBP_PER_GPU_HOUR } from './reserve.ts';
import { PlannerStrategy } from './planner-strategy.ts';
import { DEFAULT_WORK } from '../optimise/work.ts';
import {
  carbonNoise,
  ForecastView,
  gridDataOf,
  newAudit,
  outturnCarbon,
  outturnPrice,
  PRICE_HISTORY_DAYS,
  PRICE_LEVEL_LOOKBACK,
  PRICE_LEVEL_PERIODS,
  PRICE_RECENT_PERIODS,
  PRICE_SHAPE_DAYS,
  PRICE_PER_CARBON,
  OutturnView,
  type GridData,
  type ViewAudit,
} from './signal-view.ts';
import { BL01_SETTLEMENT, type Offer } from './products.ts';
import type { FleetFile } from './fleet-file.ts';
import type { ProductName, ProductWindow } from './product-calendar.ts';
import { SiteSim, simJobOf, type SimJob } from './site-sim.ts';
import { fifo, gsfBestWindow, runNow, type Strategy, type StrategyName } from './strategies.ts';

export const DRAIN_DAYS = 2;
/** Periods of data past the horizon that gsf-best-window's 48 h look-ahead may read. */
const GSF_PAD = 96;
const DAY_MS = 86_400_000;

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
   * The price forecast's carbon term, £/MWh per gCO2/kWh (signal-view.ts, PRICE_PER_CARBON; 0: the
   * forecast from prices alone). For tests on hand-made signals, whose carbon has no bearing on price.
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
  /** Per strategy, where a site has a battery: its stored energy at the end against the start (batteryEndOf). */
  readonly batteryEnd?: Record<string, BatteryEnd>;
}

/**
 * What the fleet's batteries hold at the end against the start, and what that is worth. A battery
 * that ends emptier than it began has sold energy it did not buy within the run: it is charged the
 * grid energy to refill it (the deficit ÷ its round-trip efficiency, losses being on charging), and
 * one that ends fuller is credited what it holds above the start (discharge is lossless), both at the
 * run's mean outturn price and carbon (metrics.ts counts them beside the bill).
 */
export interface BatteryEnd {
  /** Σ stored energy at the end − at the start, kWh. */
  readonly storedChangeKwh: number;
  /** Grid energy the change stands for, kWh (positive: to refill). */
  readonly gridKwh: number;
  readonly gbp: number;
  readonly kgCo2: number;
}

const batteryEndOf = (sims: readonly SiteSim[], meanPrice: number, meanCarbon: number): BatteryEnd => {
  let stored = 0;
  let grid = 0;
  for (const sim of sims) {
    const b = sim.spec.battery;
    if (!b || sim.socKwh === undefined) continue;
    const change = sim.socKwh - b.initialSocKwh;
    stored += change;
    grid += change < 0 ? -change / b.roundTripEfficiency : -change;
  }
  return { storedChangeKwh: stored, gridKwh: grid, gbp: (grid * meanPrice) / 1000, kgCo2: (grid * meanCarbon) / 1000 };
};

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

export const datesBetween = (from: string, to: string, extra = 0): string[] => {
  const out: string[] = [];
  const end = Date.parse(`${to}T00:00:00Z`) + extra * DAY_MS;
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= end; t += DAY_MS) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
};

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
    },
    // Checkpoints made before flexlon priced capacity (or with another share) are refused.
    capacityValueShare: o.capacityValueShare ?? DEFAULTS.capacityValueShare,
    ...(o.products?.length ? { products: o.products } : {}),
    // With caps on (the default) the results differ from a run without them, or from before them:
    // those checkpoints are refused, and the other way round.
    ...((o.caps ?? true) ? { caps: 'whole-job plan, capped by rule, capped starts' } : {}),
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

const makeStrategy = (
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

interface Lane {
  readonly strategy: Strategy;
  readonly sims: SiteSim[];
  readonly audit: ViewAudit;
}

export const runBacktest = async (o: BacktestOptions): Promise<RunOutput> => {
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
  const noticesAt = new Map<number, ProductWindow[]>();
  for (const w of windows) {
    // A window announced before the first day is committed to at the first period.
    const t = Math.max(firstStart, Math.floor(w.noticeAt / PERIOD_MS) * PERIOD_MS);
    noticesAt.set(t, [...(noticesAt.get(t) ?? []), w]);
  }
  const eventDays = new Set(windows.map((w) => w.date));
  const lanes: Lane[] = o.strategies.map((name) => ({
    strategy: makeStrategy(name, o, dataStart, windows),
    sims: sites.map((s) => new SiteSim(s.spec)),
    audit: newAudit(),
  }));
  const key = runKey(o);
  const saved = loadState(o.out, key);
  const start = saved?.daysDone ?? 0;
  // Each lane's metered import per site and settlement day (kW per period): the BL01 a commitment is
  // made against. On resume, rebuilt from the saved days within BL01's look-back.
  const meters = new Map<string, Map<string, number[]>[]>(
    lanes.map((l) => [l.strategy.name, sites.map(() => new Map())]),
  );
  const keepMeter = (name: string, date: string, rows: readonly PeriodRow[]): void => {
    const m = meters.get(name) as Map<string, number[]>[];
    m.forEach((site, i) => {
      site.set(
        date,
        rows.map((r) => (r.siteKwh[i] as number) / (PERIOD_MS / 3_600_000)),
      );
      if (site.size > BL01_SETTLEMENT.lookbackDays + 2) site.delete(site.keys().next().value as string);
    });
  };
  if (windows.length)
    for (let k = Math.max(0, start - BL01_SETTLEMENT.lookbackDays - 1); k < start; k++) {
      const c = loadDay(o.out, k);
      for (const lane of lanes) keepMeter(lane.strategy.name, c.date, c.rows[lane.strategy.name] ?? []);
    }
  if (saved)
    for (const lane of lanes) {
      const s = saved.strategies[lane.strategy.name] as StrategyState;
      lane.sims.forEach((sim, i) => sim.restore(s.sites[i] as StrategyState['sites'][number]));
      lane.strategy.load(s.strategy);
      lane.audit.reads = s.audit.reads;
      lane.audit.maxLeadMs = s.audit.maxLeadMs ?? -Infinity;
    }
  const workload = o.workload ?? ((s: FleetSite, k: number, t: number) => siteDayOf(s, o.fleet, o.seed, k, t));
  const memo = new Map<number, SiteDay[]>();
  const dayOf = (k: number): SiteDay[] => {
    let d = memo.get(k);
    if (!d) {
      const t = settlementDayStart(allDays[k] as string);
      memo.set(k, (d = sites.map((s) => workload(s, k, t))));
    }
    return d;
  };
  let periodsDone = 0;
  let jobsFinished = 0;
  for (let k = 0; k < allDays.length; k++) {
    const date = allDays[k] as string;
    const dayStart = settlementDayStart(date);
    const dayEnd = settlementDayStart(datesBetween(date, date, 1)[1] as string);
    const n = (dayEnd - dayStart) / PERIOD_MS;
    if (k < start) {
      periodsDone += n;
      continue;
    }
    if (o.signal?.aborted) throw Object.assign(new Error('backtest stopped'), { name: 'AbortError' });
    const siteDays = dayOf(k);
    // Jobs are queued a day ahead (a busy day's arrivals begin at 18:00 the evening before), and
    // each moves into a site's queue at its submission time; only the oracle looks at them earlier.
    const adding = [...(k === 0 ? [0] : []), k + 1].filter((d) => d < days.length).map(dayOf);
    memo.delete(k - 1);
    const chunk: DayChunk = { date, rows: {}, finished: {}, ...(windows.length ? { offers: {} } : {}) };
    for (const lane of lanes) {
      // Drain days bring no new work; their inference profile still runs.
      for (const add of adding) lane.sims.forEach((sim, i) => sim.add((add[i] as SiteDay).jobs.map(simJobOf)));
      const rows: PeriodRow[] = [];
      for (let p = 0; p < n; p++) {
        const now = dayStart + p * PERIOD_MS;
        const period = (now - dataStart) / PERIOD_MS;
        for (const sim of lane.sims) sim.arrive(now);
        const view = lane.strategy.foresight
          ? new OutturnView(data, now)
          : new ForecastView(data, now, noise, lane.audit, undefined, o.pricePerCarbon);
        const planner = lane.strategy instanceof PlannerStrategy ? lane.strategy : undefined;
        // The windows announced now, with what each site knows of them, given to the planner before
        // its plan and committed to from it.
        const notices = (planner ? (noticesAt.get(now) ?? []) : []).map((w) => ({
          w,
          terms: windowTerms(
            w,
            sites,
            meters.get(lane.strategy.name) as Map<string, number[]>[],
            eventDays,
            (kk, i) => (dayOf(kk)[i] as SiteDay).inferenceKw,
            allDays,
          ),
        }));
        for (const n of notices) planner?.announce(n.w, n.terms);
        const decision = await lane.strategy.decide({ now, period, sites: lane.sims, view });
        if (planner && notices.length) {
          const made = notices.flatMap((n) =>
            commitAtNotice(planner, n.w, offersAt(planner, n.w, sites, n.terms, dataStart), dataStart),
          );
          const offers = (chunk.offers as Record<string, Offer[]>)[planner.name] ?? [];
          (chunk.offers as Record<string, Offer[]>)[planner.name] = [...offers, ...made];
        }
        // Moves first: a moved job waits in its new site's queue for that site's next plan.
        let moves = 0;
        let moveGbp = 0;
        for (const m of decision.moves ?? []) {
          const from = lane.sims.find((x) => x.spec.id === m.from);
          const to = lane.sims.find((x) => x.spec.id === m.to);
          // Only a move that can be made is made and paid for (movesFor checks the same).
          const waiting = from?.waiting.find((j) => j.id === m.jobId);
          if (!from || !to || !waiting || waiting.gpus > to.spec.gpus) continue;
          to.receive(from.take(m.jobId) as SimJob, m.from);
          moves++;
          moveGbp += m.gbp;
        }
        const siteKwh = lane.sims.map((sim, i) => {
          const inference = (siteDays[i] as SiteDay).inferenceKw;
          const kw = inference[p % inference.length] ?? 0;
          return sim.step(
            now,
            decision.eligible,
            decision.order,
            kw,
            decision.early,
            decision.battery?.(sim.spec.id),
            decision.caps?.(sim.spec.id),
            // The site's QoS: must-start jobs go ahead of the queue, whoever decides (site-sim.ts).
            hasNoSlack,
          );
        });
        const kwhAll = siteKwh.reduce((a, m) => a + m.importKwh, 0);
        const wearGbp = siteKwh.reduce((a, m) => a + (m.battery?.wearGbp ?? 0), 0);
        const dischargedKwh = siteKwh.reduce((a, m) => a + (m.battery?.dischargedKwh ?? 0), 0);
        const preempted = siteKwh.reduce((a, m) => a + m.preempted, 0);
        rows.push({
          t: now,
          siteKwh: siteKwh.map((m) => m.importKwh),
          gbp: (kwhAll * outturnPrice(data, period)) / 1000,
          gCo2: kwhAll * outturnCarbon(data, period),
          gpuHours: siteKwh.reduce((a, m) => a + m.gpuHours, 0),
          running: siteKwh.reduce((a, m) => a + m.running, 0),
          waiting: siteKwh.reduce((a, m) => a + m.waiting, 0),
          ...(dischargedKwh > 0 ? { wearGbp, dischargedKwh } : {}),
          ...(moves ? { moves, moveGbp } : {}),
          ...(preempted ? { preempted } : {}),
        });
      }
      chunk.rows[lane.strategy.name] = rows;
      if (windows.length) keepMeter(lane.strategy.name, date, rows);
      chunk.finished[lane.strategy.name] = lane.sims.flatMap((sim) => sim.finished.splice(0));
    }
    periodsDone += n;
    jobsFinished += chunk.finished[lanes[0]?.strategy.name ?? '']?.length ?? 0;
    saveDay(o.out, k, chunk);
    saveState(o.out, {
      key,
      daysDone: k + 1,
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
    o.onDay?.({
      day: k + 1,
      days: allDays.length,
      date,
      periodsDone,
      periods,
      jobsFinished,
      jobsOpen: lanes[0]?.sims.reduce((a, s) => a + s.open, 0) ?? 0,
      resumedDays: start,
    });
  }
  const batteryEndsOf = (): Record<string, BatteryEnd> => {
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
  const bound = await objectiveBound({
    sites,
    allDays,
    jobDays: days.length,
    end: lastEnd,
    data,
    dataStart,
    carbonGbpPerTonne: o.carbonGbpPerTonne ?? DEFAULTS.carbonGbpPerTonne,
    workload,
    solver: o.solver,
    caps: o.caps ?? true,
    moves: o.moves ?? false,
  });
  return {
    days: allDays,
    open: Object.fromEntries(lanes.map((l) => [l.strategy.name, l.sims.reduce((a, s) => a + s.open, 0)])),
    audits: Object.fromEntries(lanes.map((l) => [l.strategy.name, l.audit])),
    plannerStats: Object.fromEntries(
      lanes.flatMap((l) => (l.strategy instanceof PlannerStrategy ? [[l.strategy.name, l.strategy.stats]] : [])),
    ),
    data,
    firstPeriod: (firstStart - dataStart) / PERIOD_MS,
    periods,
    resumedDays: start,
    windows,
    batteries: sites.some((s) => s.spec.battery !== undefined),
    bound,
    ...(sites.some((s) => s.spec.battery !== undefined) ? { batteryEnd: batteryEndsOf() } : {}),
  };
};
