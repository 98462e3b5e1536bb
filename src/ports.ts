// The ports: the only way agents reach the outside world. Each is a small interface; adapters in
// src/adapters/<name>/ implement them and src/compose.ts picks which. Asynchronous throughout, so a
// networked implementation (PostgreSQL, Slurm over ssh, a live API) fits the same shape.
import type { DispatchMessage, DispatchResults, SlotRead, SlotReadings } from './agents/link-protocol.ts';
import type { AuditEntry, AuditRecord } from './audit/chain.ts';
import type { SignedHead } from './audit/heads.ts';
import type {
  Actuation,
  BatteryReport,
  ComputeJob,
  FlexibilityReport,
  PortableJob,
  SchedulerCapabilities,
} from './domain/compute.ts';
import type { Order } from './domain/order.ts';
import type { BatteryBoundInput, BatterySchedule, JobSchedule, PlanningProblem, Schedule } from './domain/planning.ts';
import type { SignalSeries } from './domain/signals.ts';
import type { EpochMs, SlotGrid } from './domain/time.ts';
import type {
  CommitmentFilter,
  CommitmentKeys,
  DispatchFilter,
  DispatchKeys,
  MeterFilter,
  MeterReading,
  OutboxClaim,
  OutboxFailure,
  OutboxFilter,
  OutboxInput,
  OutboxMessage,
  PlanKeys,
} from './store/records.ts';

/** Market time. In live mode it is the wall clock; in replay it runs faster over historical days. */
export interface Clock {
  now(): EpochMs;
  /** Resolves once now() ≥ t, or rejects with an AbortError when the signal aborts. */
  waitUntil(t: EpochMs, signal?: AbortSignal): Promise<void>;
}

export interface SignalSource {
  /** What was known at `asOf` about the slots of `grid`: forecasts issued no later than asOf. */
  forecast(region: string, grid: SlotGrid, asOf: EpochMs): Promise<SignalSeries>;
  /** Outturn (actual carbon, price) for the slots of `grid`, for settlement and reporting. */
  outturn(region: string, grid: SlotGrid): Promise<SignalSeries>;
}

/**
 * A workload scheduler at one site (Slurm, Kubernetes, the simulated cluster). Job ids are FlexLon
 * identities (unique across sites, kept when a job moves); `ComputeJob.nativeId` is the scheduler's
 * own. Actions on jobs answer with a value: a refusal (job running, held by someone else, not
 * supported here) is an expected outcome, not an exception. Exceptions (FlexError
 * FLX_SCHEDULER_UNAVAILABLE, FLX_SCHEDULER_COMMAND) mean the scheduler itself could not be asked.
 * test/contract/scheduler.contract.ts is the behaviour every adapter must show.
 */
export interface Scheduler {
  readonly site: string;
  readonly capabilities: SchedulerCapabilities;
  /** Waiting, running and recently finished jobs, with their flexibility metadata. */
  listJobs(): Promise<ComputeJob[]>;
  /** The job may not start before `until`. Fails (as a value) if it is already running or finished. */
  deferUntil(jobId: string, until: EpochMs): Promise<Actuation>;
  /** A held job does not start until released. FlexLon's holds are marked so an operator's hold is never lifted by FlexLon. */
  hold(jobId: string): Promise<Actuation>;
  /** Lifts FlexLon's hold; refuses (code `held-by-other`) a hold placed by an operator or user. */
  release(jobId: string): Promise<Actuation>;
  /** Cancels a waiting job (the second half of a move). */
  cancel(jobId: string): Promise<Actuation>;
  /** The job's submission, to run it elsewhere; undefined if there is no such waiting job. */
  exportJob(jobId: string): Promise<PortableJob | undefined>;
  /** Submits a job exported elsewhere, held by FlexLon, keeping its identity. */
  importJob(job: PortableJob): Promise<Actuation>;
  /**
   * Caps the job's GPUs at `wattsPerGpu`; `null` lifts FlexLon's cap (the GPUs go back to their
   * default limit). Refused as a value: code `unsupported` where the scheduler cannot cap, `invalid`
   * for a cap outside the GPU's min/max limit, `wrong-state` for a job that is not running or waiting.
   */
  setPowerCap(jobId: string, wattsPerGpu: number | null): Promise<Actuation>;
  /** Jobs that reached an end state (completed or cancelled) at or after `since`, as far as the scheduler still knows. */
  finishedSince(since: EpochMs): Promise<ComputeJob[]>;
  /** For schedulers without native begin times: start the jobs whose deferral has run out. */
  reconcile?(now: EpochMs): Promise<void>;
}

