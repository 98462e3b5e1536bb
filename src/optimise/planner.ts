// The fleet planner: class LP → disaggregation → repair → battery LP → independent check, with the
// greedy planner as the fallback that always exists. The lower bound is proved from the class
// LP's duals (lagrangianBound), so it holds whatever the solver's tolerances; the status is
// `optimal` only when the plan's cost meets that bound. An infeasible class LP proves the problem
// infeasible (it is a relaxation), and the reason names the constraint family at fault.
import type { PlanningProblem, Schedule } from '../domain/planning.ts';
import { infeasible, withWorkMetrics } from '../domain/planning.ts';
import { planBatteries } from './battery-model.ts';
import { checkSchedule, costFields } from './check.ts';
import {
  buildClassModel,
  buildClasses,
  chooseClasses,
  jobClasses,
  shadowCosts,
  type ClassModel,
  type JobClass,
} from './class-model.ts';
import { exactClassBound } from './bound.ts';
import { disaggregate, unitCosts, type Draft, type UnitCosts } from './disaggregate.ts';
import { greedyPlan, provablyInfeasible } from './greedy.ts';
import { lagrangianBound, type LpSolve } from './lp.ts';
import { workBounded, type PlannerWork } from './work.ts';
import { buildExactModel, decodeExact, encodeExact, exactBinaries } from './milp.ts';
import { explainInfeasible } from './explain.ts';
import { importCaps } from './class-model.ts';
import { repair } from './repair.ts';
import { localSearch } from './local-search.ts';
import { exchange } from './exchange.ts';
import { hasSoftJobs, mayLeaveUnserved, UNSERVED_TOL } from './soft.ts';

export { DEFAULT_WORK, type PlannerWork } from './work.ts';

export const LP_PLANNER = 'class-lp/1';
export const EXACT_PLANNER = 'exact-milp/1';
export const PRICED_PLANNER = 'class-lp/1+priced-placement';

export interface PlannerOptions {
  /** Wall-clock budget for all solver calls of one plan (s). */
  readonly timeLimitSeconds: number;
  /** Largest class LP (job columns) before windows are widened to a coarser grid. */
  readonly maxColumns: number;
  /** Problems whose exact MILP has at most this many binaries are improved by it. */
  readonly milpMaxBinaries: number;
  /** Time given to that MILP at most (s); it also stops at a 0.01 % gap. */
  readonly milpTimeLimitSeconds: number;
  /**
   * Repeatable runs: every stage bounded by counted work, not wall time (work.ts). The time limits
   * above are then not used; each solve has `work.safetySeconds` as a safety cap instead.
   */
  readonly work?: PlannerWork;
  /** Called with what happened, for logs and benchmarks. */
  readonly onStats?: (s: PlanStats) => void;
}

export const DEFAULT_PLANNER_OPTIONS: PlannerOptions = {
  timeLimitSeconds: 30,
  maxColumns: 8000,
  milpMaxBinaries: 5000,
  milpTimeLimitSeconds: 10,
};

export interface PlanStats {
  classes: number;
  granularity: number;
  columns: number;
  rows: number;
  lpSeconds: number;
  lpSolves: number;
  moved: number;
  /** Energy disaggregation could not give its jobs (kWh), left for repair. */
  deficitKwh?: number;
  /** Seconds spent per stage (measured with the caller's clock). */
  seconds?: Record<string, number>;
  /** Per priced placement: how many jobs needed make-room (−1: it failed). */
  placements?: number[];
  /** Cost of each candidate plan, or why it failed. */
  candidates?: (number | string)[];
  /** Per local-search round: jobs moved and the plan's cost after the battery LP (or why it was dropped). */
  localSearch?: { moved: number; sweeps: number; swaps?: number; evaluated?: number; cost: number | string }[];
  milp?: string;
  fallback?: string;
  /** Work-bounded mode: solves stopped by the safety cap (a run that is then not repeatable). */
  safetyCapHits?: number;
  /** Work-bounded mode: simplex iterations and MIP nodes used, summed over the solves. */
  work?: { iterations: number; nodes: number };
}

