// The shapes of what a Store keeps besides orders, documents and the audit log: the outbox of
// messages owed to peers, and the BPP's typed records (commitments, plans, dispatches, meter
// readings). Each record names the fields the store indexes; anything else a caller adds is kept
// as JSON and handed back (values come back as JSON.parse(JSON.stringify(value)), as everywhere).
import type { OrderState } from '../domain/order.ts';
import type { EpochMs } from '../domain/time.ts';

// ── Outbox ──────────────────────────────────────────────────────────────────────────────────────
// A message owed to a peer (a Beckn callback, a dispatch to an agent) is enqueued in the same
// transaction as the effect that owes it, and sent by a worker after commit. So a crash can delay a
// message but never lose it; it can repeat one (sent, then killed before it was marked sent), which
// is why every message carries a stable id the receiver deduplicates on (Beckn: message_id).

export type OutboxStatus = 'pending' | 'sent' | 'dead';

export interface OutboxInput {
  /** Stable and unique per message owed (e.g. `on_confirm|<message_id>`); enqueueing it again is a no-op. */
  readonly id: string;
  /** Where it goes (the peer's registered URL plus path). */
  readonly destination: string;
  /** What it is (`on_select`, `dispatch`, …): for operators and metrics. */
  readonly action: string;
  readonly transactionId?: string;
  readonly messageId?: string;
  readonly orderId?: string;
  /** The message itself, as JSON. */
  readonly body: unknown;
  /** Wall-clock time of the enqueue (epoch ms). */
  readonly createdAt: number;
  /** Not to be sent before this time (epoch ms); defaults to createdAt. */
  readonly notBefore?: number;
}

export interface OutboxMessage extends Omit<OutboxInput, 'notBefore'> {
  /** Enqueue order, increasing; due messages are handed out oldest first. */
  readonly seq: number;
  readonly status: OutboxStatus;
  /** Send attempts started (counted when a worker claims the message). */
  readonly attempts: number;
  /** When the message is next due (epoch ms). */
  readonly nextAttemptAt: number;
  /** A worker holds the message until then; after it, another may claim it (the first one died). */
  readonly leaseUntil?: number;
  readonly lastError?: string;
  readonly sentAt?: number;
  /** The peer's answer to the send that succeeded (e.g. its ACK body). */
  readonly response?: unknown;
}

export interface OutboxClaim {
  /** Wall-clock time now (epoch ms). */
  readonly now: number;
  /** How long the claiming worker may take to send before another worker may try (ms). */
  readonly leaseMs: number;
  readonly limit: number;
}

export type OutboxFailure =
  { readonly error: string; readonly retryAt: number } | { readonly error: string; readonly giveUp: true };

export interface OutboxFilter {
  readonly status?: OutboxStatus;
  readonly transactionId?: string;
}

// ── Typed BPP records ───────────────────────────────────────────────────────────────────────────

/**
 * An order's promise at one site (a commitment split across sites is one record per site).
 * Stored by (orderId, site); saving again replaces it.
 */
export interface CommitmentKeys {
  readonly orderId: string;
  readonly site: string;
  readonly windowStart: EpochMs;
  readonly windowEnd: EpochMs;
}

export interface CommitmentFilter {
  readonly orderId?: string;
  readonly site?: string;
  /** Only commitments whose window ends after this time (still to be delivered or in progress). */
  readonly endsAfter?: EpochMs;
  /** Only commitments whose order is in one of these states (e.g. confirmed, active). */
  readonly orderStates?: readonly OrderState[];
}

/** One solve of the fleet plan. Plans are immutable: saving an id again with other content is refused. */
export interface PlanKeys {
  readonly id: string;
  /** Wall-clock time the plan was made (epoch ms); the latest plan is the one made last. */
  readonly createdAt: number;
  readonly horizonStart: EpochMs;
  /** The solver's status (optimal, feasible, infeasible, …). */
  readonly status: string;
}

/** Instructions sent to one site. Stored by id; saving again replaces it (e.g. to add the results). */
export interface DispatchKeys {
  readonly id: string;
  readonly site: string;
  /** Wall-clock time of the dispatch (epoch ms). */
  readonly at: number;
  readonly planId?: string;
  readonly orderId?: string;
}

export interface DispatchFilter {
  readonly site?: string;
  readonly planId?: string;
  readonly orderId?: string;
}

/** Average grid import at a site over one slot. Stored by (site, slotStart); a later reading replaces it. */
export interface MeterReading {
  readonly site: string;
  readonly slotStart: EpochMs;
  readonly slotMinutes: number;
  readonly importKw: number;
  /** Wall-clock time the reading was taken (epoch ms). */
  readonly readAt: number;
  /** Which meter (e.g. `sim`, `prometheus:dcgm`). */
  readonly source?: string;
}

export interface MeterFilter {
  readonly site: string;
  /** Slots starting at or after this time. */
  readonly from?: EpochMs;
  /** Slots starting before this time. */
  readonly to?: EpochMs;
}
