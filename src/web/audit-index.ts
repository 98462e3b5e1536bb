// What the dashboard's views need from the whole audit log, read once and shared (issue 19): the
// chain and head verification, a summary per Beckn transaction, the latest plans' rows (late jobs,
// each site's dispatch) and the settlement statements. The log is read again only when it has moved
// on — a new plan or a new signed head (both one indexed row: Store.latestPlan, Store.latestHead) —
// or the snapshot is older than MAX_AGE_MS; one read at a time, whoever asks. A request never reads
// the log itself: one transaction's rows come from the store's indexed query (auditTrail with
// transactionId). The first read takes in the whole log and verifies it; a later one reads only the
// rows after the last one seen (auditTrail with afterSeq) and verifies the chain onward from its
// hash, and the whole log is read and verified again every FULL_VERIFY_MS, or at once when the new
// rows do not verify (docs/dashboard.md, "Reading the audit log").
import { link, verifyChain, type AuditRecord, type ChainVerdict } from '../audit/chain.ts';
import { HEAD_KIND, verifyHeads, type HeadKeys, type HeadVerdict } from '../audit/heads.ts';
import type { Store } from '../ports.ts';
import type { SettlementSummary } from '../settlement/delivered.ts';

/** A snapshot older than this is rebuilt even if no plan or head moved (stores that sign no heads). */
export const MAX_AGE_MS = 30_000;
/**
 * The whole log is read and verified again at least this often (wall clock): reading on from the
 * last row checks that the new rows link to it, not that the rows before were left alone, which
 * only a whole read shows (a rewrite re-hashed to the end, or by someone who can sign heads, shows
 * only against a head the counterparty holds: `flexlon audit`).
 */
export const FULL_VERIFY_MS = 10 * 60_000;
/** Plans whose rows (plan, dispatch) are kept: a site's dispatch may come from a plan before the latest. */
const PLANS_KEPT = 16;

export interface TransactionSummary {
  readonly transactionId: string;
  readonly firstSeq: number;
  readonly firstAt: number;
  readonly lastAt: number;
  /** Beckn messages (kinds beckn.*) in the log. */
  readonly messages: number;
  readonly lastAction: string | null;
}

/** A plan's audit row and the dispatch rows that name it. */
export interface PlanRows {
  readonly seq: number;
  readonly payload: Record<string, unknown>;
  readonly dispatches: readonly Record<string, unknown>[];
}

export interface AuditSnapshot {
  /** Latest plan id and signed head seq when it was read. */
  readonly key: string;
  /** Wall-clock ms when it was read. */
  readonly readAt: number;
  /** Wall-clock ms when the whole log was last read and verified (the rows since, onward from it). */
  readonly fullyVerifiedAt: number;
  readonly records: number;
  readonly chain: ChainVerdict;
  readonly heads: HeadVerdict | null;
  /** Newest first (by the seq of their first row). */
  readonly transactions: readonly TransactionSummary[];
  /** The last PLANS_KEPT plans by id, newest last. */
  readonly plans: ReadonlyMap<string, PlanRows>;
  /** Every settlement row, oldest first. */
  readonly settlements: readonly AuditRecord[];
}

/** The settlement summary a settlement record carries: the BPP's at the top, the buyer's under `settlement`. */
export const summaryOf = (r: AuditRecord): SettlementSummary | undefined => {
  const p = r.payload as (Partial<SettlementSummary> & { settlement?: Partial<SettlementSummary> }) | null;
  const s = Array.isArray(p?.periods) ? p : Array.isArray(p?.settlement?.periods) ? p?.settlement : undefined;
  return s as SettlementSummary | undefined;
};

export const actionOf = (r: AuditRecord): string => {
  const p = r.payload as { action?: unknown } | null;
  return typeof p?.action === 'string' ? p.action : r.kind;
};

