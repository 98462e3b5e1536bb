import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster, type SimClusterConfig } from '../../src/adapters/scheduler-sim/cluster.ts';
import { A100_SXM_NODE, jobPowerKw, nodeIdleKw, nodeMaxKw } from '../../src/sim/power.ts';
import { throughputAt } from '../../src/sim/power-cap.ts';
import { generateDay } from '../../src/sim/workload.ts';
import { epochMs, MINUTE_MS, type EpochMs, type SlotGrid } from '../../src/domain/time.ts';
import { kwh } from '../../src/domain/units.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { FlexError } from '../../src/errors.ts';

const HOUR = 60 * MINUTE_MS;
const t0 = epochMs(Date.UTC(2024, 0, 15));
const at = (hours: number): EpochMs => epochMs(t0 + hours * HOUR);
const site = 'lon-1';
const idleKw = nodeIdleKw(A100_SXM_NODE);
/** A cap between the lowest (half TDP) and TDP, in W per GPU. */
const throughputCapW = 0.7 * (A100_SXM_NODE.gpuTdpW ?? A100_SXM_NODE.gpuPeakW);

/** One training node (8 GPUs) and no inference pool, so every kW in a test is easy to follow. */
const small: SimClusterConfig = {
  site,
  region: 'GB-London',
  gridImportLimitKw: 100,
  trainingNodes: 1,
  inferenceNodes: 0,
};

const job = (id: string, gpus: number, hours: number, extra: Partial<ComputeJob> = {}): ComputeJob => {
  const powerKw = jobPowerKw(A100_SXM_NODE, gpus);
  const energyKwh = kwh(powerKw * hours);
  return {
    id,
    name: id,
    site,
    slo: 'deferrable',
    gpus,
    powerKw,
    energyKwh,
    remainingKwh: energyKwh,
    submittedAt: t0,
    releaseAt: t0,
    deadlineAt: at(24),
    preemptible: false,
    allowedSites: [site],
    work: gpus * hours,
    workUnit: 'gpu-hours',
    state: 'queued',
    ...extra,
  };
};

const byId = async (c: SimCluster): Promise<Map<string, ComputeJob>> =>
  new Map((await c.listJobs()).map((j) => [j.id, j]));
const get = async (c: SimCluster, id: string): Promise<ComputeJob> => {
  const j = (await byId(c)).get(id);
  assert.ok(j, `no job ${id}`);
  return j;
};
const grid = (slots: number, slotMinutes = 30, start: EpochMs = t0): SlotGrid => ({ start, slotMinutes, slots });
const close = (actual: number, expected: number, eps = 1e-9): void =>
  assert.ok(
    Math.abs(actual - expected) <= eps * Math.max(1, Math.abs(expected)),
    `expected ${expected}, got ${actual}`,
  );

test('jobs start first come first served within the GPU capacity; a later small job does not overtake', async () => {
  const c = new SimCluster(small, t0);
  c.submit([
    job('a', 4, 2),
    job('b', 8, 1, { submittedAt: epochMs(t0 + 1), releaseAt: epochMs(t0 + 1) }),
    job('c', 2, 1, { submittedAt: epochMs(t0 + 2), releaseAt: epochMs(t0 + 2) }),
  ]);
  c.advanceTo(at(1));
  assert.equal(c.gpusInUse, 4);
  assert.equal((await get(c, 'c')).state, 'queued', 'c must wait behind b even though 4 GPUs are free');
  c.advanceTo(at(5));
  const jobs = await byId(c);
  assert.equal(jobs.get('a')?.startedAt, t0);
  assert.equal(jobs.get('b')?.startedAt, at(2));
  assert.equal(jobs.get('c')?.startedAt, at(3));
  assert.equal(jobs.get('c')?.finishedAt, at(4));
  assert.equal(c.gpusInUse, 0);
});

test('a job finishes mid-slot when its energy runs out, and the meter sees it', async () => {
  const c = new SimCluster(small, t0);
  c.submit([job('a', 8, 0.75)]);
  c.advanceTo(at(1.5));
  const a = await get(c, 'a');
  assert.equal(a.state, 'completed');
  assert.equal(a.finishedAt, at(0.75));
  assert.equal(a.remainingKwh, 0);
  const pue = 1.3;
  const [s0, s1, s2] = await c.importKw(grid(3));
  close(s0 ?? NaN, nodeMaxKw(A100_SXM_NODE) * pue);
  close(s1 ?? NaN, (idleKw + jobPowerKw(A100_SXM_NODE, 8) / 2) * pue);
  close(s2 ?? NaN, idleKw * pue);
});

