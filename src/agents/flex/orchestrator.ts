// The Flexibility Orchestrator (BPP): keeps the latest report of every Compute-Flex agent, plans the
// fleet on a rolling horizon with every confirmed commitment as a hard constraint, and dispatches
// the plan. The Beckn order lifecycle that sells flexibility lives in lifecycle.ts.
import type { FlexibilityReport } from '../../domain/compute.ts';
import type { CommitmentSpec, PlanningProblem, Schedule } from '../../domain/planning.ts';
import type { SignalSeries } from '../../domain/signals.ts';
import { MINUTE_MS, epochMs, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import { FlexError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { checkSchedule } from '../../optimise/check.ts';
import type { BecknClient } from '../../beckn/client.ts';
import type { Clock, SignalSource, Signer, Solver, Store } from '../../ports.ts';
import { callSigned } from '../link.ts';
import type { PricingPolicy } from './pricing.ts';
import { buildProblem, dispatchFor, type DispatchInstruction } from './problem.ts';

export interface FlexSite {
  readonly id: string;
  readonly region: string;
  readonly agentUrl: string;
}

export interface FlexOrchestratorDeps {
  readonly id: string;
  readonly uri: string;
  readonly name: string;
  readonly store: Store;
  readonly client: BecknClient;
  readonly signer: Signer;
  readonly market: Clock;
  readonly wallNow: () => number;
  readonly signals: SignalSource;
  readonly solver: Solver;
  readonly sites: readonly FlexSite[];
  readonly horizonSlots: number;
  readonly slotMinutes: number;
  readonly pricing: PricingPolicy;
  readonly quoteTtlSeconds: number;
  readonly carbonCapKg?: number;
  /** Contact details sent in on_support (core 1.1.1 Support). */
  readonly support?: { readonly email?: string; readonly phone?: string };
  readonly log: Logger;
}

/** A confirmed commitment in market time, as stored with its order: an import ceiling per slot. */
export interface Commitment {
  readonly orderId: string;
  readonly site: string;
  readonly windowStart: EpochMs;
  readonly slotMinutes: number;
  readonly maxImportKw: readonly number[];
}

export interface PlanResult {
  readonly grid: SlotGrid;
  readonly problem: PlanningProblem;
  readonly schedule: Schedule;
}

export class FlexOrchestrator {
  private readonly reports = new Map<string, FlexibilityReport>();
  /** Offers made and not yet expired, held as best-effort commitments (see holdOffer). */
  private readonly held = new Map<string, Commitment & { readonly until: EpochMs }>();

  constructor(readonly deps: FlexOrchestratorDeps) {}

  /** The planning horizon from the current slot. */
  horizon(now: EpochMs = this.deps.market.now()): SlotGrid {
    const slot = this.deps.slotMinutes * MINUTE_MS;
    return { start: epochMs(Math.floor(now / slot) * slot), slotMinutes: this.deps.slotMinutes, slots: this.deps.horizonSlots };
  }

  site(id: string) {
    const s = this.deps.sites.find((x) => x.id === id);
    if (!s) throw new FlexError('FLX_ITEM_NOT_FOUND', `no site ${id} here`);
    return s;
  }

  /**
   * Keeps an offer deliverable until it expires: between on_search and confirm the fleet keeps
   * being dispatched, and without this a job started in the meantime could run through the window
   * and make the offer undeliverable. Held offers are best effort: a plan that cannot keep them
   * all is made without them (confirmed commitments are always hard).
   */
  holdOffer(offerId: string, commitment: Commitment, until: EpochMs): void {
    this.held.set(offerId, { ...commitment, until });
  }

  private async heldOffers(now: EpochMs): Promise<Commitment[]> {
    const orders = await this.deps.store.listOrders();
    for (const [id, h] of this.held) {
      const order = orders.find((o) => o.offerId === id);
      if (h.until <= now || (order && order.state !== 'quoted' && order.state !== 'initialised' && order.state !== 'searched')) this.held.delete(id);
    }
    return [...this.held.values()];
  }

  async commitments(): Promise<Commitment[]> {
    const orders = await this.deps.store.listOrders();
    const live = orders.filter((o) => o.state === 'confirmed' || o.state === 'active');
    const out: Commitment[] = [];
    for (const o of live) {
      const c = await this.deps.store.getDocument<Commitment>('commitment', o.id);
      if (c) out.push(c);
    }
    return out;
  }

  toSpecs(commitments: readonly Commitment[], grid: SlotGrid): CommitmentSpec[] {
    const slot = grid.slotMinutes * MINUTE_MS;
    return commitments.flatMap((c) => c.maxImportKw.map((maxImportKw, k) => {
      const from = Math.floor((c.windowStart + k * c.slotMinutes * MINUTE_MS - grid.start) / slot);
      return { site: c.site, fromSlot: from, toSlot: from + 1, maxImportKw };
    })).filter((c) => c.fromSlot >= 0 && c.toSlot <= grid.slots);
  }

  /** Plans the fleet now, with every confirmed commitment plus `extra`. Always checked before use. */
  async plan(extra: readonly Commitment[] = []): Promise<PlanResult> {
    if (this.reports.size === 0) throw new FlexError('FLX_PEER_UNREACHABLE', 'no Compute-Flex agent has reported yet: nothing to plan');
    const now = this.deps.market.now();
    const grid = this.horizon(now);
    const signals = new Map<string, SignalSeries>();
    for (const region of new Set(this.deps.sites.map((s) => s.region))) signals.set(region, await this.deps.signals.forecast(region, grid, now));
    const firm = this.toSpecs([...(await this.commitments()), ...extra], grid);
    const held = this.toSpecs(await this.heldOffers(now), grid);
    const cap = this.deps.carbonCapKg === undefined ? {} : { carbonCapKg: this.deps.carbonCapKg };
    let problem = buildProblem({ grid, now, reports: [...this.reports.values()], signals, commitments: [...firm, ...held], ...cap });
    const started = performance.now();
    let schedule = await this.deps.solver.plan(problem);
    if (schedule.status === 'infeasible' && held.length > 0) {
      problem = buildProblem({ grid, now, reports: [...this.reports.values()], signals, commitments: firm, ...cap });
      schedule = await this.deps.solver.plan(problem);
    }
    const solveMs = performance.now() - started;
    if (schedule.status !== 'infeasible') {
      const verdict = checkSchedule(problem, schedule);
      if (!verdict.ok) throw new FlexError('FLX_INTERNAL', `planner ${schedule.planner ?? this.deps.solver.name} returned a plan that fails the check: ${verdict.violations.slice(0, 3).join('; ')}`);
    }
    this.deps.log.debug({ status: schedule.status, costGbp: schedule.costGbp, solveMs, jobs: problem.jobs.length }, 'planned');
    return { grid, problem, schedule };
  }

  /** An agent's periodic report: remember it, re-plan, and answer with that site's dispatch. */
  async onAgentReport(report: FlexibilityReport): Promise<{ dispatch: DispatchInstruction[] }> {
    this.site(report.site);
    this.reports.set(report.site, report);
    const { grid, schedule } = await this.plan();
    const at = this.deps.wallNow();
    if (schedule.status === 'infeasible') {
      // Fail safe: with no plan, every waiting job may start now, as it would without FlexLon.
      const now = this.deps.market.now();
      const dispatch = report.jobs.filter((j) => (j.state === 'queued' || j.state === 'held') && j.slo === 'deferrable').map((j) => ({ jobId: j.id, beginAt: now }));
      this.deps.log.warn({ site: report.site, reason: schedule.reason }, 'no feasible plan: releasing every waiting job to the site scheduler');
      await this.deps.store.appendAudit({ kind: 'plan', at, actor: this.deps.id, payload: { status: 'infeasible', reason: schedule.reason, horizonStart: grid.start, site: report.site, dispatch } });
      return { dispatch };
    }
    const dispatch = dispatchFor(report, schedule, grid, this.deps.market.now());
    await this.deps.store.appendAudit({ kind: 'plan', at, actor: this.deps.id, payload: { status: schedule.status, planner: schedule.planner, costGbp: schedule.costGbp, carbonKg: schedule.carbonKg, lowerBoundGbp: schedule.lowerBoundGbp, horizonStart: grid.start, site: report.site, dispatch } });
    return { dispatch };
  }

  /** Pushes a fresh plan's dispatch to every agent at once (after a confirm: the commitment is live now). */
  async dispatchAll(reason: string, orderId?: string): Promise<void> {
    const { grid, schedule } = await this.plan();
    if (schedule.status === 'infeasible') throw new FlexError('FLX_INTERNAL', `no feasible plan after ${reason}: ${schedule.reason ?? ''}`);
    for (const [siteId, report] of this.reports) {
      const site = this.site(siteId);
      const dispatch = dispatchFor(report, schedule, grid, this.deps.market.now());
      const result = await callSigned<{ results: unknown[] }>(`${site.agentUrl}/agent/dispatch`, { dispatch, reason }, this.deps.signer, this.deps.wallNow);
      await this.deps.store.appendAudit({ kind: 'dispatch', at: this.deps.wallNow(), actor: this.deps.id, ...(orderId ? { orderId } : {}), payload: { site: siteId, reason, dispatch, results: result.results } });
    }
  }

  /** The settlement baseline per slot at a site, from its agent (see wire-order.ts for the method). */
  async baseline(siteId: string, from: EpochMs, slots: number): Promise<number[]> {
    const site = this.site(siteId);
    const r = await callSigned<{ importKw: (number | null)[] }>(`${site.agentUrl}/agent/baseline`, { fromMs: from, slots, slotMinutes: this.deps.slotMinutes }, this.deps.signer, this.deps.wallNow);
    return r.importKw.map((x) => (x === null ? NaN : x));
  }

  /** Average grid import per slot at a site, from its agent's meter. */
  async meter(siteId: string, from: EpochMs, slots: number): Promise<number[]> {
    const site = this.site(siteId);
    const r = await callSigned<{ importKw: (number | null)[] }>(`${site.agentUrl}/agent/meter`, { fromMs: from, slots, slotMinutes: this.deps.slotMinutes }, this.deps.signer, this.deps.wallNow);
    return r.importKw.map((x) => (x === null ? NaN : x));
  }
}