/** The log as taken in so far: up to `last`, verified, with the running summary. */
interface Followed {
  last: AuditRecord | undefined;
  records: number;
  chain: ChainVerdict;
  heads: HeadVerdict | null;
  /** Wall-clock ms of the last whole-log verification. */
  fullAt: number;
  readonly byTx: Map<
    string,
    { firstSeq: number; firstAt: number; lastAt: number; messages: number; last: string | null }
  >;
  readonly plans: Map<string, PlanRows>;
  readonly settlements: AuditRecord[];
}

/** Adds rows (in seq order, after f.last) to the running summary. */
const takeIn = (f: Followed, rows: readonly AuditRecord[]): void => {
  for (const r of rows) {
    if (r.transactionId !== undefined) {
      const t = f.byTx.get(r.transactionId) ?? {
        firstSeq: r.seq,
        firstAt: r.at,
        lastAt: r.at,
        messages: 0,
        last: null,
      };
      t.lastAt = r.at;
      if (r.kind.startsWith('beckn')) {
        t.messages++;
        t.last = actionOf(r);
      }
      f.byTx.set(r.transactionId, t);
    }
    const p = r.payload as Record<string, unknown> | null;
    if (r.kind === 'plan' && typeof p?.planId === 'string') {
      f.plans.set(p.planId, { seq: r.seq, payload: p, dispatches: [] });
      if (f.plans.size > PLANS_KEPT) f.plans.delete(f.plans.keys().next().value as string);
    } else if (r.kind === 'dispatch' && typeof p?.planId === 'string') {
      const plan = f.plans.get(p.planId);
      if (plan) f.plans.set(p.planId, { ...plan, dispatches: [...plan.dispatches, p] });
    } else if (r.kind === 'settlement') f.settlements.push(r);
  }
  f.last = rows.at(-1) ?? f.last;
  f.records += rows.length;
};

/** The whole log, verified and summarised. */
const followAll = (all: readonly AuditRecord[], headKeys: HeadKeys): Followed => {
  const chain = verifyChain(all);
  const f: Followed = {
    last: undefined,
    records: 0,
    chain,
    heads: chain.ok ? verifyHeads(all, headKeys) : null,
    fullAt: Date.now(),
    byTx: new Map(),
    plans: new Map(),
    settlements: [],
  };
  takeIn(f, all);
  return f;
};

/**
 * verifyChain's checks (src/audit/chain.ts) from a record already verified instead of from genesis:
 * each row must be the one `link` makes after the row before it (seq, prevHash and hash).
 */
export const verifyOnward = (
  from: AuditRecord | undefined,
  rows: readonly AuditRecord[],
  before: number,
): ChainVerdict => {
  let prev: Pick<AuditRecord, 'seq' | 'hash'> | undefined = from;
  for (const r of rows) {
    const expected = link(prev, r);
    if (r.seq !== expected.seq)
      return { ok: false, seq: r.seq, reason: `gap: expected record ${expected.seq}, found ${r.seq}` };
    if (r.prevHash !== expected.prevHash)
      return { ok: false, seq: r.seq, reason: 'prevHash does not match the previous record' };
    if (r.hash !== expected.hash)
      return { ok: false, seq: r.seq, reason: 'hash does not match the record content (changed after writing)' };
    prev = r;
  }
  return { ok: true, records: before + rows.length };
};

/**
 * verifyHeads over the new rows, added to the verdict so far. A head vouches for the record just
 * before it (src/store/sql/ops.ts appendHeaded and signLatest write it in the same transaction), so
 * the last row already seen is all the context a new head needs; a head there was counted already
 * and vouches for nothing new, so it is left out.
 */
const headsOnward = (
  sofar: HeadVerdict & { ok: true },
  last: AuditRecord | undefined,
  rows: readonly AuditRecord[],
  headKeys: HeadKeys,
): HeadVerdict => {
  const v = verifyHeads(last && last.kind !== HEAD_KIND ? [last, ...rows] : rows, headKeys);
  if (!v.ok) return v;
  return {
    ok: true,
    heads: sofar.heads + v.heads,
    vouchedTo: Math.max(sofar.vouchedTo, v.vouchedTo),
    unchecked: sofar.unchecked + v.unchecked,
  };
};

