// Where the receiver records what came in: the dedupe claim and the audit row of each message,
// durable before the ACK leaves. Two implementations:
//   * storeJournal (here): over the Store port, one claim and one audit append per message (two
//     commits); works with any Store.
//   * the SQLite group-commit journal (src/adapters/store-sqlite/journal.ts): many messages' claims
//     and audit rows per transaction, one fsync per batch, each ACK still only after its own row is
//     durable. That is what reaches the throughput target (docs/benchmarks.md).
import type { AuditEntry } from '../audit/chain.ts';
import type { Store } from '../ports.ts';

export interface Claimed {
  readonly first: boolean;
  /** The outcome recorded by the first claim of the key (this one, when `first`). */
  readonly outcome: string;
}

export interface InboundJournal {
  /** The outcome recorded for `key` by an earlier message, or undefined. Reads only. */
  seen(key: string): Promise<string | undefined>;
  /**
   * Claims `key` with `outcome` and appends `entry` in one durable step: when the promise resolves,
   * both are on disk. A key already claimed keeps its first outcome, and then the entry is written
   * with `payload.outcome` set to `duplicateOutcome` (a race between two copies of one message).
   */
  accept(key: string, outcome: string, entry: AuditEntry, duplicateOutcome: string): Promise<Claimed>;
  /** Appends an audit entry durably (rejections, duplicates). */
  append(entry: AuditEntry): Promise<void>;
}

/** The entry with its payload's `outcome` replaced (see InboundJournal.accept). */
export const asDuplicate = (entry: AuditEntry, outcome: string): AuditEntry => ({
  ...entry,
  payload: { ...(entry.payload as Record<string, unknown>), outcome },
});

/** Keys recently claimed through this journal, so `seen` needs no write; bounded, oldest dropped first. */
class RecentClaims {
  private readonly map = new Map<string, string>();
  constructor(private readonly max: number) {}
  get(key: string): string | undefined {
    return this.map.get(key);
  }
  set(key: string, outcome: string): void {
    this.map.set(key, outcome);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
}

/**
 * Over the Store port. `seen` answers from the claims this process made, else from the store, so a
 * duplicate is caught before its handler runs also after a restart, and also when the claim was
 * made in a store transaction (the BPP's TxWork, receiver.ts).
 */
export const storeJournal = (store: Store, rememberClaims = 100_000): InboundJournal => {
  const recent = new RecentClaims(rememberClaims);
  return {
    seen: async (key) => recent.get(key) ?? (await store.messageClaim(key)),
    async accept(key, outcome, entry, duplicateOutcome) {
      const claim = await store.claimMessage(key, outcome);
      recent.set(key, claim.outcome);
      await store.appendAudit(claim.first ? entry : asDuplicate(entry, duplicateOutcome));
      return claim;
    },
    async append(entry) {
      await store.appendAudit(entry);
    },
  };
};
