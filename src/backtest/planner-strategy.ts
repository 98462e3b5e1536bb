// flexlon and oracle: the fleet planner (src/optimise, through the Solver port) re-planning every
// settlement period on a rolling 48 h horizon, and the site's scheduler starting what the plan
// starts in the current period, then, into GPUs still free, what it starts in the next period where
// that is no dearer or the job is late anyway (earlyStarts).
// - Every period the plan is carried from the last one (Solver.planCarried: the previous placement
//   kept, arrivals placed by repair), and made afresh every `fullPlanEvery` periods, as the Flex
//   Orchestrator's incremental re-plans do (src/agents/flex/fleet-plan.ts).
// - The planner minimises £: energy at the price it is given plus lateness. The backtest prices
//   carbon into that price (£/MWh + carbon £/t × gCO2/kWh / 1000, since 1 gCO2/kWh = 1 kg/MWh), so
//   the plan weighs £ and carbon as the metrics do (docs/backtest.md, "Objective").
// - The planner sees the training pool only: IT limit = what every GPU adds above idle; idle and
//   inference power are inflexible and the same under every plan, so leaving them out changes no
//   decision. Jobs are site-bound (the profiles allow one site each), so the fleet plan is the
//   sites' plans side by side.
// - flexlon reads a ForecastView (forecasts issued by the decision, jobs already submitted); the
//   oracle an OutturnView and every job drawn so far that is submitted within the horizon (days are
//   drawn one ahead: at least the next 24 h), from its release. Meant as the bound; docs/backtest.md
//   says where it is not one.
// - A site's battery (site-sim.ts) is planned apart from its jobs, at the prices without the capacity
//   value (a price on deferring work, not one a battery pays: on a ramp of £117.5/MWh an hour it
//   would charge now to discharge two days on) but with the pay of product windows announced by
//   then, with the job plan's load held (Solver.planBatteries), afresh every period from its metered
//   stored energy. A commitment counts its planned discharge (commitments.ts offersAt).
// - With option `caps`, at a site whose GPUs can be capped (SiteSpec.node) and that is not contended
//   (capNode), a running job is capped for the period where that pays at the strategy's prices, it
//   still meets its deadline and the plan has room for the longer run (caps.ts capsFor); the site runs
//   it as the measured sweep says. The plan itself sees every job whole.
import type { ComputeJob, FlexibilityReport } from '../domain/compute.ts';
import type { BatterySchedule, JobSchedule, PlanningProblem, Schedule } from '../domain/planning.ts';
import { PERIOD_MS } from '../domain/settlement-day.ts';
import type { GridSignalPoint, SignalSeries } from '../domain/signals.ts';
import { epochMs, type EpochMs } from '../domain/time.ts';
import { gbpPerMwh, gPerKwh, kw, kwh } from '../domain/units.ts';
import { buildProblem } from '../optimise/problem.ts';
import type { Solver } from '../ports.ts';
import { WindowBook, type WindowBookState } from './window-book.ts';
import type { WindowTerms } from './window-choice.ts';
import { hasNoSlack, MUST_START_LATE_GBP_PER_GPU_HOUR, NoSlackReserve } from './reserve.ts';
import { capacityValue, OFFERED_FREE, OfferedLoad, offeredAt, type OfferedLoadState } from './capacity-value.ts';
import { withCapacityValue } from '../optimise/capacity-value.ts';
import type { ProductWindow } from './product-calendar.ts';
import type { BatterySetpoint, SimJob, SiteSim } from './site-sim.ts';
import { capsFor } from './caps.ts';
import { startsBeyondPlan } from './starts.ts';
import { movesFor, runningPlan, type SiteMove } from './moves.ts';
import type { GpuNodePower } from '../sim/power.ts';
import { type DecideContext, type Decision, type Strategy } from './strategies.ts';

