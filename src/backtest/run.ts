// The backtest engine: a rolling-horizon simulation, settlement period by settlement period, of each
// strategy on its own copy of the same fleet, the same job arrivals and the same grid data. Each
// day's jobs join at their submission times; at every period start each strategy decides with what
// it may know then (signal-view.ts), the site's scheduler starts what it may, and the period is
// metered at outturn price and carbon. After the last day, two drain days with no new arrivals let
// every strategy finish the same work, so totals compare like with like. Checkpoints after each day
// (checkpoint.ts); one seed gives the same results (seeded workload and noise, work-bounded planner).
import { settlementDayStart, PERIOD_MS } from '../domain/settlement-day.ts';
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
import { fleetSites, siteDayOf, type FleetSite, type SiteDay } from './fleet.ts';
import { hasNoSlack } from './reserve.ts';
import { PlannerStrategy } from './planner-strategy.ts';
import {
  carbonNoise,
  ForecastView,
  gridDataOf,
  newAudit,
  outturnCarbon,
  outturnPrice,
  PRICE_HISTORY_DAYS,
  OutturnView,
  type GridData,
  type ViewAudit,
} from './signal-view.ts';
import { BL01_SETTLEMENT, type Offer } from './products.ts';
import type { ProductWindow } from './product-calendar.ts';
import { SiteSim, simJobOf, type SimJob } from './site-sim.ts';
import type { Strategy } from './strategies.ts';
import { batteryEndOf, type BatteryEnd } from './battery-end.ts';
import { DEFAULTS, type BacktestOptions } from './run-options.ts';
import { runKey } from './run-key.ts';
import { makeStrategy } from './run-strategies.ts';

export {
  BACKTEST_PLANNER,
  DEFAULTS,
  ORACLE_FULL_PLAN_EVERY,
  type BacktestOptions,
  type Progress,
} from './run-options.ts';
export { runKey } from './run-key.ts';
export type { BatteryEnd } from './battery-end.ts';

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
