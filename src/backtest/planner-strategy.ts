// flexlon and oracle: the fleet planner (src/optimise, through the Solver port) re-planning every
// settlement period on a rolling 48 h horizon, and the site's scheduler starting what the plan
// starts in the current period, then, into GPUs still free, what it starts in the next period where
// that is no dearer or the job is late anyway (starts.ts).
// - Every period the plan is carried from the last one (Solver.planCarried: the previous placement
//   kept, arrivals placed by repair), and made afresh every `fullPlanEvery` periods, as the Flex
//   Orchestrator's incremental re-plans do (src/agents/flex/fleet-plan.ts).
// - The planner is given each site's report (site-report.ts) at the prices of planner-prices.ts:
//   energy with carbon priced in, the pay of product windows and flexlon's capacity value.
// - flexlon reads a ForecastView (forecasts issued by the decision, jobs already submitted); the
//   oracle an OutturnView and every job drawn so far that is submitted within the horizon (days are
//   drawn one ahead: at least the next 24 h), from its release. Meant as the bound; docs/backtest.md
//   says where it is not one.
// - A site's battery is planned apart from its jobs, afresh every period (battery-plan.ts). A
//   commitment (commitments.ts) is made from both plans, and its hold set, through this strategy.
// - With option `caps`, at a site whose GPUs can be capped (SiteSpec.node) and that is not contended
//   (capNode), a running job is capped for the period where that pays at the strategy's prices, it
//   still meets its deadline and the plan has room for the longer run (caps.ts capsFor); the site runs
//   it as the measured sweep says. The plan itself sees every job whole.
import type { PlanningProblem, Schedule } from '../domain/planning.ts';
import { PERIOD_H } from '../domain/settlement-day.ts';
import type { SignalSeries } from '../domain/signals.ts';
import { epochMs } from '../domain/time.ts';
import { buildProblem } from '../optimise/problem.ts';
import { WindowBook, type WindowBookState } from './window-book.ts';
import type { WindowTerms } from './window-choice.ts';
import { NoSlackReserve } from './reserve.ts';
import { OFFERED_FREE, OfferedLoad, offeredAt, type OfferedLoadState } from './capacity-value.ts';
import type { ProductWindow } from './product-calendar.ts';
import type { SimJob } from './sim-job.ts';
import type { SiteSim } from './site-sim.ts';
import { capsFor } from './caps.ts';
import { startsBeyondPlan } from './starts.ts';
import type { GpuNodePower } from '../sim/power.ts';
import { type DecideContext, type Decision, type Strategy } from './strategies.ts';
import { BatteryPlans, type BatteryPlan } from './battery-plan.ts';
import type { Carry, PlannerStats, PlannerStrategyOptions } from './planner-options.ts';
import { plannedMoves } from './planner-moves.ts';
import { forJobs, plannerSignals, withCapacityValue } from './planner-prices.ts';
import { report } from './site-report.ts';

/** GPUs free at the site now or freed by a job that finishes within the period. */
const freeInPeriod = (site: SiteSim): number => {
  let free = site.freeGpus;
  for (const j of site.running) if (j.remainingKwh / j.powerKw <= PERIOD_H + 1e-9) free += j.gpus;
  return free;
};

const DAY_MS = 86_400_000;

/** What one decision gathers from its sites' plans (decide). */
interface Picks {
  /** Jobs a plan starts in this period. */
  readonly now: Set<string>;
  /** Jobs started beyond the plans, into GPUs left free (starts.ts). */
  readonly early: Set<string>;
  /** The waiting jobs of a site whose plan failed: started first come, first served. */
  readonly fifo: Set<string>;
  /** Started only into GPUs left free, like `early`, but free to move (backfillContended). */
  readonly backfill: Set<string>;
  /** Per site: the IT power its capped starts add to its plan per slot from now (caps.ts cappedStarts). */
  readonly startedKw: Map<string, number[]>;
  /** Whether a site's jobs were planned. */
  planned: boolean;
  /** The planner's GB series for this period, once read. */
  signals?: SignalSeries;
}

export class PlannerStrategy implements Strategy {
  readonly stats: PlannerStats = { plans: 0, fresh: 0, failed: 0, skipped: 0 };
  /** Each site's last plan, carried between fresh ones. */
  private carries = new Map<string, Carry>();
  /** The product windows: announced, priced, shared with the battery, held (window-book.ts). */
  private readonly book: WindowBook;
  /** Each battery site's last battery plan (battery-plan.ts). */
  private batteries: BatteryPlans;
  /** The time of the last decision: what a commitment made after it counts as announced. */
  private decidedAt = -Infinity;
  /** flexlon only: each site's offered load over the last week, for the capacity value (capacity-value.ts). */
  private offered = new OfferedLoad();
  /** flexlon only: the room kept for jobs with no slack (reserve.ts). */
  private reserve = new NoSlackReserve();