export interface PlannerStrategyOptions {
  readonly solver: Solver;
  /** Slots planned ahead (96 = 48 h, the market's horizon). */
  readonly horizon: number;
  /** A fresh plan every this many periods (counted from the data's start), carried in between. */
  readonly fullPlanEvery: number;
  /**
   * A fresh plan also every this many periods at a site that is not contended (offered load under
   * OFFERED_FREE; absent: none beyond fullPlanEvery). The oracle's (run.ts ORACLE_FULL_PLAN_EVERY).
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

interface Carry {
  readonly period: number;
  readonly schedule: Schedule;
}

interface BatteryPlan {
  readonly period: number;
  readonly battery: BatterySchedule;
}

/**
 * A job as it is: the planner plans its run at full power and the last slot of the run holds the
 * part of a period left (slots are average power). The site's scheduler starts the next job when
 * one finishes, mid-period, so a plan that fills a slot with one job's tail and another's start is
 * what happens. An earlier version rounded every run up to whole periods at full power: each
 * run then looked a quarter of a period longer on average, the plan saw the busy pool as full and held work back at
 * a cost in lateness (docs/backtest.md, "Whole periods").
 */
const asComputeJob = (j: SimJob, site: string, state: 'queued' | 'running', releaseAt: number): ComputeJob => ({
  id: j.id,
  name: j.id,
  site,
  slo: 'deferrable',
  gpus: j.gpus,
  powerKw: kw(j.powerKw),
  energyKwh: kwh(j.energyKwh),
  remainingKwh: kwh(j.remainingKwh),
  submittedAt: epochMs(j.submittedAt),
  releaseAt: epochMs(releaseAt),
  deadlineAt: epochMs(j.deadlineAt),
  preemptible: false,
  allowedSites: [site],
  work: j.work,
  workUnit: 'gpu-hours',
  state,
  // A must-start job's SLO is hard: its lateness priced so that no plan trades it for energy (reserve.ts).
  ...(hasNoSlack(j) ? { lateGbpPerGpuHour: MUST_START_LATE_GBP_PER_GPU_HOUR } : {}),
});

/** GPUs free at the site now or freed by a job that finishes within the period. */
const freeInPeriod = (site: SiteSim): number => {
  let free = site.freeGpus;
  for (const j of site.running) if (j.remainingKwh / j.powerKw <= PERIOD_MS / 3_600_000 + 1e-9) free += j.gpus;
  return free;
};

const DAY_MS = 86_400_000;

/** A job is seen at the first period start at or after its release (jobs start on boundaries). */
const boundaryAfter = (t: number): number => Math.ceil(t / PERIOD_MS) * PERIOD_MS;

export class PlannerStrategy implements Strategy {
  readonly stats: PlannerStats = { plans: 0, fresh: 0, failed: 0, skipped: 0 };
  /** Each site's last plan, carried between fresh ones. */
  private carries = new Map<string, Carry>();
  /** Each battery site's last battery plan. */
  private batteries = new Map<string, BatteryPlan>();
  /** The product windows: announced, priced, shared with the battery, held (window-book.ts). */
  private readonly book: WindowBook;
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

  private report(site: SiteSim, now: number): FlexibilityReport {
    const s = site.spec;
    const id = s.id;
    const horizonEnd = now + this.o.horizon * PERIOD_MS;
    const jobs: ComputeJob[] = [
      ...site.running.map((j) => asComputeJob(j, id, 'running', j.releaseAt)),
      ...site.waiting.map((j) => asComputeJob(j, id, 'queued', Math.max(j.releaseAt, now))),
      ...(this.seesArrivals
        ? site.pending
            .filter((j) => j.submittedAt < horizonEnd)
            .map((j) => asComputeJob(j, id, 'queued', boundaryAfter(Math.max(j.releaseAt, j.submittedAt))))
        : []),
    ];
    return {
      site: id,
      region: 'GB',
      at: epochMs(now),
      itPowerLimitKw: kw(s.trainingMaxKw - s.trainingIdleKw),
      pue: s.pue,
      // The site's connection where it states one (a battery site: its charging is held under it);
      // otherwise set where it cannot bind.
      gridImportLimitKw: kw(s.gridImportLimitKw ?? 2 * s.trainingMaxKw * s.pue),
      baseLoadFrom: epochMs(now),
      slotMinutes: 30,
      baseLoadKw: this.seesArrivals ? [0] : this.reserve.kw(site, now, this.o.horizon),
      jobs,
      ...(s.battery && site.socKwh !== undefined ? { battery: { ...s.battery, socKwh: site.socKwh } } : {}),
    };
  }