/** Relative gap under which a plan counts as proven optimal. */
export const OPTIMAL_REL_GAP = 1e-6;

// Carbon cap tightenings tried in turn: the class plan leaves this share of the cap unused, so that
// disaggregation and repair, which move a little energy, stay under the real cap.
const TIGHTENINGS = [0.001, 0.01, 0.05];

type Attempt = { readonly schedule: Schedule } | { readonly retry: boolean; readonly reason: string };

export const assemble = (
  p: PlanningProblem,
  d: Draft,
  batteries: Schedule['batteries'],
  lowerBoundGbp: number,
  planner = LP_PLANNER,
): Schedule => assembleChecked(p, d, batteries, lowerBoundGbp, planner).schedule;

/**
 * The schedule of a draft, its figures filled from one check of its placement, and that check's
 * verdict on every physical rule (check.ts; the figures match it by construction).
 */
const assembleChecked = (
  p: PlanningProblem,
  d: Draft,
  batteries: Schedule['batteries'],
  lowerBoundGbp: number,
  planner = LP_PLANNER,
): { schedule: Schedule; verdict: ReturnType<typeof checkSchedule> } => {
  const jobs = p.jobs.map((j, i) => ({
    id: j.id,
    site: p.sites[d.site[i] as number]!.id,
    powerKw: Array.from(d.power[i] ?? new Float64Array(p.slots)),
  }));
  const draft: Schedule = {
    version: 1,
    status: 'feasible',
    costGbp: 0,
    carbonKg: 0,
    lowerBoundGbp,
    jobs,
    batteries,
    planner,
  };
  const verdict = checkSchedule(p, draft, { reported: false });
  const fields = costFields(p, verdict);
  const costGbp = fields.costGbp;
  const bound = Math.min(lowerBoundGbp, costGbp);
  const status = costGbp - bound <= OPTIMAL_REL_GAP * Math.max(1, Math.abs(costGbp)) ? 'optimal' : 'feasible';
  return { schedule: { ...draft, ...fields, status, lowerBoundGbp: bound }, verdict };
};

/** IT power allowed per site and slot once the class plan's battery flows are fixed. */
const itLimits = (p: PlanningProblem, cm: ClassModel, x: Float64Array): Float64Array[] => {
  const caps = importCaps(p);
  return p.sites.map((site, s) => {
    const out = new Float64Array(p.slots);
    const b = cm.batteryCol[s] as number;
    for (let t = 0; t < p.slots; t++) {
      const net = b >= 0 ? (x[b + 3 * t] ?? 0) - (x[b + 3 * t + 1] ?? 0) : 0;
      out[t] = Math.max(0, Math.min(site.itPowerLimitKw, ((caps[s]![t] as number) - net) / site.pue));
    }
    return out;
  });
};

export const siteLoads = (p: PlanningProblem, d: Draft): Float64Array[] => {
  const load = p.sites.map(() => new Float64Array(p.slots));
  d.power.forEach((pw, j) => {
    if (pw)
      for (let t = 0; t < p.slots; t++)
        load[d.site[j] as number]![t] = (load[d.site[j] as number]![t] as number) + (pw[t] as number);
  });
  return load;
};

const solveClasses = async (cm: ClassModel, solve: LpSolve, deadline: () => number, stats: PlanStats) => {
  const out = await solve(cm.model, { timeLimitSeconds: deadline() });
  stats.lpSolves++;
  stats.lpSeconds += out.seconds;
  return out;
};

/** No job placed yet: repair then places every job, least flexible first, at its cheapest slots. */
const emptyDraft = (p: PlanningProblem): Draft => ({
  site: new Int32Array(p.jobs.length).fill(-1),
  power: new Array<Float64Array | undefined>(p.jobs.length),
  deficitKwh: Float64Array.from(p.jobs, (j) => j.energyKwh),
});

export type Candidate = { readonly schedule: Schedule } | { readonly failed: string; readonly carbon: boolean };

