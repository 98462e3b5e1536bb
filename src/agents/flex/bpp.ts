// The Flexibility Orchestrator as a network participant: its Beckn endpoints (the receiver with the
// lifecycle handlers, each message one transaction), the agents' report endpoint, /metrics and
// /health, and the outbox worker that sends what the transactions owe — Beckn callbacks to BAPs and
// the local pricing tasks. Used by the demo (compose.ts) and by `flexlon run bpp` alike.
//
// start() is recovery: re-plan with the stored commitments and dispatch (orchestrator.recover), then
// release the outbox leases a killed predecessor left and send everything still owed.
import type { FastifyInstance } from 'fastify';
import { FlexError, asFlexError } from '../../errors.ts';
import type { InboundJournal } from '../../beckn/journal.ts';
import type { SignatureCheck } from '../../beckn/verify-pool.ts';
import type { KeyResolver } from '../../beckn/key-resolver.ts';
import { OwedCallbacks, PlanningBacklog } from '../../beckn/admission.ts';
import type { RateLimit } from '../../beckn/rate-limit.ts';
import type { Inbound } from '../../beckn/inbound.ts';
import { registerReceiver } from '../../beckn/receiver.ts';
import { withLogContext } from '../../observability/logger.ts';
import { createMetrics, registerMetricsRoute, type FlexMetrics } from '../../observability/metrics.ts';
import type { Signer } from '../../ports.ts';
import { DEFAULT_MAX_OWED, OutboxWorker } from '../../store/outbox-worker.ts';
import type { OutboxSend } from '../../store/outbox.ts';
import type { OutboxMessage } from '../../store/records.ts';
import { signedRoute } from '../link.ts';
import { LINK_PATHS, type DispatchMessage } from '../link-protocol.ts';
import { LOCAL_TASK, owedCallback, type OwedTask } from './callbacks.ts';
import { makeKit } from './kit.ts';
import { flexHandlers } from './lifecycle.ts';
import { runOffersTask } from './offer-task.ts';
import { progressOrders } from './progress.ts';
import type { FlexOrchestrator } from './orchestrator.ts';

export interface BppOptions {
  readonly orchestrator: FlexOrchestrator;
  /** Beckn participants' keys (the registry). */
  readonly resolver: KeyResolver;
  /** The Compute-Flex agents' keys (they sign their reports). */
  readonly agentTrust: KeyResolver;
  readonly ackSigner: Signer;
  /** Where rejections and duplicates are journaled; claims of accepted messages go with their effect. */
  readonly journal?: InboundJournal;
  /** Signature arithmetic on worker threads (src/beckn/verify-pool.ts); on the event loop when absent. */
  readonly signatureCheck?: SignatureCheck;
  /** Created (with the store-backed gauges) when absent. */
  readonly metrics?: FlexMetrics;
  readonly outboxEveryMs?: number;
  /** How often (wall ms) orders are moved on with market time (also after every agent report). */
  readonly progressEveryMs?: number;
  /** Requests a second per verified subscriber (the receiver's DEFAULT_RATE_LIMIT when absent; false: none). */
  readonly rateLimit?: RateLimit | false;
}

/** The requests whose handler plans before the ACK (the quote, the check at init, the check at confirm). */
const PLANS_BEFORE_ACK = new Set<string>(['select', 'init', 'confirm']);

