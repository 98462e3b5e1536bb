// The ports: the only way agents reach the outside world. Each is a small interface; adapters in
// src/adapters/<name>/ implement them and src/compose.ts picks which. Asynchronous throughout, so a
// networked implementation (PostgreSQL, Slurm over ssh, a live API) fits the same shape.
import type { AuditEntry, AuditRecord } from './audit/chain.ts';
import type { Actuation, ComputeJob } from './domain/compute.ts';
import type { Order } from './domain/order.ts';
import type { PlanningProblem, Schedule } from './domain/planning.ts';
import type { SignalSeries } from './domain/signals.ts';
import type { EpochMs, SlotGrid } from './domain/time.ts';

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

/** A workload scheduler at one site (Slurm, Kubernetes, the simulated cluster). */
export interface Scheduler {
  readonly site: string;
  listJobs(): Promise<ComputeJob[]>;
  /** The job may not start before `until`. Fails (as a value) if it is already running or finished. */
  deferUntil(jobId: string, until: EpochMs): Promise<Actuation>;
  hold(jobId: string): Promise<Actuation>;
  release(jobId: string): Promise<Actuation>;
}

/** Site grid-import meter: average import (kW) per slot of `grid`; NaN where no reading exists yet. */
export interface Meter {
  readonly site: string;
  importKw(grid: SlotGrid): Promise<number[]>;
}

export interface Solver {
  readonly name: string;
  plan(problem: PlanningProblem): Promise<Schedule>;
}

/** Durable state and the append-only audit log of one agent. */
export interface Store {
  /** Where the data lives (file path or connection string without secrets), for operators. */
  readonly location: string;
  appendAudit(entry: AuditEntry): Promise<AuditRecord>;
  auditTrail(filter?: { transactionId?: string }): Promise<AuditRecord[]>;
  /**
   * Claims an inbound message key (e.g. `bap_id|message_id|action`). First claim returns
   * {first: true}; any later claim returns the outcome recorded by the first.
   */
  claimMessage(key: string, outcome: string): Promise<{ first: boolean; outcome: string }>;
  saveOrder(order: Order): Promise<void>;
  getOrder(id: string): Promise<Order | undefined>;
  findOrderByTransaction(transactionId: string): Promise<Order | undefined>;
  listOrders(): Promise<Order[]>;
  /** Small named documents (latest plan, offers issued, …). */
  putDocument(kind: string, id: string, doc: unknown): Promise<void>;
  getDocument<T>(kind: string, id: string): Promise<T | undefined>;
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
export type SubscriptionStatus = 'INITIATED' | 'UNDER_SUBSCRIPTION' | 'SUBSCRIBED' | 'EXPIRED' | 'UNSUBSCRIBED' | 'INVALID_SSL';

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
}
