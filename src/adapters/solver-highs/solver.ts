// The Solver port backed by HiGHS: the class-LP planner (src/optimise/planner.ts) with its LPs
// solved in a worker thread. `close()` ends the worker; an idle worker does not keep Node alive.
// With `work` (repeatable runs, src/optimise/work.ts) a plan is bounded by counted work; if a
// solve's wall-clock safety cap ever fires, that is reported through `onSafetyCap` (by default a
// process warning), since such a plan is not guaranteed to repeat.
import type {
  BatteryBoundInput,
  BatterySchedule,
  JobSchedule,
  PlanningProblem,
  Schedule,
} from '../../domain/planning.ts';
import { batteryCostBound, loadOfJobs, planBatteries } from '../../optimise/battery-model.ts';
import {
  DEFAULT_PLANNER_OPTIONS,
  LP_PLANNER,
  planWithLp,
  type PlannerOptions,
  type PlanStats,
} from '../../optimise/planner.ts';
import { replanCarried, replanFrom } from '../../optimise/warm.ts';
import type { Solver } from '../../ports.ts';
import { HighsClient, type HighsClientOptions } from './client.ts';

export interface HighsSolver extends Solver {
  readonly client: HighsClient;
  planFrom(problem: PlanningProblem, base: Schedule): Promise<Schedule>;
  planCarried(problem: PlanningProblem, previous: Schedule, shiftSlots: number): Promise<Schedule>;
  planBatteries(
    problem: PlanningProblem,
    jobs: readonly JobSchedule[],
  ): Promise<readonly BatterySchedule[] | undefined>;
  batteryCostBound(input: BatteryBoundInput): Promise<number | undefined>;
  close(): Promise<void>;
}

export interface HighsSolverOptions extends Partial<PlannerOptions>, HighsClientOptions {
  /** Work-bounded mode only: told when a solve hit the safety cap instead of a work limit. */
  readonly onSafetyCap?: (stats: PlanStats) => void;
}

const warnSafetyCap = (stats: PlanStats): void =>
  process.emitWarning(
    `${stats.safetyCapHits} HiGHS solve(s) stopped at the planner's safety cap instead of a work limit: this plan may not repeat`,
    { code: 'FLX_PLANNER_SAFETY_CAP' },
  );

export const createHighsSolver = (options: HighsSolverOptions = {}): HighsSolver => {
  const client = new HighsClient(options);
  // Background plans (the orchestrator's periodic fresh plan, made beside the slot's carried one)
  // solve on a worker of their own, started on first use: on one worker the slot's carried plan
  // waited behind the fresh plan's MILP for up to 1.5 s, and market time stood still meanwhile.
  let backgroundClient: HighsClient | undefined;
  let closed = false;
  const bg = (): HighsClient => {
    if (!backgroundClient) {
      backgroundClient = new HighsClient(options);
      // Asked for after close(): a closed client, whose solves fail without starting a worker.
      if (closed) void backgroundClient.close();
    }
    return backgroundClient;
  };
  const { onSafetyCap = warnSafetyCap, ...rest } = options;
  const onStats = rest.onStats;
  const planner: PlannerOptions = {
    ...DEFAULT_PLANNER_OPTIONS,
    ...rest,
    ...(rest.work
      ? {
          onStats: (s: PlanStats) => {
            if (s.safetyCapHits) onSafetyCap(s);
            onStats?.(s);
          },
        }
      : {}),
  };
  const clock = () => performance.now() / 1000;
  return {
    name: `${LP_PLANNER}+highs`,
    client,
    plan: (problem: PlanningProblem): Promise<Schedule> => planWithLp(problem, client.solve, planner, clock),
    planFrom: (problem: PlanningProblem, base: Schedule): Promise<Schedule> =>
      replanFrom(problem, base, client.solve, planner, clock),
    planCarried: (problem: PlanningProblem, previous: Schedule, shiftSlots: number): Promise<Schedule> =>
      replanCarried(problem, previous, shiftSlots, client.solve, planner, clock),
    planBatteries: async (problem: PlanningProblem, jobs: readonly JobSchedule[]) => {
      const r = await planBatteries(problem, loadOfJobs(problem, jobs), client.solve, planner.timeLimitSeconds);
      return r.ok ? r.batteries : undefined;
    },
    batteryCostBound: (input: BatteryBoundInput) => batteryCostBound(input, client.solve, planner.timeLimitSeconds),
    background: (): Solver => ({
      name: `${LP_PLANNER}+highs`,
      plan: (problem: PlanningProblem): Promise<Schedule> => planWithLp(problem, bg().solve, planner, clock),
      planBatteries: async (problem: PlanningProblem, jobs: readonly JobSchedule[]) => {
        const r = await planBatteries(problem, loadOfJobs(problem, jobs), bg().solve, planner.timeLimitSeconds);
        return r.ok ? r.batteries : undefined;
      },
    }),
    close: async () => {
      closed = true;
      await Promise.all([client.close(), backgroundClient?.close()]);
    },
  };
};
