// The operator dashboard's JSON API (issue 19): every number a view shows comes from one of these
// functions, served under GET /dashboard/api/… (routes.ts). They only read: the store (the whole
// audit log through audit-index.ts, never per request), the BPP's latest plan and its sites' latest
// reports (followed for GPU-hours by gpu-ledger.ts), the grid signals. Sign convention as in settlement
// (src/settlement/delivered.ts): delivered = baseline − metered, positive = less imported.
import type { FlexOrchestrator } from '../agents/flex/orchestrator.ts';
import type { GridOrchestrator } from '../agents/grid/orchestrator.ts';
import type { PlanRecord } from '../agents/flex/plan-record.ts';
import type { HeadKeys, SignedHead } from '../audit/heads.ts';
import type { FlexibilityReport } from '../domain/compute.ts';
import type { Order } from '../domain/order.ts';
import { londonOffsetMs, settlementDayStartOf, settlementPeriodOf } from '../domain/settlement-day.ts';
import { epochMs, type EpochMs } from '../domain/time.ts';
import { FlexError } from '../errors.ts';
import type { SignalSource, Store } from '../ports.ts';
import { actionOf, summaryOf, type AuditIndex, type AuditSnapshot } from './audit-index.ts';
import type { GpuLedger } from './gpu-ledger.ts';
import { workKpis, type MeteredSlot } from './kpis.ts';

/** What a role hands the dashboard. `flex` only on the BPP (fleet and schedule views need it). */
export interface DashboardSource {
  readonly role: 'bpp' | 'bap';
  readonly id: string;
  readonly store: Store;
  /** Market time (replayed in the demo, the wall clock live). */
  readonly now: () => number;
  readonly flex?: FlexOrchestrator;
  /** The buyer, on the BAP: it sends the Beckn requests of its actions (cancel). */
  readonly grid?: GridOrchestrator;
  readonly signals?: SignalSource;
  readonly region?: string;
  /** Public keys for the signed chain heads in this role's log. */
  readonly headKeys: HeadKeys;
}

/** What the dashboard keeps while it runs: the audit log's summary and the GPU-hours followed (BPP). */
export interface DashboardState {
  readonly index: AuditIndex;
  readonly ledger?: GpuLedger;
}

/** A time label every chart shows on hover: UTC, the GB settlement day and period, UK local time. */
export interface TimeLabel {
  readonly t: number;
  readonly utc: string;
  readonly sp: string;
  readonly local: string;
}

export const timeLabel = (t: number): TimeLabel => {
  const { date, period } = settlementPeriodOf(t);
  const off = londonOffsetMs(t);
  const local = new Date(t + off).toISOString().slice(11, 16);
  return {
    t,
    utc: new Date(t).toISOString().slice(0, 16).replace('T', ' '),
    sp: `${date} SP${period}`,
    local: `${local} ${off === 0 ? 'GMT' : 'BST'}`,
  };
};

/**
 * An instant on the wall clock (an audit row's, a plan's making, a pause): where the market is
 * replayed (its time more than 15 minutes from the wall's), a settlement period of the wall clock
 * means nothing beside the market's, so `sp` says it is wall-clock time instead (a new user read a
 * lifecycle stamped "2026-12-07 SP46" beside a window on 2023-01-24). Live, the two are the same.
 */
export const wallLabel = (s: Pick<DashboardSource, 'now'>, t: number): TimeLabel =>
  Math.abs(s.now() - Date.now()) > 15 * 60_000
    ? { ...timeLabel(t), sp: 'wall clock (the market is replayed)' }
    : timeLabel(t);

/**
 * A window's end: its settlement period is the last one the window holds ("end of SP38"), not the
 * one the instant starts (the order's 18:00–19:00 window read "19:00, SP39").
 */
export const endLabel = (t: number): TimeLabel => {
  const { date, period } = settlementPeriodOf(t - 1);
  return { ...timeLabel(t), sp: `${date} end of SP${period}` };
};

const finite = (x: number | undefined): number | null => (x !== undefined && Number.isFinite(x) ? x : null);
const round = (x: number, dp = 3): number => Math.round(x * 10 ** dp) / 10 ** dp;
const LIVE_OR_DONE: readonly Order['state'][] = ['confirmed', 'active', 'completed'];

/** Jobs the latest plan makes late (its audit row, written by the orchestrator with latenessOf). */
const lateJobs = (snap: AuditSnapshot, planId: string): number => {
  const late = snap.plans.get(planId)?.payload.lateJobs;
  return typeof late === 'number' ? late : 0;
};

