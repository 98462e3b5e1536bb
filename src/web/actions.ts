// Operator actions from the dashboard (issue 19). The dashboard is read-only unless the role's config
// names an operator token file; an action then needs `Authorization: Bearer <token>`, and every
// accepted action is written to the audit chain (kind `agent`, payload.operatorAction: the chain's
// kinds are a closed list in src/audit/chain.ts) in the same transaction as its effect.
import { SITE_PAUSE_DOC } from '../agents/flex/offer-task.ts';
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { FlexError } from '../errors.ts';
import { parseJsonText } from '../formats/json.ts';
import type { AuditRecord } from '../audit/chain.ts';
import type { DashboardSource } from './api.ts';
import { wallLabel } from './api.ts';

export interface ActionOptions {
  readonly source: DashboardSource;
  /** Absent: no action is accepted (403), whatever the request carries. */
  readonly token?: string;
}

/** Where a site's pause is kept (a store document per site). */
/** Where a site's pause is kept: the BPP's offer task reads the same document (agents/flex/offer-task.ts). */
export const PAUSE_DOC = SITE_PAUSE_DOC;

export interface SitePause {
  readonly site: string;
  readonly paused: boolean;
  /** Wall-clock time of the action (epoch ms). */
  readonly at: number;
  readonly reason: string;
}

const authorised = (req: FastifyRequest, token: string | undefined): void => {
  if (token === undefined)
    throw new FlexError(
      'FLX_OPERATOR_FORBIDDEN',
      'this dashboard is read-only: its role has no operator token (dashboard.operatorTokenFile)',
    );
  const got = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (got === undefined)
    throw new FlexError('FLX_OPERATOR_UNAUTHORIZED', 'send Authorization: Bearer <operator token> to act');
  const a = Buffer.from(got);
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    throw new FlexError('FLX_OPERATOR_FORBIDDEN', 'the operator token is not the one this role was configured with');
};

const bodyOf = (req: FastifyRequest): { site?: unknown; paused?: unknown; reason?: unknown } => {
  const raw = req.body;
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : '';
  try {
    const v = parseJsonText(text, 'request body');
    if (typeof v !== 'object' || v === null) throw new Error('the body is not a JSON object');
    return v as { site?: unknown; paused?: unknown; reason?: unknown };
  } catch (e) {
    throw new FlexError('FLX_REQ_INVALID_JSON', (e as Error).message);
  }
};

/**
 * Pauses (or resumes) a site's flexibility: recorded as the site's pause document and audited.
 * What the BPP does with it is the offer builder's (not yet read there; see docs/dashboard.md).
 */
export const pauseSite = async (o: ActionOptions, req: FastifyRequest): Promise<SitePause & { auditSeq: number }> => {
  authorised(req, o.token);
  const s = o.source;
  if (!s.flex) throw new FlexError('FLX_ACTION_NOT_APPLICABLE', 'only a flexibility orchestrator (BPP) has sites');
  const body = bodyOf(req);
  if (typeof body.site !== 'string' || typeof body.paused !== 'boolean')
    throw new FlexError('FLX_REQ_SCHEMA', 'the body must be {"site": "<id>", "paused": true|false, "reason"?: "…"}');
  s.flex.site(body.site); // FLX_ITEM_NOT_FOUND for a site this BPP does not have
  const pause: SitePause = {
    site: body.site,
    paused: body.paused,
    at: Date.now(),
    reason: typeof body.reason === 'string' ? body.reason.slice(0, 200) : 'operator, from the dashboard',
  };
  const rec = await s.store.transaction(async (tx) => {
    await tx.putDocument(PAUSE_DOC, pause.site, pause);
    return tx.appendAudit({
      kind: 'agent',
      at: pause.at,
      actor: s.id,
      payload: { operatorAction: pause.paused ? 'pause-site' : 'resume-site', ...pause, from: req.ip },
    });
  });
  return { ...pause, auditSeq: rec.seq };
};

/** Every site's pause state, for the fleet view. */
export const pausedSites = async (s: DashboardSource) => {
  const out = [];
  for (const site of s.flex?.context.sites ?? []) {
    const p = await s.store.getDocument<SitePause>(PAUSE_DOC, site.id);
    out.push({
      site: site.id,
      paused: p?.paused ?? false,
      since: p ? wallLabel(s, p.at) : null,
      reason: p?.reason ?? null,
    });
  }
  return out;
};

/** The provider and order of a transaction, from the newest on_confirm this buyer received (its audit row). */
const confirmedOrder = (
  rows: readonly AuditRecord[],
): { bppId: string; bppUri: string; orderId: string } | undefined => {
  for (const r of [...rows].reverse()) {
    const p = r.payload as { action?: unknown; body?: unknown } | null;
    if (r.kind !== 'beckn.in' || p?.action !== 'on_confirm' || typeof p.body !== 'string') continue;
    try {
      const msg = JSON.parse(p.body) as {
        context?: { bpp_id?: unknown; bpp_uri?: unknown };
        message?: { order?: { id?: unknown } };
      };
      const [bppId, bppUri, orderId] = [msg.context?.bpp_id, msg.context?.bpp_uri, msg.message?.order?.id];
      if (typeof bppId === 'string' && typeof bppUri === 'string' && typeof orderId === 'string')
        return { bppId, bppUri, orderId };
    } catch {
      // An unreadable body is not an order: look further back.
    }
  }
  return undefined;
};

/**
 * Cancels an order the buyer bought (core 1.1.1 cancel → on_cancel), from the buyer's dashboard: the
 * operator's decision is audited before the request goes out (so a cancel that fails is still on
 * record), and the provider's answer (the order's state and any fee its cancellation terms set) is
 * returned as it came.
 */
export const cancelOrder = async (o: ActionOptions, req: FastifyRequest) => {
  authorised(req, o.token);
  const s = o.source;
  if (!s.grid) throw new FlexError('FLX_ACTION_NOT_APPLICABLE', 'only the buyer (BAP) cancels the orders it bought');
  const body = bodyOf(req) as { transactionId?: unknown; reasonId?: unknown };
  if (typeof body.transactionId !== 'string')
    throw new FlexError('FLX_REQ_SCHEMA', 'the body must be {"transactionId": "<id>", "reasonId"?: "<code>"}');
  const order = confirmedOrder(await s.store.auditTrail({ transactionId: body.transactionId }));
  if (!order) throw new FlexError('FLX_ORDER_NOT_FOUND', 'no confirmed order in that transaction here');
  const rec = await s.store.appendAudit({
    kind: 'agent',
    at: Date.now(),
    actor: s.id,
    transactionId: body.transactionId,
    orderId: order.orderId,
    payload: { operatorAction: 'cancel-order', ...order, from: req.ip },
  });
  const [answer] = await s.grid.request('cancel', { id: order.bppId, uri: order.bppUri }, body.transactionId, {
    order_id: order.orderId,
    ...(typeof body.reasonId === 'string' ? { cancellation_reason_id: body.reasonId } : {}),
  });
  if (!answer) throw new FlexError('FLX_PEER_UNREACHABLE', `${order.bppId} sent no on_cancel`);
  const answered = (answer.message as { order?: { status?: unknown; cancellation?: unknown } } | undefined)?.order;
  return {
    ...order,
    auditSeq: rec.seq,
    status: answered?.status ?? null,
    cancellation: answered?.cancellation ?? null,
  };
};
