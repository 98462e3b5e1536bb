// Sending what the outbox owes: claim the due messages, send them, record the peer's answer or
// when to try again. Storage-agnostic (only the Store port). An agent calls drainOutbox on start-up
// (everything owed before a crash goes out) and then on a timer or after each commit.
//
// Delivery is at least once: a process killed after the peer accepted a message but before it was
// marked sent will send it again once the lease ends. Receivers deduplicate on the message id
// (Beckn message_id), which is what makes the effect happen exactly once.
//
// Sends run concurrently (issue 14: one at a time, each an HTTP round trip plus its commits, the loop
// delivered about 55 callbacks a second). Three bounds keep that safe:
//   - at most `concurrency` sends in flight (default 32), claimed in chunks as the pool empties, so
//     a claimed message waits for a slot for about one send, well inside its lease;
//   - at most `perDestination(destination)` in flight to one destination (default half the pool for a
//     peer's URL), so a dead or silent buyer, whose sends each take until the ttl, holds at most half
//     the slots and every other buyer is still served; work for this process itself (a destination
//     that is not an http(s) URL, e.g. the BPP's offers task) runs one at a time, as before: each
//     task prices against the offers the one before it holds;
//   - messages of one transaction to one destination go one at a time, in claim order (oldest
//     first), so a buyer never gets an on_status before the on_confirm it follows.
//
// The marks (sent, or failed and when to retry) of sends that end close together commit in one store
// transaction (issue 14: one commit per callback, an fsync each on SQLite, took half the loop's CPU).
// A mark waits at most `markDelayMs` (default 2 ms) for others, and not at all once every send in
// flight has ended and waits for its mark. A send keeps its slot (and its transaction stays busy)
// until its mark is committed, so the bounds above and the order within a transaction still hold for
// what is durably recorded. If a group's commit fails, none of its marks is recorded: those messages
// stay owed and go out again when their lease ends (at least once, as after a crash between a send
// and its mark), and the drain stops as for any failed mark.
import { FlexError } from '../errors.ts';
import type { Store } from '../ports.ts';
import type { OutboxFailure, OutboxMessage } from './records.ts';

export interface RetryPolicy {
  /** Wait after the first failure (ms); each later failure doubles it. */
  readonly firstDelayMs: number;
  /** The longest wait between attempts (ms). */
  readonly maxDelayMs: number;
  /** Attempts after which a message is given up (marked dead, for an operator to look at). */
  readonly maxAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { firstDelayMs: 1_000, maxDelayMs: 300_000, maxAttempts: 10 };

/** Sends in flight at once in one drain. */
export const DEFAULT_CONCURRENCY = 32;

/** How long a finished send's mark waits for others to commit with (ms): see the file's head. */
export const DEFAULT_MARK_DELAY_MS = 2;

/** Messages one drain claims at most (in chunks of `concurrency`). */
export const DEFAULT_BATCH = 256;

/** How many sends may be in flight to one destination by default: see the file's head. */
export const defaultPerDestination =
  (concurrency: number) =>
  (destination: string): number =>
    /^https?:\/\//i.test(destination) ? Math.max(1, Math.floor(concurrency / 2)) : 1;

/** When a message whose attempt number `attempts` just failed is due again; undefined to give up. */
export const nextAttemptAt = (policy: RetryPolicy, attempts: number, now: number): number | undefined =>
  attempts >= policy.maxAttempts
    ? undefined
    : now + Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.max(0, attempts - 1));

/**
 * Sends one message and resolves with the peer's answer (JSON), or throws. Throwing a FlexError
 * with code FLX_PEER_NACK or FLX_REQ_EXPIRED gives the message up at once: the peer refused the
 * message itself, or it is past its ttl (a Beckn callback is due within its request's ttl), so
 * sending the same bytes again cannot help. Any other error is retried.
 */
export type OutboxSend = (message: OutboxMessage) => Promise<unknown>;