  constructor(
    readonly name: 'flexlon' | 'oracle',
    private readonly o: PlannerStrategyOptions,
  ) {
    this.book = new WindowBook(o.windows ?? []);
    this.batteries = new BatteryPlans(o.solver, this.book);
  }

  /**
   * IT power (kW) the last plan puts at a site's jobs in the period starting at `t` (`period`: its
   * index in the grid data); 0 beyond the plan or without one. What a commitment is made from.
   */
  plannedJobsKw(site: string, period: number): number {
    const c = this.carries.get(site);
    if (!c) return 0;
    const slot = period - c.period;
    if (slot < 0) return 0;
    let kw = 0;
    for (const j of c.schedule.jobs) if (j.site === site) kw += j.powerKw[slot] ?? 0;
    return kw;
  }

  get foresight(): boolean {
    return this.o.foresight;
  }

  /**
   * Whether the plans see the jobs still to come (the oracle's default). Where they do not (flexlon,
   * and the oracle with `--oracle-arrivals none`), they keep room for must-start arrivals and price
   * the capacity value, as flexlon does: estimates of what the arrivals will take.
   */
  private get seesArrivals(): boolean {
    return this.o.foresight && this.o.foreseeArrivals !== false;
  }

  /**
   * Whether the period starting at `start` lies in a window priced by `now` whose pay the site's jobs
   * see only in part: its battery is then planned, and a commitment made, for a full cluster there.
   * Decided per period, so that windows overlapping with different shares agree (commitments.ts).
   */
  batteryCarries(site: string, start: number): boolean {
    return this.book.batteryCarries(site, start, this.decidedAt);
  }

  /**
   * The battery's planned import (kW, charge − discharge) at a site in the period `period` from its
   * last plan; 0 beyond it or without one. A commitment counts it (commitments.ts).
   */
  plannedBatteryKw(site: string, period: number): number {
    const b = this.batteries.batteryAt(site, period);
    return b ? b.chargeKw - b.dischargeKw : 0;
  }

  /**
   * A commitment made at a notice (run-day.ts, from commitments.ts offersAt): in each period of its window
   * the site's battery holds the import at or below baseline − committed (`kw[p]` from period `period`
   * on), so the reduction sold does not rest on the job plan alone coming true.
   */
  holdImport(site: string, period: number, kw: readonly number[]): void {
    this.book.hold(site, period, kw);
  }

  /**
   * What each site knows of a window at its notice (commitments.ts windowTerms), given before the
   * notice's plan, which sets how much of the window's pay each site's jobs see (window-choice.ts).
   */
  announce(w: ProductWindow, terms: readonly WindowTerms[]): void {
    this.book.announce(w, terms);
  }

  /**
   * A window announced that no site could commit to (no BL01 baseline at its notice, commitments.ts):
   * it cannot pay, so the plans from the next period on no longer price it (the notice's own plan did).
   */
  unprice(w: ProductWindow): void {
    this.book.unprice(w);
  }

  /**
   * The site's node where its running jobs may be capped now: caps are on, the node is known and the
   * site is not contended (offered load under OFFERED_FREE, where the capacity value is 0): on a full
   * site the GPU time a capped job holds is what the jobs arriving next need, which the plan does not
   * see (busy fleet, 2023-01-16…29, capsFor at every site: lateness £993 against £354 without,
   * objective £498 higher; docs/backtest.md "GPU power caps").
   */
  private capNode(site: SiteSim, now: number): GpuNodePower | undefined {
    if (!this.o.caps || !site.spec.node) return undefined;
    // Not before a day of submissions is seen: a run's first hours would look uncontended on any site.
    const free = offeredAt(this.offered, site, now) < OFFERED_FREE && this.offered.seenFor(site.spec.id, now) >= DAY_MS;
    return free ? site.spec.node : undefined;
  }