test('work done is metered as GPU-hours per slot: whole at full speed, less under a cap, none while waiting', async () => {
  const c = new SimCluster(small, t0);
  // a: 4 GPUs for 0.75 h (finishes mid-slot); b: 4 GPUs for 2 h, capped from 0.5 h; w waits behind them.
  c.submit([
    job('a', 4, 0.75),
    job('b', 4, 2),
    job('w', 8, 1, { submittedAt: epochMs(t0 + 1), releaseAt: epochMs(t0 + 1) }),
  ]);
  c.advanceTo(at(0.5));
  assert.deepEqual(await c.setPowerCap('b', throughputCapW), { ok: true, jobId: 'b' });
  c.advanceTo(at(1.5));
  const [s0, s1, s2, s3] = c.workGpuHours(grid(4));
  close(s0 ?? NaN, 4 * 0.5 + 4 * 0.5, 1e-9);
  // Slot 1: a's last quarter hour; b capped, so half an hour on 4 GPUs does `speed` of the work.
  const speed = throughputAt(throughputCapW / (A100_SXM_NODE.gpuTdpW ?? A100_SXM_NODE.gpuPeakW));
  assert.ok(speed < 1 && speed > 0.5, `speed ${speed}`);
  close(s1 ?? NaN, 4 * 0.25 + 4 * 0.5 * speed, 1e-9);
  close(s2 ?? NaN, 4 * 0.5 * speed, 1e-9);
  assert.ok(Number.isNaN(s3 ?? 0), 'NaN beyond what has been simulated');
  // The work counted is the work the jobs' records say is done (energy done at full speed ÷ power × GPUs).
  const done = (await c.listJobs()).reduce((a, j) => a + (j.gpus * (j.energyKwh - j.remainingKwh)) / j.powerKw, 0);
  close((s0 ?? 0) + (s1 ?? 0) + (s2 ?? 0), done, 1e-9);
  // A clone keeps the record and then runs on its own: its next half hour is not the original's.
  const twin = c.clone();
  twin.advanceTo(at(2));
  close(
    twin.workGpuHours(grid(3)).reduce((a, b) => a + b, 0),
    done,
    1e-9,
  );
  close(twin.workGpuHours(grid(4))[3] ?? NaN, 4 * 0.5 * speed, 1e-9);
  assert.ok(Number.isNaN(c.workGpuHours(grid(4))[3] ?? 0), 'the original has not run that half hour');
});

test('a deferred job does not start before its beginAt, then runs', async () => {
  const c = new SimCluster(small, t0);
  c.submit([job('a', 2, 1), job('b', 2, 1)]);
  assert.deepEqual(await c.deferUntil('a', at(1.25)), { ok: true, jobId: 'a' });
  c.advanceTo(at(1));
  assert.equal((await get(c, 'a')).state, 'queued');
  assert.equal((await get(c, 'b')).startedAt, t0, 'a deferred job does not block the queue behind it');
  c.advanceTo(at(3));
  const a = await get(c, 'a');
  assert.equal(a.beginAt, at(1.25));
  assert.equal(a.startedAt, at(1.25));
  assert.equal(a.finishedAt, at(2.25));
});

test('a held job never starts; released, it starts at the next step', async () => {
  const c = new SimCluster(small, t0);
  c.submit([job('a', 2, 1)]);
  assert.equal((await c.hold('a')).ok, true);
  c.advanceTo(at(5));
  assert.equal((await get(c, 'a')).state, 'held');
  assert.equal((await c.release('a')).ok, true);
  c.advanceTo(at(7));
  const a = await get(c, 'a');
  assert.equal(a.startedAt, at(5));
  assert.equal(a.state, 'completed');
});

test('actuating a running, finished or unknown job is refused as a value, not an exception', async () => {
  const c = new SimCluster(small, t0);
  c.submit([job('run', 8, 4), job('done', 1, 0.5, { submittedAt: epochMs(t0 - HOUR), releaseAt: epochMs(t0 - HOUR) })]);
  c.advanceTo(at(1));
  assert.equal((await get(c, 'done')).state, 'completed');
  for (const id of ['run', 'done', 'nope']) {
    for (const act of [c.deferUntil(id, at(10)), c.hold(id), c.release(id)]) {
      const r = await act;
      assert.equal(r.ok, false, `${id} should be refused`);
      assert.equal(r.jobId, id);
      if (!r.ok) assert.match(r.reason, id === 'nope' ? /no job/ : /is (running|completed)/);
    }
  }
  assert.equal((await get(c, 'run')).beginAt, undefined);
});