export interface Bpp {
  readonly metrics: FlexMetrics;
  /** The planner's queue as admission control sees it (src/beckn/admission.ts). */
  readonly planner: PlanningBacklog;
  readonly outbox: OutboxWorker;
  /** Registers every route on `app` (Beckn endpoints, /internal/agent/report, /metrics, /health). */
  register(app: FastifyInstance): void;
  /** Recovery (re-plan and dispatch with the stored commitments) and the outbox worker. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const createBpp = (o: BppOptions): Bpp => {
  const fo = o.orchestrator;
  const c = fo.context;
  const metrics = o.metrics ?? c.metrics ?? createMetrics({ orders: () => c.store.listOrders(), processMetrics: true });
  const nudge = { outbox: undefined as OutboxWorker | undefined };
  const kit = makeKit(c, () => {
    void nudge.outbox?.nudge();
  });

  // Planning a search's offers happens after its ACK (offer-task.ts); select, init and confirm plan
  // before theirs. Both queue for the one planner, so both count in admission control.
  const planner = new PlanningBacklog();
  const offersTask = async (m: OutboxMessage): Promise<unknown> => {
    const started = performance.now();
    let planned = false;
    try {
      const r = await runOffersTask(kit, m.body as OwedTask<{ intent?: never }>);
      planned = typeof r === 'object' && r !== null && 'offers' in r;
      return r;
    } finally {
      planner.finished('offers', planned ? performance.now() - started : undefined);
    }
  };

  const sendOne = async (m: OutboxMessage): Promise<unknown> => {
    if (m.destination === LOCAL_TASK) {
      if (m.action === 'task:offers') return offersTask(m);
      throw new FlexError('FLX_INTERNAL', `outbox entry ${m.id} names an unknown task ${m.action}`);
    }
    const { message, inReplyTo } = owedCallback(m.body);
    try {
      const ack = await c.client.send(m.destination, message, { inReplyTo });
      metrics.message('out', m.action, 'sent');
      c.log.info({ action: m.action, to: m.destination }, 'callback sent');
      return ack;
    } catch (e) {
      metrics.message('out', m.action, `failed:${asFlexError(e).code}`);
      throw e;
    }
  };
  const send: OutboxSend = (m) =>
    withLogContext(
      {
        ...(m.transactionId ? { transaction_id: m.transactionId } : {}),
        ...(m.messageId ? { message_id: m.messageId } : {}),
      },
      () => sendOne(m),
    );
  const outbox = new OutboxWorker({
    store: c.store,
    send,
    now: c.provider.wallNow,
    everyMs: o.outboxEveryMs ?? 1000,
    onDrained: (r) => {
      owed.drained();
      for (const id of r.dead) c.log.error({ outbox: id }, 'outbox message given up (dead): see its last_error');
    },
    onError: (e) => c.log.error({ error: asFlexError(e).message }, 'outbox drain failed'),
  });
  nudge.outbox = outbox;
  const owed = new OwedCallbacks(outbox, DEFAULT_MAX_OWED);

  // Orders move with market time (progress.ts): on a timer and after every agent report, one pass at a time.
  let progressing: Promise<unknown> | undefined;
  let progressTimer: ReturnType<typeof setInterval> | undefined;
  const progress = (): void => {
    if (progressing) return;
    progressing = progressOrders(kit)
      .catch((e: unknown) =>
        c.log.warn(
          { error: asFlexError(e).message },
          'moving orders on with market time failed; retried on the next pass',
        ),
      )
      .finally(() => {
        progressing = undefined;
      });
  };

  const onBackgroundError = (e: unknown, i: Inbound) =>
    c.log.error(
      {
        action: i.action,
        transaction_id: i.msg.context.transaction_id,
        message_id: i.msg.context.message_id,
        error: asFlexError(e).message,
      },
      'work after the ACK failed',
    );
  const onOutcome = (action: string, outcome: string, error?: unknown) => {
    metrics.message('in', action, outcome);
    if (outcome === 'ACK') owed.acked();
    if (outcome.startsWith('NACK:FLX_SIG_')) metrics.signatureFailure(outcome.slice(5));
    // The peer sees only "internal error"; the operator needs the cause.
    if (outcome === 'NACK:FLX_INTERNAL')
      c.log.error(
        { action, error: asFlexError(error).message, stack: (error as Error | undefined)?.stack },
        'internal error answering a request (NACK)',
      );
    else if (outcome.startsWith('NACK:'))
      c.log.info({ action, outcome, error: asFlexError(error).message }, 'request refused (NACK)');
    else
      c.log.info(
        { action, outcome },
        outcome === 'duplicate' ? 'request already handled: same ACK, no second effect' : 'request accepted (ACK)',
      );
  };

  return {
    metrics,
    planner,
    outbox,
    register(app) {
      registerReceiver(app, {
        subscriberId: c.provider.id,
        role: 'BPP',
        resolver: o.resolver,
        store: c.store,
        ackSigner: o.ackSigner,
        now: c.provider.wallNow,
        handlers: flexHandlers(kit),
        onBackgroundError,
        onOutcome,
        // Admission control: with this many callbacks still owed, a new request is refused (503) not ACKed.
        admission: () => owed.check(),
        // Admission by the planner queue: refused (503) unless the callback can go within the ttl.
        // Taken from the queue's room at once (concurrent requests see each other); an ACKed search
        // keeps its place until its offers task has run, the rest leave once answered.
        backlog: (action, deadlineMs, nowMs) => {
          const kind = action === 'search' ? 'offers' : PLANS_BEFORE_ACK.has(action) ? 'check' : undefined;
          if (kind === undefined) return undefined;
          const busy = planner.check(kind, nowMs, deadlineMs);
          if (busy) return busy;
          planner.queued(kind);
          const started = performance.now();
          return (acked) => {
            if (kind === 'check') planner.finished(kind, acked ? performance.now() - started : undefined);
            else if (!acked) planner.finished(kind);
          };
        },
        ...(o.journal ? { journal: o.journal } : {}),
        ...(o.signatureCheck ? { signatureCheck: o.signatureCheck } : {}),
        ...(o.rateLimit === undefined ? {} : { rateLimit: o.rateLimit }),
      });
      signedRoute(
        app,
        LINK_PATHS.report,
        { resolver: o.agentTrust, now: c.provider.wallNow, store: c.store, actor: c.provider.id, log: c.log },
        async (body): Promise<DispatchMessage> => {
          const answer = await fo.onAgentReport(body);
          progress();
          return answer;
        },
      );
      registerMetricsRoute(app, metrics.registry);
      app.get('/health', async () => ({
        ok: true,
        // As every role's /health says which role answers (the BPP's did not).
        role: 'bpp',
        id: c.provider.id,
        store: c.store.location,
        sites: fo.reportedSites(),
        owed: (await c.store.listOutbox({ status: 'pending' })).length,
      }));
    },
    async start() {
      try {
        await fo.recover();
      } catch (e) {
        // An agent that is down must not keep the BPP from answering; the next report re-plans.
        c.log.warn({ error: asFlexError(e).message }, 'recovery could not re-plan and dispatch yet');
      }
      // Offers tasks a predecessor left owed are in the planner's queue from the start.
      planner.queued(
        'offers',
        (await c.store.listOutbox({ status: 'pending' })).filter((m) => m.action === 'task:offers').length,
      );
      await outbox.start();
      progressTimer = setInterval(progress, o.progressEveryMs ?? 1000);
      progressTimer.unref();
    },
    async stop() {
      clearInterval(progressTimer);
      await progressing;
      await outbox.stop();
    },
  };
};
