// The Solver port backed by HiGHS: the class-LP planner (src/optimise/planner.ts) with its LPs
// solved in a worker thread. `close()` ends the worker; an idle worker does not keep Node alive.
import type { PlanningProblem, Schedule } from '../../domain/planning.ts';
import { DEFAULT_PLANNER_OPTIONS, LP_PLANNER, planWithLp, type PlannerOptions } from '../../optimise/planner.ts';
import type { Solver } from '../../ports.ts';
import { HighsClient, type HighsClientOptions } from './client.ts';

export interface HighsSolver extends Solver {
  readonly client: HighsClient;
  close(): Promise<void>;
}

export const createHighsSolver = (options: Partial<PlannerOptions> & HighsClientOptions = {}): HighsSolver => {
  const client = new HighsClient(options);
  const planner: PlannerOptions = { ...DEFAULT_PLANNER_OPTIONS, ...options };
  const clock = () => performance.now() / 1000;
  return {
    name: `${LP_PLANNER}+highs`,
    client,
    plan: (problem: PlanningProblem): Promise<Schedule> => planWithLp(problem, client.solve, planner, clock),
    close: () => client.close(),
  };
};
