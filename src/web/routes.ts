// The operator dashboard's routes (issue 19), mounted by each role's composer on its own Fastify
// app: GET /dashboard/ (hand-written ES modules and CSS from src/web/static, uPlot from
// node_modules — no build step), GET /dashboard/api/… (the JSON behind every view, api.ts),
// GET /dashboard/api/events (server-sent events: a tick whenever market time, the plan or the
// audit head moves), and the operator actions, which need the operator token (actions.ts).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FlexibilityReport } from '../domain/compute.ts';
import { FlexError, asFlexError } from '../errors.ts';
import { cancelOrder, pauseSite, pausedSites, type ActionOptions } from './actions.ts';
import {
  audit,
  fleetNow,
  pageQuery,
  timeLabel,
  transaction,
  transactions,
  type DashboardSource,
  type DashboardState,
} from './api.ts';
import { AuditIndex } from './audit-index.ts';
import { GpuLedger } from './gpu-ledger.ts';
import { backtestReportPath, backtestReports, settlements } from './reports.ts';
import { schedule } from './schedule.ts';

export interface DashboardOptions extends DashboardSource {
  /** The operator token (from the role's config, dashboard.operatorTokenFile); none: read-only. */
  readonly operatorToken?: string;
  /** Folder whose backtest outputs (report.html) the backtests view lists. */
  readonly backtestDir?: string;
  /** How often the event stream looks for news (ms). */
  readonly tickMs?: number;
  /** How often to look whether the sites' reports are due a read for GPU-hours and SLO outcomes (ms of wall time; BPP). */
  readonly followMs?: number;
}

/**
 * The GPU-hour ledger of a BPP's dashboard, following its sites' reports while the role runs. The
 * agents report once a slot, so the reports are read once a quarter of a slot of market time (live:
 * every 7.5 minutes; the demo's fast clock: every check), looked for every `followMs` of wall time.
 */
const follow = (app: FastifyInstance, o: DashboardOptions): GpuLedger | undefined => {
  if (!o.flex) return undefined;
  const slotMs = o.flex.context.slotMinutes * 60_000;
  const ledger = new GpuLedger(
    o.flex.context.sites.map((s) => s.id),
    (site) => o.store.getDocument<FlexibilityReport>('agent-report', site),
    slotMs,
  );
  let last = -Infinity;
  const timer = setInterval(() => {
    const now = o.now();
    if (Math.abs(now - last) < slotMs / 4) return;
    last = now;
    void ledger.sample();
  }, o.followMs ?? 250);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
  return ledger;
};

