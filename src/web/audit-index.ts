// What the dashboard's views need from the whole audit log, read once and shared (issue 19): the
// chain and head verification, a summary per Beckn transaction, the latest plans' rows (late jobs,
// each site's dispatch) and the settlement statements. The log is read again only when it has moved
// on — a new plan or a new signed head (both one indexed row: Store.latestPlan, Store.latestHead) —
// or the snapshot is older than MAX_AGE_MS; one read at a time, whoever asks. A request never reads
// the log itself: one transaction's rows come from the store's indexed query (auditTrail with
// transactionId). The Store port has no "rows after seq N" read, so a rebuild reads the whole log;
// with one it would read only the new rows (docs/dashboard.md, "Limits").
import { verifyChain, type AuditRecord, type ChainVerdict } from '../audit/chain.ts';
import { verifyHeads, type HeadKeys, type HeadVerdict } from '../audit/heads.ts';
import type { Store } from '../ports.ts';
import type { SettlementSummary } from '../settlement/delivered.ts';

/** A snapshot older than this is rebuilt even if no plan or head moved (stores that sign no heads). */
export const MAX_AGE_MS = 30_000;
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

const summarise = (key: string, all: readonly AuditRecord[], headKeys: HeadKeys): AuditSnapshot => {
  const chain = verifyChain(all);
  const byTx = new Map<
    string,
    { firstSeq: number; firstAt: number; lastAt: number; messages: number; last: string | null }
  >();
  const plans = new Map<string, PlanRows>();
  const settlements: AuditRecord[] = [];
  for (const r of all) {
    if (r.transactionId !== undefined) {
      const t = byTx.get(r.transactionId) ?? { firstSeq: r.seq, firstAt: r.at, lastAt: r.at, messages: 0, last: null };
      t.lastAt = r.at;
      if (r.kind.startsWith('beckn')) {
        t.messages++;
        t.last = actionOf(r);
      }
      byTx.set(r.transactionId, t);
    }
    const p = r.payload as Record<string, unknown> | null;
    if (r.kind === 'plan' && typeof p?.planId === 'string') {
      plans.set(p.planId, { seq: r.seq, payload: p, dispatches: [] });
      if (plans.size > PLANS_KEPT) plans.delete(plans.keys().next().value as string);
    } else if (r.kind === 'dispatch' && typeof p?.planId === 'string') {
      const plan = plans.get(p.planId);
      if (plan) plans.set(p.planId, { ...plan, dispatches: [...plan.dispatches, p] });
    } else if (r.kind === 'settlement') settlements.push(r);
  }
  return {
    key,
    readAt: Date.now(),
    records: all.length,
    chain,
    heads: chain.ok ? verifyHeads(all, headKeys) : null,
    transactions: [...byTx]
      .map(([transactionId, t]) => ({
        transactionId,
        firstSeq: t.firstSeq,
        firstAt: t.firstAt,
        lastAt: t.lastAt,
        messages: t.messages,
        lastAction: t.last,
      }))
      .reverse(),
    plans,
    settlements,
  };
};

export class AuditIndex {
  #snapshot: AuditSnapshot | undefined;
  #reading: Promise<AuditSnapshot> | undefined;
  #readingKey = '';
  /** Whole-log reads so far (the test checks requests do not add to them). */
  reads = 0;

  constructor(
    private readonly store: Pick<Store, 'auditTrail' | 'latestPlan' | 'latestHead'>,
    private readonly headKeys: HeadKeys,
    private readonly maxAgeMs = MAX_AGE_MS,
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
    this.#snapshot = summarise(key, await this.store.auditTrail(), this.headKeys);
    return this.#snapshot;
  }
}
