// A site move through the orchestrator between two Kubernetes clusters, each a FakeKubeApi — a FAKE
// of the batch/v1 Jobs API on loopback (no kube-apiserver can run on this machine; see
// test/helpers/kube-fake.ts for what it models) — reached by the Kubernetes adapter through
// @kubernetes/client-node and a kubeconfig, one Compute-Flex agent beside each, one Flexibility
// Orchestrator planning both. The same story as test/e2e/slurm-move.test.ts: a suspended Job at north
// that may also run at south (its flexlon.io/flex annotation), north capped to its base load for the
// next hour; the plan runs the Job at south, and the orchestrator moves it over the signed agent link
// (the manifest created suspended at south, the Job deleted at north, then released at south).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KubernetesScheduler } from '../../src/adapters/scheduler-kubernetes/scheduler.ts';
import { epochMs } from '../../src/domain/time.ts';
import { FlexError } from '../../src/errors.ts';
import type { FlexSites } from '../helpers/flex-site.ts';
import { capNorthAndReport, movedRow, startNorthSouth } from '../helpers/site-move.ts';
import { FakeKubeApi, jobManifest } from '../helpers/kube-fake.ts';
import { eventually } from '../helpers/slurm.ts';

describe('a site move between two Kubernetes clusters (FakeKubeApi stand-ins), planned and dispatched by the orchestrator', () => {
  const apis = new Map<string, FakeKubeApi>();
  const schedulers = new Map<string, KubernetesScheduler>();
  let fleet: FlexSites;

  before(async () => {
    for (const site of ['north', 'south']) {
      const api = await new FakeKubeApi().start();
      apis.set(site, api);
      schedulers.set(
        site,
        new KubernetesScheduler({
          site,
          auth: { kubeconfig: api.kubeconfig() },
          namespaces: { ml: {} },
          timeoutMs: 5000,
        }),
      );
    }
    fleet = await startNorthSouth(schedulers);
  });

  after(async () => {
    await fleet?.stop();
    for (const api of apis.values()) await api.dispose();
  });

  test('the manifest is created suspended at south, deleted at north, then released at south: it runs once, at south', async (t) => {
    const now = Date.now();
    const deadline = new Date(now + 40 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    apis.get('north')!.create(
      jobManifest('fine-tune', {
        gpus: 4,
        seconds: 5,
        meta: { deadline, gpu_hours: 1, work: 1, sites: ['north', 'south'] },
      }),
    );
    const flexId = 'north:ml/fine-tune';
    const listed = (await schedulers.get('north')!.listJobs()).find((j) => j.id === flexId);
    assert.deepEqual(listed?.allowedSites, ['north', 'south']);

    await capNorthAndReport(fleet, now, async () => {
      // North has not reported: an order being checked there is refused, not checked without it.
      const at = epochMs(Math.floor(now / 1_800_000) * 1_800_000);
      await assert.rejects(
        fleet.bpp.plan({
          extra: [
            {
              orderId: 'new',
              site: 'north',
              windowStart: at,
              windowEnd: epochMs(at + 1_800_000),
              slotMinutes: 30,
              maxImportKw: [0],
            },
          ],
        }),
        (e: unknown) => e instanceof FlexError && e.code === 'FLX_PEER_UNREACHABLE' && /north/.test(e.message),
      );
    });
    const moved = await movedRow(fleet, flexId);
    assert.equal(moved.from, 'north');
    assert.equal(moved.to, 'south');
    t.diagnostic(`site-move audit: ${JSON.stringify(moved)}`);

    // North's Job is gone; south's copy of the manifest is unsuspended and runs, under the same FlexLon id.
    await eventually('north to delete its Job', async () =>
      apis.get('north')!.get('ml', 'fine-tune') === undefined ? true : undefined,
    );
    const there = await eventually('south to run the Job', async () => {
      await schedulers.get('south')!.reconcile(epochMs(Date.now()));
      const j = (await schedulers.get('south')!.listJobs()).find((x) => x.id === flexId);
      return j && (j.state === 'running' || j.state === 'completed') ? j : undefined;
    });
    assert.equal(there.site, 'south');
    assert.equal(there.gpus, 4);
    const job = apis.get('south')!.get('ml', 'fine-tune');
    assert.ok(job, 'the Job is at south under its own name');
    assert.equal(job.spec.suspend, false, 'released at south');
  });
});