  async decide(ctx: DecideContext): Promise<Decision> {
    // Each site is planned on its own: the profiles' jobs are submitted to one site, so the fleet plan
    // is the sites' plans side by side, and three small problems solve far faster than one of all
    // three (the exact MILP's work grows faster than its jobs). With moves on, a job late in its
    // site's plan may then move to another site's queue (moves.ts).
    const notice = this.book.isNotice(ctx.now);
    const fresh = ctx.period % this.o.fullPlanEvery === 0 || notice;
    const d: Picks = {
      now: new Set(),
      early: new Set(),
      fifo: new Set(),
      backfill: new Set(),
      startedKw: new Map(),
      planned: false,
    };
    this.decidedAt = ctx.now;
    this.book.shareAnnounced(ctx.sites);
    for (const site of ctx.sites) await this.planSite(site, ctx, notice, fresh, d);
    // Holds of periods past and shares of windows over a day old are dropped (the checkpoint keeps the rest).
    this.book.prune(ctx.period, ctx.now);
    const battery = this.batteries.size ? { battery: (id: string) => this.batteries.batteryAt(id, ctx.period) } : {};
    const capped = this.capsOf(ctx, d);
    const caps = capped.size ? { caps: (id: string) => capped.get(id) } : {};
    const moved =
      d.planned && this.o.moves
        ? // No move into a site whose capped starts took room its plan still shows free.
          plannedMoves(
            ctx,
            new Set([...d.now, ...d.early, ...d.fifo]),
            new Set([...capped.keys(), ...d.startedKw.keys()]),
            this.carries,
            this.offered,
            this.o.horizon,
          )
        : [];
    const moves = moved.length ? { moves: moved } : {};
    if (!d.planned) {
      this.stats.skipped++;
      return { eligible: () => false, order: 'fifo', ...battery, ...caps };
    }
    return {
      eligible: (j) => d.now.has(j.id) || d.fifo.has(j.id),
      order: 'fifo',
      ...(d.early.size || d.backfill.size ? { early: (j: SimJob) => d.early.has(j.id) || d.backfill.has(j.id) } : {}),
      ...battery,
      ...caps,
      ...moves,
    };
  }

  /**
   * One site's part of a decision: its jobs planned (or, where nothing could start, its plan left
   * to carry), its battery planned, and what it may start now added to `d`.
   */
  private async planSite(site: SiteSim, ctx: DecideContext, notice: boolean, fresh: boolean, d: Picks): Promise<void> {
    const id = site.spec.id;
    if (!this.seesArrivals) this.reserve.note(site, ctx.now);
    const free = freeInPeriod(site);
    // Nothing can start at the site in this period when no waiting job fits the GPUs free by the
    // period's end (free now, or held by a job that finishes in it), so its plan could only say
    // "wait". Skipping the solve then changes no decision now; its next plan is carried from the
    // last one made. Its battery is still planned.
    const skip = !notice && !site.waiting.some((j) => j.gpus <= free);
    if (skip && !site.spec.battery) return;
    const built = this.problemOf(site, ctx, d);
    if (skip) {
      await this.batteries.planBattery(site, built, ctx, this.carries.get(id));
      return;
    }
    d.planned = true;
    // The jobs are planned without the battery, which is planned on its own below (battery-plan.ts).
    const jobsOnly = { ...built, sites: built.sites.map(({ battery: _, ...x }) => x) };
    const problem = forJobs(
      this.seesArrivals ? jobsOnly : withCapacityValue(jobsOnly, ctx, this.o, this.offered),
      id,
      ctx,
      this.book,
    );
    const schedule = await this.solve(problem, site, ctx, fresh);
    if (schedule.status === 'infeasible') {
      this.stats.failed++;
      this.carries.delete(id);
      for (const j of site.waiting) d.fifo.add(j.id);
      await this.batteries.planBattery(site, built, ctx, this.carries.get(id));
      return;
    }
    this.carries.set(id, { period: ctx.period, schedule });
    await this.batteries.planBattery(site, built, ctx, this.carries.get(id));
    this.pickStarts(site, schedule, problem, ctx, d);
  }

  /** The site's planning problem over the horizon, its battery included. */
  private problemOf(site: SiteSim, ctx: DecideContext, d: Picks): PlanningProblem {
    const grid = { start: epochMs(ctx.now), slotMinutes: 30, slots: this.o.horizon };
    return buildProblem({
      grid,
      now: epochMs(ctx.now),
      reports: [report(site, ctx.now, this.o.horizon, this.seesArrivals, this.reserve)],
      // The same GB series for every site: read once a period.
      signals: new Map([['GB', (d.signals ??= plannerSignals(ctx, this.o, this.book))]]),
      commitments: [],
    });
  }

