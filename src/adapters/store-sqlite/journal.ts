// Group commit for the Beckn receiver (InboundJournal, src/beckn/journal.ts) on a FlexLon SQLite
// store file. With synchronous=FULL every commit is an fsync, and an ACK may only leave once its
// message's claim and audit row are durable; one commit per message caps a receiver near the disk's
// fsync rate. Here every claim and audit append queued during one turn of the event loop goes into
// one IMMEDIATE transaction — one fsync for the batch — and each caller's promise resolves only after
// that commit. A batch that fails is committed again message by message, so one bad entry fails alone.
// A full disk or an I/O error fails the whole batch at once as FLX_STORE_UNAVAILABLE, as the Store
// itself does (conn.ts, sqliteCall): nothing was written, the receiver answers 503, and the peer's
// retry succeeds once space is freed (issue 14: disk full on the SQLite directory).
//
// It uses its own connection to the store's file (WAL allows it; the audit append links to the head
// inside the IMMEDIATE transaction, so appends from this connection and the Store's own interleave
// into one chain). It adds nothing to the Store port: the tables and statements are the store's own.
import { resolve } from 'node:path';
import type { AuditEntry } from '../../audit/chain.ts';
import { FlexError } from '../../errors.ts';
import { asDuplicate, type Claimed, type InboundJournal } from '../../beckn/journal.ts';
import { auditTable, claimsTable } from './journal-tables.ts';
import { isBusy, isDiskFault } from './conn.ts';
import { BUSY_TIMEOUT_MS, openDatabase } from './schema.ts';

interface Job {
  readonly run: () => unknown;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

export interface SqliteJournal extends InboundJournal {
  /** Commits still queued, then closes the connection. */
  close(): Promise<void>;
  /** Batches committed and messages in them so far (for benchmarks and operators). */
  stats(): { readonly batches: number; readonly entries: number };
}

export const openSqliteJournal = async (
  path: string,
  options: { readonly actor?: string; readonly maxBatch?: number } = {},
): Promise<SqliteJournal> => {
  const file = resolve(path);
  const db = await openDatabase(file, options.actor ?? 'flexlon');
  // Never sleep in SQLite's busy handler: this connection runs on the event-loop thread, and the
  // Store on the same file may be holding the write lock across awaits (src/adapters/store-sqlite/
  // index.ts), which it can only release if the event loop keeps turning. A busy batch is retried
  // on a timer instead, up to BUSY_TIMEOUT_MS.
  db.pragma('busy_timeout = 0');
  const audit = auditTable(db, file);
  const claims = claimsTable(db);
  const peek = db.prepare<[string], { outcome: string }>('SELECT outcome FROM message_claims WHERE key = ?');
  const maxBatch = options.maxBatch ?? 512;
  type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
  // A batch is committed whole. Only if that fails (an entry that cannot be stored — rare: inbound
  // rows hold strings) is it committed again with a savepoint per message, so the bad one fails alone.
  const whole = db.transaction((batch: Job[]): Outcome[] => batch.map((j) => ({ ok: true, value: j.run() })));
  const inSavepoint = db.transaction((run: () => unknown) => run());
  const oneByOne = db.transaction((batch: Job[]): Outcome[] =>
    batch.map((j) => {
      try {
        return { ok: true, value: inSavepoint(j.run) };
      } catch (error) {
        return { ok: false, error };
      }
    }),
  );
  /** What a caller sees of a failed commit: a disk fault is the store being unavailable, not a bug. */
  const reported = (error: unknown): unknown =>
    isDiskFault(error)
      ? new FlexError(
          'FLX_STORE_UNAVAILABLE',
          `the SQLite store ${file} could not write: ${(error as { code: string }).code} (${(error as Error).message}); free space on its disk or check the device, then retry`,
          { cause: error },
        )
      : error;
  let queue: Job[] = [];
  let scheduled = false;
  let busySince: number | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let batches = 0;
  let entries = 0;

  const flush = (): void => {
    scheduled = false;
    // While another writer holds the lock, the retry timer owns the next attempt.
    if (retryTimer !== undefined) return;
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    if (queue.length > 0) schedule();
    if (!db.open) {
      for (const j of batch) j.reject(new FlexError('FLX_INTERNAL', `the SQLite store ${file} is closed`));
      return;
    }
    let outcomes: Outcome[];
    try {
      outcomes = whole.immediate(batch);
    } catch (first) {
      if (isBusy(first)) return retryLater(batch);
      // The disk, not an entry: committing them one by one would fail the same way, an fsync each.
      if (isDiskFault(first)) {
        for (const j of batch) j.reject(reported(first));
        return;
      }
      try {
        outcomes = oneByOne.immediate(batch);
      } catch (error) {
        if (isBusy(error)) return retryLater(batch);
        for (const j of batch) j.reject(reported(error));
        return;
      }
    }
    busySince = undefined;
    batches++;
    entries += batch.length;
    batch.forEach((j, k) => {
      const o = outcomes[k];
      if (o?.ok) j.resolve(o.value);
      else j.reject(reported(o?.error));
    });
  };

  /** Another connection holds the write lock: put the batch back and try again shortly. */
  function retryLater(batch: Job[]): void {
    const now = Date.now();
    busySince ??= now;
    if (now - busySince > BUSY_TIMEOUT_MS) {
      busySince = undefined;
      const error = new FlexError(
        'FLX_STORE_UNAVAILABLE',
        `the SQLite store ${file} stayed locked by another writer for more than ${BUSY_TIMEOUT_MS} ms`,
      );
      for (const j of batch) j.reject(error);
      return;
    }
    queue = [...batch, ...queue];
    retryTimer ??= setTimeout(() => {
      retryTimer = undefined;
      flush();
    }, 2);
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    // setImmediate runs after this turn's I/O callbacks: every request parsed in this turn joins the batch.
    setImmediate(flush);
  }

  const enqueue = <T>(run: () => T): Promise<T> =>
    new Promise<T>((res, rej) => {
      queue.push({ run, resolve: res as (v: unknown) => void, reject: rej });
      schedule();
    });

  return {
    seen: async (key) => peek.get(key)?.outcome,
    accept: (key, outcome, entry, duplicateOutcome) =>
      enqueue((): Claimed => {
        const claim = claims.claim(key, outcome);
        audit.append(claim.first ? entry : asDuplicate(entry, duplicateOutcome));
        return claim;
      }),
    append: (entry: AuditEntry) =>
      enqueue(() => {
        audit.append(entry);
      }),
    async close() {
      while (queue.length > 0) {
        flush();
        if (queue.length > 0) await new Promise((r) => setTimeout(r, 5));
      }
      if (retryTimer) clearTimeout(retryTimer);
      if (db.open) db.close();
    },
    stats: () => ({ batches, entries }),
  };
};
