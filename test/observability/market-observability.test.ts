// What an operator sees of a running BPP, through its public surface: GET /metrics (Prometheus
// text) and the structured log lines, after a real procurement over signed Beckn on loopback and a
// request refused at signature verification.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import { createLogger } from '../../src/log.ts';
import type { Procurement } from '../../src/agents/grid/orchestrator.ts';
import type { PlanRecord } from '../../src/agents/flex/plan-record.ts';
import { epochMs } from '../../src/domain/time.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
let m: Market;
let p: Procurement;
const lines: Record<string, unknown>[] = [];

before(async () => {
  const log = createLogger('debug', {}, (l) => {
    lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  market = await openMarket('observe', { logLevel: 'debug' }, log);
  m = market.m;
  const need = await m.bap.detectNeed({ start: m.dayStart, slotMinutes: SLOT_MINUTES, slots: 48 });
  assert.ok(need);
  const got = await m.bap.procure(need, randomUUID());
  assert.ok(!('none' in got), 'the BPP sold a reduction');
  p = got as Procurement;
});

after(async () => {
  await market.stop();
});

/** Samples of the Prometheus text format as `name{labels}` → value. */
const scrape = async (): Promise<Map<string, number>> => {
  const res = await fetch(`${m.urls.bpp}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const hit = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (hit) out.set(hit[1] as string, Number(hit[2]));
  }
  return out;
};

test('/metrics: orders by state, committed kW by site, messages by action and outcome, plan solve times, signature failures', async () => {
  const unsigned = await fetch(`${m.urls.bpp}/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ context: {}, message: {} }),
  });
  assert.equal(unsigned.status, 401);
  const s = await scrape();
  assert.equal(s.get('flexlon_orders{state="confirmed"}'), 1);
  assert.equal(s.get('flexlon_orders{state="cancelled"}'), 0);
  assert.equal(s.get('flexlon_committed_kw{site="lon"}'), p.selectedKw);
  for (const action of ['search', 'select', 'init', 'confirm']) {
    assert.equal(
      s.get(`flexlon_beckn_messages_total{direction="in",action="${action}",outcome="ACK"}`),
      1,
      `one ${action} received and ACKed`,
    );
    assert.equal(
      s.get(`flexlon_beckn_messages_total{direction="out",action="on_${action}",outcome="sent"}`),
      1,
      `one on_${action} sent`,
    );
  }
  assert.equal(s.get('flexlon_signature_failures_total{code="FLX_SIG_MISSING"}'), 1);
  const solves = [...s]
    .filter(([k]) => k.startsWith('flexlon_plan_solve_seconds_count'))
    .reduce((a, [, v]) => a + v, 0);
  assert.ok(solves >= 3, `plans timed (${solves}): the report, the offers, the confirm`);
  assert.ok((s.get('flexlon_process_resident_memory_bytes') ?? 0) > 0, 'process metrics are exported');
});

test('log lines written while a Beckn message is handled carry its transaction_id and message_id', () => {
  const ofOrder = lines.filter((l) => l.transaction_id === p.transactionId);
  assert.ok(ofOrder.length > 0, 'some lines of the procurement carry its transaction_id');
  assert.ok(
    ofOrder.every((l) => typeof l.message_id === 'string' && l.message_id !== ''),
    'and each names its message',
  );
  const planned = ofOrder.filter((l) => l.msg === 'planned' && l.agent === 'flex');
  assert.ok(planned.length > 0, "the BPP's plans made for the order are logged under it");
  assert.ok(
    lines.filter((l) => l.msg === 'planned' && l.transaction_id === undefined).length > 0,
    'plans made for an agent report belong to no transaction',
  );
});

test('each stored plan records the grid signals it was made on and when they were issued, so it can be explained later', async () => {
  const plan = await m.stores.flex.latestPlan<PlanRecord>();
  assert.ok(plan, 'a plan is stored');
  const grid = { start: epochMs(plan.horizonStart), slotMinutes: plan.slotMinutes, slots: plan.slots };
  const forecast = await m.signals.forecast('GB', grid, m.clock.now());
  assert.deepEqual(
    plan.signals.lon?.priceGbpPerMwh,
    forecast.points.map((x) => x.price),
  );
  assert.deepEqual(
    plan.signals.lon?.carbonGPerKwh,
    forecast.points.map((x) => x.carbonForecast),
  );
  assert.equal(plan.signalsIssuedAt.GB, new Date(forecast.issuedAt).toISOString());
  const audited = (await m.stores.flex.auditTrail()).filter((r) => r.kind === 'plan').at(-1)?.payload as
    { signalsIssuedAt?: unknown } | undefined;
  assert.deepEqual(audited?.signalsIssuedAt, plan.signalsIssuedAt, "the plan's audit row says which forecast it used");
});

test('at info level an operator sees each request accepted and each callback sent, under its transaction', () => {
  const info = lines.filter((l) => l.level === 'info' && l.agent === 'flex' && l.transaction_id === p.transactionId);
  for (const action of ['search', 'select', 'init', 'confirm']) {
    assert.ok(
      info.some((l) => l.msg === 'request accepted (ACK)' && l.action === action),
      `${action} accepted`,
    );
    assert.ok(
      info.some((l) => l.msg === 'callback sent' && l.action === `on_${action}`),
      `on_${action} sent`,
    );
  }
});
