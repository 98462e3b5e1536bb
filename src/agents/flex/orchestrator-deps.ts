// What the Flexibility Orchestrator is built from (src/compose/bpp.ts picks each part): the ports it
// plans and dispatches through, and the operator's settings for planning, pricing and the terms it
// sells on. Read only by the orchestrator (and its rolling dispatch, rolling-dispatch.ts): the Beckn
// handlers and tasks get the narrow FlexContext (context.ts) it builds from them.
import type { BecknClient } from '../../beckn/client.ts';
import type { MoveCost } from '../../domain/compute.ts';
import type { CancellationPolicy } from '../../domain/order.ts';
import type { Logger } from '../../log.ts';
import type { FlexMetrics } from '../../observability/metrics.ts';
import type { AgentLink, Clock, IdSource, SignalSource, Signer, Solver, Store } from '../../ports.ts';
import type { BaselineMethod } from '../../settlement/baselines.ts';
import type { FlexSite } from './context.ts';
import type { PlanRecord } from './plan-record.ts';
import type { PricingPolicy } from './pricing.ts';
import type { FifoCapKind } from './carbon-cap.ts';

/** The constructor's input. Read only here: handlers get the narrow FlexContext (context.ts). */
export interface FlexOrchestratorDeps {
  readonly id: string;
  readonly uri: string;
  readonly name: string;
  readonly store: Store;
  readonly client: BecknClient;
  readonly signer: Signer;
  /**
   * The key dispatches to the agents are signed with: not the Beckn key, so that nothing the BPP signs
   * for the network (a callback to a URL from the open registry) can be replayed to an agent as a
   * dispatch (issue 14 finding 6). The Beckn key when absent.
   */
  readonly dispatchSigner?: Signer;
  readonly market: Clock;
  readonly wallNow: () => number;
  readonly signals: SignalSource;
  readonly solver: Solver;
  readonly sites: readonly FlexSite[];
  readonly horizonSlots: number;
  readonly slotMinutes: number;
  readonly pricing: PricingPolicy;
  readonly quoteTtlSeconds: number;
  /** Stated in on_init and applied at cancel and update; DEFAULT_CANCELLATION when absent. */
  readonly cancellation?: CancellationPolicy;
  readonly carbonCapKg?: number;
  /**
   * Cap the plans' carbon at that of the same queues on FIFO, kept over the day (carbon-cap.ts): the
   * sites' settlement baselines (the FIFO counterfactual) × forecast intensity; true or 'kg' caps
   * the kg, 'intensity' the kg per kWh imported. Ignored when carbonCapKg is set; no cap for a horizon
   * where a site has no baseline (a Slurm site without meter history).
   */
  readonly carbonCapFifo?: boolean | FifoCapKind;
  /** The settlement baseline the agents compute and on_init names (FIFO_COUNTERFACTUAL when absent). */
  readonly baselineMethod?: BaselineMethod;
  /** Contact details sent in on_support (core 1.1.1 Support). */
  readonly support?: { readonly email?: string; readonly phone?: string };
  readonly log: Logger;
  readonly metrics?: FlexMetrics;
  /** Plan, order, offer and message ids; random UUIDs when absent (src/domain/ids.ts has a seeded source). */
  readonly ids?: IdSource;
  /** How the agents are reached; signed JSON over HTTP (src/agents/link.ts) when absent. */
  readonly link?: AgentLink;
  /** £ per GPU-hour late for deferrable jobs that state none (DEFAULT_LATE_GBP_PER_GPU_HOUR when absent). */
  readonly lateGbpPerGpuHour?: number;
  /**
   * The operational plan weighs each contended site's capacity value at this share (src/optimise/
   * capacity-value.ts, agents/flex/capacity-value.ts); absent or 0: none.
   */
  readonly capacityValueShare?: number;
  /**
   * Answer every site's report of a slot with one plan, waiting at most this long (ms of wall time)
   * for the other sites' reports (report-batch.ts). Absent: each report is planned on its own.
   */
  readonly gatherReportsMs?: number;
  /**
   * Re-plan each slot from the last rolling plan (Solver.planCarried) instead of afresh, and make a
   * fresh plan every FULL_PLAN_EVERY slots beside the carried one, carried from REFRESH_LAG slots
   * later (fleet-plan.ts): a slot is answered in the time of a carried plan, and the fresh plan's
   * quality reaches dispatch two slots later. A fresh plan is also made, in place, whenever the
   * commitments change.
   */
  readonly incrementalReplans?: boolean;
  /**
   * What moving a waiting job to another site of this provider costs (docs/cost-model.md, "Site
   * moves"); DEFAULT_MOVE_COST when absent. A plan moves jobs only where that saves more.
   */
  readonly moveCost?: MoveCost;
  /**
   * Told of every plan stored for dispatch, once it is committed (compute-energy's workload shift
   * follows the plans the orchestrator makes on its own). It must not throw or block.
   */
  readonly onPlanRecorded?: (plan: PlanRecord) => void;
}