/**
 * A battery behind the site's grid meter (issue 13 item 4). Its power adds to the site's import:
 * charging raises it, discharging lowers it. Setpoints are values, not exceptions: a setpoint beyond
 * the battery's power or state-of-charge limits is refused (code `invalid`), never clipped silently.
 * test/contract/battery.contract.ts is the behaviour every adapter must show.
 */
export interface SiteBattery {
  readonly site: string;
  readonly spec: BatteryReport;
  /** Stored energy now (kWh). */
  stateOfChargeKwh(): Promise<number>;
  /**
   * Holds the battery at `kw` (> 0 charges, < 0 discharges, 0 idles) from now until `until`, then
   * idles. A later setpoint replaces an earlier one. Where the stored energy reaches a limit before
   * `until`, the battery stops there (it never goes below minSocKwh or above maxSocKwh).
   */
  setPower(kw: number, until: EpochMs): Promise<Actuation>;
}

/** Site grid-import meter: average import (kW) per slot of `grid`; NaN where no reading exists yet. */
export interface Meter {
  readonly site: string;
  importKw(grid: SlotGrid): Promise<number[]>;
}

/**
 * The provider↔compute-agent link, the provider's side: what the Flexibility Orchestrator asks of the
 * agent at `agentUrl`, in the bodies of the flexlon-link/1 protocol (src/agents/link-protocol.ts),
 * each answer checked before it is returned. Signed JSON over HTTP by default (src/agents/link.ts).
 */
export interface AgentLink {
  dispatch(agentUrl: string, message: DispatchMessage): Promise<DispatchResults>;
  baseline(agentUrl: string, read: SlotRead): Promise<SlotReadings>;
  meter(agentUrl: string, read: SlotRead): Promise<SlotReadings>;
}

/** The same link, the agent's side: its report, answered with the dispatch for its site (checked). */
export interface ProviderLink {
  report(report: FlexibilityReport): Promise<DispatchMessage>;
}

/**
 * Where new identifiers come from (plans, offers, orders, message ids): `next('offer')` → `offer-…`,
 * `next('')` → a bare id. Random UUIDs by default; src/domain/ids.ts has a seeded one for repeatable runs.
 */
export interface IdSource {
  next(prefix: string): string;
}

export interface Solver {
  readonly name: string;
  plan(problem: PlanningProblem): Promise<Schedule>;
  /**
   * `problem` planned from `base`, a plan of the same jobs with fewer commitments, moving only what
   * the new ones force (src/optimise/warm.ts). Offer pricing uses it so that an opportunity cost is
   * the cost of what a reduction displaces, not the noise between two independent plans.
   */
  planFrom?(problem: PlanningProblem, base: Schedule): Promise<Schedule>;
  /**
   * `problem` planned incrementally from `previous`, the rolling plan made `shiftSlots` slots ago
   * (src/optimise/warm.ts replanCarried): jobs keep their placement where it still fits.
   */
  planCarried?(problem: PlanningProblem, previous: Schedule, shiftSlots: number): Promise<Schedule>;
  /**
   * The problem's batteries alone, planned at its prices with `jobs` held as they are (the last
   * stage of a plan, src/optimise/battery-model.ts); undefined where no battery plan keeps import
   * within its limits. The backtest plans its jobs on prices with a capacity value added
   * (src/backtest/planner-prices.ts), which is no price a battery pays, then its batteries with this.
   */
  planBatteries?(
    problem: PlanningProblem,
    jobs: readonly JobSchedule[],
  ): Promise<readonly BatterySchedule[] | undefined>;
  /**
   * The least a battery's part of a bill can be over a run, its ties to the site dropped
   * (src/optimise/battery-model.ts batteryCostBound); undefined where the LP is not solved to
   * optimality. The backtest's proven bound adds it for a site with a battery (src/backtest/bound.ts).
   */
  batteryCostBound?(input: BatteryBoundInput): Promise<number | undefined>;
  /**
   * The same planner for work nobody waits on: its solves yield to every other solve of this
   * solver (the periodic fresh plan made beside a carried one; agents/flex/fleet-plan.ts).
   */
  background?(): Solver;
}