/**
 * Flexibility revenue: what each settled order was paid (after its delivery was measured), and the
 * agreed price of each order sold and not settled yet (confirmed, active, or completed unsettled).
 */
const revenue = async (s: DashboardSource, st: DashboardState) => {
  const sold = (await s.store.listOrders()).filter((o) => LIVE_OR_DONE.includes(o.state));
  const paid = new Map<string, number>();
  for (const r of (await st.index.current()).settlements) {
    const sum = summaryOf(r);
    if (sum && r.orderId !== undefined) paid.set(r.orderId, sum.paymentGbp);
  }
  const settled = sold.filter((o) => paid.has(o.id));
  const settledGbp = settled.reduce((a, o) => a + (paid.get(o.id) ?? 0), 0);
  const agreedGbp = sold.filter((o) => !paid.has(o.id)).reduce((a, o) => a + o.priceGbp, 0);
  return {
    revenueGbp: round(settledGbp + agreedGbp, 2),
    revenueSettledGbp: round(settledGbp, 2),
    revenueAgreedGbp: round(agreedGbp, 2),
    orders: sold.length,
    ordersSettled: settled.length,
  };
};

/**
 * View 1, fleet now (BPP): per site the planned import over the horizon against the commitment
 * ceilings and the settlement baseline, metered import so far today, GPU caps and battery state,
 * price and carbon ahead (as the latest plan saw them), and today's KPIs.
 */
export const fleetNow = async (s: DashboardSource, st: DashboardState) => {
  const now = s.now();
  const dayStart = settlementDayStartOf(now);
  const money = await revenue(s, st);
  const plan = await s.store.latestPlan<PlanRecord>();
  if (!s.flex || !plan)
    return {
      role: s.role,
      id: s.id,
      now: timeLabel(now),
      plan: null,
      sites: [],
      kpis: money,
    };
  // The charts run from the start of the settlement day (metered, outturn) to the end of the plan (planned, forecast).
  const slotMs = plan.slotMinutes * 60_000;
  const from = Math.min(dayStart, plan.horizonStart);
  const lead = Math.round((plan.horizonStart - from) / slotMs);
  const times = Array.from({ length: lead + plan.slots }, (_, i) => from + i * slotMs);
  const past = <T>(xs: readonly T[]): (T | null)[] => [...Array<null>(lead).fill(null), ...xs];
  const commitments = await s.store.listCommitments<{
    orderId: string;
    site: string;
    windowStart: EpochMs;
    windowEnd: EpochMs;
    maxImportKw: number[];
  }>({ orderStates: ['confirmed', 'active'], endsAfter: epochMs(from) });
  await st.ledger?.sample();
  let energyKwh = 0;
  let costGbp = 0;
  let carbonG = 0;
  let metered = false;
  let overdue = 0;
  const slots: MeteredSlot[] = times
    .slice(0, lead)
    .map((t) => ({ start: t, sites: 0, kwh: 0, costGbp: 0, carbonG: 0 }));
  const sites = [];
  for (const site of s.flex.context.sites) {
    const report = await s.store.getDocument<FlexibilityReport>('agent-report', site.id);
    const baseline = await s.flex.baseline(site.id, epochMs(from), times.length).catch(() => [] as number[]);
    const ceiling: (number | null)[] = times.map(() => null);
    for (const c of commitments.filter((x) => x.site === site.id))
      c.maxImportKw.forEach((kw, i) => {
        const k = Math.round((c.windowStart + i * slotMs - from) / slotMs);
        if (k >= 0 && k < times.length) ceiling[k] = Math.min(ceiling[k] ?? Infinity, kw);
      });
    // The periods of today already over (the horizon starts at the current one), read from the
    // site's meter through its agent; outturn price and intensity for them.
    const readKw = lead > 0 ? await s.flex.meter(site.id, epochMs(from), lead).catch(() => [] as number[]) : [];
    const out =
      s.signals && lead > 0
        ? await s.signals
            .outturn(site.region, { start: epochMs(from), slotMinutes: plan.slotMinutes, slots: lead })
            .catch(() => undefined)
        : undefined;
    const pastPrice: (number | null)[] = [];
    const pastCarbon: (number | null)[] = [];
    for (let i = 0; i < lead; i++) {
      const point = out?.points.find((x) => x.start === times[i]);
      // The outturn intensity where known, else the forecast as it stood (GridSignalPoint).
      const price = point?.price;
      const carbon = point?.carbonActual ?? point?.carbonForecast;
      pastPrice.push(finite(price));
      pastCarbon.push(finite(carbon));
      const kwh = (readKw[i] ?? NaN) * (plan.slotMinutes / 60);
      if (!Number.isFinite(kwh) || price === undefined || carbon === undefined) continue;
      metered = true;
      energyKwh += kwh;
      costGbp += (kwh * price) / 1000;
      carbonG += kwh * carbon;
      const slot = slots[i] as MeteredSlot;
      slot.sites++;
      slot.kwh += kwh;
      slot.costGbp += (kwh * price) / 1000;
      slot.carbonG += kwh * carbon;
    }
    overdue += (report?.jobs ?? []).filter((j) => j.deadlineAt < now).length;
    const capped = (report?.jobs ?? []).filter((j) => j.powerCapW !== undefined && j.state === 'running');
    sites.push({
      id: site.id,
      region: site.region,
      reportedAt: report ? timeLabel(report.at) : null,
      gridImportLimitKw: report?.gridImportLimitKw ?? null,
      plannedKw: past(plan.siteImportKw[site.id] ?? []),
      baselineKw: times.map((_, i) => finite(baseline[i])),
      commitmentKw: ceiling,
      meteredKw: times.map((_, i) => (i < lead ? finite(readKw[i]) : null)),
      priceGbpPerMwh: [...pastPrice, ...(plan.signals[site.id]?.priceGbpPerMwh ?? [])],
      carbonGPerKwh: [...pastCarbon, ...(plan.signals[site.id]?.carbonGPerKwh ?? [])],
      caps: capped.map((j) => ({ job: j.id, gpus: j.gpus, wattsPerGpu: j.powerCapW })),
      runningJobs: (report?.jobs ?? []).filter((j) => j.state === 'running').length,
      battery: report?.battery
        ? {
            socKwh: round(report.battery.socKwh, 1),
            capacityKwh: report.battery.capacityKwh,
            socPercent: round((100 * report.battery.socKwh) / report.battery.capacityKwh, 1),
          }
        : null,
    });
  }
  return {
    role: s.role,
    id: s.id,
    now: timeLabel(now),
    plan: {
      id: plan.id,
      status: plan.status,
      reason: plan.reason,
      made: wallLabel(s, plan.createdAt),
      costGbp: round(plan.costGbp, 2),
      carbonKg: round(plan.carbonKg, 1),
    },
    times: times.map(timeLabel),
    sites,
    kpis: {
      ...money,
      lateJobs: lateJobs(await st.index.current(), plan.id),
      // Jobs the sites still report unfinished after their deadline.
      overdueJobs: overdue,
      // None (not zero) where no period of today has been metered yet.
      energyTodayKwh: metered ? round(energyKwh, 1) : null,
      costTodayGbp: metered ? round(costGbp, 2) : null,
      carbonTodayKg: metered ? round(carbonG / 1000, 1) : null,
      ...workKpis(slots, s.flex.context.sites.length, slotMs, st.ledger, dayStart, now),
    },
  };
};