/** Battery LP for a job plan, then the independent check. */
export const finish = async (
  p: PlanningProblem,
  draft: Draft,
  solve: LpSolve,
  deadline: () => number,
  stats: PlanStats,
  bound: number,
  planner: string,
): Promise<Candidate> => {
  const battery = await planBatteries(p, siteLoads(p, draft), solve, deadline());
  stats.lpSolves++;
  if (!battery.ok) return { failed: battery.reason, carbon: battery.carbon };
  const { schedule, verdict } = assembleChecked(p, draft, battery.batteries, bound, planner);
  return verdict.ok
    ? { schedule }
    : { failed: `the plan fails the check: ${verdict.violations.slice(0, 3).join('; ')}`, carbon: false };
};

/**
 * Every job placed afresh at its cheapest priced slots. Placement moves a little energy away from
 * where the LP had it, so if the carbon cap breaks, carbon is priced higher and placement repeated.
 */
const pricedPlacement = async (
  p: PlanningProblem,
  limits: Float64Array[],
  costs: UnitCosts,
  lambda: number,
  solve: LpSolve,
  deadline: () => number,
  stats: PlanStats,
  bound: number,
  placeIn: PlanningProblem = p,
): Promise<Candidate> => {
  let last: Candidate = { failed: 'not tried', carbon: false };
  for (const extra of [0, 0.1, 0.3, 1]) {
    const priced = extra === 0 ? costs : unitCosts(p, lambda * (1 + extra) + 0.01 * extra);
    const draft = emptyDraft(p);
    const placed = repair(placeIn, draft, limits, priced);
    stats.placements = [...(stats.placements ?? []), placed.ok ? placed.madeRoom : -1];
    if (!placed.ok) return { failed: placed.reason, carbon: false };
    last = await finish(p, draft, solve, deadline, stats, bound, PRICED_PLANNER);
    if (!('failed' in last) || !last.carbon) return last;
  }
  return last;
};

/** A checked schedule back into a draft, for local search. */
export const draftOf = (p: PlanningProblem, s: Schedule): Draft => {
  const siteIndex = new Map(p.sites.map((x, i) => [x.id, i]));
  const byId = new Map(s.jobs.map((j) => [j.id, j]));
  const h = p.slotMinutes / 60;
  const power = p.jobs.map((j) => Float64Array.from(byId.get(j.id)!.powerKw));
  return {
    site: Int32Array.from(p.jobs, (j) => siteIndex.get(byId.get(j.id)!.site) as number),
    power,
    // Soft jobs may have energy beyond the horizon; local search leaves those as they are.
    deficitKwh: Float64Array.from(p.jobs, (j, i) => {
      if (!mayLeaveUnserved(p, j)) return 0;
      const short = j.energyKwh - power[i]!.reduce((a, x) => a + x * h, 0);
      return short > UNSERVED_TOL * Math.max(1, j.energyKwh) ? short : 0;
    }),
  };
};

const POLISH_ROUNDS = 3;
/** A polish round that gains less than this share of the plan's cost is the last. */
const MIN_ROUND_GAIN = 0.01;

/**
 * Slot costs that lean towards later slots: + weight × mean |cost| × (slots − 1 − t) / slots. On an
 * overloaded fleet the energy cost is nearly fixed (every slot is full), and placing work as late as
 * its window allows leaves the early slots to the jobs due first.
 */
const latePreferring = (p: PlanningProblem, base: UnitCosts, weight: number): UnitCosts => {
  const mean = base.reduce((a, c) => a + c.reduce((x, y) => x + Math.abs(y), 0), 0) / (p.sites.length * p.slots);
  return base.map((c) => c.map((x, t) => x + (weight * mean * (p.slots - 1 - t)) / p.slots));
};

