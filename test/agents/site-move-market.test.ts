// The site move lever through the public entry points (issue 13): one provider sells two simulated
// sites, lon and man. lon's training pool is full in the early morning with jobs that may also run at
// man and must start on time (a dear lateness), man's is empty. A reduction at lon is bought over
// signed Beckn; when the window opens the provider moves jobs from lon to man (export, import held,
// withdraw, release, over the link's dispatch messages), lon's meter drops below its FIFO baseline,
// and the order is settled and paid on lon's meter.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { gbpPerMwh, kw, kwh } from '../../src/domain/units.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
let m: Market;
const SLOT = SLOT_MINUTES * MINUTE_MS;
/** The window bought: 04:00–05:00, when lon's jobs are due to start. */
const FROM = 8;

before(async () => {
  market = await openMarket('site-move', { sites: '2', jobs: '1', secondsPerDay: '15' });
  m = market.m;
});

after(async () => {
  await market.stop();
});

const tickAll = async (t: number): Promise<void> => {
  m.clock.hold(epochMs(t));
  await Promise.all(m.sites.map((s) => s.agent.tick(epochMs(t))));
};

/** A 32-GPU training job for lon that may run at man, due to run 2 h from the window's start. */
const job = (n: number): ComputeJob => {
  const releaseAt = epochMs(m.dayStart + FROM * SLOT);
  return {
    id: `move-${n}`,
    name: `fine-tune ${n}`,
    site: 'lon',
    slo: 'deferrable',
    gpus: 32,
    powerKw: kw(12),
    energyKwh: kwh(24),
    remainingKwh: kwh(24),
    submittedAt: m.dayStart,
    releaseAt,
    deadlineAt: epochMs(releaseAt + 4 * SLOT),
    preemptible: false,
    allowedSites: ['lon', 'man'],
    work: 64,
    workUnit: 'gpu-hours',
    state: 'queued',
    // A tight SLO: an hour late costs £64, far more than the move (£4.20 by default).
    lateGbpPerGpuHour: 2,
  };
};

test(
  'a full site sells a reduction and delivers it by moving named jobs to the provider’s other site',
  { timeout: 240_000 },
  async (t) => {
    const [lon, man] = [m.sites.find((s) => s.id === 'lon'), m.sites.find((s) => s.id === 'man')];
    assert.ok(lon && man, 'lon and man');
    // lon's 256 training GPUs taken by eight 32-GPU jobs from 04:00; the FIFO twin (the baseline) gets the same queue.
    const jobs = Array.from({ length: 8 }, (_, n) => job(n));
    lon.cluster.submit(jobs);
    lon.businessAsUsual.submit(jobs);
    await tickAll(m.dayStart);
    const reported = await m.stores.flex.getDocument<{ scheduler?: { kind: string; move: boolean } }>(
      'agent-report',
      'lon',
    );
    assert.deepEqual(reported?.scheduler, { kind: 'sim', move: true }, 'the agent reports that its scheduler can move');

    const windowStart = epochMs(m.dayStart + FROM * SLOT);
    const got = await m.bap.procure(
      {
        kind: 'price-peak',
        windowStart,
        windowEnd: epochMs(windowStart + 2 * SLOT),
        wantedKw: kw(20),
        maxPriceGbpPerMwh: gbpPerMwh(100_000),
      },
      randomUUID(),
    );
    assert.ok(!('none' in got), `a deal: ${'none' in got ? got.none : ''}`);
    assert.equal(got.offer.site, 'lon', `the reduction is lon's: ${JSON.stringify(got.offer)}`);
    // Priced at what the moves cost (£4.20 each for 32 GPUs), stated as its own part (and read back
    // from the on_search tag); the jobs are movable, so they are not priced as running at lon under GPU caps.
    const parts = got.offer.costComponents;
    assert.ok(parts && parts.movesGbp >= 4.2 - 0.01 && parts.capsGbp === 0, JSON.stringify(got.offer));
    t.diagnostic(
      `offer ${got.offer.reductionKw} kW, opportunity cost £${got.offer.opportunityCostGbp}: ${JSON.stringify(parts)}`,
    );

    for (let t = m.dayStart + SLOT; t <= m.dayStart + (FROM + 2) * SLOT; t += SLOT) await tickAll(t);

    const moves = (await m.stores.flex.auditTrail())
      .filter((r) => r.kind === 'dispatch' && (r.payload as { event?: string }).event === 'site-move')
      .map((r) => r.payload as { jobId: string; from: string; to: string; outcome: string; why: string });
    const moved = moves.filter((x) => x.outcome === 'moved');
    assert.ok(moved.length > 0, `jobs were moved: ${JSON.stringify(moves)}`);
    const first = moved[0]!;
    assert.equal(first.from, 'lon');
    assert.equal(first.to, 'man');
    assert.match(first.why, /save £.* against £.* they cost/);
    // Both queues show it: cancelled at lon (moved out), running at man under the same id.
    const atLon = (await lon.cluster.listJobs()).find((j) => j.id === first.jobId);
    const atMan = (await man.cluster.listJobs()).find((j) => j.id === first.jobId);
    assert.equal(atLon?.state, 'cancelled', `at lon: ${JSON.stringify(atLon)}`);
    assert.ok(atMan && (atMan.state === 'running' || atMan.state === 'completed'), `at man: ${JSON.stringify(atMan)}`);
    assert.equal(atMan.site, 'man');
    // Each agent audited its step.
    const manSteps = (await man.store.auditTrail()).filter(
      (r) => r.kind === 'dispatch' && JSON.stringify(r.payload).includes(first.jobId),
    );
    assert.ok(manSteps.length > 0, 'the target agent audited the import');

    // lon's meter is below its FIFO baseline in the window by at least what was sold.
    const metered = await m.providers[0]!.orchestrator.meter('lon', windowStart, 2);
    const baseline = await m.providers[0]!.orchestrator.baseline('lon', windowStart, 2);
    for (let k = 0; k < 2; k++)
      assert.ok(
        (baseline[k] ?? 0) - (metered[k] ?? 0) >= 0.95 * got.offer.reductionKw,
        `slot ${k}: baseline ${baseline[k]} − metered ${metered[k]} vs ${got.offer.reductionKw} kW sold`,
      );

    await tickAll(m.dayStart + (FROM + 3) * SLOT);
    const { settlement } = await m.bap.status(got);
    assert.ok(settlement && settlement.deliveredKwh >= 0.95 * settlement.committedKwh, JSON.stringify(settlement));
    assert.ok(settlement.paymentGbp > 0, `paid: ${settlement.paymentGbp}`);
  },
);
