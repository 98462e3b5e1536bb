// One settlement day of the backtest (run.ts): every lane, one strategy on its own copy of the fleet,
// is taken through the day's periods. In each, the jobs submitted by then join their sites' queues,
// the strategy decides with what it may know then (signal-view.ts), commitments are made at the
// windows announced then, its moves are made, and each site's scheduler starts what it may and is
// metered at outturn price and carbon. The day's rows, finished jobs and commitments are what
// the checkpoint keeps (checkpoint.ts).
import type { NoisePath } from '../domain/forecast-vintage.ts';
import { settlementDayStart, PERIOD_MS } from '../domain/settlement-day.ts';
import type { DayChunk, PeriodRow } from './checkpoint.ts';
import { commitAtNotice, offersAt, windowTerms } from './commitments.ts';
import type { FleetSite, SiteDay } from './fleet.ts';
import { hasNoSlack } from './reserve.ts';
import { PlannerStrategy } from './planner-strategy.ts';
import {
  ForecastView,
  outturnCarbon,
  outturnPrice,
  OutturnView,
  type GridData,
  type ViewAudit,
} from './signal-view.ts';
import type { Offer } from './products.ts';
import type { ProductWindow } from './product-calendar.ts';
import type { WindowTerms } from './window-choice.ts';
import { simJobOf, type SimJob } from './sim-job.ts';
import type { PeriodMeter, SiteSim } from './site-sim.ts';
import type { Decision, Strategy } from './strategies.ts';
import type { SiteMove } from './moves.ts';
import type { BacktestOptions } from './run-options.ts';
import type { LaneMeters } from './run-meters.ts';

/** One strategy's run: its own copy of the fleet's sites, and what it read of the forecasts. */
export interface Lane {
  readonly strategy: Strategy;
  readonly sims: SiteSim[];
  readonly audit: ViewAudit;
}

/** What every day of the run reads: the run's fixed inputs, its lanes and their meters. */
export interface DayInputs {
  readonly o: BacktestOptions;
  readonly sites: readonly FleetSite[];
  /** The days that draw jobs. */
  readonly days: readonly string[];
  /** The job days and the drain days after them. */
  readonly allDays: readonly string[];
  /** Start of the grid data (ms): period 0 of `data`. */
  readonly dataStart: number;
  readonly data: GridData;
  readonly noise: NoisePath;
  readonly windows: readonly ProductWindow[];
  /** The windows announced in the period starting at each time (ms). */
  readonly noticesAt: ReadonlyMap<number, readonly ProductWindow[]>;
  /** The dates of the windows called. */
  readonly eventDays: ReadonlySet<string>;
  readonly lanes: readonly Lane[];
  readonly meters: LaneMeters;
  readonly draws: DayDraws;
}

/**
 * Each day's jobs and inference per site, drawn from the workload on first use and kept until
 * forgotten: the day simulated, the day after (whose arrivals begin the evening before) and the
 * days a window's terms look at.
 */
export class DayDraws {
  private readonly memo = new Map<number, SiteDay[]>();

  constructor(
    private readonly sites: readonly FleetSite[],
    private readonly allDays: readonly string[],
    private readonly workload: (site: FleetSite, dayIndex: number, dayStart: number) => SiteDay,
  ) {}

  of(k: number): SiteDay[] {
    let d = this.memo.get(k);
    if (!d) {
      const t = settlementDayStart(this.allDays[k] as string);
      this.memo.set(k, (d = this.sites.map((s) => this.workload(s, k, t))));
    }
    return d;
  }

  forget(k: number): void {
    this.memo.delete(k);
  }
}

/** A day being simulated: its index in the run, date, start (ms) and periods. */
export interface Day {
  readonly k: number;
  readonly date: string;
  readonly start: number;
  readonly periods: number;
}

/** Day `day` of every lane, in lane order: what the checkpoint saves of it. */
export const simulateDay = async (x: DayInputs, day: Day): Promise<DayChunk> => {
  const siteDays = x.draws.of(day.k);
  // Jobs are queued a day ahead (a busy day's arrivals begin at 18:00 the evening before), and
  // each moves into a site's queue at its submission time; only the oracle looks at them earlier.
  const adding = [...(day.k === 0 ? [0] : []), day.k + 1].filter((d) => d < x.days.length).map((d) => x.draws.of(d));
  x.draws.forget(day.k - 1);
  const chunk: DayChunk = { date: day.date, rows: {}, finished: {}, ...(x.windows.length ? { offers: {} } : {}) };
  for (const lane of x.lanes) {
    // Drain days bring no new work; their inference profile still runs.
    for (const add of adding) lane.sims.forEach((sim, i) => sim.add((add[i] as SiteDay).jobs.map(simJobOf)));
    const rows: PeriodRow[] = [];
    for (let p = 0; p < day.periods; p++)
      rows.push(await simulatePeriod(x, lane, day.start + p * PERIOD_MS, p, siteDays, chunk));
    chunk.rows[lane.strategy.name] = rows;
    if (x.windows.length) x.meters.keep(lane.strategy.name, day.date, rows);
    chunk.finished[lane.strategy.name] = lane.sims.flatMap((sim) => sim.finished.splice(0));
  }
  return chunk;
};

