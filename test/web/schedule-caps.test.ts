// The schedule view's GPU caps (issue 19): what the plan record keeps of each job's planned power
// (planRecord, src/agents/flex/plan-record.ts) and the caps the schedule API draws from it, on a real
// SQLite store. A running job the plan may cap is two columns of the problem (its floor and its
// cappable part, src/optimise/cap-parts.ts capParts); the record and the view see one job. The Gantt
// is drawn in Debian's Chromium (playwright-core), as in dashboard.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { chromium } from 'playwright-core';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { planRecord, type PlanRecord, type PlanResult } from '../../src/agents/flex/plan-record.ts';
import type { FlexOrchestrator } from '../../src/agents/flex/orchestrator.ts';
import type { ComputeJob, FlexibilityReport } from '../../src/domain/compute.ts';
import type { JobSchedule, JobSpec } from '../../src/domain/planning.ts';
import { epochMs, isoOf } from '../../src/domain/time.ts';
import { AuditIndex } from '../../src/web/audit-index.ts';
import { registerDashboard } from '../../src/web/routes.ts';
import { schedule } from '../../src/web/schedule.ts';

const SLOT = 30 * 60_000;
const T0 = epochMs(Date.UTC(2023, 0, 24, 9));
const SLOTS = 8;
const spec = (id: string, maxPowerKw: number, preemptible = false): JobSpec => ({
  id,
  energyKwh: 8,
  maxPowerKw,
  releaseSlot: 0,
  deadlineSlot: SLOTS,
  preemptible,
  sites: ['lon'],
});
const run = (id: string, powerKw: number[]): JobSchedule => ({
  id,
  site: 'lon',
  powerKw: [...powerKw, ...Array<number>(SLOTS - powerKw.length).fill(0)],
});

/**
 * A plan of one site: running job lon-1 (4 kW: a 2 kW floor and a 2 kW cappable part) capped in
 * slots 1 and 3 and finishing on a remainder in slot 4; waiting job lon-2 at full power; base load.
 */
const result = (): PlanResult => ({
  grid: { start: T0, slotMinutes: 30, slots: SLOTS },
  problem: {
    version: 2,
    start: isoOf(T0),
    slotMinutes: 30,
    slots: SLOTS,
    sites: [
      {
        id: 'lon',
        itPowerLimitKw: 100,
        pue: 1.2,
        gridImportLimitKw: 200,
        priceGbpPerMwh: Array<number>(SLOTS).fill(100),
        carbonGPerKwh: Array<number>(SLOTS).fill(150),
      },
    ],
    jobs: [spec('base:lon:0', 10), spec('lon-1', 2), spec('cap:lon-1', 2, true), spec('lon-2', 3)],
    commitments: [],
  },
  schedule: {
    version: 2,
    status: 'optimal',
    costGbp: 1,
    carbonKg: 1,
    lowerBoundGbp: 1,
    jobs: [
      run('base:lon:0', [10]),
      run('lon-1', [2, 2, 2, 2, 1]),
      run('cap:lon-1', [2, 0.5, 2, 1.0049]),
      run('lon-2', [0, 0, 3, 3, 3]),
    ],
    batteries: [],
  },
  orders: [],
  solveMs: 12,
  signalsIssuedAt: {},
});

const job = (id: string, state: ComputeJob['state'], powerKw: number, remainingKwh: number): ComputeJob =>
  ({
    id,
    name: id,
    site: 'lon',
    slo: 'deferrable',
    gpus: 8,
    powerKw,
    energyKwh: 8,
    remainingKwh,
    submittedAt: T0 - 4 * SLOT,
    releaseAt: T0 - 4 * SLOT,
    deadlineAt: T0 + 16 * SLOT,
    preemptible: false,
    allowedSites: ['lon'],
    work: 8,
    workUnit: 'gpu-hours',
    state,
    ...(state === 'running' ? { startedAt: T0 - SLOT } : {}),
  }) as unknown as ComputeJob;

test('the plan record keeps the planned power of the jobs it caps, their two columns as one job, to 10 W', () => {
  const rec = planRecord('p-1', T0, result(), 'test');
  assert.deepEqual(rec.jobPowerKw, [{ id: 'lon-1', site: 'lon', fromSlot: 0, powerKw: [4, 2.5, 4, 3, 1], fullKw: 4 }]);
  const infeasible = planRecord(
    'p-2',
    T0,
    { ...result(), schedule: { ...result().schedule, status: 'infeasible' } },
    'test',
  );
  assert.equal(infeasible.jobPowerKw, undefined, 'an infeasible plan places nothing');
});

test('the schedule view gives every span the plan caps a job in, and ends its bar where the plan finishes it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-schedule-caps-'));
  const store = await openSqliteStore(join(dir, 'flex.db'));
  try {
    const report = { site: 'lon', at: T0, jobs: [job('lon-1', 'running', 4, 3.5)] } as unknown as FlexibilityReport;
    await store.putDocument('agent-report', 'lon', report);
    const source = {
      role: 'bpp' as const,
      id: 'bpp.example',
      store,
      now: () => T0,
      flex: { context: { sites: [{ id: 'lon' }] } } as unknown as FlexOrchestrator,
      headKeys: () => undefined,
    };
    const index = new AuditIndex(store, () => undefined);
    const view = async () => {
      const s = await schedule(source, await index.current());
      return s.sites[0]?.jobs[0] as { end: number; planCaps: unknown[] };
    };
    // A plan stored before the record kept job power: no caps beyond the current slot's, the bar at full power.
    const { jobPowerKw: _kept, ...old } = planRecord('p-old', T0, result(), 'test');
    await store.savePlan(old as PlanRecord);
    const before = await view();
    assert.deepEqual(before.planCaps, []);
    assert.equal(before.end, T0 + (3.5 / 4) * 2 * SLOT, 'from now, its remaining energy at full power');
    await store.savePlan(planRecord('p-new', T0 + 1, result(), 'test'));
    const now = await view();
    assert.deepEqual(now.planCaps, [
      { start: T0 + SLOT, end: T0 + 2 * SLOT, kw: 2.5 },
      { start: T0 + 3 * SLOT, end: T0 + 4 * SLOT, kw: 3 },
    ]);
    assert.equal(now.end, T0 + 5 * SLOT, 'the end of the last slot the plan runs it in');

    // Drawn in Debian's Chromium: one striped span per capped span, over the job's bar.
    const app = Fastify({ logger: false });
    registerDashboard(app, { ...source, flex: { context: { sites: [{ id: 'lon' }], slotMinutes: 30 } } as never });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${base}/dashboard/#schedule`);
      await page.waitForSelector('#view[data-view="schedule"][data-drawn]');
      const caps = await page
        .locator('.gantt[data-site="lon"] .cap')
        .evaluateAll((els) => els.map((e) => [e.getAttribute('data-cap'), e.getAttribute('data-start')]));
      assert.deepEqual(caps, [
        ['lon-1', String(T0 + SLOT)],
        ['lon-1', String(T0 + 3 * SLOT)],
      ]);
      const bar = await page.locator('.gantt[data-site="lon"] .bar[data-job="lon-1"]').boundingBox();
      const cap = await page.locator('.gantt[data-site="lon"] .cap').nth(1).boundingBox();
      assert.ok(bar && cap && cap.x > bar.x && cap.x + cap.width < bar.x + bar.width + 1, 'over its bar');
      if (process.env.FLEXLON_SCREENSHOTS)
        await page.screenshot({ path: join(process.env.FLEXLON_SCREENSHOTS, 'schedule-caps.png'), fullPage: true });
    } finally {
      await browser.close();
      await app.close();
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
