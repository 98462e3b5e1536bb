// The Scheduler contract against the Kubernetes adapter talking, through @kubernetes/client-node
// and a kubeconfig, to FakeKubeApi — a FAKE of the batch/v1 Jobs API on loopback (no real
// kube-apiserver runs on this machine; see test/helpers/kube-fake.ts for what it models).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubernetesScheduler } from '../../src/adapters/scheduler-kubernetes/scheduler.ts';
import { epochMs } from '../../src/domain/time.ts';
import { FlexError } from '../../src/errors.ts';
import { schedulerContract } from '../contract/scheduler.contract.ts';
import { FakeKubeApi, jobManifest } from '../helpers/kube-fake.ts';

schedulerContract('Kubernetes batch/v1 Jobs (against FakeKubeApi, a fake API server)', async () => {
  const [fa, fb] = [await new FakeKubeApi().start(), await new FakeKubeApi().start()];
  const make = (site: string, f: FakeKubeApi) =>
    new KubernetesScheduler({ site, auth: { kubeconfig: f.kubeconfig() }, namespaces: { ml: {} }, timeoutMs: 5000 });
  const a = make('contract-a', fa);
  const b = make('contract-b', fb);
  let n = 0;
  return {
    scheduler: a,
    other: b,
    submit: async (o, to) => {
      const name = `${o.name}-${++n}`;
      (to === b ? fb : fa).create(jobManifest(name, o));
      return `${(to ?? a).site}:ml/${name}`;
    },
    // An operator's hold: suspend, and say who holds it (docs/schedulers.md).
    holdByHand: async (id) =>
      fa.patch('ml', id.split('/')[1] ?? '', {
        metadata: { annotations: { 'flexlon.io/held-by': 'operator' } },
        spec: { suspend: true },
      }),
    now: () => epochMs(Date.now()),
    tick: async () => {
      await a.reconcile(epochMs(Date.now()));
      await new Promise((r) => setTimeout(r, 300));
    },
    stop: async () => {
      await fa.dispose();
      await fb.dispose();
    },
  };
});

test('Kubernetes: what the client library sends — bearer token, merge-patch content type, the batch/v1 paths', async () => {
  const f = await new FakeKubeApi().start();
  try {
    const s = new KubernetesScheduler({ site: 'k', auth: { kubeconfig: f.kubeconfig() }, namespaces: { ml: {} } });
    f.create(jobManifest('probe', { gpus: 1, seconds: 1 }));
    assert.equal((await s.hold('k:ml/probe')).ok, true);
    assert.equal((await s.deferUntil('k:ml/probe', epochMs(Date.now()))).ok, true);
    assert.equal((await s.release('k:ml/probe')).ok, true);
    assert.ok(f.requests.every((r) => r.authorization === `Bearer ${f.token}`));
    assert.ok(f.requests.some((r) => r.method === 'GET' && r.path === '/apis/batch/v1/namespaces/ml/jobs'));
    const patches = f.requests.filter((r) => r.method === 'PATCH');
    assert.ok(
      patches.length >= 1 &&
        patches.every(
          (r) =>
            r.path === '/apis/batch/v1/namespaces/ml/jobs/probe' && r.contentType === 'application/merge-patch+json',
        ),
    );
    assert.equal(f.get('ml', 'probe')?.spec.suspend, false, 'released and due: unsuspended');
    assert.equal(f.get('ml', 'probe')?.metadata.annotations?.['flexlon.io/admitted'], 'true');
  } finally {
    await f.dispose();
  }
});

test('Kubernetes: an API server that is down fails clearly as FLX_SCHEDULER_UNAVAILABLE; a refused token as FLX_SCHEDULER_COMMAND', async () => {
  const f = await new FakeKubeApi().start();
  try {
    const s = new KubernetesScheduler({
      site: 'k',
      auth: { kubeconfig: f.kubeconfig() },
      namespaces: { ml: {} },
      timeoutMs: 3000,
    });
    await f.stop();
    await assert.rejects(
      s.listJobs(),
      (e: unknown) => e instanceof FlexError && e.code === 'FLX_SCHEDULER_UNAVAILABLE',
    );
    await f.start();
    assert.equal((await s.listJobs()).length, 0, 'recovers when the API server is back');
    const { readFileSync, writeFileSync } = await import('node:fs');
    const path = f.kubeconfig();
    writeFileSync(path, readFileSync(path, 'utf8').replace(f.token, 'not-the-token'));
    const wrong = new KubernetesScheduler({ site: 'k', auth: { kubeconfig: path }, namespaces: { ml: {} } });
    await assert.rejects(
      wrong.listJobs(),
      (e: unknown) => e instanceof FlexError && e.code === 'FLX_SCHEDULER_COMMAND' && /HTTP 401/.test(e.message),
    );
  } finally {
    await f.dispose();
  }
});

test('Kubernetes: configuration mistakes are named (missing kubeconfig, no namespaces)', () => {
  assert.throws(
    () =>
      new KubernetesScheduler({ site: 'k', auth: { kubeconfig: '/nonexistent/kubeconfig' }, namespaces: { ml: {} } }),
    (e: unknown) => e instanceof FlexError && e.code === 'FLX_CONFIG_INVALID' && e.path === 'auth',
  );
  assert.throws(
    () => new KubernetesScheduler({ site: 'k', auth: 'default', namespaces: {} }),
    (e: unknown) => e instanceof FlexError && e.code === 'FLX_CONFIG_INVALID' && e.path === 'namespaces',
  );
});