/**
 * Lean weights tried (each one more placement; the cheapest checked plan wins). The best weight
 * varies: on overloaded instances (seed 5 at 150 and 300 jobs, seed 42 at 1k) 2, 4 and 2 were best
 * of 0.5–16, and 8 or more lost everywhere. Above 5,000 jobs one weight is tried, to save time: 0.5,
 * chosen after exchanges (exchange.ts) re-order the late work. Polished plans at 0.5 against 2:
 * 10k seed 42 £376,552 vs £380,876, 6k seed 5 £231,832 vs £238,144, 10k seed 7 £382,749 vs £382,607.
 * (Below 5,000, [0.5, 1] beat [1, 2, 4] at 1k seed 42 but lost at 150 and 300 jobs, so it stays.)
 */
const LATE_WEIGHTS = (p: PlanningProblem): number[] => (p.jobs.length <= 5000 ? [1, 2, 4] : [0.5]);

/**
 * Local search on the best plan (local-search.ts) and, with soft jobs, exchanges between them
 * (exchange.ts: a late job takes a slot another job holds, on a full site), in rounds on one draft
 * while a round gains at least MIN_ROUND_GAIN of the plan's cost; then one battery LP for the new IT
 * profile and the check. Every move is priced with the plan's battery flows held, so each round's
 * draft is valid as it stands; the LP and the check once at the end, instead of after every round,
 * saved about 0.35 s of 1.8 s at 10k overloaded jobs, and stopping after a round that gains under 1 %
 * another 0.55 s for 0.1 % of cost (the third round gained £383 of £376,935). The polished plan is
 * kept only if the checked plan is cheaper.
 */
const polish = async (
  p: PlanningProblem,
  best: Schedule,
  lambda: number,
  solve: LpSolve,
  deadline: () => number,
  stats: PlanStats,
  bound: number,
): Promise<Schedule> => {
  const draft = draftOf(p, best);
  let gained = 0;
  for (let round = 0; round < POLISH_ROUNDS; round++) {
    // With soft jobs, exchanges follow and the rounds repeat: a sweep that gains under 5 % of the
    // first ends the search (on the 10k overloaded benchmark the last sweep of each round gained nothing).
    const r = localSearch(p, draft, best.batteries, lambda, 4, hasSoftJobs(p) ? 0.05 : 0);
    // Exchanges keep every site-slot's load, so they need no new battery plan of their own.
    const x = hasSoftJobs(p) ? exchange(p, draft, lambda) : { swaps: 0, gain: 0, evaluated: 0 };
    if (r.moved === 0 && x.swaps === 0) break;
    gained += r.gain + x.gain;
    stats.localSearch = [
      ...(stats.localSearch ?? []),
      {
        moved: r.moved,
        sweeps: r.sweeps,
        ...(x.swaps > 0 ? { swaps: x.swaps, evaluated: x.evaluated } : {}),
        // Before the battery LP and the check: the priced cost less what the moves gained.
        cost: Math.round((best.costGbp - gained) * 100) / 100,
      },
    ];
    if (r.gain + x.gain < MIN_ROUND_GAIN * Math.abs(best.costGbp)) break;
  }
  if (gained <= 0) return best;
  const next = await finish(p, draft, solve, deadline, stats, bound, best.planner ?? LP_PLANNER);
  if (!('schedule' in next)) {
    stats.localSearch = [...(stats.localSearch ?? []), { moved: 0, sweeps: 0, cost: next.failed }];
    return best;
  }
  return next.schedule.costGbp < best.costGbp ? next.schedule : best;
};

/**
 * One pass: the class LP (the relaxation that proves the bound), then two ways back to jobs, and
 * the cheaper plan that passes the check wins:
 *  - disaggregation of the class plan, then repair;
 *  - placing every job afresh, least flexible first, at its cheapest slots priced by the LP's duals
 *    (price + congestion + carbon shadow price), which resolves contention the way the LP did.
 * Each then gets its batteries planned by the battery LP.
 */
