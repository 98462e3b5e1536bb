// The tamper-evident audit log: every record carries the hash of the one before it, so changing,
// removing or reordering any record breaks every hash after it. Storage-agnostic: stores call
// `link` inside their append transaction and `verifyChain` reads the records back.
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.ts';

export const AUDIT_KINDS = [
  'beckn.in',
  'beckn.out',
  'beckn.rejected',
  'signal',
  'need',
  'plan',
  'offer',
  'order',
  'dispatch',
  'meter',
  'settlement',
  'agent',
  // Signed chain heads and state-table digests (src/audit/heads.ts).
  'head',
  'state',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export interface AuditEntry {
  readonly kind: AuditKind;
  /** Wall-clock time of the event (epoch ms). */
  readonly at: number;
  /** Which agent wrote it (its subscriber id). */
  readonly actor: string;
  readonly transactionId?: string;
  readonly messageId?: string;
  readonly orderId?: string;
  readonly payload: unknown;
}

export interface AuditRecord extends AuditEntry {
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

const hashOf = (seq: number, prevHash: string, entry: AuditEntry): string =>
  createHash('sha256')
    .update(prevHash)
    .update('\n')
    .update(
      canonicalJson({
        seq,
        kind: entry.kind,
        at: entry.at,
        actor: entry.actor,
        transactionId: entry.transactionId,
        messageId: entry.messageId,
        orderId: entry.orderId,
        payload: entry.payload,
      }),
    )
    .digest('hex');

/** The record that follows `prev` (or the genesis record when prev is undefined). */
export const link = (prev: Pick<AuditRecord, 'seq' | 'hash'> | undefined, entry: AuditEntry): AuditRecord => {
  const seq = prev ? prev.seq + 1 : 1;
  const prevHash = prev ? prev.hash : GENESIS_HASH;
  return { ...entry, seq, prevHash, hash: hashOf(seq, prevHash, entry) };
};

export type ChainVerdict =
  | { readonly ok: true; readonly records: number }
  | { readonly ok: false; readonly seq: number; readonly reason: string };

/** Checks a whole trail read back from storage, in order: sequence, links and hashes. */
export const verifyChain = (records: readonly AuditRecord[]): ChainVerdict => {
  let prev: AuditRecord | undefined;
  for (const r of records) {
    const expectedSeq = prev ? prev.seq + 1 : 1;
    if (r.seq !== expectedSeq)
      return { ok: false, seq: r.seq, reason: `gap: expected record ${expectedSeq}, found ${r.seq}` };
    const expectedPrev = prev ? prev.hash : GENESIS_HASH;
    if (r.prevHash !== expectedPrev)
      return { ok: false, seq: r.seq, reason: 'prevHash does not match the previous record' };
    if (hashOf(r.seq, r.prevHash, r) !== r.hash)
      return { ok: false, seq: r.seq, reason: 'hash does not match the record content (changed after writing)' };
    prev = r;
  }
  return { ok: true, records: records.length };
};