test('the meter reads NaN for slots not fully simulated and refuses to move time backwards', async () => {
  const c = new SimCluster(small, t0);
  c.advanceTo(at(0.75));
  const before = grid(1, 30, epochMs(t0 - 30 * MINUTE_MS));
  assert.ok(Number.isNaN((await c.importKw(before))[0]));
  const [s0, s1, s2] = await c.importKw(grid(3));
  close(s0 ?? NaN, idleKw * 1.3);
  assert.ok(Number.isNaN(s1 ?? 0) && Number.isNaN(s2 ?? 0));
  assert.throws(() => c.advanceTo(at(0.5)), /backwards/);
  c.advanceTo(at(0.75));
  assert.equal(c.now, at(0.75));
});

test('metered energy equals (idle + job + inference energy) × PUE over a generated day', async () => {
  const config: SimClusterConfig = { site, region: 'GB-London', gridImportLimitKw: 200 };
  const day = generateDay({ seed: 42, site, dayStart: t0 });
  const c = new SimCluster(config, t0, day.inferenceKw);
  c.submit(day.jobs);
  c.advanceTo(at(36));
  const g = grid(72);
  const metered = (await c.importKw(g)).reduce((a, b) => a + b * 0.5, 0);
  const jobsKwh = (await c.listJobs()).reduce((a, j) => a + j.energyKwh - j.remainingKwh, 0);
  const inferenceKwh = Array.from({ length: 72 }, (_, i) => (day.inferenceKw[i % 48] ?? NaN) * 0.5).reduce(
    (a, b) => a + b,
    0,
  );
  const idleKwh = 16 * idleKw * 36;
  close(metered, (idleKwh + jobsKwh + inferenceKwh) * 1.3);
  assert.ok(jobsKwh > 0);
  // Base load is what the site draws with no jobs at all.
  const base = c.baseLoadKw(g);
  close(base[3] ?? NaN, 16 * idleKw + (day.inferenceKw[3] ?? NaN));
});

test('a cluster started on a clock-change day keeps its inference peak at the same UK clock hour on later days', () => {
  // 26 March 2023: a 46-period settlement day from 00:00 GMT; 17:00 BST is 16:00 UTC, its slot 32.
  const spring = epochMs(Date.UTC(2023, 2, 26));
  const day = generateDay({ seed: 3, site, dayStart: spring });
  assert.equal(day.inferenceKw.length, 46);
  const c = new SimCluster({ site, region: 'GB', gridImportLimitKw: 200 }, spring, day.inferenceKw);
  const baseAt = (t: number) => c.baseLoadKw({ start: epochMs(t), slotMinutes: 30, slots: 1 })[0] ?? NaN;
  const fivePm = baseAt(Date.UTC(2023, 2, 26, 16));
  close(fivePm, 16 * idleKw + (day.inferenceKw[32] ?? NaN));
  // Twelve days on, 17:00 BST (16:00 UTC) reads the same clock half hour, and so does 03:00 BST; a
  // profile repeated by its 46 slots would have moved them by two slots a day.
  for (const d of [1, 2, 12]) {
    close(baseAt(Date.UTC(2023, 2, 26 + d, 16)), fivePm);
    close(baseAt(Date.UTC(2023, 2, 26 + d, 2)), baseAt(Date.UTC(2023, 2, 26, 2)));
  }
  // The peak (about 17:00 local) stays above the trough (about 05:00 local) on every later day.
  assert.ok(baseAt(Date.UTC(2023, 3, 7, 16)) > baseAt(Date.UTC(2023, 3, 7, 4)));
});

test("importKw and baseLoadKw answer for any slot grid, not only the cluster's own", async () => {
  const day = generateDay({ seed: 5, site, dayStart: t0 });
  const c = new SimCluster({ site, region: 'GB', gridImportLimitKw: 200 }, t0, day.inferenceKw);
  c.submit(day.jobs);
  c.advanceTo(at(24));
  const half = await c.importKw(grid(48));
  const hourly = await c.importKw(grid(24, 60));
  hourly.forEach((v, i) => close(v, ((half[2 * i] ?? NaN) + (half[2 * i + 1] ?? NaN)) / 2));
  const baseHalf = c.baseLoadKw(grid(48));
  c.baseLoadKw(grid(24, 60)).forEach((v, i) => close(v, ((baseHalf[2 * i] ?? NaN) + (baseHalf[2 * i + 1] ?? NaN)) / 2));
});