/** A page: at most `limit` items after `cursor` (exclusive), and the cursor of the next page, if any. */
export interface PageQuery {
  readonly limit: number;
  readonly cursor?: number;
}

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

/** `?limit=&cursor=` of a list route, checked: a bad value is the caller's mistake (400), not a 500. */
export const pageQuery = (q: { limit?: unknown; cursor?: unknown }): PageQuery => {
  const int = (v: unknown, name: string, min: number, max: number): number | undefined => {
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (typeof v !== 'string' || !Number.isInteger(n) || n < min || n > max)
      throw new FlexError('FLX_REQ_SCHEMA', `${name} must be a whole number from ${min} to ${max}`, { path: name });
    return n;
  };
  const cursor = int(q.cursor, 'cursor', 0, Number.MAX_SAFE_INTEGER);
  return { limit: int(q.limit, 'limit', 1, MAX_PAGE) ?? DEFAULT_PAGE, ...(cursor === undefined ? {} : { cursor }) };
};

/**
 * View 2, flexibility events: the Beckn transactions in the log, newest first (by their first row),
 * a page at a time; the cursor is the seq of a transaction's first row. Each with its order.
 */
export const transactions = async (s: DashboardSource, st: DashboardState, q: PageQuery) => {
  const snap = await st.index.current();
  const all = snap.transactions.filter((t) => q.cursor === undefined || t.firstSeq < q.cursor);
  const page = all.slice(0, q.limit);
  const items = [];
  for (const t of page) {
    const o = await s.store.findOrderByTransaction(t.transactionId);
    items.push({
      transactionId: t.transactionId,
      first: wallLabel(s, t.firstAt),
      last: wallLabel(s, t.lastAt),
      messages: t.messages,
      lastAction: t.lastAction,
      order: o
        ? {
            id: o.id,
            state: o.state,
            site: o.site,
            reductionKw: o.reductionKw,
            priceGbp: o.priceGbp,
            window: [timeLabel(o.windowStart), endLabel(o.windowEnd)],
          }
        : null,
    });
  }
  return {
    total: snap.transactions.length,
    items,
    next: all.length > q.limit ? (page[page.length - 1]?.firstSeq ?? null) : null,
  };
};