const attempt = async (
  p: PlanningProblem,
  cm: ClassModel,
  exact: readonly JobClass[],
  solve: LpSolve,
  deadline: () => number,
  stats: PlanStats,
  bound: { value: number },
  lap: (stage: string) => void,
): Promise<Attempt> => {
  const out = await solveClasses(cm, solve, deadline, stats);
  lap('classLp');
  if (out.status === 'infeasible') return { retry: true, reason: 'infeasible' };
  if (out.status === 'failed') return { retry: false, reason: out.reason };
  const duals = out.rowDual ?? new Float64Array(cm.model.numRows);
  if (out.rowDual) {
    const own =
      stats.granularity === 1
        ? lagrangianBound(cm.model, out.rowDual, cm.trueRowLower, cm.trueRowUpper)
        : Number.NEGATIVE_INFINITY;
    bound.value = Math.max(bound.value, own, exactClassBound(p, cm, out.rowDual, exact));
  }
  lap('bound');
  // Slot costs for placing energy: price plus the LP's shadow prices of congestion and carbon.
  const shadow = shadowCosts(p, cm, duals);
  const lambda = cm.carbonRow >= 0 ? Math.max(0, -(duals[cm.carbonRow] ?? 0)) : 0;
  const costs = unitCosts(p, 0).map((c, s) => c.map((x, t) => x + (shadow[s]![t] as number)));
  const limits = itLimits(p, cm, out.colValue);
  // Disaggregation needs the exact classes' profiles; with widened windows only placement runs.
  let a: Candidate = { failed: 'not run: the class LP has widened windows', carbon: false };
  if (stats.granularity === 1) {
    const draft = disaggregate(p, cm, out.colValue, costs);
    stats.deficitKwh = draft.deficitKwh.reduce((x, y) => x + y, 0);
    const fixed = repair(p, draft, limits, costs);
    stats.moved = fixed.ok ? fixed.moved : 0;
    a = fixed.ok
      ? await finish(p, draft, solve, deadline, stats, bound.value, LP_PLANNER)
      : { failed: fixed.reason, carbon: false };
    lap('disaggregation');
  }
  // Priced placement twice: carbon at the LP's shadow price, and at 0.9 of it (the coarse LP's price
  // is a little high for placement, which then leaves part of the cap unused). Adding the LP's
  // congestion prices as well was tried and lost on every benchmark size.
  const placed: Candidate[] = [];
  // With soft jobs and no carbon price the two are the same plan; the second placement then leans
  // late within each window instead (latePreferring), leaving early slots to the jobs due first.
  // Above 5,000 jobs only the leaning placement runs (it beat the plain one on every overloaded
  // benchmark instance: 10k £404,412 against £408,928, 1k £43,620 against £45,469), to save time.
  const soft = hasSoftJobs(p);
  const plain = soft && lambda === 0 ? (p.jobs.length > 5000 ? [] : [0]) : [lambda, 0.9 * lambda];
  for (const l of plain)
    placed.push(await pricedPlacement(p, limits, unitCosts(p, l), l, solve, deadline, stats, bound.value));
  for (const weight of soft ? LATE_WEIGHTS(p) : [])
    placed.push(
      await pricedPlacement(
        p,
        limits,
        latePreferring(p, unitCosts(p, lambda), weight),
        lambda,
        solve,
        deadline,
        stats,
        bound.value,
      ),
    );
  lap('placement');
  const all = [a, ...placed];
  stats.candidates = all.map((x) => ('schedule' in x ? Math.round(x.schedule.costGbp * 100) / 100 : x.failed));
  const ok = all.flatMap((c) => ('schedule' in c ? [c.schedule] : [])).sort((x, y) => x.costGbp - y.costGbp);
  if (ok.length > 0) {
    // Local search on the cheapest only: on the benchmark it gains 0.03 % at 100k and nothing at
    // 1k/10k, and a second start doubled its time for no gain. With soft jobs the second cheapest is
    // polished too, as exchanges can reorder the candidates (overloaded 1k: £44,615 → £39,216 against
    // £43,620 → £39,489); not up to 500 jobs (the BPP's re-plans, which hold market time), where it
    // gained £16 at 150 jobs and nothing at 300.
    let best = await polish(p, ok[0]!, lambda, solve, deadline, stats, bound.value);
    for (const other of soft && p.jobs.length > 500 ? ok.slice(1, 2) : []) {
      const b = await polish(p, other, lambda, solve, deadline, stats, bound.value);
      if (b.costGbp < best.costGbp) best = b;
    }
    lap('localSearch');
    return { schedule: best };
  }
  const failed = a as { failed: string; carbon: boolean };
  const carbon = placed.some((x) => 'failed' in x && x.carbon);
  return { retry: failed.carbon || carbon, reason: failed.failed };
};

