// The operator dashboard (issue 19) in a real browser: Debian's Chromium driven by playwright-core
// against a composed market on loopback (real HTTP, signatures, SQLite) in which the grid buyer has
// bought a reduction. Each view's numbers are checked against the JSON API the view is drawn from;
// the transaction timeline is clicked through; an action without the operator token is refused.
// Screenshots go to a temp folder removed at the end, or to FLEXLON_SCREENSHOTS (docs/dashboard to
// refresh the docs), which is kept.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { askSupport } from '../../src/agents/grid/post-order.ts';
import type { Procurement } from '../../src/agents/grid/orchestrator.ts';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
let m: Market;
let p: Procurement;
let browser: Browser;
let page: Page;
const shots = process.env.FLEXLON_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'flexlon-dashboard-'));

const api = async <T>(base: string, path: string): Promise<T> => {
  const res = await fetch(`${base}/dashboard/api/${path}`);
  assert.equal(res.status, 200, `GET ${path}`);
  return (await res.json()) as T;
};

/** Waits until the view has been drawn (app.js counts draws) and shows `view`. */
const drawn = async (view: string) => {
  await page.waitForSelector(`#view[data-view="${view}"][data-drawn]`);
};

before(async () => {
  mkdirSync(shots, { recursive: true });
  market = await openMarket('dashboard', { siteProfile: 'busy', sites: '4' });
  m = market.m;
  const need = await m.bap.detectNeed({ start: m.dayStart, slotMinutes: SLOT_MINUTES, slots: 48 });
  assert.ok(need, 'the day has a peak to buy against');
  const got = await m.bap.procure(need, randomUUID());
  assert.ok(!('none' in got), 'the BPP sold a reduction');
  p = got as Procurement;
  await askSupport(m.bap, p);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
});

after(async () => {
  await browser?.close();
  await market?.stop();
  if (process.env.FLEXLON_SCREENSHOTS === undefined) rmSync(shots, { recursive: true, force: true });
});