interface PeriodRow {
  start: number;
  baselineKw: number;
  meteredKw: number;
  deliveredKwh?: number;
  committedKwh?: number;
}

/**
 * One transaction: its lifecycle (each audited message, in log order) and, once metered, delivered
 * vs committed per settlement period (the settlement record if the order is settled, else the
 * latest meter record, with committed = reduction × period length).
 */
export const transaction = async (s: DashboardSource, id: string) => {
  const rows = await s.store.auditTrail({ transactionId: id });
  if (rows.length === 0) return undefined;
  const order = await s.store.findOrderByTransaction(id);
  const timeline = rows.map((r) => {
    const p = r.payload as { outcome?: unknown; from?: unknown; url?: unknown } | null;
    return {
      seq: r.seq,
      at: wallLabel(s, r.at),
      kind: r.kind,
      action: actionOf(r),
      messageId: r.messageId ?? null,
      outcome: typeof p?.outcome === 'string' ? p.outcome : null,
      hash: r.hash,
    };
  });
  // The last settlement row that holds the periods: a statement (periods), or a status carrying one
  // (settlement.periods). A buyer's last settlement row is its check of the statement, whose
  // `periods` is a count, which made this page a 500 for every buyer's order.
  // (summaryOf, as the settlement list reads them).
  const settled = [...rows].reverse().find((r) => r.kind === 'settlement' && summaryOf(r) !== undefined);
  const metered = [...rows].reverse().find((r) => r.kind === 'meter');
  let periods: PeriodRow[] = [];
  const fromStatement = settled ? (summaryOf(settled)?.periods as PeriodRow[] | undefined) : undefined;
  if (fromStatement) periods = fromStatement;
  else if (metered && order) {
    const hours = 0.5;
    periods = ((metered.payload as { readings?: PeriodRow[] }).readings ?? []).map((p) => ({
      ...p,
      deliveredKwh: round((p.baselineKw - p.meteredKw) * hours),
      committedKwh: round(order.reductionKw * hours),
    }));
  }
  return {
    transactionId: id,
    order: order ?? null,
    timeline,
    periods: periods.map((p) => ({
      at: timeLabel(p.start),
      baselineKw: p.baselineKw,
      meteredKw: p.meteredKw,
      deliveredKwh: p.deliveredKwh ?? null,
      committedKwh: p.committedKwh ?? null,
    })),
    source: settled ? 'settlement' : metered ? 'meter' : null,
  };
};

/**
 * View 3, audit: the chain and its signed heads as verified when the log was last read (audit-index.ts),
 * the newest head, and one transaction's rows, a page at a time (cursor: the last seq shown), from the
 * store's query by transaction.
 */
export const audit = async (
  s: DashboardSource,
  st: DashboardState,
  transactionId: string | undefined,
  q: PageQuery,
) => {
  const snap = await st.index.current();
  const latest: SignedHead | undefined = await s.store.latestHead();
  const rows = transactionId ? await s.store.auditTrail({ transactionId }) : [];
  const after = rows.filter((r) => q.cursor === undefined || r.seq > q.cursor);
  const page = after.slice(0, q.limit);
  return {
    store: s.store.location,
    records: snap.records,
    verifiedAt: wallLabel(s, snap.readAt),
    fullyVerifiedAt: wallLabel(s, snap.fullyVerifiedAt),
    chain: snap.chain,
    heads: snap.heads,
    latestHead: latest ? { ...latest, signedAt: wallLabel(s, latest.at) } : null,
    transactionRows: rows.length,
    rows: page.map((r) => ({ seq: r.seq, at: wallLabel(s, r.at), kind: r.kind, action: actionOf(r), hash: r.hash })),
    next: after.length > q.limit ? (page[page.length - 1]?.seq ?? null) : null,
  };
};
