// The contract every Scheduler adapter must meet, exercised only through the Scheduler port (plus
// the fixture's way of submitting jobs as a user would, and of holding one by hand as an operator
// would). test/adapters/scheduler-*.contract.test.ts run it against the simulated cluster, real
// Slurm daemons and the Kubernetes Jobs API fake.
//
// Every fixture is set up the same way: jobs submitted to the managed queue arrive held by FlexLon
// (admission hold: Slurm job_submit.lua, Kubernetes suspended Jobs with a queue label, the simulated
// cluster's admission 'held'), so the agent sees them before they start.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { epochMs, type EpochMs } from '../../src/domain/time.ts';
import type { Scheduler } from '../../src/ports.ts';

export interface SubmitOptions {
  readonly name: string;
  readonly gpus: number;
  /** How long the job runs (its payload sleeps that long; the simulated cluster runs it that long). */
  readonly seconds: number;
  /** FlexLon metadata, as the user writes it (Slurm --comment JSON, Kubernetes annotations). */
  readonly meta?: Readonly<Record<string, unknown>>;
}

export interface SchedulerEnv {
  readonly scheduler: Scheduler;
  /** A second cluster of the same kind, for moves. */
  readonly other: Scheduler;
  submit(o: SubmitOptions, to?: Scheduler): Promise<string>;
  /** An operator holds the job by hand (not through FlexLon). */
  holdByHand(jobId: string): Promise<void>;
  /** The scheduler's clock. */
  now(): EpochMs;
  /** Lets scheduler time pass a little (the simulated cluster advances; real schedulers just run). */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

const jobOf = async (s: Scheduler, id: string): Promise<ComputeJob | undefined> =>
  (await s.listJobs()).find((j) => j.id === id);

/** Polls (ticking the scheduler) until the job satisfies `pred`; generous deadline, no timing assertion. */
const waitForJob = async (
  env: SchedulerEnv,
  s: Scheduler,
  id: string,
  what: string,
  pred: (j: ComputeJob) => boolean,
): Promise<ComputeJob> => {
  const until = Date.now() + 90_000;
  for (;;) {
    const j = await jobOf(s, id);
    if (j && pred(j)) return j;
    if (Date.now() > until) throw new Error(`job ${id} never became ${what}; last seen ${JSON.stringify(j)}`);
    await env.tick();
  }
};

export const schedulerContract = (name: string, setup: () => Promise<SchedulerEnv>): void => {
  describe(`Scheduler contract: ${name}`, () => {
    let env: SchedulerEnv;
    before(async () => {
      env = await setup();
    });
    after(async () => {
      await env?.stop();
    });

    test('a submitted job is listed held by FlexLon, with the metadata the user wrote and defaults for the rest', async () => {
      const deadline = new Date(env.now() + 6 * 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
      const id = await env.submit({
        name: 'meta',
        gpus: 2,
        seconds: 600,
        meta: { deadline, gpu_hours: 4, work: 4, sites: ['contract-a', 'contract-b'] },
      });
      const j = await jobOf(env.scheduler, id);
      assert.ok(j, `job ${id} is listed`);
      assert.equal(j.state, 'held');
      assert.equal(j.heldBy, 'flexlon');
      assert.equal(j.slo, 'deferrable');
      assert.equal(j.gpus, 2);
      assert.equal(j.site, env.scheduler.site);
      assert.equal(j.deadlineAt, Date.parse(deadline));
      assert.ok(j.powerKw > 0);
      assert.ok(
        Math.abs(j.energyKwh - (4 / 2) * j.powerKw) < 1e-6,
        `4 GPU-hours on 2 GPUs is 2 h at full power: ${j.energyKwh} kWh at ${j.powerKw} kW`,
      );
      assert.deepEqual([...j.allowedSites].sort(), ['contract-a', 'contract-b']);
      assert.equal(j.work, 4);
      assert.equal(j.metadataIssues, undefined);
    });

    test('a job with bad metadata is still listed, with defaults and a message naming the field', async () => {
      const id = await env.submit({
        name: 'badmeta',
        gpus: 1,
        seconds: 600,
        meta: { deadline: 'tomorrow evening', gpu_hours: -3 },
      });
      const j = await jobOf(env.scheduler, id);
      assert.ok(j);
      assert.ok(j.deadlineAt > env.now(), 'the default deadline lies ahead');
      const issues = (j.metadataIssues ?? []).join('\n');
      assert.match(issues, /deadline: "tomorrow evening" is not an ISO-8601 time/);
      assert.match(issues, /gpu_hours: -3 is not a number > 0/);
    });

    test('deferred and released: the job waits for its begin time instead of starting', async () => {
      const id = await env.submit({ name: 'defer', gpus: 1, seconds: 5 });
      const until = epochMs(env.now() + 3 * 3_600_000);
      assert.deepEqual(await env.scheduler.deferUntil(id, until), { ok: true, jobId: id });
      assert.deepEqual(await env.scheduler.release(id), { ok: true, jobId: id });
      const j = await jobOf(env.scheduler, id);
      assert.equal(j?.state, 'queued');
      assert.ok(j?.beginAt !== undefined && Math.abs(j.beginAt - until) < 1000, `beginAt ${j?.beginAt} ≈ ${until}`);
      await env.tick();
      assert.equal((await jobOf(env.scheduler, id))?.state, 'queued', 'still waiting for its begin time');
    });

    test('released to start now, the job runs and completes, and completion is observed', async () => {
      const since = epochMs(env.now() - 1000); // Slurm keeps times in whole seconds
      const id = await env.submit({ name: 'runs', gpus: 1, seconds: 2 });
      assert.equal((await env.scheduler.deferUntil(id, env.now())).ok, true);
      assert.equal((await env.scheduler.release(id)).ok, true);
      await waitForJob(env, env.scheduler, id, 'completed', (j) => j.state === 'completed');
      const done = await env.scheduler.finishedSince(since);
      const j = done.find((x) => x.id === id);
      assert.ok(j, 'finishedSince reports the job');
      assert.ok(j.finishedAt !== undefined && j.finishedAt >= since);
      assert.ok(j.startedAt !== undefined && j.startedAt <= j.finishedAt);
    });

    test('a running job cannot be deferred, held or cancelled through FlexLon: refused, with the reason', async () => {
      const id = await env.submit({ name: 'busy', gpus: 1, seconds: 600 });
      await env.scheduler.deferUntil(id, env.now());
      await env.scheduler.release(id);
      await waitForJob(env, env.scheduler, id, 'running', (j) => j.state === 'running');
      for (const r of [
        await env.scheduler.deferUntil(id, epochMs(env.now() + 3_600_000)),
        await env.scheduler.hold(id),
        await env.scheduler.cancel(id),
      ]) {
        assert.equal(r.ok, false);
        assert.equal(r.ok === false && r.code, 'wrong-state');
        assert.match(r.ok === false ? r.reason : '', /running|RUNNING/);
      }
    });

    test("a hold placed by hand is never released by FlexLon; FlexLon's own hold is", async () => {
      const id = await env.submit({ name: 'byhand', gpus: 1, seconds: 5 });
      assert.equal((await env.scheduler.deferUntil(id, epochMs(env.now() + 3_600_000))).ok, true);
      assert.equal((await env.scheduler.release(id)).ok, true);
      await env.holdByHand(id);
      let j = await jobOf(env.scheduler, id);
      assert.equal(j?.state, 'held');
      assert.equal(j?.heldBy, 'other');
      const r = await env.scheduler.release(id);
      assert.equal(r.ok === false && r.code, 'held-by-other');
      assert.equal((await jobOf(env.scheduler, id))?.state, 'held', 'still held');

      const mine = await env.submit({ name: 'mine', gpus: 1, seconds: 5 });
      await env.scheduler.deferUntil(mine, epochMs(env.now() + 3_600_000));
      await env.scheduler.release(mine);
      assert.equal((await env.scheduler.hold(mine)).ok, true);
      j = await jobOf(env.scheduler, mine);
      assert.equal(j?.heldBy, 'flexlon');
      assert.equal((await env.scheduler.release(mine)).ok, true);
      assert.equal((await jobOf(env.scheduler, mine))?.state, 'queued');
    });

    test('unknown jobs are refused as not found, not thrown', async () => {
      const id = `${env.scheduler.site}:does-not-exist`;
      for (const r of [
        await env.scheduler.deferUntil(id, env.now()),
        await env.scheduler.hold(id),
        await env.scheduler.release(id),
        await env.scheduler.cancel(id),
      ]) {
        assert.deepEqual(r.ok === false && r.code, 'not-found');
      }
      assert.equal(await env.scheduler.exportJob(id), undefined);
    });

    test('a waiting job can be cancelled, and is then reported as finished', async () => {
      const since = epochMs(env.now() - 1000); // Slurm keeps times in whole seconds
      const id = await env.submit({ name: 'cancel', gpus: 1, seconds: 5 });
      assert.equal((await env.scheduler.cancel(id)).ok, true);
      const j = await waitForJob(env, env.scheduler, id, 'cancelled', (x) => x.state === 'cancelled');
      assert.ok(j.finishedAt !== undefined);
      assert.ok((await env.scheduler.finishedSince(since)).some((x) => x.id === id));
    });

    test('power caps are applied where the scheduler can cap, refused as unsupported where it cannot', async () => {
      const id = await env.submit({ name: 'cap', gpus: 2, seconds: 5 });
      if (!env.scheduler.capabilities.powerCap) {
        const r = await env.scheduler.setPowerCap(id, 250);
        assert.equal(r.ok === false && r.code, 'unsupported');
        return;
      }
      assert.equal((await env.scheduler.setPowerCap(id, 5)).ok === false, true, 'an absurd cap is refused');
      assert.deepEqual(await env.scheduler.setPowerCap(id, 250), { ok: true, jobId: id });
      const j = await jobOf(env.scheduler, id);
      assert.equal(j?.powerCapW, 250);
      assert.ok(j?.minPowerKw !== undefined && j.minPowerKw < j.powerKw);
    });

    test('a job moves to another cluster: resubmitted there held by FlexLon, cancelled here, same identity', async () => {
      const id = await env.submit({
        name: 'mover',
        gpus: 1,
        seconds: 5,
        meta: { sites: [env.scheduler.site, env.other.site], gpu_hours: 1 },
      });
      const exported = await env.scheduler.exportJob(id);
      assert.ok(exported);
      assert.equal(exported.id, id);
      assert.equal(exported.kind, env.scheduler.capabilities.kind);
      assert.deepEqual(await env.other.importJob(exported), { ok: true, jobId: id });
      assert.deepEqual(await env.scheduler.cancel(id), { ok: true, jobId: id });
      const there = await jobOf(env.other, id);
      assert.ok(there, 'listed at the other cluster under the same id');
      assert.equal(there.site, env.other.site);
      assert.equal(there.state, 'held');
      assert.equal(there.heldBy, 'flexlon');
      assert.equal(there.gpus, 1);
      assert.ok(Math.abs(there.energyKwh - exported.job.energyKwh) < 1e-6, 'the metadata moved with it');
      await waitForJob(env, env.scheduler, id, 'cancelled here', (j) => j.state === 'cancelled');
      // A job that may not run at the other site is refused there.
      const stay = await env.submit({ name: 'stay', gpus: 1, seconds: 5 });
      const e2 = await env.scheduler.exportJob(stay);
      assert.ok(e2);
      assert.equal((await env.other.importJob(e2)).ok, false);
    });
  });
};
