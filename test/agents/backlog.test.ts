// A backlog: waiting jobs that cannot all meet their deadlines. Waiting deferrable work has a soft
// SLO (issue 13): the BPP plans the backlog at its lateness cost — one job per slot where the site
// has room for one, the last a slot late — instead of releasing every job at once; a live
// commitment binds the same plan. The plan record lists the late jobs and what they cost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Commitment } from '../../src/domain/commitments.ts';
import { FlexOrchestrator } from '../../src/agents/flex/orchestrator.ts';
import { DEFAULT_PRICING } from '../../src/agents/flex/pricing.ts';
import { FileKeyStore } from '../../src/adapters/keystore-file/keystore.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { BecknClient } from '../../src/beckn/client.ts';
import { greedySolver } from '../../src/compose/index.ts';
import type { ComputeJob, FlexibilityReport } from '../../src/domain/compute.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbp, kw, kwh } from '../../src/domain/units.ts';
import { createLogger } from '../../src/log.ts';
import { flatSignals } from '../helpers/flex-site.ts';

const T0 = epochMs(Date.parse('2023-06-01T00:00:00Z'));
const HALF_HOUR = 1_800_000;

const job = (id: string, deadlineSlots: number): ComputeJob => ({
  id,
  name: id,
  site: 'lon',
  slo: 'deferrable',
  gpus: 8,
  powerKw: kw(60),
  energyKwh: kwh(30),
  remainingKwh: kwh(30),
  submittedAt: T0,
  releaseAt: T0,
  deadlineAt: epochMs(T0 + deadlineSlots * HALF_HOUR),
  preemptible: false,
  allowedSites: ['lon'],
  work: 1,
  workUnit: 'gpu-hours',
  state: 'queued',
});

const setup = async (dir: string) => {
  const store = await openSqliteStore(join(dir, 'flex.db'));
  const signer = await new FileKeyStore(join(dir, 'keys'), true).signer('dc.test.local');
  const fo = new FlexOrchestrator({
    id: 'dc.test.local',
    uri: 'http://127.0.0.1:1',
    name: 'test',
    store,
    signer,
    market: { now: () => T0, waitUntil: async () => {} },
    wallNow: () => Date.now(),
    client: new BecknClient({ signer, store, now: () => Date.now() }),
    signals: flatSignals,
    solver: greedySolver,
    sites: [{ id: 'lon', region: 'GB', agentUrl: 'http://127.0.0.1:1' }],
    horizonSlots: 16,
    slotMinutes: 30,
    pricing: DEFAULT_PRICING,
    quoteTtlSeconds: 300,
    log: createLogger('silent'),
  });
  return { store, fo };
};

// Room for one 60 kW job at a time (100 kW IT); three jobs of one slot each, all due by the end of slot 1.
const report: FlexibilityReport = {
  site: 'lon',
  region: 'GB',
  at: T0,
  itPowerLimitKw: kw(100),
  pue: 1,
  gridImportLimitKw: kw(100),
  baseLoadFrom: T0,
  slotMinutes: 30,
  baseLoadKw: new Array<number>(16).fill(10).map(kw),
  jobs: [job('a', 2), job('b', 2), job('c', 2)],
};
const startsOf = (dispatch: readonly { beginAt: number }[]) => dispatch.map((d) => (d.beginAt - T0) / HALF_HOUR).sort();

test('a backlog with nothing promised: planned one job per slot, the third late at its cost, never all released at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-backlog-'));
  const { store, fo } = await setup(dir);
  try {
    assert.deepEqual(startsOf((await fo.onAgentReport(report)).dispatch), [0, 1, 2]);
    const plan = (await store.auditTrail()).filter((r) => r.kind === 'plan').at(-1)?.payload as {
      status: string;
      late?: { id: string; lateSlots: number; costGbp: number }[];
      latenessCostGbp?: number;
    };
    assert.notEqual(plan.status, 'infeasible');
    assert.equal(plan.late?.length, 1, 'one job is late');
    assert.equal(plan.late?.[0]?.lateSlots, 1, 'by one slot');
    // 8 GPUs × £0.25 per GPU-hour (the default) × one half-hour slot late, for all of its energy.
    assert.ok(Math.abs((plan.late?.[0]?.costGbp ?? 0) - 1) < 1e-6, JSON.stringify(plan.late));
    assert.ok(Math.abs((plan.latenessCostGbp ?? 0) - 1) < 1e-6);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a backlog with a live commitment: the commitment binds the same soft-SLO plan, not all released at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-backlog-'));
  const { store, fo } = await setup(dir);
  try {
    // Sold: import at most 80 kW in slots 4–5 (well clear of the backlog).
    const window = { windowStart: epochMs(T0 + 4 * HALF_HOUR), windowEnd: epochMs(T0 + 6 * HALF_HOUR) };
    await store.transaction(async (tx) => {
      await tx.saveOrder({
        id: 'o-1',
        transactionId: 't-1',
        bapId: 'grid',
        bapUri: 'http://127.0.0.1:1',
        offerId: 'x',
        site: 'lon',
        ...window,
        reductionKw: kw(10),
        priceGbp: gbp(1),
        state: 'confirmed',
        updatedAt: T0,
      });
      const c: Commitment = { orderId: 'o-1', site: 'lon', ...window, slotMinutes: 30, maxImportKw: [80, 80] };
      await tx.saveCommitment(c);
    });
    const { dispatch } = await fo.onAgentReport(report);
    assert.deepEqual(startsOf(dispatch), [0, 1, 2], 'one job per slot, the third a slot late');
    const plan = (await store.auditTrail()).filter((r) => r.kind === 'plan').at(-1)?.payload as {
      status: string;
      lateJobs?: number;
      orders: string[];
    };
    assert.notEqual(plan.status, 'infeasible');
    assert.deepEqual(plan.orders, ['o-1'], 'the commitment bound the plan');
    assert.equal(plan.lateJobs, 1, 'the plan record says how many jobs are late');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
