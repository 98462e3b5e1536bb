// The orchestrator's rolling plan and the fresh plan made beside it in the background (issue 13 item 8,
// incremental re-plans): which plan the next one is carried from, and when a fresh plan takes over.
// How a plan is made is fleet-plan.ts (solveFleet); this keeps what was made.
import { MINUTE_MS, epochMs, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import type { PlanningProblem, Schedule } from '../../domain/planning.ts';
import type { Logger } from '../../log.ts';
import { CARRIED_PLANNER } from '../../optimise/warm.ts';
import { REFRESH_LAG, rollingPlanOf, type FleetSolution, type RollingPlan } from './fleet-plan.ts';

/**
 * The orchestrator's rolling plan (what the next plan is carried from) and the fresh plan being
 * made in the background, with the slot from which to carry it (incrementalReplans).
 */
export class RollingPlans {
  private rolling: RollingPlan | undefined;
  /** Plans started, and the start number of the one kept: a plan that finishes after a later one is not kept. */
  private started = 0;
  private kept = 0;
  private refresh:
    | {
        readonly from: EpochMs;
        readonly grid: SlotGrid;
        readonly plan: Promise<FleetSolution>;
        readonly ticket: number;
        readonly startMs: number;
        doneMs: number;
      }
    | undefined;
  /** Start number of the last fresh plan kept (a plan made in place, not carried). */
  private freshTicket = 0;

  constructor(private readonly log: Logger) {}

  /**
   * The plan to carry from at `now`. From REFRESH_LAG slots after it was started, the fresh plan made
   * in the background becomes it (awaited if it is still being made), even where the commitments have
   * changed since (the next plan is carried from it and repaired to them, and starts the next fresh
   * plan). One that failed, or that was overtaken by a fresh plan made in place since, is dropped.
   */
  async carry(now: EpochMs): Promise<RollingPlan | undefined> {
    const r = this.refresh;
    if (!r || now < r.from) return this.rolling;
    this.refresh = undefined;
    try {
      const waiting = performance.now();
      const fresh = await r.plan;
      const kept = fresh.schedule.status !== 'infeasible' && this.freshTicket <= r.ticket;
      // Market time stands still while a slot waits here (issue 13 item 8): say how long, and how
      // long the fresh plan took from its start, so a slow slot's cause can be read from the log;
      // `kept` false where it had no plan or a fresh plan made in place since overtook it.
      this.log.debug(
        {
          at: now,
          waitedMs: Math.round(performance.now() - waiting),
          madeInMs: Math.round(r.doneMs - r.startMs),
          planner: fresh.schedule.planner,
          jobs: fresh.problem.jobs.length,
          kept,
        },
        'fresh plan from the background',
      );
      if (!kept) return this.rolling;
      this.rolling = rollingPlanOf(r.grid, fresh.problem, fresh.schedule);
    } catch (err) {
      this.log.warn(
        { code: 'FLX_INTERNAL', err: String(err) },
        'the background fresh plan failed: carrying on from the last plan',
      );
    }
    return this.rolling;
  }

  /** The rolling plan as it is, for an order's check: the fresh plan being made is left for the next slot. */
  get current(): RollingPlan | undefined {
    return this.rolling;
  }

  /** Whether a fresh plan is being made in the background (FleetSolve.refreshPending). */
  get refreshPending(): boolean {
    return this.refresh !== undefined;
  }

  /** Numbers a plan about to be made, for `made`. */
  begin(): number {
    return ++this.started;
  }

  /**
   * Keeps a plan just made as the rolling plan (if it has one), and the fresh plan it started beside
   * it, unless a plan started after it was kept already. Plans overlap (a slot's report while a
   * confirm's plan is on the solver); the one that finished last was kept, and a plan made before a
   * commitment could become the rolling plan after the plan made with it, so the next slot's plan saw
   * the commitments changed and was made afresh.
   */
  made(
    r: {
      readonly grid: SlotGrid;
      readonly problem: PlanningProblem;
      readonly schedule: Schedule;
      readonly refresh?: Promise<FleetSolution>;
    },
    ticket: number = this.begin(),
  ): void {
    if (ticket < this.kept) return;
    this.kept = ticket;
    if (r.schedule.status !== 'infeasible') {
      this.rolling = rollingPlanOf(r.grid, r.problem, r.schedule);
      if (r.schedule.planner !== CARRIED_PLANNER) this.freshTicket = ticket;
    }
    if (r.refresh) {
      const refresh = {
        from: epochMs(r.grid.start + REFRESH_LAG * r.grid.slotMinutes * MINUTE_MS),
        grid: r.grid,
        plan: r.refresh,
        ticket,
        startMs: performance.now(),
        doneMs: NaN,
      };
      r.refresh.finally(() => (refresh.doneMs = performance.now())).catch(() => undefined);
      this.refresh = refresh;
    }
  }
}