type Exact = { readonly schedule: Schedule } | { readonly infeasible: true } | { readonly failed: string };

/** Solves the exact MILP (from `start` when given) and turns its answer into a checked schedule. */
const exactPlan = async (
  p: PlanningProblem,
  solve: LpSolve,
  seconds: number,
  bound: number,
  stats: PlanStats,
  start?: Schedule,
): Promise<Exact> => {
  const em = buildExactModel(p);
  const out = await solve(em.model, {
    timeLimitSeconds: seconds,
    mipRelGap: 1e-4,
    ...(start ? { start: encodeExact(p, em, start) } : {}),
  });
  stats.lpSolves++;
  stats.lpSeconds += out.seconds;
  stats.milp = `${out.status}${out.status === 'failed' ? `: ${out.reason}` : ''} (${em.binaries} binaries)`;
  if (out.status === 'infeasible') return { infeasible: true };
  if (out.status === 'failed') return { failed: out.reason };
  // HiGHS's dual bound is its proof; it can only raise the bound already proved.
  const proved = Math.max(bound, Number.isFinite(out.dualBound) ? (out.dualBound as number) : bound);
  const draft = decodeExact(p, em, out.colValue);
  if (draft.deficitKwh.some((x, j) => x > 1e-7 * Math.max(1, p.jobs[j]!.energyKwh) && !mayLeaveUnserved(p, p.jobs[j]!)))
    return { failed: 'the MILP solution misses energy' };
  const battery = await planBatteries(p, siteLoads(p, draft), solve, Math.max(0.5, seconds));
  if (!battery.ok) return { failed: battery.reason };
  const { schedule, verdict } = assembleChecked(p, draft, battery.batteries, proved, EXACT_PLANNER);
  return verdict.ok
    ? { schedule }
    : { failed: `the MILP plan fails the check: ${verdict.violations.slice(0, 2).join('; ')}` };
};

// With work limits the MILP's size, not the clock, decides whether it runs.
const useMilp = (p: PlanningProblem, options: PlannerOptions, remaining: number): boolean =>
  exactBinaries(p) <= options.milpMaxBinaries && (options.work !== undefined || remaining >= 0.2);

/** Tries the exact MILP from `best`; keeps the better plan and the better proven bound. */
const improve = async (
  p: PlanningProblem,
  best: Schedule,
  solve: LpSolve,
  options: PlannerOptions,
  remaining: number,
  stats: PlanStats,
): Promise<Schedule> => {
  if (best.status === 'optimal' || !useMilp(p, options, remaining)) return best;
  const out = await exactPlan(
    p,
    solve,
    Math.min(remaining, options.milpTimeLimitSeconds),
    best.lowerBoundGbp,
    stats,
    best,
  );
  if (!('schedule' in out)) return best;
  const better = out.schedule.costGbp < best.costGbp ? out.schedule : best;
  const lowerBoundGbp = Math.min(Math.max(best.lowerBoundGbp, out.schedule.lowerBoundGbp), better.costGbp);
  const optimal = better.costGbp - lowerBoundGbp <= OPTIMAL_REL_GAP * Math.max(1, Math.abs(better.costGbp));
  return { ...better, lowerBoundGbp, status: optimal ? 'optimal' : 'feasible' };
};

