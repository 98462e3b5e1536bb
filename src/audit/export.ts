// Everything about one transaction, out of a participant's stores and checkable offline (issue 17):
// the transaction's records in order with their chain hashes, plus what it takes to check them
// without the database — each record's stretch of the chain up to the first signed head after it
// (records of other transactions in that stretch are included whole, marked `context`, since a
// hash can only be recomputed from the record itself), the heads, and the signers' public keys as
// the run's registry held them. `verifyExport` recomputes every hash, follows every link, checks
// each head's signature and that it vouches for the stretch, and names the first record at fault.
import { GENESIS_HASH, link, type AuditEntry, type AuditRecord } from './chain.ts';
import { HEAD_KIND, isSignedHead, verifyHead, type SignedHead } from './heads.ts';

export const EXPORT_VERSION = 'flexlon-audit-export/1';

export interface ExportedRecord extends AuditRecord {
  /** True for a record of another transaction, included only to link the chain to a head. */
  readonly context?: boolean;
}

export interface StoreExport {
  /** How the store was named (a file name or a schema). */
  readonly store: string;
  readonly records: readonly ExportedRecord[];
}

export interface AuditExport {
  readonly version: typeof EXPORT_VERSION;
  readonly transactionId: string;
  readonly exportedAt: string;
  /** `actor|keyId` → ed25519 public key (base64), as the run's registry held them at export. */
  readonly keys: Readonly<Record<string, string>>;
  readonly stores: readonly StoreExport[];
}

/** One store's part: the transaction's records, each with its chain up to the first head after it. */
export const exportStore = (
  store: string,
  trail: readonly AuditRecord[],
  transactionId: string,
): StoreExport | undefined => {
  const mine = trail.filter((r) => r.transactionId === transactionId);
  if (mine.length === 0) return undefined;
  const bySeq = new Map(trail.map((r, i) => [r.seq, i]));
  const keep = new Set<number>();
  for (const r of mine) {
    const from = bySeq.get(r.seq) as number;
    let i = from;
    // Up to and including the first head that vouches for this record (its signed seq ≥ the record's).
    for (; i < trail.length; i++) {
      const x = trail[i] as AuditRecord;
      keep.add(i);
      if (x.kind === HEAD_KIND && isSignedHead(x.payload) && x.payload.seq >= r.seq) break;
    }
  }
  const records = [...keep]
    .sort((a, b) => a - b)
    .map((i) => trail[i] as AuditRecord)
    .map((r) => (r.transactionId === transactionId ? r : { ...r, context: true }));
  return { store, records };
};

export type ExportVerdict =
  | { readonly ok: true; readonly records: number; readonly vouched: number; readonly unvouched: readonly string[] }
  | { readonly ok: false; readonly store: string; readonly seq: number; readonly reason: string };

const entryOf = (r: ExportedRecord): AuditEntry => ({
  kind: r.kind,
  at: r.at,
  actor: r.actor,
  ...(r.transactionId === undefined ? {} : { transactionId: r.transactionId }),
  ...(r.messageId === undefined ? {} : { messageId: r.messageId }),
  ...(r.orderId === undefined ? {} : { orderId: r.orderId }),
  payload: r.payload,
});

/** Checks an export on its own: hashes, links, heads and their signatures. */
export const verifyExport = (e: AuditExport): ExportVerdict => {
  if (e.version !== EXPORT_VERSION)
    return { ok: false, store: '', seq: 0, reason: `not a ${EXPORT_VERSION} export (version ${String(e.version)})` };
  let count = 0;
  let vouched = 0;
  const unvouched: string[] = [];
  for (const s of e.stores) {
    const vouchedTo = new Set<number>();
    let prev: ExportedRecord | undefined;
    for (const r of s.records) {
      const fail = (reason: string): ExportVerdict => ({ ok: false, store: s.store, seq: r.seq, reason });
      if (r.seq === 1 && r.prevHash !== GENESIS_HASH)
        return fail('the first record does not start from the genesis hash');
      const contiguous = prev !== undefined && r.seq === prev.seq + 1;
      if (contiguous && r.prevHash !== (prev as ExportedRecord).hash)
        return fail(`record ${r.seq} does not link to record ${(prev as ExportedRecord).seq} before it`);
      const again = link(r.seq === 1 ? undefined : { seq: r.seq - 1, hash: r.prevHash }, entryOf(r));
      if (again.hash !== r.hash)
        return fail(`record ${r.seq} does not hash to its stated hash: its content was changed`);
      if (r.kind === HEAD_KIND) {
        const h = r.payload as SignedHead;
        if (!isSignedHead(h)) return fail(`head record ${r.seq} holds no signed head`);
        const key = e.keys[`${h.actor}|${h.keyId}`];
        if (key === undefined) return fail(`no public key in the export for ${h.actor} ${h.keyId}`);
        if (!verifyHead(h, key)) return fail(`the head in record ${r.seq} does not verify under ${h.actor}'s key`);
        const target = s.records.find((x) => x.seq === h.seq);
        if (!target || target.hash !== h.hash)
          return fail(`the head in record ${r.seq} vouches for record ${h.seq} with another hash`);
        // Every record from the head's target back along the unbroken stretch is vouched for.
        for (let i = s.records.indexOf(target); i >= 0; i--) {
          const x = s.records[i] as ExportedRecord;
          vouchedTo.add(x.seq);
          const before = s.records[i - 1];
          if (!before || before.seq !== x.seq - 1) break;
        }
      }
      prev = r;
    }
    for (const r of s.records) {
      if (r.context) continue;
      count++;
      if (vouchedTo.has(r.seq)) vouched++;
      else unvouched.push(`${s.store} record ${r.seq}`);
    }
  }
  return { ok: true, records: count, vouched, unvouched };
};

const csvCell = (v: unknown): string => {
  const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The export as CSV for people: one row per record, the payload as JSON in its last column. */
export const exportCsv = (e: AuditExport): string =>
  [
    'store,seq,kind,at_utc,actor,transaction_id,message_id,order_id,in_transaction,prev_hash,hash,payload_json',
    ...e.stores.flatMap((s) =>
      s.records.map((r) =>
        [
          s.store,
          r.seq,
          r.kind,
          new Date(r.at).toISOString(),
          r.actor,
          r.transactionId,
          r.messageId,
          r.orderId,
          r.context ? 'no' : 'yes',
          r.prevHash,
          r.hash,
          JSON.stringify(r.payload),
        ]
          .map(csvCell)
          .join(','),
      ),
    ),
  ].join('\n') + '\n';