export interface DrainOptions {
  /** Wall-clock time (epoch ms). */
  readonly now: () => number;
  /** How long a send may take before another worker may claim the message again (default 60 s). */
  readonly leaseMs?: number;
  /** At most this many messages per call (default DEFAULT_BATCH). */
  readonly batch?: number;
  readonly policy?: RetryPolicy;
  /** At most this many sends in flight (default DEFAULT_CONCURRENCY; 1 sends one at a time). */
  readonly concurrency?: number;
  /** At most this many sends in flight to one destination (default defaultPerDestination). */
  readonly perDestination?: (destination: string) => number;
  /** How long a mark may wait to commit together with others (default DEFAULT_MARK_DELAY_MS; 0: the same turn only). */
  readonly markDelayMs?: number;
}

export interface DrainResult {
  /** Each list in claim order (oldest first), whatever order the sends ended in. */
  readonly sent: string[];
  readonly retrying: string[];
  readonly dead: string[];
}

type Outcome = 'sent' | 'retrying' | 'dead';

/** A send's outcome as it is to be recorded. */
type Mark =
  | { readonly id: string; readonly sent: { at: number; response?: unknown } }
  | { readonly id: string; readonly failed: OutboxFailure };

/** Sends one claimed message; resolves with the mark to record (never rejects). */
const sendOne = async (
  send: OutboxSend,
  message: OutboxMessage,
  policy: RetryPolicy,
  now: () => number,
): Promise<{ outcome: Outcome; mark: Mark }> => {
  let response: unknown;
  try {
    response = await send(message);
  } catch (e) {
    const error = e instanceof FlexError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    const final = e instanceof FlexError && (e.code === 'FLX_PEER_NACK' || e.code === 'FLX_REQ_EXPIRED');
    const retryAt = final ? undefined : nextAttemptAt(policy, message.attempts, now());
    return retryAt === undefined
      ? { outcome: 'dead', mark: { id: message.id, failed: { error, giveUp: true } } }
      : { outcome: 'retrying', mark: { id: message.id, failed: { error, retryAt } } };
  }
  return {
    outcome: 'sent',
    mark: { id: message.id, sent: { at: now(), ...(response === undefined ? {} : { response }) } },
  };
};

/**
 * Group commit of marks: `add` resolves once the mark is committed, or rejects with the error of
 * the transaction that held it (then none of that group's marks is recorded). One commit at a time;
 * marks added meanwhile form the next group.
 */
const markGroups = (store: Store, delayMs: number, allWaiting: () => boolean) => {
  let group: { mark: Mark; done: (e?: unknown) => void }[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let committing: Promise<void> | undefined;

  const commit = async (): Promise<void> => {
    const these = group;
    group = [];
    try {
      // One statement at a time: a transaction handle must not have calls running when it commits.
      await store.transaction(async (tx) => {
        for (const { mark } of these)
          if ('sent' in mark) await tx.markOutboxSent(mark.id, mark.sent);
          else await tx.markOutboxFailed(mark.id, mark.failed);
      });
      for (const m of these) m.done();
    } catch (e) {
      for (const m of these) m.done(e);
    }
  };
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (committing !== undefined || group.length === 0) return;
    committing = commit().finally(() => {
      committing = undefined;
      // What came in during that commit goes next, without waiting again: it has waited already.
      flush();
    });
  };
  return (mark: Mark): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      group.push({ mark, done: (e) => (e === undefined ? resolve() : reject(e)) });
      if (committing !== undefined) return;
      if (allWaiting()) flush();
      else timer ??= setTimeout(flush, delayMs);
    });
};

/**
 * Claims the due messages (oldest first) and sends them, up to `concurrency` at once within the
 * bounds above; resolves once every message it claimed is marked. If marking fails (the store is
 * down), no further send starts, the ones in flight end, and the first error is thrown; what was
 * claimed and not sent stays owed (due again when its lease ends).
 */