  /**
   * The site's job plan: carried from its last one, or made afresh where this period makes fresh
   * plans (at the site) or the carried one is infeasible.
   */
  private async solve(problem: PlanningProblem, site: SiteSim, ctx: DecideContext, fresh: boolean): Promise<Schedule> {
    const every = this.o.fullPlanEveryUncontended;
    const freshHere =
      fresh ||
      (every !== undefined && ctx.period % every === 0 && offeredAt(this.offered, site, ctx.now) < OFFERED_FREE);
    const carry = freshHere ? undefined : this.carries.get(site.spec.id);
    const planCarried = this.o.solver.planCarried?.bind(this.o.solver);
    let schedule =
      carry && planCarried
        ? await planCarried(problem, carry.schedule, ctx.period - carry.period)
        : await this.o.solver.plan(problem);
    this.stats.plans++;
    if (!(carry && planCarried)) this.stats.fresh++;
    if (schedule.status === 'infeasible' && carry && planCarried) {
      schedule = await this.o.solver.plan(problem);
      this.stats.fresh++;
    }
    return schedule;
  }

  /** What the site may start now by its plan: what the plan starts, and beyond it (starts.ts), into `d`. */
  private pickStarts(site: SiteSim, schedule: Schedule, problem: PlanningProblem, ctx: DecideContext, d: Picks): void {
    const id = site.spec.id;
    for (const j of schedule.jobs) if ((j.powerKw[0] ?? 0) > 1e-9) d.now.add(j.id);
    // In a period a sold window holds the site's import under (window-book.ts hold), only what the plan
    // starts: an early, capped or backfilled start adds import the plan kept out of the window (the
    // oracle's backfill delivered −191.5 kWh of a 99 kW reduction sold at lon, 2023-01-13).
    if (this.book.capAt(id, ctx.period) !== undefined) return;
    const extra = startsBeyondPlan({
      schedule,
      problem,
      site: id,
      waiting: site.waiting,
      freeGpus: site.freeGpus,
      limitKw: site.spec.trainingMaxKw - site.spec.trainingIdleKw,
      now: ctx.now,
      starting: d.now,
      node: this.capNode(site, ctx.now),
    });
    for (const j of extra.early) d.early.add(j);
    if (extra.addedKw) d.startedKw.set(id, extra.addedKw);
    if (this.o.backfillContended && offeredAt(this.offered, site, ctx.now) >= OFFERED_FREE)
      for (const j of site.waiting) d.backfill.add(j.id);
  }

  /** Caps are decided for every site, planned now or carrying its last plan (caps.ts capsFor). */
  private capsOf(ctx: DecideContext, d: Picks): Map<string, Map<string, number>> {
    const capped = new Map<string, Map<string, number>>();
    let prices: number[] | undefined;
    for (const x of ctx.sites) {
      const node = x.running.length > 0 ? this.capNode(x, ctx.now) : undefined;
      const c = this.carries.get(x.spec.id);
      if (!node || !c) continue;
      prices ??= (d.signals ?? plannerSignals(ctx, this.o, this.book)).points.map((p) => p.price as number);
      const added = d.startedKw.get(x.spec.id);
      const out = capsFor({
        node,
        running: x.running,
        plan: c.schedule.jobs,
        slot: ctx.period - c.period,
        limitKw: x.spec.trainingMaxKw - x.spec.trainingIdleKw,
        now: ctx.now,
        prices,
        ...(added ? { addedKw: added } : {}),
      });
      if (out.size) capped.set(x.spec.id, out);
    }
    return capped;
  }

  save(): unknown {
    return {
      carries: Object.fromEntries(this.carries),
      batteries: this.batteries.save(),
      ...this.book.save(),
      stats: this.stats,
      submitted: this.offered.save(),
      urgent: this.reserve.save(),
    };
  }

  load(state: unknown): void {
    const s = state as WindowBookState & {
      carries?: Record<string, Carry>;
      batteries?: Record<string, BatteryPlan>;
      urgent?: ReturnType<NoSlackReserve['save']>;
      stats: PlannerStats;
      submitted?: OfferedLoadState;
    };
    this.carries = new Map(Object.entries(s.carries ?? {}));
    this.batteries = new BatteryPlans(this.o.solver, this.book, s.batteries);
    this.book.load(s);
    this.offered = new OfferedLoad(s.submitted);
    this.reserve = new NoSlackReserve(s.urgent);
    Object.assign(this.stats, s.stats);
  }
}
