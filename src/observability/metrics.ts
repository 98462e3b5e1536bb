// Prometheus metrics of a FlexLon agent (prom-client), served at /metrics. Gauges that describe
// durable state (orders by state, committed kW) are read from the store at each scrape, so they are
// right straight after a restart; counters and the solve-time histogram count events since start,
// which Prometheus handles across restarts (rate() understands counter resets).
//
// Label values must come from small fixed sets (actions, outcomes such as ACK or a NACK's error
// code, site ids), never from ids like message_id: every distinct value is a new time series.
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ORDER_STATES, type Order } from '../domain/order.ts';

export interface MetricsOptions {
  /** The orders as stored, read at each scrape (e.g. () => store.listOrders()). */
  readonly orders?: () => Promise<readonly Order[]>;
  /** Also export Node process metrics (CPU, memory, event-loop lag). */
  readonly processMetrics?: boolean;
}

export interface FlexMetrics {
  readonly registry: Registry;
  /** A Beckn message received or sent: `in` with ACK / NACK:<code> / duplicate, `out` with sent / failed. */
  message(direction: 'in' | 'out', action: string, outcome: string): void;
  /** One planner run. */
  planSolved(seconds: number, labels: { readonly planner: string; readonly status: string }): void;
  /** Energy delivered (settled) at a site. */
  delivered(site: string, kwh: number): void;
  /** A request or callback refused at signature verification, by FLX error code. */
  signatureFailure(code: string): void;
}

/** Orders are live commitments while confirmed or active (the same rule the planner uses). */
const LIVE: ReadonlySet<Order['state']> = new Set(['confirmed', 'active']);

/**
 * The gauges read from the store, and a counter of reads that failed (the gauges then keep their
 * last values and the scrape still succeeds). prom-client collects every metric of a scrape at
 * once, so the three share one read: the first collect starts it, the others join it.
 */
const storeGauges = (registry: Registry, orders: MetricsOptions['orders']): void => {
  let pending: Promise<readonly Order[] | undefined> | undefined;
  let failures = 0;
  const load = async (): Promise<readonly Order[] | undefined> => {
    try {
      return orders ? await orders() : [];
    } catch {
      failures++;
      return undefined;
    }
  };
  const read = (): Promise<readonly Order[] | undefined> => {
    if (pending === undefined) {
      const p = load();
      pending = p;
      // Cleared once settled (always asynchronously, so after the assignment above).
      void p.finally(() => {
        if (pending === p) pending = undefined;
      });
    }
    return pending;
  };
  new Counter({
    name: 'flexlon_metrics_source_errors_total',
    help: 'Scrapes at which the store could not be read (store-backed gauges kept their last values).',
    registers: [registry],
    async collect() {
      await read();
      this.reset();
      this.inc(failures);
    },
  });
  new Gauge({
    name: 'flexlon_orders',
    help: 'Orders held by the Flexibility Orchestrator, by state.',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const all = await read();
      if (all === undefined) return;
      for (const state of ORDER_STATES) this.set({ state }, all.filter((o) => o.state === state).length);
    },
  });
  new Gauge({
    name: 'flexlon_committed_kw',
    help: 'Flexibility committed to the grid (confirmed or active orders), by site, in kW.',
    labelNames: ['site'],
    registers: [registry],
    async collect() {
      const all = await read();
      if (all === undefined) return;
      this.reset();
      const bySite = new Map<string, number>();
      for (const o of all) if (LIVE.has(o.state)) bySite.set(o.site, (bySite.get(o.site) ?? 0) + o.reductionKw);
      for (const [site, kw] of bySite) this.set({ site }, kw);
    },
  });
};

export const createMetrics = (o: MetricsOptions = {}): FlexMetrics => {
  const registry = new Registry();
  if (o.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'flexlon_' });
  storeGauges(registry, o.orders);
  const messages = new Counter({
    name: 'flexlon_beckn_messages_total',
    help: 'Beckn messages received (in) and sent (out), by action and outcome.',
    labelNames: ['direction', 'action', 'outcome'],
    registers: [registry],
  });
  const solve = new Histogram({
    name: 'flexlon_plan_solve_seconds',
    help: 'Time the planner took per solve, in seconds.',
    labelNames: ['planner', 'status'],
    registers: [registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  const delivered = new Counter({
    name: 'flexlon_delivered_kwh_total',
    help: 'Flexibility delivered (baseline minus metered, settled), by site, in kWh.',
    labelNames: ['site'],
    registers: [registry],
  });
  const signatures = new Counter({
    name: 'flexlon_signature_failures_total',
    help: 'Requests and callbacks refused at signature verification, by error code.',
    labelNames: ['code'],
    registers: [registry],
  });
  return {
    registry,
    message: (direction, action, outcome) => messages.inc({ direction, action, outcome }),
    planSolved: (seconds, labels) => solve.observe({ planner: labels.planner, status: labels.status }, seconds),
    // A shortfall settles as zero delivered, never as a negative increment (counters only go up).
    delivered: (site, kwh) => {
      if (Number.isFinite(kwh) && kwh > 0) delivered.inc({ site }, kwh);
    },
    signatureFailure: (code) => signatures.inc({ code }),
  };
};

/** Serves the registry in the Prometheus text format at GET `path` (default /metrics). */
export const registerMetricsRoute = (app: FastifyInstance, registry: Registry, path = '/metrics'): void => {
  app.get(path, async (_req, reply) => {
    const body = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(body);
  });
};
