// The site move lever (issue 13): whether a plan's moves pay for themselves, and carrying out the
// moves a plan makes due now (docs/architecture.md, "Site moves"; docs/cost-model.md, "Site moves").
//
// Planning. A waiting deferrable job may be planned at any site moveTargets allows (same scheduler
// kind, both able to move), and carries the operator's stated move cost (MoveCost) in the problem
// (JobSpec.moveCostGbp), which the planner weighs and the check charges: a plan's costGbp includes
// its moves. The heuristics may still move a job that does not pay (a class LP prices a move per kWh),
// so a plan that moves jobs is set against the plan of the same problem with every job at home, and
// pruned: the moves are kept only where the plan, moves included, costs less.
//
// Dispatch. A move is four link messages (flexlon-link/1, link-protocol.ts), ordered so that a job
// is never lost and never runs twice: export at the source (nothing changes there), import at the
// target held by FlexLon, withdraw (cancel) at the source, then release at the target by the normal
// start-time dispatch. An import refused leaves the job at its source, untouched; a source that
// cannot give the job up (it started meanwhile) gets its copy at the target withdrawn. Each move, and
// each refusal with its reason, is an audit row (kind dispatch, event site-move).
import type { FlexibilityReport, MoveCost, PortableJob } from '../../domain/compute.ts';
import type { PlanningProblem, Schedule } from '../../domain/planning.ts';
import type { EpochMs, SlotGrid } from '../../domain/time.ts';
import { asFlexError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { checkSchedule } from '../../optimise/check.ts';
import { moveOptions, movesFor, movesIn, pinnedHome, type DueMove, type MoveOption } from '../../optimise/moves.ts';
import type { AgentLink, Solver, Store } from '../../ports.ts';
import type { DispatchResults } from '../link-protocol.ts';
import { Mutex } from './mutex.ts';

/** The moves a plan makes, what they cost, and what the plan without them would have cost. */
export interface MoveChoice {
  readonly moves: readonly { readonly jobId: string; readonly from: string; readonly to: string }[];
  /** Σ the moves' costs (£). */
  readonly moveGbp: number;
  /** The plan with every job at home (£), when it was made; absent when there was none. */
  readonly withoutMovesGbp?: number;
  /** Whether the moves were kept: they save more than they cost. */
  readonly kept: boolean;
}

/** At most this many re-plans look for moves a plan can do without (pruneMoves). */
export const MOVE_PRUNE_PLANS = 3;

/** The problem with the jobs named planned at their home site only (sites[0]). */
const homeOnly = (problem: PlanningProblem, ids: ReadonlySet<string>): PlanningProblem => ({
  ...problem,
  jobs: problem.jobs.map((j) => (ids.has(j.id) && j.sites.length > 1 ? { ...j, sites: [j.sites[0] as string] } : j)),
});

const movesGbp = (moves: readonly { readonly gbp: number }[]): number => moves.reduce((a, m) => a + m.gbp, 0);

/**
 * A plan's cost with its moves: the check's, where the problem carries the move costs (buildProblem
 * with `moveCost`); otherwise its cost plus the moves it makes.
 */
const withMoves = (problem: PlanningProblem, s: Schedule, moves: readonly { readonly gbp: number }[]): number =>
  s.costGbp + (problem.jobs.some((j) => j.moveCostGbp !== undefined) ? 0 : movesGbp(moves));

type Priced = { readonly schedule: Schedule; readonly total: number; readonly moves: ReturnType<typeof movesIn> };

/**
 * Where two sites are alike the heuristics may move more jobs than a commitment needs. Up to
 * MOVE_PRUNE_PLANS re-plans each keep half of the remaining moves' jobs at home (dearest moves
 * first); a re-plan is kept when its cost with its moves is lower.
 */
const pruneMoves = async (
  problem: PlanningProblem,
  start: Priced,
  options: ReadonlyMap<string, MoveOption>,
  plan: (p: PlanningProblem) => Promise<Schedule>,
): Promise<Priced> => {
  let best = start;
  let home = new Set<string>();
  let rest = [...start.moves].sort((a, b) => b.gbp - a.gbp);
  for (let k = 0; k < MOVE_PRUNE_PLANS && rest.length > 0; k++) {
    const half = rest.slice(0, Math.ceil(rest.length / 2));
    const tried = new Set([...home, ...half.map((m) => m.jobId)]);
    const p = homeOnly(problem, tried);
    const s = await plan(p);
    const moves = s.status === 'infeasible' ? [] : movesIn(s, options);
    const total = withMoves(problem, s, moves);
    if (s.status !== 'infeasible' && checkSchedule(problem, s).ok && total < best.total - 1e-6) {
      best = { schedule: s, total, moves };
      home = tried;
      rest = [...moves].sort((a, b) => b.gbp - a.gbp);
    } else rest = rest.slice(half.length);
  }
  return best;
};

/**
 * The plan to follow: `schedule` (which may move jobs), less the moves it can do without
 * (pruneMoves), unless the plan with every job at home costs no more than it plus its moves' cost.
 * All are plans of `problem` (a job at home is within its sites), so the one returned passes the
 * same check.
 */
export const chooseMoves = async (
  problem: PlanningProblem,
  schedule: Schedule,
  options: ReadonlyMap<string, MoveOption>,
  plan: (p: PlanningProblem) => Promise<Schedule>,
): Promise<{ schedule: Schedule; choice?: MoveChoice }> => {
  if (schedule.status === 'infeasible') return { schedule };
  const made = movesIn(schedule, options);
  if (made.length === 0) return { schedule };
  const brief = (ms: typeof made) => ms.map(({ jobId, from, to }) => ({ jobId, from, to }));
  // A plan of the problem with jobs kept at home proves a bound for that problem only, which may lie
  // above the whole problem's optimum: the bound kept is the first plan's, and "optimal" goes with it
  // unless the plan meets that bound.
  const ofWhole = (s: Schedule): Schedule => {
    if (s === schedule || s.status === 'infeasible') return s;
    const lowerBoundGbp = Math.min(s.lowerBoundGbp, schedule.lowerBoundGbp);
    const proven = s.costGbp <= lowerBoundGbp + 1e-6 * Math.max(1, Math.abs(lowerBoundGbp));
    return { ...s, lowerBoundGbp, status: proven ? s.status : 'feasible' };
  };
  const home = await plan(pinnedHome(problem));
  if (home.status === 'infeasible' || !checkSchedule(problem, home).ok)
    return { schedule, choice: { moves: brief(made), moveGbp: movesGbp(made), kept: true } };
  const start: Priced = { schedule, total: withMoves(problem, schedule, made), moves: made };
  if (!(start.total < home.costGbp - 1e-6))
    return {
      schedule: ofWhole(home),
      choice: { moves: brief(made), moveGbp: movesGbp(made), withoutMovesGbp: home.costGbp, kept: false },
    };
  const best = await pruneMoves(problem, start, options, plan);
  return {
    schedule: ofWhole(best.schedule),
    choice: { moves: brief(best.moves), moveGbp: movesGbp(best.moves), withoutMovesGbp: home.costGbp, kept: true },
  };
};

export interface MoveDeps {
  readonly link: AgentLink;
  readonly agentUrl: (site: string) => string;
  readonly store: Store;
  /** The provider's subscriber id (the audit rows' actor). */
  readonly actor: string;
  readonly wallNow: () => number;
  readonly log: Logger;
}

export interface MoveOutcome {
  readonly move: DueMove;
  readonly moved: boolean;
  /** Why a move did not happen (the step refused and its reason). */
  readonly refusal?: string;
  /** The job as exported (for the orchestrator's view of the target's queue). */
  readonly job?: PortableJob;
}

const refusedIn = (r: DispatchResults | undefined, jobId: string): string | undefined => {
  const a = r?.results.find((x) => x.jobId === jobId);
  if (!a) return 'no answer for the job';
  return a.ok ? undefined : a.reason;
};

/** Sends one link message; a link failure (agent unreachable, refused body) is a refusal of every job in it. */
const send = async (
  d: MoveDeps,
  site: string,
  message: Parameters<AgentLink['dispatch']>[1],
): Promise<DispatchResults | string> => {
  try {
    return await d.link.dispatch(d.agentUrl(site), message);
  } catch (e) {
    return `site ${site}'s agent: ${asFlexError(e).message}`;
  }
};

/** One move, its four steps in order; never throws for what an agent or scheduler refuses. */
const moveOne = async (d: MoveDeps, m: DueMove, ctx: { planId: string; why: string }): Promise<MoveOutcome> => {
  const base = { dispatch: [], planId: ctx.planId, reason: `site move ${m.from} → ${m.to}: ${ctx.why}` };
  const out = await send(d, m.from, { ...base, exportJobs: [m.jobId] });
  if (typeof out === 'string') return { move: m, moved: false, refusal: `export: ${out}` };
  const job = out.exported?.find((p) => p.id === m.jobId);
  if (!job) return { move: m, moved: false, refusal: `export: ${refusedIn(out, m.jobId) ?? 'not exported'}` };
  const imported = await send(d, m.to, { ...base, importJobs: [job] });
  const importRefused = typeof imported === 'string' ? imported : refusedIn(imported, m.jobId);
  // Refused at the target: nothing changed at the source, so the job is still there, waiting.
  if (importRefused !== undefined) return { move: m, moved: false, refusal: `import: ${importRefused}`, job };
  const left = await send(d, m.from, { ...base, withdraw: [{ jobId: m.jobId, why: `moved to ${m.to}` }] });
  const leftRefused = typeof left === 'string' ? left : refusedIn(left, m.jobId);
  if (leftRefused !== undefined) {
    // The source could not give it up (it started there meanwhile): the held copy at the target goes.
    const undo = await send(d, m.to, {
      ...base,
      withdraw: [{ jobId: m.jobId, why: `move from ${m.from} abandoned: ${leftRefused}` }],
    });
    const undoRefused = typeof undo === 'string' ? undo : refusedIn(undo, m.jobId);
    if (undoRefused !== undefined)
      d.log.error(
        { code: 'FLX_INTERNAL', jobId: m.jobId, site: m.to, reason: undoRefused },
        'a moved job could not be withdrawn at either site: it stays held by FlexLon at the target',
      );
    return { move: m, moved: false, refusal: `withdraw at ${m.from}: ${leftRefused}`, job };
  }
  // Released by the start-time dispatch, as any job FlexLon holds is.
  const release = await send(d, m.to, { ...base, dispatch: [{ jobId: m.jobId, beginAt: m.beginAt }] });
  const releaseRefused = typeof release === 'string' ? release : refusedIn(release, m.jobId);
  if (releaseRefused !== undefined)
    d.log.warn(
      { jobId: m.jobId, site: m.to, reason: releaseRefused },
      'moved job not yet released at its new site: the next dispatch releases it',
    );
  return { move: m, moved: true, job };
};

/**
 * Carries out the moves due now, one at a time, and audits each (from, to, job, why, and the
 * refusal if it did not happen). A refused move is logged as a warning, not an error: the job waits
 * at its source and the next plan keeps it there.
 */
export const carryOutMoves = async (
  d: MoveDeps,
  moves: readonly DueMove[],
  ctx: { planId: string; why: string },
): Promise<MoveOutcome[]> => {
  const outcomes: MoveOutcome[] = [];
  for (const m of moves) {
    const o = await moveOne(d, m, ctx);
    outcomes.push(o);
    if (!o.moved) d.log.warn({ jobId: m.jobId, from: m.from, to: m.to, refusal: o.refusal }, 'site move refused');
    await d.store.appendAudit({
      kind: 'dispatch',
      at: d.wallNow(),
      actor: d.actor,
      payload: {
        event: 'site-move',
        planId: ctx.planId,
        jobId: m.jobId,
        from: m.from,
        to: m.to,
        beginAt: m.beginAt,
        why: ctx.why,
        outcome: o.moved ? 'moved' : 'kept at source',
        ...(o.refusal ? { refusal: o.refusal } : {}),
      },
    });
  }
  return outcomes;
};

/**
 * The reports as they stand after the moves: each moved job gone from its source's queue and held
 * by FlexLon at its target (with its start), until the agents' next reports say how things are.
 */
export const afterMoves = (
  reports: ReadonlyMap<string, FlexibilityReport>,
  outcomes: readonly MoveOutcome[],
): Map<string, FlexibilityReport> => {
  const next = new Map(reports);
  for (const o of outcomes) {
    if (!o.moved || !o.job) continue;
    const { heldBy: _heldBy, ...job } = o.job.job;
    const from = next.get(o.move.from);
    const to = next.get(o.move.to);
    if (from) next.set(from.site, { ...from, jobs: from.jobs.filter((j) => j.id !== o.move.jobId) });
    if (to)
      next.set(to.site, {
        ...to,
        jobs: [
          ...to.jobs.filter((j) => j.id !== o.move.jobId),
          { ...job, site: to.site, state: 'queued', beginAt: o.move.beginAt },
        ],
      });
  }
  return next;
};

/**
 * The orchestrator's site move lever: what a move costs, the jobs kept at home since a move of theirs
 * was refused, and the moves' dispatch, one plan's at a time.
 */
export class SiteMoves {
  /** Waiting jobs a move of which was refused: planned at their own site from then on. */
  readonly pinned = new Set<string>();
  /** Two plans made at once must not move the same job twice. */
  private readonly lock = new Mutex();

  constructor(private readonly d: MoveDeps & { readonly cost: MoveCost }) {}

  get cost(): MoveCost {
    return this.d.cost;
  }

  /** Whether any job in `reports` may move now (else solve() is the solver's plan as it is). */
  anyMovable(reports: readonly FlexibilityReport[]): boolean {
    return moveOptions(reports, this.d.cost, this.pinned).size > 0;
  }

  /**
   * A problem solved for offer pricing: its moves kept only where they pay (chooseMoves). The
   * problem carries each movable job's move cost (fleet-plan.ts builds it with `moveCost`), so the
   * plan's cost includes its moves and states them as moveCostGbp: an opportunity cost that needs
   * moves counts what they cost, in its own part (costSplit movesGbp).
   */
  async solve(solver: Solver, problem: PlanningProblem, reports: readonly FlexibilityReport[]): Promise<Schedule> {
    const options = moveOptions(reports, this.d.cost, this.pinned);
    const s = await solver.plan(problem);
    if (options.size === 0) return s;
    return (await chooseMoves(problem, s, options, (p) => solver.plan(p))).schedule;
  }

  /** From a plan already made, only what the new commitments force moves (warm.ts), at their cost. */
  async solveFrom(
    solver: Solver,
    problem: PlanningProblem,
    base: Schedule,
    reports: readonly FlexibilityReport[],
  ): Promise<Schedule> {
    if (!solver.planFrom) return this.solve(solver, problem, reports);
    return solver.planFrom(problem, base);
  }

  /**
   * Carries out the moves a plan makes due now, then updates `reports` as the moves left them until
   * the agents report again. A job whose move was refused is pinned at home, so it is not sent to
   * the same refusal every slot.
   */
  async dispatch(
    // What it reads of a plan (plan-record.ts PlanResult), named here so this file does not import it back.
    result: { readonly schedule: Schedule; readonly grid: SlotGrid; readonly moves?: MoveChoice },
    planId: string,
    reports: Map<string, FlexibilityReport>,
    now: EpochMs,
  ): Promise<void> {
    const present = new Set([...reports.values()].flatMap((r) => r.jobs.map((j) => j.id)));
    for (const id of this.pinned) if (!present.has(id)) this.pinned.delete(id);
    if (result.schedule.status === 'infeasible' || result.moves?.kept !== true) return;
    const choice = result.moves;
    await this.lock.run(async () => {
      // Read against the reports as they are now: a move another plan already made is not due again.
      const due = movesFor([...reports.values()], result.schedule, result.grid, now);
      if (due.length === 0) return;
      // The plan's cost includes its moves' (its check charges them): the saving before them.
      const saved = (choice.withoutMovesGbp ?? 0) - (result.schedule.costGbp - (result.schedule.moveCostGbp ?? 0));
      const why = `plan ${planId}: the moves save £${saved.toFixed(2)} against £${choice.moveGbp.toFixed(2)} they cost`;
      const outcomes = await carryOutMoves(this.d, due, { planId, why });
      for (const o of outcomes) if (!o.moved) this.pinned.add(o.move.jobId);
      for (const [site, r] of afterMoves(reports, outcomes)) reports.set(site, r);
    });
  }
}
