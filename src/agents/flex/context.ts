// What the BPP's Beckn handlers and tasks may use, and nothing more: the provider's identity, its
// store and clocks, the terms it sells on, the planning operations they call, and the reads of the
// sites' meters and baselines. The Flexibility Orchestrator builds it (FlexOrchestrator.context);
// handlers never see the orchestrator itself or its constructor inputs.
import type { BecknClient } from '../../beckn/client.ts';
import type { Commitment } from '../../domain/commitments.ts';
import type { CancellationPolicy } from '../../domain/order.ts';
import type { PlanningProblem, Schedule } from '../../domain/planning.ts';
import type { EpochMs } from '../../domain/time.ts';
import type { Logger } from '../../log.ts';
import type { FlexMetrics } from '../../observability/metrics.ts';
import type { Clock, IdSource, Store } from '../../ports.ts';
import type { BaselineMethod } from '../../settlement/baselines.ts';
import type { Provider } from './callbacks.ts';
import type { Mutex } from './mutex.ts';
import type { PlanRecord, PlanResult } from './plan-record.ts';
import type { PricingPolicy } from './pricing.ts';

export interface FlexSite {
  readonly id: string;
  readonly region: string;
  readonly agentUrl: string;
}

/** An offer made and not yet expired, held as best-effort commitments until it is bought or expires. */
export interface HeldOffer {
  readonly offerId: string;
  /** The search that made it (`bap_id|transaction_id`); absent in holds stored before it was kept. */
  readonly search?: string;
  readonly until: EpochMs;
  readonly commitments: readonly Commitment[];
}

export interface PlanOptions {
  /** Commitments planned on top of the live ones (an order being checked). */
  readonly extra?: readonly Commitment[];
  /** Orders whose live commitments are left out (an order being changed). */
  readonly without?: ReadonlySet<string>;
  /** false: without the held offers, for checking what is firm. */
  readonly held?: boolean;
  /**
   * Offer pricing for a window starting then: the waiting jobs the plan starts before it and runs
   * through it are re-planned as running from their planned start, so a GPU cap can reach them in
   * the window (as it will: by then they are running). Without it only jobs running now can be capped.
   */
  readonly runningAt?: EpochMs;
  /**
   * An order's check (quote, init, confirm, update): only whether the fleet can deliver, and what it
   * costs, is asked, and the plan is not dispatched. Carried from the rolling plan whatever changed
   * (fleet-plan.ts), planned afresh where the carried plan cannot be repaired.
   */
  readonly check?: boolean;
}

/** The planning operations the handlers call (the Flexibility Orchestrator implements them). */
export interface FleetPlanning {
  /** Serialises the decisions that add to the fleet's commitments (confirm, update). */
  readonly fleetLock: Mutex;
  /** The code of the settlement baseline, as on_init states it. */
  readonly baselineCode: string;
  /** Sites with a report, i.e. that can be planned and dispatched now. */
  reportedSites(): string[];
  /** Plans the fleet now (see FlexOrchestrator.plan); always checked. */
  plan(o?: PlanOptions): Promise<PlanResult>;
  /** The live commitments (orders confirmed or active). */
  commitments(): Promise<Commitment[]>;
  /** Holds offers until they expire, in the offers' own transaction. */
  holdOffers(tx: Pick<Store, 'putDocument' | 'getDocument'>, offers: readonly HeldOffer[]): Promise<void>;
  /** Re-plans and pushes the dispatch to every agent (after a confirm, a cancellation, an update, held offers). */
  dispatchAll(reason: string, orderId?: string): Promise<PlanRecord | undefined>;
  /** Solves a planning problem as given (offer pricing measures curves with it). */
  solve(problem: PlanningProblem): Promise<Schedule>;
  /** Solves it from `base`, a plan of the same jobs with fewer commitments (Solver.planFrom; afresh where the solver has none). */
  solveFrom(problem: PlanningProblem, base: Schedule): Promise<Schedule>;
}

/** Reads from a site's agent (over the AgentLink), per slot from `from`; NaN where there is no value. */
export interface SiteReads {
  baseline(site: string, from: EpochMs, slots: number): Promise<number[]>;
  meter(site: string, from: EpochMs, slots: number): Promise<number[]>;
}

/** The terms the provider states on its orders. */
export interface OrderTerms {
  readonly quoteTtlSeconds: number;
  /** Stated in on_init and applied at cancel and update; DEFAULT_CANCELLATION when absent. */
  readonly cancellation?: CancellationPolicy;
  /** The settlement baseline on_init names (FIFO_COUNTERFACTUAL when absent). */
  readonly baselineMethod?: BaselineMethod;
  /** Contact details sent in on_support (core 1.1.1 Support). */
  readonly support?: { readonly email?: string; readonly phone?: string };
}

export interface FlexContext {
  readonly provider: Provider & { readonly name: string };
  readonly sites: readonly FlexSite[];
  readonly slotMinutes: number;
  readonly store: Store;
  /** Sends the callbacks the outbox owes (bpp.ts). */
  readonly client: BecknClient;
  /** Market time (windows, delivery); wall time (stamps, quotes) is provider.wallNow. */
  readonly market: Clock;
  readonly log: Logger;
  readonly metrics: FlexMetrics | undefined;
  readonly pricing: PricingPolicy;
  readonly terms: OrderTerms;
  /** Order, offer and message ids. */
  readonly ids: IdSource;
  readonly planning: FleetPlanning;
  readonly reads: SiteReads;
}