test('report gives limits, base load from the slot of `at`, and only open, already-submitted jobs', async () => {
  const profile = Array.from({ length: 48 }, (_, i) => 4 + i * 0.1);
  const c = new SimCluster({ site, region: 'GB-London', gridImportLimitKw: 150, inferenceNodes: 4 }, t0, profile);
  c.submit([job('short', 1, 0.5), job('long', 8, 10), job('later', 4, 1, { submittedAt: at(5), releaseAt: at(5) })]);
  c.advanceTo(at(2));
  const r = await c.report(at(2.25), grid(48));
  assert.equal(r.site, site);
  assert.equal(r.region, 'GB-London');
  assert.equal(r.pue, 1.3);
  assert.equal(r.gridImportLimitKw, 150);
  close(r.itPowerLimitKw, 20 * nodeMaxKw(A100_SXM_NODE));
  assert.equal(r.baseLoadKw.length, 44);
  close(r.baseLoadKw[0] ?? NaN, 16 * idleKw + (profile[4] ?? NaN));
  // 'later' is submitted at hour 5: a real queue would not show it yet.
  assert.deepEqual(
    r.jobs.map((j) => [j.id, j.state]),
    [['long', 'running']],
  );
  assert.deepEqual((await c.listJobs()).map((j) => j.id).sort(), ['long', 'short']);
  c.advanceTo(at(5));
  assert.deepEqual(
    (await c.report(at(5), grid(48))).jobs.map((j) => [j.id, j.state]),
    [
      ['long', 'running'],
      ['later', 'queued'],
    ],
  );
});

test('clone is independent: a counterfactual run leaves the original untouched', async () => {
  const c = new SimCluster(small, t0);
  c.submit([job('a', 8, 1), job('b', 8, 1)]);
  c.advanceTo(at(0.5));
  const twin = c.clone();
  assert.deepEqual(await twin.listJobs(), await c.listJobs());
  assert.equal((await twin.deferUntil('b', at(6))).ok, true);
  twin.advanceTo(at(8));
  twin.submit([job('c', 1, 1, { submittedAt: at(8), releaseAt: at(8) })]);
  assert.equal(c.now, at(0.5));
  assert.equal((await get(c, 'b')).beginAt, undefined);
  assert.equal((await get(c, 'a')).state, 'running');
  assert.equal((await c.listJobs()).length, 2);
  assert.ok(Number.isNaN((await c.importKw(grid(2)))[1] ?? 0));
  c.advanceTo(at(3));
  assert.equal((await get(c, 'b')).startedAt, at(1));
  assert.equal((await get(twin, 'b')).startedAt, at(6));
});

test('listJobs returns copies the caller cannot use to change the queue', async () => {
  const c = new SimCluster(small, t0);
  c.submit([job('a', 1, 1)]);
  const [a] = await c.listJobs();
  (a as { state: string }).state = 'cancelled';
  (a?.allowedSites as string[]).push('elsewhere');
  const again = await get(c, 'a');
  assert.equal(again.state, 'queued');
  assert.deepEqual(again.allowedSites, [site]);
});

test('invalid jobs and configuration are faults that throw with a clear message', () => {
  const c = new SimCluster(small, t0);
  c.submit([job('a', 1, 1)]);
  assert.throws(() => c.submit([job('a', 1, 1)]), /already queued/);
  assert.throws(() => c.submit([job('big', 9, 1)]), /needs 9 GPUs; the cluster has 8/);
  assert.throws(() => c.submit([job('x', 1, 1, { site: 'elsewhere', allowedSites: ['elsewhere'] })]), /not for site/);
  assert.throws(() => c.submit([job('r', 1, 1, { state: 'running' })]), /only queued or held/);
  assert.throws(() => c.submit([job('e', 1, 1, { releaseAt: epochMs(t0 - 1) })]), /released before/);
  const invalidConfig = (e: unknown): boolean => e instanceof FlexError && e.code === 'FLX_CONFIG_INVALID';
  assert.throws(() => new SimCluster({ ...small, pue: 0.9 }, t0), invalidConfig);
  assert.throws(() => new SimCluster({ ...small, trainingNodes: 0 }, t0), invalidConfig);
  assert.throws(() => new SimCluster(small, t0, [1000]), /inferenceKw\[0\]/);
  assert.throws(() => new SimCluster({ ...small, power: { gpuPeakW: 10 } }, t0), invalidConfig);
});
