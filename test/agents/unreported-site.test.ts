// A site whose agent has not reported to the BPP (after a restart, or its agent not up yet) is not in
// the fleet plan, and neither are its stored commitments (FlexOrchestrator.plan). Offer pricing reads
// the stored commitments too: it must leave that site's out as well, or pricing an offer at another
// site failed ("commitment at unknown site") and no offer was made. Real orchestrator and agents on
// loopback over the simulated cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeOffers } from '../../src/agents/flex/offers.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import { queuedGpuJob, startTwoQueuedSites } from '../helpers/flex-site.ts';

const SLOT_MS = 1_800_000;

test('an offer is priced at the sites that reported, with a stored commitment at one that has not', async () => {
  const now = Date.now();
  const fleet = await startTwoQueuedSites(
    now,
    (site) => [queuedGpuJob(`${site}-1`, site, now), queuedGpuJob(`${site}-2`, site, now)],
    50,
  );
  try {
    const slot0 = Math.floor(now / SLOT_MS) * SLOT_MS;
    await fleet.commit('order-b', 'b', epochMs(slot0), 4, 2);
    await fleet.agents.get('a')!.agent.tick();
    assert.deepEqual(fleet.bpp.reportedSites(), ['a']);
    const drafts = await makeOffers(fleet.bpp.context, {
      kind: 'price-peak',
      windowStart: epochMs(slot0 + 2 * SLOT_MS),
      windowEnd: epochMs(slot0 + 3 * SLOT_MS),
      wantedKw: kw(5),
      maxPriceGbpPerMwh: gbpPerMwh(10_000),
    });
    assert.ok(drafts.length > 0, 'an offer is made at a');
    assert.deepEqual([...new Set(drafts.map((d) => d.offer.site))], ['a']);
  } finally {
    await fleet.stop();
  }
});