const STATIC = join(dirname(fileURLToPath(import.meta.url)), 'static');
const UPLOT_DIST = dirname(createRequire(import.meta.url).resolve('uplot'));
const FILES: Readonly<Record<string, { path: string; type: string }>> = {
  'index.html': { path: join(STATIC, 'index.html'), type: 'text/html; charset=utf-8' },
  'app.js': { path: join(STATIC, 'app.js'), type: 'text/javascript; charset=utf-8' },
  'views.js': { path: join(STATIC, 'views.js'), type: 'text/javascript; charset=utf-8' },
  'charts.js': { path: join(STATIC, 'charts.js'), type: 'text/javascript; charset=utf-8' },
  'dom.js': { path: join(STATIC, 'dom.js'), type: 'text/javascript; charset=utf-8' },
  'more-views.js': { path: join(STATIC, 'more-views.js'), type: 'text/javascript; charset=utf-8' },
  'style.css': { path: join(STATIC, 'style.css'), type: 'text/css; charset=utf-8' },
  'uPlot.esm.js': { path: join(UPLOT_DIST, 'uPlot.esm.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: join(UPLOT_DIST, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** Errors as problem JSON (RFC 9457) carrying the FLX code, as the OpenADR intake answers. */
const problem = (reply: FastifyReply, e: unknown) => {
  const err = asFlexError(e);
  return reply
    .code(err.http)
    .type('application/problem+json')
    .send({
      type: 'about:blank',
      title: err.code,
      status: err.http,
      detail: err.code === 'FLX_INTERNAL' ? 'internal error' : err.message,
    });
};

const guard =
  (fn: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
  async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      return await fn(req, reply);
    } catch (e) {
      return problem(reply, e);
    }
  };

export const registerDashboard = (app: FastifyInstance, o: DashboardOptions): void => {
  const actions: ActionOptions = { source: o, ...(o.operatorToken ? { token: o.operatorToken } : {}) };
  const ledger = follow(app, o);
  const st: DashboardState = { index: new AuditIndex(o.store, o.headKeys), ...(ledger ? { ledger } : {}) };
  type ListQuery = { limit?: unknown; cursor?: unknown; transaction?: unknown };
  app.get('/dashboard', async (_req, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard/', async (_req, reply) =>
    reply.type(FILES['index.html']!.type).send(readFileSync(FILES['index.html']!.path)),
  );
  app.get<{ Params: { file: string } }>('/dashboard/static/:file', async (req, reply) => {
    const f = FILES[req.params.file];
    if (!f) return problem(reply, new FlexError('FLX_DASHBOARD_NOT_FOUND', `no dashboard file ${req.params.file}`));
    return reply.type(f.type).header('cache-control', 'no-cache').send(readFileSync(f.path));
  });
  app.get('/dashboard/api/meta', async () => ({
    role: o.role,
    id: o.id,
    views: [
      ...(o.flex ? ['fleet'] : []),
      'events',
      'audit',
      ...(o.flex ? ['schedule'] : []),
      'settlement',
      'backtests',
    ],
    actions: o.operatorToken ? (o.flex ? ['pause-site'] : o.grid ? ['cancel-order'] : []) : [],
    sites: o.flex?.context.sites.map((s) => s.id) ?? [],
  }));
  app.get(
    '/dashboard/api/fleet',
    guard(async () => fleetNow(o, st)),
  );
  app.get(
    '/dashboard/api/transactions',
    guard(async (req) => transactions(o, st, pageQuery(req.query as ListQuery))),
  );
  app.get<{ Params: { id: string } }>(
    '/dashboard/api/transactions/:id',
    guard(async (req) => {
      const t = await transaction(o, (req.params as { id: string }).id);
      if (!t) throw new FlexError('FLX_DASHBOARD_NOT_FOUND', 'no audit rows for that transaction here');
      return t;
    }),
  );
  app.get(
    '/dashboard/api/audit',
    guard(async (req) => {
      const q = req.query as ListQuery;
      const tx = q.transaction;
      return audit(o, st, typeof tx === 'string' && tx !== '' ? tx : undefined, pageQuery(q));
    }),
  );
  // The rows as stored (one JSON object a line), for an auditor's own tools: `flexlon audit verify` reads the store itself.
  app.get(
    '/dashboard/api/audit/export',
    guard(async (req, reply) => {
      const tx = (req.query as { transaction?: unknown }).transaction;
      const rows = await o.store.auditTrail(typeof tx === 'string' && tx !== '' ? { transactionId: tx } : {});
      return reply
        .type('application/x-ndjson')
        .header('content-disposition', `attachment; filename="${o.id}-audit.jsonl"`)
        .send(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    }),
  );
  app.get(
    '/dashboard/api/schedule',
    guard(async () => schedule(o, await st.index.current())),
  );
  app.get(
    '/dashboard/api/paused',
    guard(async () => pausedSites(o)),
  );
  app.get(
    '/dashboard/api/settlements',
    guard(async () => settlements(st, o)),
  );
  app.get(
    '/dashboard/api/backtests',
    guard(async () => backtestReports(o.backtestDir)),
  );
  // A backtest's report.html is self-contained (no script, no external files: docs/backtest.md).
  app.get(
    '/dashboard/backtests/*',
    guard(async (req, reply) => {
      const rest = (req.params as { '*': string })['*'] ?? '';
      // A report at the folder's top is listed as '.'; the browser drops './' from its URL.
      const name = rest === 'report.html' ? '.' : rest.replace(/\/report\.html$/, '');
      const path = backtestReportPath(o.backtestDir, name);
      if (!path) throw new FlexError('FLX_DASHBOARD_NOT_FOUND', `no backtest report ${name} in the configured folder`);
      return reply.type('text/html; charset=utf-8').send(readFileSync(path));
    }),
  );
  app.post(
    '/dashboard/api/actions/pause-site',
    guard(async (req) => pauseSite(actions, req)),
  );
  app.post(
    '/dashboard/api/actions/cancel-order',
    guard(async (req) => cancelOrder(actions, req)),
  );
  // Open streams end before the server closes, or app.close() would wait for them for ever.
  const streams = new Set<FastifyReply['raw']>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });
  app.get('/dashboard/api/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    streams.add(res);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    let last = '';
    const tick = async () => {
      const [plan, head] = await Promise.all([o.store.latestPlan(), o.store.latestHead()]).catch(() => [
        undefined,
        undefined,
      ]);
      // News is a new plan, a new signed head or a new settlement period (what the views draw changes
      // at those); the market time label rides along for the header.
      const now = o.now();
      const key = JSON.stringify({
        plan: plan?.id ?? null,
        head: head?.seq ?? null,
        period: Math.floor(now / 1_800_000),
      });
      if (key !== last)
        res.write(`event: tick\ndata: ${JSON.stringify({ ...JSON.parse(key), now: timeLabel(now) })}\n\n`);
      last = key;
    };
    void tick();
    const timer = setInterval(() => void tick(), o.tickMs ?? 2000);
    req.raw.on('close', () => {
      clearInterval(timer);
      streams.delete(res);
    });
  });
};
