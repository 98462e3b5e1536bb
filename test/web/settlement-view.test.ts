// The dashboard's settlement and backtest views (issue 19) in Chromium: a small early window is
// bought and the market clock runs past it (20 s a day) until the BPP settles the order; the view
// shows the statement's figures as the API gives them. The backtests view lists the report.html
// files under a configured folder and serves them; a dashboard with no token refuses every action.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Procurement } from '../../src/agents/grid/orchestrator.ts';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { registerDashboard } from '../../src/web/routes.ts';
import { buyEarlyWindow, openMarket, runThrough, type TestMarket } from '../helpers/market.ts';

const SLOT = SLOT_MINUTES * MINUTE_MS;
let market: TestMarket;
let m: Market;
let p: Procurement;
let browser: Browser;
let page: Page;
let app: FastifyInstance;
let base: string;
const backtests = mkdtempSync(join(tmpdir(), 'flexlon-backtests-'));
const shots = process.env.FLEXLON_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'flexlon-dashboard-'));

before(async () => {
  market = await openMarket('dashboard-settle', { secondsPerDay: '20' });
  m = market.m;
  const bought = await buyEarlyWindow(m);
  p = bought.p;
  await runThrough(m, bought.windowEnd + 2 * SLOT);
  for (let i = 0; i < 100 && (await m.stores.flex.getOrder(p.orderId))?.state !== 'completed'; i++)
    await new Promise((r) => setTimeout(r, 100));
  // Market time stands still from here, so the view and the API see the same periods metered.
  m.clock.hold(epochMs(Math.floor(m.clock.now() / SLOT) * SLOT));
  // A second dashboard on the same BPP store, as a role configured with a backtest folder and no token.
  mkdirSync(join(backtests, 'feb'), { recursive: true });
  writeFileSync(join(backtests, 'feb', 'report.html'), '<!doctype html><title>feb</title><p>backtest feb</p>');
  writeFileSync(join(backtests, 'feb', 'results.json'), '{}');
  app = Fastify({ logger: false });
  registerDashboard(app, {
    role: 'bpp',
    id: 'read-only',
    store: m.stores.flex,
    now: () => m.clock.now(),
    flex: m.bpp,
    headKeys: () => undefined,
    backtestDir: backtests,
  });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
});

after(async () => {
  await browser?.close();
  await app?.close();
  await market?.stop();
  rmSync(backtests, { recursive: true, force: true });
});

test('settlement: the completed order shows its statement as the API gives it, with baseline vs metered', async () => {
  type Statement = {
    orderId: string;
    deliveredKwh: number;
    committedKwh: number;
    shortfallKwh: number;
    performance: number;
    paymentGbp: number;
    periods: unknown[];
  };
  assert.equal((await m.stores.flex.getOrder(p.orderId))?.state, 'completed');
  const list = (await (await fetch(`${m.urls.bpp}/dashboard/api/settlements`)).json()) as Statement[];
  const s = list.find((x) => x.orderId === p.orderId);
  assert.ok(s, 'the settled order has a statement');
  assert.equal(s.periods.length, 2, 'one row per settlement period of the two-period window');
  await page.goto(`${m.urls.bpp}/dashboard/#settlement`);
  await page.waitForSelector('#view[data-view="settlement"][data-drawn]');
  const cells = await page.locator(`tr[data-statement="${p.orderId}"] td`).allTextContents();
  assert.deepEqual(cells.slice(2), [
    s.deliveredKwh.toFixed(1),
    s.committedKwh.toFixed(1),
    s.shortfallKwh.toFixed(1),
    (100 * s.performance).toFixed(1),
    s.paymentGbp.toFixed(2),
  ]);
  assert.equal(await page.locator('.uplot').count(), list.length, 'a baseline vs metered chart per statement');
  await page.screenshot({ path: join(shots, 'settlement.png') });
  // The flexibility events view shows the same order's delivered vs committed per period.
  await page.goto(`${m.urls.bpp}/dashboard/#events/${p.transactionId}`);
  await page.waitForSelector(`[data-detail="${p.transactionId}"]`);
  assert.equal(await page.locator('tr[data-period]').count(), 2);
});