test('fleet now: the KPIs and each site card show the API numbers, with power and signal charts', async () => {
  type Fleet = {
    plan: { id: string };
    kpis: Record<string, number | null>;
    sites: {
      id: string;
      runningJobs: number;
      caps: unknown[];
      plannedKw: number[];
      battery: { socPercent: number } | null;
    }[];
    times: unknown[];
  };
  // Every answer the page itself got from the API, by plan: the BPP may re-plan between the page's
  // fetch and ours, and the live stream then draws the view again.
  const got = new Map<string, Fleet>();
  const listen = async (res: { url(): string; json(): Promise<unknown> }) => {
    if (res.url().endsWith('/dashboard/api/fleet')) {
      const body = (await res.json().catch(() => undefined)) as Fleet | undefined;
      if (body?.plan) got.set(body.plan.id, body);
    }
  };
  page.on('response', listen);
  await page.goto(`${m.urls.bpp}/dashboard/#fleet`);
  await drawn('fleet');
  const drawnPlan = (await page.getAttribute('[data-plan]', 'data-plan')) as string;
  await page.waitForTimeout(100);
  page.off('response', listen);
  const f = got.get(drawnPlan) as Fleet;
  assert.ok(f, 'the view shows a plan the API gave it');
  assert.ok((await api<Fleet>(m.urls.bpp, 'fleet')).plan.id, 'our own read answers too');
  const shown = async (key: string) => page.textContent(`[data-kpi="${key}"]`);
  assert.equal(await shown('revenueGbp'), (f.kpis.revenueGbp as number).toFixed(2));
  assert.ok((f.kpis.revenueGbp as number) > 0, 'the sold reduction earns revenue');
  assert.equal(await shown('lateJobs'), String(f.kpis.lateJobs));
  // At 00:00 market time no period of the day is metered yet: shown as '–', not as 0.
  assert.equal(f.kpis.costTodayGbp, null);
  assert.equal(await shown('costTodayGbp'), '–');
  assert.equal(f.sites.length, m.sites.length);
  for (const s of f.sites) {
    assert.equal(await page.textContent(`[data-site="${s.id}"] [data-field="runningJobs"]`), String(s.runningJobs));
    assert.equal(await page.textContent(`[data-site="${s.id}"] [data-field="caps"]`), String(s.caps.length));
    if (s.battery)
      assert.equal(
        await page.textContent(`[data-site="${s.id}"] [data-field="socPercent"]`),
        s.battery.socPercent.toFixed(1),
      );
    assert.equal(s.plannedKw.length, f.times.length, 'a planned import for every slot of the horizon');
  }
  // Two uPlot charts per site (power in kW; price £/MWh and carbon gCO2/kWh), axes labelled with units.
  assert.equal(await page.locator('.uplot').count(), 2 * f.sites.length);
  const axes = (await page.locator('[data-units]').evaluateAll((els) => els.map((e) => e.getAttribute('data-units'))))
    .join('|')
    .split('|');
  for (const unit of ['kW', '£/MWh', 'gCO2/kWh', 'UTC']) assert.ok(axes.includes(unit), `an axis in ${unit}`);
  // Hover names the instant as UTC, settlement period and UK local time.
  const box = await page.locator('.uplot .u-over').first().boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width / 3, box.y + box.height / 2);
  const legend = await page.locator('.uplot .u-legend').first().textContent();
  assert.match(legend ?? '', /UTC · \d{4}-\d{2}-\d{2} SP\d+ · \d{2}:\d{2} (GMT|BST)/);
  assert.ok(
    f.sites.some((s) => s.battery !== null),
    'the battery site (cdf) reports its state of charge',
  );
  const wide = Number(await page.evaluate('document.documentElement.scrollWidth'));
  assert.ok(wide <= 1280, `no sideways scrolling at 1280×800 (page is ${wide} px wide)`);
  await page.screenshot({ path: join(shots, 'fleet.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const width = Number(await page.evaluate('document.documentElement.scrollWidth'));
  assert.ok(width <= 390, `no sideways scrolling on a phone (page is ${width} px wide)`);
  await page.screenshot({ path: join(shots, 'fleet-phone.png') });
  await page.setViewportSize({ width: 1280, height: 800 });
});

test('flexibility events: the transaction is listed; clicking it shows its lifecycle from the audit rows', async () => {
  type Tx = { timeline: { action: string; seq: number }[]; order: { id: string; state: string } | null };
  await page.goto(`${m.urls.bpp}/dashboard/#events`);
  await drawn('events');
  const row = page.locator(`tr[data-tx="${p.transactionId}"]`);
  assert.equal(await row.count(), 1);
  await row.click();
  await page.waitForSelector(`[data-detail="${p.transactionId}"]`);
  const t = await api<Tx>(m.urls.bpp, `transactions/${p.transactionId}`);
  assert.equal(t.order?.id, p.orderId);
  const steps = await page.locator('.timeline li').count();
  assert.equal(steps, t.timeline.length);
  const actions = t.timeline.map((r) => r.action);
  for (const a of ['search', 'on_search', 'select', 'on_select', 'init', 'on_init', 'confirm', 'on_confirm', 'support'])
    assert.ok(actions.includes(a), `the lifecycle has ${a}`);
  assert.ok(actions.indexOf('search') < actions.indexOf('confirm'), 'in log order');
  const firstSeq = await page.locator('.timeline li').first().getAttribute('data-seq');
  assert.equal(Number(firstSeq), t.timeline[0]?.seq);
  await page.screenshot({ path: join(shots, 'events.png'), fullPage: true });
  // The buyer's dashboard shows the same transaction from its own log.
  const bap = await api<{ items: { transactionId: string }[] }>(m.urls.bap, 'transactions');
  assert.ok(bap.items.some((x) => x.transactionId === p.transactionId));
  // A page at a time, newest first: the cursor of one page starts the next, and no transaction repeats.
  const all = await api<{ total: number; items: { transactionId: string }[] }>(m.urls.bpp, 'transactions?limit=500');
  const one = await api<{ items: { transactionId: string }[]; next: number | null }>(
    m.urls.bpp,
    'transactions?limit=1',
  );
  assert.equal(one.items.length, 1);
  assert.equal(one.items[0]?.transactionId, all.items[0]?.transactionId);
  if (all.total > 1) {
    assert.notEqual(one.next, null);
    const two = await api<{ items: { transactionId: string }[] }>(
      m.urls.bpp,
      `transactions?limit=1&cursor=${one.next}`,
    );
    assert.equal(two.items[0]?.transactionId, all.items[1]?.transactionId);
  }
});

test("audit: the chain and signed heads verify, as the API says; a search shows the transaction's rows", async () => {
  type Audit = { records: number; chain: { ok: boolean }; heads: { ok: boolean } | null; rows: unknown[] };
  await page.goto(`${m.urls.bpp}/dashboard/#audit`);
  await drawn('audit');
  const a = await api<Audit>(m.urls.bpp, 'audit');
  assert.equal(a.chain.ok, true);
  assert.equal(a.heads?.ok, true);
  assert.equal(await page.textContent('[data-field="chain"]'), 'verified');
  const records = Number(await page.textContent('[data-field="records"]'));
  assert.ok(records >= a.records && records <= a.records + 5, `records shown ${records} vs API ${a.records}`);
  await page.fill('[data-field="search"]', p.transactionId);
  await page.click('form button');
  await page.waitForSelector('tr[data-seq]');
  const rows = await api<Audit>(m.urls.bpp, `audit?transaction=${p.transactionId}&limit=500`);
  assert.ok(rows.rows.length > 0);
  assert.equal(await page.locator('tr[data-seq]').count(), Math.min(50, rows.rows.length));
  // Paged by seq: two rows, then the rest after the cursor, are the transaction's rows in log order.
  type Page = { rows: { seq: number }[]; next: number | null };
  const first = await api<Page>(m.urls.bpp, `audit?transaction=${p.transactionId}&limit=2`);
  assert.equal(first.rows.length, 2);
  assert.equal(first.next, first.rows[1]?.seq);
  const rest = await api<Page>(m.urls.bpp, `audit?transaction=${p.transactionId}&limit=500&cursor=${first.next}`);
  assert.equal(rest.next, null);
  assert.deepEqual(
    [...first.rows, ...rest.rows].map((r) => r.seq),
    (await m.stores.flex.auditTrail({ transactionId: p.transactionId })).map((r) => r.seq),
  );
  // A bad page is the caller's mistake: coded, 400, no stack trace.
  for (const q of ['limit=0', 'limit=501', 'limit=ten', 'cursor=-1', 'cursor=1.5']) {
    const res = await fetch(`${m.urls.bpp}/dashboard/api/audit?transaction=${p.transactionId}&${q}`);
    assert.equal(res.status, 400, q);
    const problem = (await res.json()) as { title: string; detail: string };
    assert.equal(problem.title, 'FLX_REQ_SCHEMA', q);
    assert.doesNotMatch(problem.detail, /\n\s+at /);
  }
  // Export: the same rows as stored, one JSON object a line, hash-linked as the chain holds them.
  const href = (await page.getAttribute('[data-action="export"]', 'href')) as string;
  const lines = (await (await fetch(`${m.urls.bpp}${href}`)).text()).trim().split('\n');
  assert.equal(lines.length, rows.rows.length);
  const stored = await m.stores.flex.auditTrail({ transactionId: p.transactionId });
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as { hash: string }).hash),
    stored.map((r) => r.hash),
  );
  await page.screenshot({ path: join(shots, 'audit.png') });
});