/** Plans with the class LP; falls back to the greedy planner when any stage cannot finish. */
export const planWithLp = async (
  p: PlanningProblem,
  lpSolve: LpSolve,
  options: PlannerOptions = DEFAULT_PLANNER_OPTIONS,
  clock: () => number = () => 0,
): Promise<Schedule> => {
  const proof = provablyInfeasible(p);
  if (proof) return infeasible(proof, 0, LP_PLANNER, p.version);
  const started = clock();
  // Work-bounded: the clock is read for stage timings only; every solve gets the work limits.
  const deadline = options.work
    ? () => options.work!.safetySeconds
    : () => Math.max(0.5, options.timeLimitSeconds - (clock() - started));
  const { granularity, classes } = chooseClasses(p, options.maxColumns);
  // The bound is proved over exact classes: one per job when that is cheap enough, else exact windows.
  const exact = p.jobs.length <= 20_000 ? jobClasses(p) : buildClasses(p, 1, true);
  const stats: PlanStats = {
    classes: classes.length,
    granularity,
    columns: 0,
    rows: 0,
    lpSeconds: 0,
    lpSolves: 0,
    moved: 0,
  };
  let mark = started;
  const lap = (stage: string): void => {
    const now = clock();
    stats.seconds = { ...stats.seconds, [stage]: ((stats.seconds ?? {})[stage] ?? 0) + now - mark };
    mark = now;
  };
  lap('classes');
  const solve = options.work ? workBounded(lpSolve, options.work, stats) : lpSolve;
  const bound = { value: Number.NEGATIVE_INFINITY };
  const done = async (s: Schedule): Promise<Schedule> => {
    const best = await improve(p, s, solve, options, deadline(), stats);
    options.onStats?.(stats);
    return withWorkMetrics(p, best);
  };
  let reason = '';
  for (const tightening of p.carbonCapKg === undefined ? [0] : TIGHTENINGS) {
    const cm = buildClassModel(p, classes, tightening);
    stats.columns = cm.model.numCols;
    stats.rows = cm.model.numRows;
    const a = await attempt(p, cm, exact, solve, deadline, stats, bound, lap);
    if ('schedule' in a) return done(a.schedule);
    reason = a.reason;
    if (reason === 'infeasible' && tightening > 0) continue; // the tightened cap may be what is infeasible
    if (reason === 'infeasible') {
      options.onStats?.(stats);
      return infeasible(await explainInfeasible(p, cm, solve, deadline()), 0, LP_PLANNER, p.version);
    }
    if (!a.retry) break;
  }
  if (reason === 'infeasible') {
    const cm = buildClassModel(p, classes, 0);
    const a = await attempt(p, cm, exact, solve, deadline, stats, bound, lap);
    if ('schedule' in a) return done(a.schedule);
    if (a.reason === 'infeasible')
      return infeasible(await explainInfeasible(p, cm, solve, deadline()), 0, LP_PLANNER, p.version);
    reason = a.reason;
  }
  // The class path could not finish. A small problem still gets an exact answer from the MILP
  // (which also proves infeasibility); anything else gets the greedy plan.
  if (useMilp(p, options, deadline())) {
    const out = await exactPlan(p, solve, Math.min(deadline(), options.milpTimeLimitSeconds), bound.value, stats);
    if ('schedule' in out) return done(out.schedule);
    if ('infeasible' in out) {
      options.onStats?.(stats);
      return infeasible(
        `no plan exists: the jobs fit the sites only if non-preemptible runs or site choices could be split (the class LP is feasible, the exact MILP is not; ${reason})`,
        0,
        EXACT_PLANNER,
        p.version,
      );
    }
  }
  stats.fallback = reason;
  options.onStats?.(stats);
  const g = greedyPlan(p);
  const lowerBoundGbp = Number.isFinite(bound.value)
    ? Math.max(g.lowerBoundGbp, Math.min(bound.value, g.status === 'infeasible' ? bound.value : g.costGbp))
    : g.lowerBoundGbp;
  return withWorkMetrics(p, { ...g, lowerBoundGbp, planner: `${g.planner ?? 'greedy'} (fallback: ${reason})` });
};