test("fleet now, hours into the day: today's metered energy, cost and carbon as the API gives them, and plausible", async () => {
  type Kpis = { energyTodayKwh: number | null; costTodayGbp: number | null; carbonTodayKg: number | null };
  type Fleet = { kpis: Kpis; sites: { meteredKw: (number | null)[] }[] };
  await page.goto(`${m.urls.bpp}/dashboard/#fleet`);
  await page.waitForSelector('#view[data-view="fleet"][data-drawn]');
  const f = (await (await fetch(`${m.urls.bpp}/dashboard/api/fleet`)).json()) as Fleet;
  const { energyTodayKwh: kwh, costTodayGbp: gbp, carbonTodayKg: kg } = f.kpis;
  assert.ok(kwh !== null && gbp !== null && kg !== null, 'periods of today are metered');
  assert.equal(await page.textContent('[data-kpi="energyTodayKwh"]'), kwh.toFixed(1));
  assert.equal(await page.textContent('[data-kpi="costTodayGbp"]'), gbp.toFixed(2));
  assert.equal(await page.textContent('[data-kpi="carbonTodayKg"]'), kg.toFixed(1));
  const metered = f.sites[0]?.meteredKw.filter((x): x is number => x !== null) ?? [];
  assert.ok(metered.length >= 4, `${metered.length} periods metered`);
  assert.ok(Math.abs(metered.reduce((a, x) => a + x / 2, 0) - kwh) < 0.1 * metered.length, 'energy = Σ kW × ½ h');
  // GB wholesale prices and intensities of January 2023: between £0 and £1,000/MWh, 0 and 500 g/kWh.
  assert.ok(gbp > 0 && gbp < kwh, `£${gbp} for ${kwh} kWh`);
  assert.ok(kg > 0 && kg < 0.5 * kwh, `${kg} kg for ${kwh} kWh`);
  await page.screenshot({ path: join(shots, 'fleet-after-hours.png') });
});

test('backtests: report.html files under the configured folder are listed and served; others are not', async () => {
  await page.goto(`${base}/dashboard/#backtests`);
  await page.waitForSelector('#view[data-view="backtests"][data-drawn]');
  assert.equal(await page.locator('tr[data-report]').count(), 1);
  const res = await fetch(`${base}/dashboard/backtests/feb/report.html`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /backtest feb/);
  const outside = await fetch(`${base}/dashboard/backtests/..%2F..%2Fetc/report.html`);
  assert.equal(outside.status, 404);
  assert.equal(((await outside.json()) as { title: string }).title, 'FLX_DASHBOARD_NOT_FOUND');
});

test('a dashboard configured without an operator token refuses every action, even with a token (403)', async () => {
  const res = await fetch(`${base}/dashboard/api/actions/pause-site`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer anything' },
    body: JSON.stringify({ site: m.sites[0]?.id, paused: true }),
  });
  assert.equal(res.status, 403);
  assert.equal(((await res.json()) as { title: string }).title, 'FLX_OPERATOR_FORBIDDEN');
  const meta = (await (await fetch(`${base}/dashboard/api/meta`)).json()) as { actions: string[] };
  assert.deepEqual(meta.actions, []);
});

test('live: when market time moves on, the stream says so and the view is drawn again without a reload', async () => {
  await page.goto(`${m.urls.bpp}/dashboard/#fleet`);
  await page.waitForSelector('#view[data-view="fleet"][data-drawn="1"]');
  const before = await page.textContent('#now');
  m.clock.release();
  await page.waitForSelector('#view[data-view="fleet"][data-drawn="2"]', { timeout: 15_000 });
  assert.notEqual(await page.textContent('#now'), before, 'the header follows market time');
});
