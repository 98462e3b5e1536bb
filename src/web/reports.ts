// Views 5 and 6 of the dashboard (issue 19): settlement statements from the audit log (its rows as
// the audit index last read them), and the backtest reports found under a configured folder
// (docs/backtest.md, "Output"). Read-only.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { PeriodSettlement } from '../settlement/delivered.ts';
import { timeLabel, wallLabel, type DashboardSource, type DashboardState } from './api.ts';
import { summaryOf } from './audit-index.ts';

/**
 * Every order's settlement statement in the log (its newest), newest first: baseline method, delivered and committed
 * energy, performance and payment, and per settlement period the baseline and metered import
 * (delivered = baseline − metered, src/settlement/delivered.ts).
 */
export const settlements = async (st: DashboardState, s?: Pick<DashboardSource, 'now'>) => {
  const rows = (await st.index.current()).settlements;
  const out = [];
  // One statement per order, the newest: a status that carries the statement is recorded each time it
  // comes (pushed unasked, and answered to status; settle-status.ts), so the list gave each order
  // twice and a sum of its payments was double (a new user's reading of the API).
  const seen = new Set<string>();
  for (const r of [...rows].reverse()) {
    const sum = summaryOf(r);
    if (!sum) continue;
    const key = r.orderId ?? r.transactionId;
    if (key !== undefined && key !== null) {
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push({
      seq: r.seq,
      at: s ? wallLabel(s, r.at) : timeLabel(r.at),
      orderId: r.orderId ?? null,
      transactionId: r.transactionId ?? null,
      baselineMethod: sum.baselineMethod,
      deliveredKwh: sum.deliveredKwh,
      committedKwh: sum.committedKwh,
      shortfallKwh: sum.shortfallKwh,
      performance: sum.performance,
      paymentGbp: sum.paymentGbp,
      periods: sum.periods.map((p: PeriodSettlement) => ({
        at: timeLabel(p.start),
        baselineKw: p.baselineKw,
        meteredKw: p.meteredKw,
        deliveredKwh: p.deliveredKwh,
        committedKwh: p.committedKwh,
      })),
    });
  }
  return out;
};

/** Backtest output folders (each with a report.html) under `dir`, two levels deep, newest first. */
export const backtestReports = (dir: string | undefined) => {
  if (dir === undefined || !existsSync(dir)) return { dir: dir ?? null, reports: [] };
  const found: { name: string; modified: string; bytes: number }[] = [];
  const look = (d: string, depth: number) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      if (e.isFile() && e.name === 'report.html') {
        const st = statSync(path);
        found.push({
          name: relative(dir, d).split(sep).join('/') || '.',
          modified: st.mtime.toISOString(),
          bytes: st.size,
        });
      } else if (e.isDirectory() && depth < 2) look(path, depth + 1);
    }
  };
  look(dir, 0);
  return { dir, reports: found.sort((a, b) => b.modified.localeCompare(a.modified)) };
};

/** The report.html of a listed backtest, or undefined: only names the listing gave are served. */
export const backtestReportPath = (dir: string | undefined, name: string): string | undefined => {
  const listed = backtestReports(dir).reports.some((r) => r.name === name);
  return listed && dir !== undefined ? join(dir, ...name.split('/'), 'report.html') : undefined;
};
