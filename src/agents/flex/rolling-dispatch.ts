// The rolling plan's dispatch, for the Flexibility Orchestrator (orchestrator.ts): the operational
// plan (every live commitment binding, the waiting jobs on soft SLOs) made, recorded with its audit
// row, its site moves carried out, and its levers sent to the agents, in answer to each agent's
// report (one plan a report, or one for every site's report of a slot: report-batch.ts) and pushed
// to every agent at once after a confirm, a cancellation, an update or a restart. Kept apart from
// the orchestrator's planning, which the order checks and offer pricing call without dispatching.
import type { FlexibilityReport } from '../../domain/compute.ts';
import { FlexError } from '../../errors.ts';
import type { DispatchInstruction } from '../../optimise/dispatch.ts';
import type { AgentLink, IdSource } from '../../ports.ts';
import { parseReport, type DispatchMessage } from '../link-protocol.ts';
import type { FlexSite, PlanOptions } from './context.ts';
import { pushDispatch, siteDispatch } from './dispatch.ts';
import type { RollingPlan } from './fleet-plan.ts';
import type { RollingPlans } from './rolling-plans.ts';
import type { FlexOrchestratorDeps } from './orchestrator-deps.ts';
import { latenessOf, planRecord, storePlan, type PlanRecord, type PlanResult } from './plan-record.ts';
import { ReportBatcher, slotIndex } from './report-batch.ts';
import type { SiteMoves } from './site-move.ts';
import type { SiteReports } from './site-reports.ts';

/** What the rolling dispatch is given by the orchestrator that builds it. */
export interface RollingDispatchParts {
  readonly deps: Pick<
    FlexOrchestratorDeps,
    | 'id'
    | 'store'
    | 'market'
    | 'wallNow'
    | 'log'
    | 'sites'
    | 'slotMinutes'
    | 'gatherReportsMs'
    | 'incrementalReplans'
    | 'onPlanRecorded'
  >;
  readonly ids: IdSource;
  readonly link: AgentLink;
  readonly rolling: RollingPlans;
  /** The site move lever (site-move.ts). */
  readonly moves: SiteMoves;
  /** The agents' latest reports (site-reports.ts). */
  readonly latest: SiteReports;
  /** Plans the fleet (FlexOrchestrator.plan). */
  readonly plan: (o: PlanOptions, carry: RollingPlan | undefined) => Promise<PlanResult>;
  /** A site this BPP has (FlexOrchestrator.site: FLX_ITEM_NOT_FOUND otherwise). */
  readonly site: (id: string) => FlexSite;
}

export class RollingDispatch {
  private readonly deps: RollingDispatchParts['deps'];
  private readonly ids: IdSource;
  private readonly link: AgentLink;
  private readonly rolling: RollingPlans;
  private readonly moves: SiteMoves;
  private readonly latest: SiteReports;
  /** The latest report of every agent, by site in the configured order (site-reports.ts). */
  private readonly reports: Map<string, FlexibilityReport>;
  private readonly plan: RollingDispatchParts['plan'];
  private readonly site: RollingDispatchParts['site'];
  private readonly batcher: ReportBatcher<{ result: PlanResult; rec: PlanRecord }> | undefined;

  constructor(p: RollingDispatchParts) {
    const deps = p.deps;
    this.deps = deps;
    this.ids = p.ids;
    this.link = p.link;
    this.rolling = p.rolling;
    this.moves = p.moves;
    this.latest = p.latest;
    this.reports = p.latest.bySite;
    this.plan = p.plan;
    this.site = p.site;
    this.batcher =
      deps.gatherReportsMs === undefined
        ? undefined
        : new ReportBatcher({
            sites: () => deps.sites.map((s) => s.id),
            slotNow: () => slotIndex(deps.market.now(), deps.slotMinutes),
            gatherMs: deps.gatherReportsMs,
            plan: () => this.slotPlan(),
          });
  }

  /** Stores the plan that dispatch follows (immutable), with the audit row, in one transaction. */
  private async record(
    result: PlanResult,
    reason: string,
    audit: Record<string, unknown>,
    id: string = this.ids.next('plan'),
  ): Promise<PlanRecord> {
    const rec = planRecord(id, this.deps.wallNow(), result, reason);
    await storePlan(this.deps.store, this.deps.id, rec, result, audit);
    this.deps.onPlanRecorded?.(rec);
    return rec;
  }

