// Offer pricing measures its curves from a plan of the problem without the reduction. Where the plan
// it made for the window (running jobs pinned, FlexOrchestrator.plan with runningAt) is of that very
// problem, it takes that plan rather than solve again (PlanResult.solvedAsGiven): this holds it to
// what solving again gives. Real orchestrator and agents on loopback over simulated clusters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toSpecs } from '../../src/domain/commitments.ts';
import { epochMs } from '../../src/domain/time.ts';
import { queuedGpuJob, startTwoQueuedSites } from '../helpers/flex-site.ts';

const SLOT_MS = 1_800_000;

test('the plan made for pricing a window is the one solving its problem again gives, with and without a commitment', async () => {
  const now = Date.now();
  const fleet = await startTwoQueuedSites(
    now,
    (site) => [
      queuedGpuJob(`${site}-1`, site, now, 3, 5),
      queuedGpuJob(`${site}-2`, site, now, 2, 10),
      queuedGpuJob(`${site}-3`, site, now, 4, 5),
    ],
    30,
  );
  try {
    for (const site of ['a', 'b']) await fleet.agents.get(site)!.agent.tick();
    const slot0 = Math.floor(now / SLOT_MS) * SLOT_MS;
    const runningAt = epochMs(slot0 + 2 * SLOT_MS);
    for (const committed of [false, true]) {
      if (committed) await fleet.commit('order-a', 'a', epochMs(slot0 + 2 * SLOT_MS), 2, 10);
      const result = await fleet.bpp.plan({ runningAt });
      assert.equal(result.solvedAsGiven, true, `no offer held, no job free to move (committed: ${committed})`);
      // What offers.ts makeOffers solves as its base: the same problem with the live commitments.
      const live = await fleet.bpp.commitments();
      assert.equal(live.length, committed ? 1 : 0);
      const again = await fleet.bpp.solve({ ...result.problem, commitments: toSpecs(live, result.grid) });
      assert.equal(again.status, result.schedule.status);
      assert.equal(again.costGbp, result.schedule.costGbp);
      assert.deepEqual(again.jobs, result.schedule.jobs);
    }
  } finally {
    await fleet.stop();
  }
});