test("schedule: a Gantt row per job where the latest plan places it, with the plan's own starts, price and carbon under it", async () => {
  type Job = { id: string; placement: string; start: number | null; end: number | null };
  type Schedule = {
    plan: { id: string };
    sites: { site: string; placedBy: string | null; jobs: Job[] }[];
    times: { t: number }[];
  };
  // The answer the page itself got (the BPP may re-plan between its read and ours).
  let got: Schedule | undefined;
  const listen = async (res: { url(): string; json(): Promise<unknown> }) => {
    if (res.url().endsWith('/dashboard/api/schedule')) got = (await res.json().catch(() => got)) as Schedule;
  };
  page.on('response', listen);
  await page.goto(`${m.urls.bpp}/dashboard/#schedule`);
  await drawn('schedule');
  await page.waitForTimeout(100);
  page.off('response', listen);
  assert.ok(got, 'the page read the schedule');
  const s: Schedule = got;
  assert.ok(s.times.length >= 48, 'the plan covers at least a day');
  // The plan's own placement, read from the log: each site's dispatch (in the plan's row, or in the
  // dispatch rows naming the plan when it was pushed to every site), a start per waiting job.
  const rows = await m.stores.flex.auditTrail();
  type Levers = { dispatch?: { jobId: string; beginAt: number }[] };
  const starts = new Map<string, number>();
  for (const site of s.sites) {
    const named = rows.filter((r) => (r.payload as { planId?: string }).planId === site.placedBy);
    const plan = named.find((r) => r.kind === 'plan')?.payload as { site?: string; dispatch?: unknown };
    assert.ok(plan, `the plan that dispatched ${site.site} is in the log`);
    const levers: Levers | undefined = Array.isArray(plan.dispatch)
      ? plan.site === site.site
        ? ({ dispatch: plan.dispatch } as Levers)
        : undefined
      : ((plan.dispatch as Record<string, Levers> | undefined)?.[site.site] ??
        (named.find((r) => r.kind === 'dispatch' && (r.payload as { site?: string }).site === site.site)?.payload as
          Levers | undefined));
    assert.ok(levers, `the log holds ${site.site}'s dispatch in plan ${site.placedBy}`);
    for (const d of levers.dispatch ?? []) starts.set(d.jobId, d.beginAt);
  }
  let planned = 0;
  for (const site of s.sites) {
    assert.equal(
      await page.textContent(`[data-site-title="${site.site}"] [data-field="jobs"]`),
      `${site.jobs.length} jobs`,
    );
    for (const j of site.jobs.filter((x) => x.placement === 'planned')) {
      assert.equal(j.start, starts.get(j.id), `${j.id} starts where the plan starts it`);
      planned++;
    }
    for (const j of site.jobs.filter((x) => x.placement === 'beyond-horizon'))
      assert.equal(starts.has(j.id), false, `${j.id}: the plan gave it no start`);
    const from = s.times[0]?.t as number;
    const to = (s.times[s.times.length - 1]?.t as number) + SLOT_MINUTES * 60_000;
    const inView = site.jobs.filter((j) => j.start !== null && (j.end as number) > from && j.start < to);
    assert.ok(inView.length > 0, 'the busy site has jobs in the horizon');
    const bars = page.locator(`.gantt[data-site="${site.site}"] .bar`);
    assert.equal(await bars.count(), inView.length);
    const shown = await bars.evaluateAll((els) =>
      els.map((e) => [e.getAttribute('data-job'), e.getAttribute('data-start')]),
    );
    assert.deepEqual(
      shown,
      inView.map((j) => [j.id, String(j.start)]),
    );
  }
  assert.ok(planned > 0, 'the busy fleet has waiting jobs the plan starts later');
  // Planned import per site (kW) and price/carbon under the Gantt rows.
  assert.equal(await page.locator('.uplot').count(), 2);
  await page.screenshot({ path: join(shots, 'schedule.png'), fullPage: true });
});