/** What the views get: copies of the running summary, which the next read goes on changing. */
const snapshotOf = (key: string, f: Followed): AuditSnapshot => ({
  key,
  readAt: Date.now(),
  fullyVerifiedAt: f.fullAt,
  records: f.records,
  chain: f.chain,
  heads: f.heads,
  transactions: [...f.byTx]
    .map(([transactionId, t]) => ({
      transactionId,
      firstSeq: t.firstSeq,
      firstAt: t.firstAt,
      lastAt: t.lastAt,
      messages: t.messages,
      lastAction: t.last,
    }))
    .reverse(),
  plans: new Map(f.plans),
  settlements: [...f.settlements],
});

export class AuditIndex {
  #snapshot: AuditSnapshot | undefined;
  #reading: Promise<AuditSnapshot> | undefined;
  #readingKey = '';
  #followed: Followed | undefined;
  /** Reads of the log so far (onward or whole; the tests check requests do not add to them). */
  reads = 0;
  /** Of them, reads of the whole log. */
  fullReads = 0;
  /** Rows read, all reads together. */
  rowsRead = 0;

  constructor(
    private readonly store: Pick<Store, 'auditTrail' | 'latestPlan' | 'latestHead'>,
    private readonly headKeys: HeadKeys,
    private readonly maxAgeMs = MAX_AGE_MS,
    private readonly fullVerifyMs = FULL_VERIFY_MS,
  ) {}

  /** The snapshot as of the latest plan and signed head, read again only if either moved on. */
  async current(): Promise<AuditSnapshot> {
    const [plan, head] = await Promise.all([this.store.latestPlan(), this.store.latestHead()]);
    const key = `${plan?.id ?? ''}|${head?.seq ?? 0}`;
    const s = this.#snapshot;
    if (s && s.key === key && Date.now() - s.readAt < this.maxAgeMs) return s;
    // One read at a time; a request that saw a newer key than the read in flight reads after it.
    const before = this.#reading && this.#readingKey !== key ? this.#reading.catch(() => undefined) : undefined;
    if (!this.#reading || before) {
      this.#readingKey = key;
      const reading = (async () => {
        await before;
        return this.#read(key);
      })().finally(() => {
        if (this.#reading === reading) this.#reading = undefined;
      });
      this.#reading = reading;
    }
    return this.#reading;
  }

  async #read(key: string): Promise<AuditSnapshot> {
    this.reads++;
    const f = this.#followed;
    // Read on from the last row seen while everything so far verified and the last whole-log
    // verification is recent; else (first read, a fault, or FULL_VERIFY_MS gone) read it all.
    if (f?.chain.ok && f.heads?.ok && Date.now() - f.fullAt < this.fullVerifyMs) {
      const rows = await this.store.auditTrail({ afterSeq: f.last?.seq ?? 0 });
      this.rowsRead += rows.length;
      const chain = verifyOnward(f.last, rows, f.records);
      const heads = chain.ok ? headsOnward(f.heads, f.last, rows, this.headKeys) : null;
      if (chain.ok && heads?.ok) {
        takeIn(f, rows);
        f.chain = chain;
        f.heads = heads;
        return (this.#snapshot = snapshotOf(key, f));
      }
      // A fault in the new rows: the verdict shown is the whole log's, as verifyChain and verifyHeads
      // name it (the range after the last record a head vouches for, the count of records).
    }
    this.fullReads++;
    const all = await this.store.auditTrail();
    this.rowsRead += all.length;
    this.#followed = followAll(all, this.headKeys);
    return (this.#snapshot = snapshotOf(key, this.#followed));
  }
}