/** Which audit rows Store.auditTrail reads; each part narrows the rows (both: one transaction's rows after a seq). */
export interface AuditFilter {
  readonly transactionId?: string;
  readonly afterSeq?: number;
}

/**
 * What an agent reads and writes in its durable state. The Store offers these one call at a time
 * (each call its own transaction); a StoreTx offers them inside one transaction.
 */
export interface StoreOps {
  appendAudit(entry: AuditEntry): Promise<AuditRecord>;
  /**
   * The log in seq order: one transaction's rows, and/or only those after `afterSeq` (the last row a
   * reader has already seen, so it reads on from there; seq is the primary key).
   */
  auditTrail(filter?: AuditFilter): Promise<AuditRecord[]>;
  /** The newest signed chain head in the log (src/audit/heads.ts), or undefined. */
  latestHead(): Promise<SignedHead | undefined>;
  /**
   * Claims an inbound message key (e.g. `bap_id|message_id|action`). First claim returns
   * {first: true}; any later claim returns the outcome recorded by the first.
   */
  claimMessage(key: string, outcome: string): Promise<{ first: boolean; outcome: string }>;
  /** The outcome recorded for a claimed key, or undefined; reads only (the receiver's dedupe step, durable across restarts). */
  messageClaim(key: string): Promise<string | undefined>;
  saveOrder(order: Order): Promise<void>;
  getOrder(id: string): Promise<Order | undefined>;
  findOrderByTransaction(transactionId: string): Promise<Order | undefined>;
  listOrders(): Promise<Order[]>;
  /** Small named documents (latest plan, offers issued, …). */
  putDocument(kind: string, id: string, doc: unknown): Promise<void>;
  getDocument<T>(kind: string, id: string): Promise<T | undefined>;
  /** Owes a message to a peer; a second enqueue of the same id returns the first (created: false). */
  enqueueOutbox(message: OutboxInput): Promise<{ message: OutboxMessage; created: boolean }>;
  getOutbox(id: string): Promise<OutboxMessage | undefined>;
  listOutbox(filter?: OutboxFilter): Promise<OutboxMessage[]>;
  /**
   * Records a send the peer accepted; false if the message was already marked sent or dead. In a
   * StoreTx so the outbox can commit the marks of sends that ended close together at once.
   */
  markOutboxSent(id: string, result: { at: number; response?: unknown }): Promise<boolean>;
  /** Records a failed send: due again at retryAt, or dead (never sent again) on giveUp. */
  markOutboxFailed(id: string, failure: OutboxFailure): Promise<boolean>;
  saveCommitment(commitment: CommitmentKeys): Promise<void>;
  /** Ordered by windowStart, then orderId and site. */
  listCommitments<C extends CommitmentKeys = CommitmentKeys>(filter?: CommitmentFilter): Promise<C[]>;
  savePlan(plan: PlanKeys): Promise<void>;
  getPlan<P extends PlanKeys = PlanKeys>(id: string): Promise<P | undefined>;
  /** The plan with the greatest createdAt (then id). */
  latestPlan<P extends PlanKeys = PlanKeys>(): Promise<P | undefined>;
  saveDispatch(dispatch: DispatchKeys): Promise<void>;
  /** Ordered by at, then id. */
  listDispatches<D extends DispatchKeys = DispatchKeys>(filter?: DispatchFilter): Promise<D[]>;
  saveMeterReadings(readings: readonly MeterReading[]): Promise<void>;
  /** Ordered by slotStart. */
  meterReadings(filter: MeterFilter): Promise<MeterReading[]>;
}