  /**
   * The battery's plan for the period: afresh from its stored energy now, at the period's prices
   * (without the capacity value; with the pay of the product windows announced by now, so a battery
   * keeps energy for a window it can be paid for), with the site's last job plan held. Its import
   * may not go negative: the battery discharges into the jobs' planned power and the training pool's
   * idle power, which the site always draws (the inference pool's, not forecast here, is left out).
   */
  private async planBattery(site: SiteSim, problem: PlanningProblem, ctx: DecideContext): Promise<void> {
    if (!problem.sites.some((x) => x.battery)) return;
    const period = ctx.period;
    const id = site.spec.id;
    const carry = this.carries.get(id);
    const shift = carry ? period - carry.period : 0;
    const held = (carry?.schedule.jobs ?? []).map((j) => ({ ...j, powerKw: j.powerKw.slice(shift) }));
    const jobs = [
      ...held,
      { id: 'idle', site: id, powerKw: new Array<number>(problem.slots).fill(site.spec.trainingIdleKw) },
      this.windowFill(site, held, problem.slots, ctx),
    ];
    // A solver without planBatteries (the greedy one) leaves the battery holding its charge.
    const planned = await this.o.solver.planBatteries?.(problem, jobs);
    const battery = planned?.find((b) => b.site === id);
    if (battery) this.batteries.set(id, { period, battery });
    else this.batteries.delete(id);
  }

  /**
   * In the windows whose pay the site's jobs see only in part (its battery answers the rest), the jobs
   * are not kept out: whatever arrives may run there. So the battery is planned, and the commitment
   * made (commitments.ts offersAt), as if every GPU were busy in them: the IT power the held plan
   * leaves below full load, as one more load to carry (window-choice.ts).
   */
  private windowFill(site: SiteSim, held: readonly JobSchedule[], slots: number, ctx: DecideContext): JobSchedule {
    const id = site.spec.id;
    const full = site.spec.trainingMaxKw - site.spec.trainingIdleKw;
    const powerKw = new Array<number>(slots).fill(0);
    for (let t = 0; t < slots; t++) {
      if (!this.book.batteryCarries(id, ctx.now + t * PERIOD_MS, ctx.now)) continue;
      const planned = held.reduce((a, j) => a + (j.site === id ? (j.powerKw[t] ?? 0) : 0), 0);
      powerKw[t] = Math.max(0, full - planned);
    }
    return { id: 'window-fill', site: id, powerKw };
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
    const b = this.batteryAt(site, period);
    return b ? b.chargeKw - b.dischargeKw : 0;
  }

  /**
   * A commitment made at a notice (run.ts, from commitments.ts offersAt): in each period of its window
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
   * A site's job problem with only its jobs' share of each window's pay (window-choice.ts): the
   * signals carry the whole of it, which the battery plans against.
   */
  private forJobs(problem: PlanningProblem, site: string, ctx: DecideContext): PlanningProblem {
    const spec = problem.sites.find((x) => x.id === site);
    if (!spec) return problem;
    let prices: number[] | undefined;
    for (let t = 0; t < problem.slots; t++) {
      const start = ctx.now + t * PERIOD_MS;
      if (!this.book.batteryCarries(site, start, ctx.now)) continue;
      prices ??= [...spec.priceGbpPerMwh];
      prices[t] = (prices[t] as number) - this.book.batteryPayAt(site, start, ctx.now, ctx.view.price(ctx.period + t));
    }
    if (!prices) return problem;
    const priceGbpPerMwh = prices;
    return { ...problem, sites: problem.sites.map((x) => (x.id === site ? { ...x, priceGbpPerMwh } : x)) };
  }

  /**
   * A window announced that no site could commit to (no BL01 baseline at its notice, commitments.ts):
   * it cannot pay, so the plans from the next period on no longer price it (the notice's own plan did).
   */
  unprice(w: ProductWindow): void {
    this.book.unprice(w);
  }