  /**
   * The operational plan (what dispatch follows): every live commitment binding, and the waiting
   * deferrable jobs on soft SLOs, so a full fleet (a backlog) gets a plan that makes some work late at
   * its lateness cost rather than none. Only hard constraints can make it infeasible (running and
   * inflexible work, base load, commitments, the grid connection): then the reason names the job,
   * site and slots, it is logged as FLX_PLAN_INFEASIBLE, and no waiting job is released.
   */
  private async operationalPlan(): Promise<PlanResult> {
    const ticket = this.rolling.begin();
    const carry = await this.rolling.carry(this.deps.market.now());
    const result = await this.plan({}, this.deps.incrementalReplans ? carry : undefined);
    this.rolling.made(result, ticket);
    if (result.schedule.status === 'infeasible')
      this.deps.log.error(
        { code: 'FLX_PLAN_INFEASIBLE', reason: result.schedule.reason },
        `a hard constraint cannot hold: ${result.schedule.reason ?? 'no reason given'}; waiting jobs stay held`,
      );
    return result;
  }

  /** Carries out the site moves a plan makes due now, and keeps the reports as they leave them (SiteMoves.dispatch). */
  private dispatchMoves(result: PlanResult, planId: string): Promise<void> {
    return this.moves.dispatch(result, planId, this.reports, this.deps.market.now());
  }

  /**
   * An agent's periodic report (checked against flexlon-link/1): remember it (durably), re-plan, and
   * answer with that site's dispatch.
   */
  async onAgentReport(body: unknown): Promise<DispatchMessage & { readonly dispatch: DispatchInstruction[] }> {
    const report = parseReport(body);
    this.site(report.site);
    await this.latest.keep(report);
    if (this.batcher) {
      const { result: slotResult, rec } = await this.batcher.submit(report.site);
      const now = this.reports.get(report.site) ?? report;
      return { ...siteDispatch(now, slotResult, this.deps.market.now()), reason: 'rolling plan', planId: rec.id };
    }
    const result = await this.operationalPlan();
    const { schedule } = result;
    // The moves first: the reply's start times are for the queue as the moves leave it.
    const planId = this.ids.next('plan');
    await this.dispatchMoves(result, planId);
    const levers = siteDispatch(this.reports.get(report.site) ?? report, result, this.deps.market.now());
    const reason = `report from ${report.site}`;
    const rec = await this.record(
      result,
      reason,
      {
        site: report.site,
        ...levers,
        ...(schedule.status === 'infeasible' ? { reason: schedule.reason } : {}),
        ...latenessOf(schedule),
      },
      planId,
    );
    return { ...levers, reason: 'rolling plan', planId: rec.id };
  }

  /** The plan that answers every site's report of a slot (gatherReportsMs), recorded once with each site's dispatch. */
  private async slotPlan(): Promise<{ result: PlanResult; rec: PlanRecord }> {
    const result = await this.operationalPlan();
    const { schedule } = result;
    const planId = this.ids.next('plan');
    await this.dispatchMoves(result, planId);
    const dispatch = Object.fromEntries(
      [...this.reports].map(([site, r]) => [site, siteDispatch(r, result, this.deps.market.now())]),
    );
    const rec = await this.record(
      result,
      "the sites' reports of the slot",
      {
        dispatch,
        ...(schedule.status === 'infeasible' ? { reason: schedule.reason } : {}),
        ...latenessOf(schedule),
      },
      planId,
    );
    return { result, rec };
  }

  /** Pushes a fresh plan's dispatch to every agent at once (after a confirm, a cancellation, a restart). */
  async dispatchAll(reason: string, orderId?: string): Promise<PlanRecord | undefined> {
    if (this.reports.size === 0) return undefined;
    const result = await this.operationalPlan();
    const { schedule } = result;
    if (schedule.status === 'infeasible')
      throw new FlexError('FLX_PLAN_INFEASIBLE', `no feasible plan after ${reason}: ${schedule.reason ?? ''}`);
    const rec = await this.record(result, reason, { ...(orderId ? { orderId } : {}), ...latenessOf(result.schedule) });
    await this.dispatchMoves(result, rec.id);
    const parts = { link: this.link, store: this.deps.store, actor: this.deps.id, wallNow: this.deps.wallNow };
    for (const [siteId, report] of this.reports) {
      // A plan whose slot has passed by the time of its push is not pushed: each site's report of the
      // new slot is answered by a newer plan, and this one's battery setpoint for its own slot would
      // end as the agent gets it (refused as expired; seen on a fast replay, where the market clock
      // ran a slot on while a confirm's plan was being pushed to four agents).
      const now = this.deps.market.now();
      if (slotIndex(now, this.deps.slotMinutes) !== slotIndex(result.grid.start, this.deps.slotMinutes)) {
        this.deps.log.debug({ site: siteId, planId: rec.id, reason }, 'not pushed: the slot of its plan has passed');
        continue;
      }
      const site = this.site(siteId);
      const levers = siteDispatch(report, result, now);
      await pushDispatch(parts, { site, levers, planId: rec.id, reason, orderId });
    }
    return rec;
  }
}
