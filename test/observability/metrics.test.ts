// /metrics through a real fastify app: the names and labels issue 8 asks for, gauges read from the
// orders source at scrape time, and a failing source that does not fail the scrape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { Order } from '../../src/domain/order.ts';
import { epochMs } from '../../src/domain/time.ts';
import { kw } from '../../src/domain/units.ts';
import { createMetrics, registerMetricsRoute } from '../../src/observability/metrics.ts';
import { order } from '../contract/store-fixtures.ts';

const scrape = async (
  metrics: ReturnType<typeof createMetrics>,
): Promise<{ status: number; type: string; lines: string[] }> => {
  const app = Fastify({ logger: false });
  registerMetricsRoute(app, metrics.registry);
  try {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    return {
      status: res.statusCode,
      type: String(res.headers['content-type']),
      lines: res.body.split('\n').filter((l) => l !== '' && !l.startsWith('#')),
    };
  } finally {
    await app.close();
  }
};

test('orders by state and committed kW come from the stored orders at each scrape', async () => {
  let orders: Order[] = [
    order('a', { state: 'confirmed', reductionKw: kw(100) }),
    order('b', { state: 'active', reductionKw: kw(50) }),
    order('c', { state: 'quoted', site: 'man-1' }),
    order('d', { state: 'confirmed', site: 'man-1', reductionKw: kw(20) }),
  ];
  const metrics = createMetrics({ orders: async () => orders });
  const first = await scrape(metrics);
  assert.equal(first.status, 200);
  assert.match(first.type, /^text\/plain; version=0\.0\.4/);
  for (const line of [
    'flexlon_orders{state="confirmed"} 2',
    'flexlon_orders{state="active"} 1',
    'flexlon_orders{state="quoted"} 1',
    'flexlon_orders{state="cancelled"} 0',
    'flexlon_committed_kw{site="lon-1"} 150',
    'flexlon_committed_kw{site="man-1"} 20',
  ])
    assert.ok(first.lines.includes(line), `${line} in\n${first.lines.join('\n')}`);
  orders = [order('a', { state: 'completed', updatedAt: epochMs(1) })];
  const second = await scrape(metrics);
  assert.ok(second.lines.includes('flexlon_orders{state="completed"} 1'));
  assert.ok(second.lines.includes('flexlon_orders{state="confirmed"} 0'));
  assert.equal(
    second.lines.some((l) => l.startsWith('flexlon_committed_kw{')),
    false,
    'a site with nothing committed drops out',
  );
});

test('messages, solve time, delivered kWh and signature failures are counted with their labels', async () => {
  const metrics = createMetrics();
  metrics.message('in', 'confirm', 'ACK');
  metrics.message('in', 'confirm', 'ACK');
  metrics.message('in', 'select', 'NACK:FLX_QUOTE_EXPIRED');
  metrics.message('out', 'on_confirm', 'sent');
  metrics.planSolved(0.042, { planner: 'greedy', status: 'feasible' });
  metrics.delivered('lon-1', 12.5);
  metrics.delivered('lon-1', -3); // a shortfall delivers nothing; a counter never goes down
  metrics.signatureFailure('FLX_SIG_EXPIRED');
  const { lines } = await scrape(metrics);
  for (const line of [
    'flexlon_beckn_messages_total{direction="in",action="confirm",outcome="ACK"} 2',
    'flexlon_beckn_messages_total{direction="in",action="select",outcome="NACK:FLX_QUOTE_EXPIRED"} 1',
    'flexlon_beckn_messages_total{direction="out",action="on_confirm",outcome="sent"} 1',
    'flexlon_plan_solve_seconds_bucket{le="0.05",planner="greedy",status="feasible"} 1',
    'flexlon_plan_solve_seconds_bucket{le="0.025",planner="greedy",status="feasible"} 0',
    'flexlon_plan_solve_seconds_count{planner="greedy",status="feasible"} 1',
    'flexlon_delivered_kwh_total{site="lon-1"} 12.5',
    'flexlon_signature_failures_total{code="FLX_SIG_EXPIRED"} 1',
  ])
    assert.ok(lines.includes(line), `${line} in\n${lines.join('\n')}`);
});

test('a store that cannot be read keeps the last values and counts the failure; the scrape still succeeds', async () => {
  let fail = false;
  const metrics = createMetrics({
    orders: async () => {
      if (fail) throw new Error('database down');
      return [order('a', { state: 'confirmed' })];
    },
    processMetrics: true,
  });
  await scrape(metrics);
  fail = true;
  const { status, lines } = await scrape(metrics);
  assert.equal(status, 200);
  assert.ok(lines.includes('flexlon_orders{state="confirmed"} 1'));
  assert.ok(lines.includes('flexlon_metrics_source_errors_total 1'), 'one read per scrape, failed once');
  assert.ok(lines.some((l) => l.startsWith('flexlon_process_cpu_seconds_total')));
});