test('actions: pausing a site without the operator token is refused (401), a wrong one 403; with it, paused and audited', async () => {
  await page.goto(`${m.urls.bpp}/dashboard/#fleet`);
  await drawn('fleet');
  const site = m.sites[0]?.id as string;
  await page.click(`[data-action="pause-${site}"]`);
  await page.waitForFunction("document.getElementById('message').textContent !== ''");
  assert.match((await page.textContent('#message')) ?? '', /^FLX_OPERATOR_UNAUTHORIZED: /);
  const post = (token?: string) =>
    fetch(`${m.urls.bpp}/dashboard/api/actions/pause-site`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ site, paused: true }),
    });
  const wrong = await post('not-the-token');
  assert.equal(wrong.status, 403);
  assert.equal(((await wrong.json()) as { title: string }).title, 'FLX_OPERATOR_FORBIDDEN');
  const before = await api<{ paused: boolean }[]>(m.urls.bpp, 'paused');
  assert.equal(before[0]?.paused, false, 'refused actions change nothing');
  const token = readFileSync(join(m.runDir, 'operator.token'), 'utf8').trim();
  // User mistakes get a coded answer, never a stack trace, and change nothing.
  const send = (body: string) =>
    fetch(`${m.urls.bpp}/dashboard/api/actions/pause-site`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
    });
  for (const [body, status, code] of [
    [JSON.stringify({ site: 'atlantis', paused: true }), 404, 'FLX_ITEM_NOT_FOUND'],
    [JSON.stringify({ site }), 400, 'FLX_REQ_SCHEMA'],
    ['{"site":', 400, 'FLX_REQ_INVALID_JSON'],
  ] as const) {
    const res = await send(body);
    assert.equal(res.status, status, body);
    const problem = (await res.json()) as { title: string; detail: string };
    assert.equal(problem.title, code, body);
    assert.doesNotMatch(problem.detail, /\n\s+at /, 'no stack trace');
  }
  assert.equal((await api<{ paused: boolean }[]>(m.urls.bpp, 'paused'))[0]?.paused, false);
  const ok = await post(token);
  assert.equal(ok.status, 200);
  const { auditSeq } = (await ok.json()) as { auditSeq: number };
  const paused = await api<{ paused: boolean }[]>(m.urls.bpp, 'paused');
  assert.equal(paused[0]?.paused, true);
  const row = (await m.stores.flex.auditTrail()).find((r) => r.seq === auditSeq);
  assert.equal((row?.payload as { operatorAction?: string }).operatorAction, 'pause-site');
  // The buyer's dashboard has no sites to pause.
  const bap = await fetch(`${m.urls.bap}/dashboard/api/actions/pause-site`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ site, paused: true }),
  });
  assert.equal(bap.status, 400);
});