/** The period starting at `now` (the day's `p`th) of one lane, metered. */
const simulatePeriod = async (
  x: DayInputs,
  lane: Lane,
  now: number,
  p: number,
  siteDays: readonly SiteDay[],
  chunk: DayChunk,
): Promise<PeriodRow> => {
  const period = (now - x.dataStart) / PERIOD_MS;
  for (const sim of lane.sims) sim.arrive(now);
  const view = lane.strategy.foresight
    ? new OutturnView(x.data, now)
    : new ForecastView(x.data, now, x.noise, lane.audit, undefined, x.o.pricePerCarbon);
  const planner = lane.strategy instanceof PlannerStrategy ? lane.strategy : undefined;
  const notices = planner ? announce(x, planner, now) : [];
  const decision = await lane.strategy.decide({ now, period, sites: lane.sims, view });
  if (planner && notices.length) commit(x, planner, notices, chunk);
  // Moves first: a moved job waits in its new site's queue for that site's next plan.
  const moved = makeMoves(lane.sims, decision.moves ?? []);
  const metered = stepSites(lane.sims, decision, now, p, siteDays);
  return rowOf(x.data, now, period, metered, moved);
};

interface Notice {
  readonly w: ProductWindow;
  readonly terms: WindowTerms[];
}

/**
 * The windows announced now, with what each site knows of them, given to the planner before its
 * plan and committed to from it.
 */
const announce = (x: DayInputs, planner: PlannerStrategy, now: number): Notice[] => {
  const notices = (x.noticesAt.get(now) ?? []).map((w) => ({
    w,
    terms: windowTerms(
      w,
      x.sites,
      x.meters.of(planner.name),
      x.eventDays,
      (kk, i) => (x.draws.of(kk)[i] as SiteDay).inferenceKw,
      x.allDays,
    ),
  }));
  for (const n of notices) planner.announce(n.w, n.terms);
  return notices;
};

/** The commitments made at the notices, from the plan just made, added to the day's offers. */
const commit = (x: DayInputs, planner: PlannerStrategy, notices: readonly Notice[], chunk: DayChunk): void => {
  const made = notices.flatMap((n) =>
    commitAtNotice(planner, n.w, offersAt(planner, n.w, x.sites, n.terms, x.dataStart), x.dataStart),
  );
  const offers = (chunk.offers as Record<string, Offer[]>)[planner.name] ?? [];
  (chunk.offers as Record<string, Offer[]>)[planner.name] = [...offers, ...made];
};

/** Makes the moves that can be made: how many, and what they cost (£). */
const makeMoves = (sims: readonly SiteSim[], decided: readonly SiteMove[]): { moves: number; moveGbp: number } => {
  let moves = 0;
  let moveGbp = 0;
  for (const m of decided) {
    const from = sims.find((x) => x.spec.id === m.from);
    const to = sims.find((x) => x.spec.id === m.to);
    // Only a move that can be made is made and paid for (movesFor checks the same).
    const waiting = from?.waiting.find((j) => j.id === m.jobId);
    if (!from || !to || !waiting || waiting.gpus > to.spec.gpus) continue;
    to.receive(from.take(m.jobId) as SimJob, m.from);
    moves++;
    moveGbp += m.gbp;
  }
  return { moves, moveGbp };
};

/** Each site's scheduler starts what the decision lets it, and the site runs the period (site-sim.ts). */
const stepSites = (
  sims: readonly SiteSim[],
  decision: Decision,
  now: number,
  p: number,
  siteDays: readonly SiteDay[],
): PeriodMeter[] =>
  sims.map((sim, i) => {
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

/** The period's row: the fleet's import at outturn price and carbon, its work and queues. */
const rowOf = (
  data: GridData,
  now: number,
  period: number,
  siteKwh: readonly PeriodMeter[],
  { moves, moveGbp }: { moves: number; moveGbp: number },
): PeriodRow => {
  const kwhAll = siteKwh.reduce((a, m) => a + m.importKwh, 0);
  const wearGbp = siteKwh.reduce((a, m) => a + (m.battery?.wearGbp ?? 0), 0);
  const dischargedKwh = siteKwh.reduce((a, m) => a + (m.battery?.dischargedKwh ?? 0), 0);
  const preempted = siteKwh.reduce((a, m) => a + m.preempted, 0);
  return {
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
  };
};