export const drainOutbox = async (store: Store, send: OutboxSend, o: DrainOptions): Promise<DrainResult> => {
  const policy = o.policy ?? DEFAULT_RETRY;
  const limit = o.batch ?? DEFAULT_BATCH;
  const concurrency = Math.max(1, Math.floor(o.concurrency ?? DEFAULT_CONCURRENCY));
  const capOf = o.perDestination ?? defaultPerDestination(concurrency);
  const leaseMs = o.leaseMs ?? 60_000;
  const markDelayMs = Math.max(0, o.markDelayMs ?? DEFAULT_MARK_DELAY_MS);

  const order: string[] = [];
  const outcomes = new Map<string, Outcome>();
  const waiting: OutboxMessage[] = [];
  const perDestination = new Map<string, number>();
  const busyTransactions = new Set<string>();
  const active = new Set<Promise<void>>();
  let claimed = 0;
  let exhausted = false;
  let failure: { error: unknown } | undefined;
  /** Sends that ended and wait for their mark's commit. */
  let marking = 0;
  const mark = markGroups(store, markDelayMs, () => marking >= active.size);

  const claimMore = async (): Promise<void> => {
    const want = Math.min(limit - claimed, concurrency);
    const got = want > 0 ? await store.claimOutbox({ now: o.now(), leaseMs, limit: want }) : [];
    claimed += got.length;
    if (got.length < want || claimed >= limit) exhausted = true;
    for (const m of got) {
      order.push(m.id);
      waiting.push(m);
    }
  };
  const transactionKey = (m: OutboxMessage): string | undefined =>
    m.transactionId === undefined ? undefined : `${m.destination}\u0000${m.transactionId}`;

  const start = (m: OutboxMessage): void => {
    const tx = transactionKey(m);
    perDestination.set(m.destination, (perDestination.get(m.destination) ?? 0) + 1);
    if (tx !== undefined) busyTransactions.add(tx);
    const task: Promise<void> = sendOne(send, m, policy, o.now)
      .then(async ({ outcome, mark: recorded }) => {
        marking++;
        try {
          await mark(recorded);
        } finally {
          marking--;
        }
        outcomes.set(m.id, outcome);
      })
      .catch((error: unknown) => void (failure ??= { error }))
      .finally(() => {
        active.delete(task);
        perDestination.set(m.destination, (perDestination.get(m.destination) ?? 1) - 1);
        if (tx !== undefined) busyTransactions.delete(tx);
      });
    active.add(task);
  };

  /** Starts every waiting message that may start now, oldest first. */
  const startWhatMay = (): void => {
    // A transaction whose older message is waiting (or in flight) is passed over: order within it holds.
    const passedOver = new Set<string>();
    for (let i = 0; i < waiting.length && active.size < concurrency;) {
      const m = waiting[i] as OutboxMessage;
      const tx = transactionKey(m);
      const free =
        (perDestination.get(m.destination) ?? 0) < Math.max(1, capOf(m.destination)) &&
        (tx === undefined || (!busyTransactions.has(tx) && !passedOver.has(tx)));
      if (!free) {
        if (tx !== undefined) passedOver.add(tx);
        i++;
        continue;
      }
      waiting.splice(i, 1);
      start(m);
    }
  };

  const claimNext = async (): Promise<void> => {
    try {
      await claimMore();
    } catch (error) {
      failure ??= { error };
    }
  };
  await claimNext();
  while (failure === undefined) {
    startWhatMay();
    // A slot is free and nothing waiting may take it (what waits is held back by its destination's
    // cap or its transaction): claim the next chunk, so a backlog to one buyer does not keep the
    // others waiting. A chunk is up to `concurrency` messages, one claim commit for them all.
    if (!exhausted && active.size < concurrency) {
      await claimNext();
      continue;
    }
    if (active.size === 0) break;
    await Promise.race(active);
  }
  await Promise.all(active);
  if (failure !== undefined) throw failure.error;

  const result: DrainResult = { sent: [], retrying: [], dead: [] };
  for (const id of order) {
    const outcome = outcomes.get(id);
    if (outcome !== undefined) result[outcome].push(id);
  }
  return result;
};