  /** The battery setpoint of a site for the period `period` from its last battery plan, and its hold. */
  private batteryAt(id: string, period: number): BatterySetpoint | undefined {
    const b = this.batteries.get(id);
    if (!b) return undefined;
    const t = period - b.period;
    const cap = this.book.capAt(id, period);
    return {
      chargeKw: b.battery.chargeKw[t] ?? 0,
      dischargeKw: b.battery.dischargeKw[t] ?? 0,
      ...(cap === undefined ? {} : { importCapKw: cap }),
    };
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

  /**
   * The planner's signals for the horizon: price = forecast (or outturn) + carbon at the carbon
   * price, + the pay of each product window announced by now.
   */
  private signals(ctx: DecideContext): SignalSeries {
    const points: GridSignalPoint[] = [];
    for (let t = 0; t < this.o.horizon; t++) {
      const carbon = ctx.view.carbon(ctx.period + t);
      const forecast = ctx.view.price(ctx.period + t);
      const start = ctx.now + t * PERIOD_MS;
      // A product window announced by now: each MWh not used there earns its pay (window-book.ts).
      const adder = this.book.payAt(start, ctx.now, forecast);
      const price = forecast + adder + (this.o.carbonGbpPerTonne * carbon) / 1000;
      points.push({
        start: epochMs(start),
        carbonForecast: gPerKwh(carbon),
        price: gbpPerMwh(price),
      });
    }
    return { region: 'GB', issuedAt: ctx.now as EpochMs, slotMinutes: 30, points };
  }

  /**
   * flexlon only: each site's slots priced up by its capacity value × hours ahead. The oracle sees
   * the jobs to come and plans them, so it needs no estimate of what they will take.
   */
  private withCapacityValue(problem: PlanningProblem, ctx: DecideContext): PlanningProblem {
    const values = new Map<string, number>();
    for (const sim of ctx.sites.filter((x) => problem.sites.some((s) => s.id === x.spec.id))) {
      const kwPerGpu = (sim.spec.trainingMaxKw - sim.spec.trainingIdleKw) / sim.spec.gpus;
      values.set(
        sim.spec.id,
        capacityValue(offeredAt(this.offered, sim, ctx.now), kwPerGpu, this.o.capacityValueShare),
      );
    }
    return withCapacityValue(problem, values);
  }

  /**
   * The late waiting jobs moved to another site this period (moves.ts movesFor), read off each site's
   * last plan; none that starts here now or early, nor one released FIFO after a failed plan. The
   * carried plan of a site a job leaves keeps its placement until its next plan, which no longer sees
   * it; the site it joins plans it next period. No job moves into a site that capped a job this
   * period (the cap took room the plan had) or whose waiting jobs no plan holds.
   */
  private moves(ctx: DecideContext, starting: ReadonlySet<string>, capped: ReadonlySet<string>): SiteMove[] {
    const sites = ctx.sites.map((x) => {
      // Each site's offered load counts the jobs submitted there before any leaves (capNode reads it),
      // as the bound's reading of the site's own arrivals does (capacity-value.ts uncontendedAt).
      offeredAt(this.offered, x, ctx.now);
      const c = this.carries.get(x.spec.id);
      // A site with no plan and no job waiting (none has waited there yet, or its queue emptied since
      // a failed plan) has room wherever its running jobs leave it.
      const plan = c
        ? { jobs: c.schedule.jobs, slots: this.o.horizon, slot: ctx.period - c.period }
        : x.waiting.length === 0
          ? runningPlan(x.spec.id, x.running, this.o.horizon)
          : undefined;
      return {
        id: x.spec.id,
        gpus: x.spec.gpus,
        limitKw: x.spec.trainingMaxKw - x.spec.trainingIdleKw,
        kwPerGpu: (x.spec.trainingMaxKw - x.spec.trainingIdleKw) / x.spec.gpus,
        waiting: x.waiting.filter((j) => !starting.has(j.id)),
        ...(plan ? { plan } : {}),
        accepts: !capped.has(x.spec.id),
      };
    });
    return movesFor({ sites, now: ctx.now });
  }

  async decide(ctx: DecideContext): Promise<Decision> {
    // Each site is planned on its own: the profiles' jobs are submitted to one site, so the fleet plan
    // is the sites' plans side by side, and three small problems solve far faster than one of all
    // three (the exact MILP's work grows faster than its jobs). With moves on, a job late in its
    // site's plan may then move to another site's queue (moves.ts).
    const notice = this.book.isNotice(ctx.now);
    const fresh = ctx.period % this.o.fullPlanEvery === 0 || notice;
    const now = new Set<string>();
    const early = new Set<string>();
    const fifo = new Set<string>();
    // Started only into GPUs left free, like `early`, but free to move (backfillContended).
    const backfill = new Set<string>();
    // Per site: the IT power its capped starts add to its plan per slot from now (caps.ts cappedStarts).
    const startedKw = new Map<string, number[]>();
    let planned = false;
    let signals: SignalSeries | undefined;
    this.decidedAt = ctx.now;
    this.book.shareAnnounced(ctx.sites);
    for (const site of ctx.sites) {
      const id = site.spec.id;
      if (!this.seesArrivals) this.reserve.note(site, ctx.now);
      const free = freeInPeriod(site);
      // Nothing can start at the site in this period when no waiting job fits the GPUs free by the
      // period's end (free now, or held by a job that finishes in it), so its plan could only say
      // "wait". Skipping the solve then changes no decision now; its next plan is carried from the
      // last one made. Its battery is still planned.
      const skip = !notice && !site.waiting.some((j) => j.gpus <= free);
      if (skip && !site.spec.battery) continue;
      const grid = { start: epochMs(ctx.now), slotMinutes: 30, slots: this.o.horizon };
      const built = buildProblem({
        grid,
        now: epochMs(ctx.now),
        reports: [this.report(site, ctx.now)],
        // The same GB series for every site: read once a period.
        signals: new Map([['GB', (signals ??= this.signals(ctx))]]),
        commitments: [],
      });
      if (skip) {
        await this.planBattery(site, built, ctx);
        continue;
      }
      planned = true;
      // The jobs are planned without the battery, which is planned on its own below (see the top).
      const jobsOnly = { ...built, sites: built.sites.map(({ battery: _, ...x }) => x) };
      const problem = this.forJobs(this.seesArrivals ? jobsOnly : this.withCapacityValue(jobsOnly, ctx), id, ctx);
      const every = this.o.fullPlanEveryUncontended;
      const freshHere =
        fresh ||
        (every !== undefined && ctx.period % every === 0 && offeredAt(this.offered, site, ctx.now) < OFFERED_FREE);
      const carry = freshHere ? undefined : this.carries.get(id);
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
      if (schedule.status === 'infeasible') {
        this.stats.failed++;
        this.carries.delete(id);
        for (const j of site.waiting) fifo.add(j.id);
        await this.planBattery(site, built, ctx);
        continue;
      }
      this.carries.set(id, { period: ctx.period, schedule });
      await this.planBattery(site, built, ctx);
      for (const j of schedule.jobs) if ((j.powerKw[0] ?? 0) > 1e-9) now.add(j.id);
      const extra = startsBeyondPlan({
        schedule,
        problem,
        site: id,
        waiting: site.waiting,
        freeGpus: site.freeGpus,
        limitKw: site.spec.trainingMaxKw - site.spec.trainingIdleKw,
        now: ctx.now,
        starting: now,
        node: this.capNode(site, ctx.now),
      });
      for (const j of extra.early) early.add(j);
      if (extra.addedKw) startedKw.set(id, extra.addedKw);
      if (this.o.backfillContended && offeredAt(this.offered, site, ctx.now) >= OFFERED_FREE)
        for (const j of site.waiting) backfill.add(j.id);
    }
    // Holds of periods past and shares of windows over a day old are dropped (the checkpoint keeps the rest).
    this.book.prune(ctx.period, ctx.now);
    const battery = this.batteries.size ? { battery: (id: string) => this.batteryAt(id, ctx.period) } : {};
    // Caps are decided for every site, planned now or carrying its last plan (caps.ts capsFor).
    const capped = new Map<string, Map<string, number>>();
    let prices: number[] | undefined;
    for (const x of ctx.sites) {
      const node = x.running.length > 0 ? this.capNode(x, ctx.now) : undefined;
      const c = this.carries.get(x.spec.id);
      if (!node || !c) continue;
      prices ??= (signals ?? this.signals(ctx)).points.map((p) => p.price as number);
      const added = startedKw.get(x.spec.id);
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
    const caps = capped.size ? { caps: (id: string) => capped.get(id) } : {};
    const moved =
      planned && this.o.moves
        ? // No move into a site whose capped starts took room its plan still shows free.
          this.moves(ctx, new Set([...now, ...early, ...fifo]), new Set([...capped.keys(), ...startedKw.keys()]))
        : [];
    const moves = moved.length ? { moves: moved } : {};
    if (!planned) {
      this.stats.skipped++;
      return { eligible: () => false, order: 'fifo', ...battery, ...caps };
    }
    return {
      eligible: (j) => now.has(j.id) || fifo.has(j.id),
      order: 'fifo',
      ...(early.size || backfill.size ? { early: (j: SimJob) => early.has(j.id) || backfill.has(j.id) } : {}),
      ...battery,
      ...caps,
      ...moves,
    };
  }

  save(): unknown {
    return {
      carries: Object.fromEntries(this.carries),
      batteries: Object.fromEntries(this.batteries),
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
    this.batteries = new Map(Object.entries(s.batteries ?? {}));
    this.book.load(s);
    this.offered = new OfferedLoad(s.submitted);
    this.reserve = new NoSlackReserve(s.urgent);
    Object.assign(this.stats, s.stats);
  }
}