test("cancel from the buyer's dashboard: refused without the token; with it, the BPP cancels the order over Beckn and both sides audit it", async () => {
  await page.goto(`${m.urls.bap}/dashboard/#events/${p.transactionId}`);
  await page.waitForSelector(`[data-detail="${p.transactionId}"]`);
  await page.evaluate("document.getElementById('message').textContent = ''");
  await page.click('[data-action="cancel-order"]');
  await page.waitForFunction("document.getElementById('message').textContent !== ''");
  assert.match((await page.textContent('#message')) ?? '', /^FLX_OPERATOR_UNAUTHORIZED: /);
  assert.equal((await m.stores.flex.getOrder(p.orderId))?.state, 'confirmed', 'a refused cancel sends nothing');
  await page.fill('#token', readFileSync(join(m.runDir, 'operator.token'), 'utf8').trim());
  await page.evaluate("document.getElementById('message').textContent = ''");
  await page.click('[data-action="cancel-order"]');
  await page.waitForFunction("document.getElementById('message').textContent !== ''", undefined, { timeout: 20_000 });
  assert.match((await page.textContent('#message')) ?? '', new RegExp(`^order ${p.orderId}: CANCELLED \\(audited\\)`));
  assert.equal((await m.stores.flex.getOrder(p.orderId))?.state, 'cancelled', 'the provider cancelled it');
  const bapRows = await m.stores.grid.auditTrail({ transactionId: p.transactionId });
  const decided = bapRows.find((r) => (r.payload as { operatorAction?: string }).operatorAction === 'cancel-order');
  assert.ok(decided, "the buyer's log holds the operator's decision");
  const sent = bapRows.find((r) => r.kind === 'beckn.out' && (r.payload as { action?: string }).action === 'cancel');
  assert.ok(sent && sent.seq > decided.seq, 'decided, then sent');
  const t = await api<{ timeline: { action: string }[] }>(m.urls.bpp, `transactions/${p.transactionId}`);
  assert.ok(
    t.timeline.some((r) => r.action === 'on_cancel'),
    "the provider's timeline shows on_cancel",
  );
});
