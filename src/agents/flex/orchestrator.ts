// The Flexibility Orchestrator (BPP): keeps the latest report of every Compute-Flex agent, plans the
// fleet on a rolling horizon with every confirmed commitment as a hard constraint, and dispatches
// the plan. The Beckn order lifecycle that sells flexibility lives in lifecycle.ts and post-order.ts;
// what the orchestrator is built from in orchestrator-deps.ts, the reports it keeps in
// site-reports.ts, the offers it holds in held-offers.ts; the operational plan's recording and
// dispatch (answering the agents' reports, pushing to every agent) in rolling-dispatch.ts, each
// site's dispatch in dispatch.ts.
//
// Everything a restart needs is in the store: the agents' latest reports, the offers held, the
// orders and their commitments, the outbox. recover() reads them back, re-plans with the live
// commitments as hard constraints and dispatches again (docs/storage.md, "Recovery").
import { randomUUID } from 'node:crypto';
import { toSpecs, type Commitment } from '../../domain/commitments.ts';
import { DEFAULT_MOVE_COST, type FlexibilityReport } from '../../domain/compute.ts';
import { uuidIds } from '../../domain/ids.ts';
import { isLive } from '../../domain/order.ts';
import type { PlanningProblem, Schedule } from '../../domain/planning.ts';
import type { SignalSeries } from '../../domain/signals.ts';
import { MINUTE_MS, epochMs, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import { FlexError } from '../../errors.ts';
import type { DispatchInstruction } from '../../optimise/dispatch.ts';
import type { AgentLink, IdSource, Solver, Store } from '../../ports.ts';
import { FIFO_COUNTERFACTUAL } from '../../settlement/baselines.ts';
import { httpAgentLink } from '../link.ts';
import type { DispatchMessage } from '../link-protocol.ts';
import type { FlexContext, FlexSite, FleetPlanning, HeldOffer, PlanOptions } from './context.ts';
import { FifoCarbonCap } from './carbon-cap.ts';
import { solveFleet, type RollingPlan } from './fleet-plan.ts';
import { RollingPlans } from './rolling-plans.ts';
import { hardFirst } from './hard-first.ts';
import { HeldOffers } from './held-offers.ts';
import { Mutex } from './mutex.ts';
import type { FlexOrchestratorDeps } from './orchestrator-deps.ts';
import type { PlanRecord, PlanResult } from './plan-record.ts';
import { RollingDispatch } from './rolling-dispatch.ts';
import { SiteMoves } from './site-move.ts';
import { CapacityValues } from './capacity-value.ts';
import { DEFAULT_LATE_GBP_PER_GPU_HOUR } from '../../optimise/problem.ts';
import { SiteReports } from './site-reports.ts';

export class FlexOrchestrator implements FleetPlanning {
  /** The latest report of every agent, by site in the configured order (site-reports.ts). */
  private readonly reports: Map<string, FlexibilityReport>;
  private readonly latest: SiteReports;
  /** Offers made and not yet expired, held as best-effort commitments (held-offers.ts). */
  private readonly held: HeldOffers;
  /** Serialises the decisions that add to the fleet's commitments (confirm, update): each plans knowing the others. */
  readonly fleetLock = new Mutex();
  private readonly ids: IdSource;
  private readonly link: AgentLink;
  /** Every plan goes through it: hard deadlines first, soft SLOs when they cannot all hold. */
  private readonly solver: Solver;
  private readonly fifoCap: FifoCarbonCap;
  private readonly capacity: CapacityValues | undefined;
  /** What the Beckn handlers and tasks get (kit.ts, bpp.ts): never the orchestrator or its deps. */
  readonly context: FlexContext;
  private readonly rolling: RollingPlans;
  /** The site move lever: its cost, the jobs pinned at home, the moves' dispatch (site-move.ts). */
  private readonly moves: SiteMoves;
  /** Records the operational plan and dispatches it to the agents (rolling-dispatch.ts). */
  private readonly dispatch: RollingDispatch;

  constructor(private readonly deps: FlexOrchestratorDeps) {
    this.ids = deps.ids ?? uuidIds(randomUUID);
    this.link = deps.link ?? httpAgentLink(deps.dispatchSigner ?? deps.signer, deps.wallNow);
    this.solver = hardFirst(deps.solver);
    this.rolling = new RollingPlans(deps.log);
    this.held = new HeldOffers(deps.store);
    this.latest = new SiteReports(deps.sites, deps.store);
    this.reports = this.latest.bySite;
    this.capacity = deps.capacityValueShare
      ? new CapacityValues(deps.lateGbpPerGpuHour ?? DEFAULT_LATE_GBP_PER_GPU_HOUR, deps.capacityValueShare)
      : undefined;
    this.moves = new SiteMoves({
      cost: deps.moveCost ?? DEFAULT_MOVE_COST,
      link: this.link,
      agentUrl: (site) => this.site(site).agentUrl,
      store: deps.store,
      actor: deps.id,
      wallNow: deps.wallNow,
      log: deps.log,
    });
    this.fifoCap = new FifoCarbonCap(
      {
        baseline: (site, from, slots) => this.baseline(site, from, slots, 'counterfactual'),
        meter: (site, from, slots) => this.meter(site, from, slots),
        intensity: (region, grid) => deps.signals.forecast(region, grid, deps.market.now()),
      },
      deps.log,
      deps.carbonCapFifo === 'intensity' ? 'intensity' : 'kg',
    );
    this.dispatch = new RollingDispatch({
      deps,
      ids: this.ids,
      link: this.link,
      rolling: this.rolling,
      moves: this.moves,
      latest: this.latest,
      plan: (o, carry) => this.plan(o, carry),
      site: (id) => this.site(id),
    });
    this.context = {
      provider: { id: deps.id, uri: deps.uri, name: deps.name, wallNow: deps.wallNow },
      sites: deps.sites,
      slotMinutes: deps.slotMinutes,
      store: deps.store,
      client: deps.client,
      market: deps.market,
      log: deps.log,
      metrics: deps.metrics,
      pricing: deps.pricing,
      terms: {
        quoteTtlSeconds: deps.quoteTtlSeconds,
        ...(deps.cancellation ? { cancellation: deps.cancellation } : {}),
        ...(deps.baselineMethod ? { baselineMethod: deps.baselineMethod } : {}),
        ...(deps.support ? { support: deps.support } : {}),
      },
      ids: this.ids,
      planning: this,
      reads: { baseline: (s, from, n) => this.baseline(s, from, n), meter: (s, from, n) => this.meter(s, from, n) },
    };
  }

  /** The provider's subscriber id. */
  get id(): string {
    return this.deps.id;
  }

  /** The planning horizon from the current slot. */
  horizon(now: EpochMs = this.deps.market.now()): SlotGrid {
    const slot = this.deps.slotMinutes * MINUTE_MS;
    return {
      start: epochMs(Math.floor(now / slot) * slot),
      slotMinutes: this.deps.slotMinutes,
      slots: this.deps.horizonSlots,
    };
  }

  site(id: string): FlexSite {
    const s = this.deps.sites.find((x) => x.id === id);
    if (!s) throw new FlexError('FLX_ITEM_NOT_FOUND', `no site ${id} here`);
    return s;
  }

  /** Sites with a report, i.e. that can be planned and dispatched now. */
  reportedSites(): string[] {
    return [...this.reports.keys()];
  }

  /**
   * Keeps offers deliverable until they expire (held-offers.ts): best effort, a plan that cannot
   * keep them all is made without them. Called with the offers' own transaction.
   */
  holdOffers(tx: Pick<Store, 'putDocument' | 'getDocument'>, offers: readonly HeldOffer[]): Promise<void> {
    return this.held.hold(tx, offers, this.deps.market.now());
  }

  /** The live commitments (orders confirmed or active), from the store. */
  async commitments(): Promise<Commitment[]> {
    return (
      await this.deps.store.listCommitments<Commitment & { windowEnd: EpochMs }>({
        orderStates: ['confirmed', 'active'],
        endsAfter: this.horizon().start,
      })
    ).filter((c) => c.maxImportKw.length > 0);
  }

  /**
   * Plans the fleet now, with every live commitment (minus the orders in `without`) plus `extra`,
   * and the held offers when they fit (unless `held: false`, for checking what is firm). Always
   * checked before use.
   */
  async plan(
    o: PlanOptions = {},
    carry: RollingPlan | undefined = o.check && this.deps.incrementalReplans ? this.rolling.current : undefined,
  ): Promise<PlanResult> {
    const extra = o.extra ?? [];
    const without = o.without ?? new Set<string>();
    if (this.reports.size === 0)
      throw new FlexError('FLX_PEER_UNREACHABLE', 'no Compute-Flex agent has reported yet: nothing to plan');
    const now = this.deps.market.now();
    const grid = this.horizon(now);
    const signals = new Map<string, SignalSeries>();
    for (const region of new Set(this.deps.sites.map((s) => s.region)))
      signals.set(region, await this.deps.signals.forecast(region, grid, now));
    // A site with no report (none stored before a restart, or its agent not up yet since a fresh
    // start) is not in the plan, so neither are its stored commitments: they are planned from its
    // first report. Without this the problem names a site it has no report of, and every other site's
    // report failed. A commitment being checked (`extra`) there cannot be checked: refused, not dropped.
    const reported = (cs: readonly Commitment[]) => cs.filter((c) => this.reports.has(c.site));
    const unknown = extra.find((c) => !this.reports.has(c.site));
    if (unknown)
      throw new FlexError(
        'FLX_PEER_UNREACHABLE',
        `site ${unknown.site}'s Compute-Flex agent has not reported to this BPP: a commitment there cannot be checked until it does; try again later`,
      );
    const all = (await this.commitments()).filter((c) => !without.has(c.orderId));
    const live = reported(all);
    if (live.length < all.length)
      this.deps.log.warn(
        { sites: [...new Set(all.filter((c) => !this.reports.has(c.site)).map((c) => c.site))] },
        'commitments at sites that have not reported yet are left out of this plan',
      );
    const firm = toSpecs([...live, ...extra], grid);
    // Each held offer on top of the firm commitments (not of each other: only one of a search's offers is bought).
    const held =
      o.held === false
        ? []
        : (await this.held.live(now)).flatMap((h) => toSpecs([...live, ...extra, ...reported(h.commitments)], grid));
    // An operator's cap in kg, or the FIFO cap (carbon-cap.ts): FIFO's kg, or its intensity with an allowance.
    const fifoCap =
      this.deps.carbonCapKg === undefined && this.deps.carbonCapFifo
        ? await this.fifoCap.cap(grid, [...this.reports.values()], signals)
        : undefined;
    const carbonCapKg = this.deps.carbonCapKg ?? fifoCap?.kg;
    // The operational plan (no order checked, no offer priced) weighs each site's capacity value.
    const operational = !o.check && o.runningAt === undefined && extra.length === 0;
    const capacity = operational ? this.capacity?.at(this.reports.values(), now) : undefined;
    const started = performance.now();
    const { problem, schedule, carbonCapMissedKg, refresh, moves, plain } = await solveFleet({
      solver: this.solver,
      log: this.deps.log,
      input: {
        grid,
        now,
        reports: [...this.reports.values()],
        signals,
        pinned: this.moves.pinned,
        ...(fifoCap?.gPerKwh === undefined ? {} : { carbonCapGPerKwh: fifoCap.gPerKwh }),
        ...(this.deps.lateGbpPerGpuHour === undefined ? {} : { lateGbpPerGpuHour: this.deps.lateGbpPerGpuHour }),
      },
      moveCost: this.moves.cost,
      firm,
      held,
      ...(carbonCapKg === undefined ? {} : { carbonCapKg }),
      capIsTarget: this.deps.carbonCapKg === undefined,
      ...(carry ? { carry, refreshInBackground: true, refreshPending: this.rolling.refreshPending } : {}),
      ...(o.check ? { check: true } : {}),
      ...(o.runningAt === undefined ? {} : { runningAt: o.runningAt }),
      ...(capacity ? { capacityValue: new Map([...capacity].map(([site, c]) => [site, c.gbpPerMwhPerHour])) } : {}),
    });
    const solveMs = performance.now() - started;
    this.deps.metrics?.planSolved(solveMs / 1000, {
      planner: schedule.planner ?? this.deps.solver.name,
      status: schedule.status,
    });
    this.deps.log.debug(
      {
        status: schedule.status,
        costGbp: schedule.costGbp,
        solveMs,
        jobs: problem.jobs.length,
        planner: schedule.planner,
        carried: carry !== undefined,
        at: grid.start,
      },
      'planned',
    );
    const signalsIssuedAt = Object.fromEntries([...signals].map(([region, series]) => [region, series.issuedAt]));
    const solvedAsGiven =
      o.runningAt !== undefined &&
      plain === true &&
      held.length === 0 &&
      extra.length === 0 &&
      !this.moves.anyMovable([...this.reports.values()]);
    return {
      ...(solvedAsGiven ? { solvedAsGiven } : {}),
      ...(carbonCapMissedKg === undefined ? {} : { carbonCapMissedKg }),
      grid,
      problem,
      schedule,
      orders: [...new Set([...live.map((c) => c.orderId), ...extra.map((c) => c.orderId)])],
      solveMs,
      signalsIssuedAt,
      ...(refresh ? { refresh } : {}),
      ...(moves ? { moves } : {}),
      ...(capacity && [...capacity.values()].some((c) => c.gbpPerMwhPerHour > 0)
        ? { capacityValue: Object.fromEntries(capacity) }
        : {}),
    };
  }

  /**
   * Solves a planning problem as given (offer pricing measures its curves with it), its site moves
   * kept only where they pay, and priced in (SiteMoves.solve).
   */
  solve(problem: PlanningProblem): Promise<Schedule> {
    return this.moves.solve(this.solver, problem, [...this.reports.values()]);
  }

  solveFrom(problem: PlanningProblem, base: Schedule): Promise<Schedule> {
    return this.moves.solveFrom(this.solver, problem, base, [...this.reports.values()]);
  }

  /**
   * An agent's periodic report (checked against flexlon-link/1): remember it (durably), re-plan, and
   * answer with that site's dispatch (RollingDispatch.onAgentReport).
   */
  onAgentReport(body: unknown): Promise<DispatchMessage & { readonly dispatch: DispatchInstruction[] }> {
    return this.dispatch.onAgentReport(body);
  }

  /** Pushes a fresh plan's dispatch to every agent at once (after a confirm, a cancellation, a restart). */
  dispatchAll(reason: string, orderId?: string): Promise<PlanRecord | undefined> {
    return this.dispatch.dispatchAll(reason, orderId);
  }

  /**
   * After a restart: the agents' last reports and the held offers come back from the store, and
   * the fleet is re-planned with every live commitment and dispatched at once (if any agent has
   * ever reported), so the commitments bind again before the next report arrives.
   */
  async recover(): Promise<PlanRecord | undefined> {
    await this.latest.restore();
    const heldOffers = await this.held.restore();
    const live = (await this.deps.store.listOrders()).filter((o) => isLive(o.state)).length;
    this.deps.log.info({ reports: this.reports.size, heldOffers, liveOrders: live }, 'recovered state from the store');
    return this.dispatchAll('restart: re-plan with the stored commitments');
  }

  /** The code of the settlement baseline, as on_init states it. */
  get baselineCode(): string {
    return (this.deps.baselineMethod ?? FIFO_COUNTERFACTUAL).code;
  }

  /** The settlement baseline per slot at a site, from its agent (see settlement/baselines.ts for the method). */
  async baseline(
    siteId: string,
    from: EpochMs,
    slots: number,
    kind: 'settlement' | 'counterfactual' = 'settlement',
  ): Promise<number[]> {
    const site = this.site(siteId);
    const r = await this.link.baseline(site.agentUrl, {
      fromMs: from,
      slots,
      slotMinutes: this.deps.slotMinutes,
      // Only where asked: an agent that predates the field refuses none, but the wire stays as it was.
      ...(kind === 'counterfactual' ? { kind } : {}),
    });
    return r.importKw.map((x) => (x === null ? NaN : x));
  }

  /** Average grid import per slot at a site, from its agent's meter. */
  async meter(siteId: string, from: EpochMs, slots: number): Promise<number[]> {
    const site = this.site(siteId);
    const r = await this.link.meter(site.agentUrl, { fromMs: from, slots, slotMinutes: this.deps.slotMinutes });
    return r.importKw.map((x) => (x === null ? NaN : x));
  }
}