/** One transaction's view of the store: everything in it commits together or not at all. */
export interface StoreTx extends StoreOps {
  /**
   * Serialises units of work on the same key (e.g. `order:<transaction_id>`) across connections and
   * processes until this transaction ends: read-check-write on one order is then race-free.
   */
  lock(key: string): Promise<void>;
}

/** Durable state and the append-only audit log of one agent. */
export interface Store extends StoreOps {
  /** Where the data lives (file path or connection string without secrets), for operators. */
  readonly location: string;
  /**
   * Runs fn in one transaction: it commits when fn resolves and rolls back (nothing written, no audit
   * seq used) when fn throws, rethrowing its error. Use only `tx` inside fn: calling the store itself
   * there is refused. Keep fn short and free of network calls (enqueue them in the outbox): SQLite
   * holds the file's write lock for its whole duration.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /**
   * From now on, sign chain heads with the owner's key (src/audit/heads.ts): after every settlement
   * and every order or commitment written (with the row's digest), and at least every settlement
   * period while records are written. Stores opened without it write no heads.
   */
  signHeadsWith?(signer: Signer, now?: () => number): void;
  /**
   * Hands due pending messages (nextAttemptAt ≤ now, no live lease) to one worker, oldest first:
   * counts the attempt and leases them for leaseMs. Workers in other processes get other messages.
   */
  claimOutbox(claim: OutboxClaim): Promise<OutboxMessage[]>;
  /**
   * Makes every leased pending message due again at once. For the store's only sender at start-up:
   * a sender killed mid-send leaves leases that would otherwise hold its messages back until they
   * run out. (Where several processes send, a second copy may go out; receivers dedupe by message_id.)
   */
  releaseOutboxLeases(): Promise<number>;
  close(): Promise<void>;
}

/** Signs with a subscriber's private key; the key itself never leaves the key store. */
export interface Signer {
  readonly subscriberId: string;
  readonly uniqueKeyId: string;
  readonly publicKeyBase64: string;
  sign(data: Uint8Array): Uint8Array;
}

export interface KeyStore {
  signer(subscriberId: string): Promise<Signer>;
}

export type SubscriberType = 'BAP' | 'BPP' | 'BG';
export type SubscriptionStatus =
  'INITIATED' | 'UNDER_SUBSCRIPTION' | 'SUBSCRIBED' | 'EXPIRED' | 'UNSUBSCRIBED' | 'INVALID_SSL';

/** A registry record (registry.yaml `Subscription`, with the deployed registry's `subscriber_url`). */
export interface Subscription {
  readonly subscriber_id: string;
  readonly subscriber_url: string;
  readonly type: SubscriberType;
  readonly domain: string;
  readonly unique_key_id: string;
  readonly signing_public_key: string;
  readonly valid_from: string;
  readonly valid_until: string;
  readonly status: SubscriptionStatus;
  /**
   * Which Beckn the subscriber speaks ("1.1.1", "2.0.0", …; absent: core 1.1.1). Not in registry.yaml's
   * Subscription: FlexLon's extension, so a buyer picks each BPP's version (src/beckn/v2/versions.ts).
   */
  readonly beckn_version?: string;
}

export interface LookupQuery {
  readonly subscriber_id?: string;
  readonly unique_key_id?: string;
  readonly type?: SubscriberType;
  readonly domain?: string;
}

export interface Registry {
  lookup(query: LookupQuery): Promise<Subscription[]>;
  subscribe(subscription: Subscription): Promise<void>;
  /**
   * Drops what a caching client holds for this query (and only for it), so the next such lookup asks
   * the registry (absent: nothing cached).
   */
  forget?(query: LookupQuery): void;
}
