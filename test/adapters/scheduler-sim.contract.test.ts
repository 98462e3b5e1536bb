// The Scheduler contract against the built-in simulated cluster (admission 'held').
import { SimCluster } from '../../src/adapters/scheduler-sim/cluster.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { metadataFromText, resolveMetadata } from '../../src/domain/job-metadata.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { kwh } from '../../src/domain/units.ts';
import { DEFAULT_POLICY } from '../../src/adapters/scheduler-slurm/config.ts';
import { A100_SXM_NODE, jobPowerKw } from '../../src/sim/power.ts';
import { schedulerContract, type SubmitOptions } from '../contract/scheduler.contract.ts';

const t0 = epochMs(Date.UTC(2024, 0, 15));
const config = (site: string) => ({
  site,
  region: 'GB',
  gridImportLimitKw: 500,
  trainingNodes: 1,
  inferenceNodes: 0,
  admission: 'held' as const,
});

schedulerContract('simulated cluster', async () => {
  const a = new SimCluster(config('contract-a'), t0);
  const b = new SimCluster(config('contract-b'), t0);
  let n = 0;
  // A user's submission, read the way the Slurm adapter reads it: the same metadata rules and defaults.
  const submit = (o: SubmitOptions, to: SimCluster = a): Promise<string> => {
    const id = `${to.site}:${++n}`;
    const text = metadataFromText(JSON.stringify(o.meta ?? {}), `job ${id}`);
    const policy = { ...DEFAULT_POLICY, gpuPowerKw: jobPowerKw(A100_SXM_NODE, 1) };
    const meta = resolveMetadata(
      text.fields,
      { site: to.site, submittedAt: to.now, gpus: o.gpus, cpus: 1, timeLimitMinutes: o.seconds / 60 },
      policy,
      `job ${id}`,
      text.issues,
    );
    const job: ComputeJob = {
      id,
      name: o.name,
      site: to.site,
      slo: meta.slo,
      gpus: o.gpus,
      powerKw: meta.powerKw,
      energyKwh: meta.energyKwh,
      remainingKwh: kwh(meta.energyKwh),
      submittedAt: to.now,
      releaseAt: to.now,
      deadlineAt: meta.deadlineAt,
      preemptible: meta.preemptible,
      allowedSites: meta.allowedSites,
      work: meta.work,
      workUnit: meta.workUnit,
      state: 'queued',
      ...(meta.issues.length > 0 ? { metadataIssues: meta.issues } : {}),
    };
    to.submit([job]);
    return Promise.resolve(id);
  };
  return {
    scheduler: a,
    other: b,
    submit: (o, to) => submit(o, (to as SimCluster | undefined) ?? a),
    holdByHand: async (id) => {
      await a.holdByHand(id);
    },
    now: () => a.now,
    tick: async () => {
      for (const c of [a, b]) c.advanceTo(epochMs(c.now + 5 * MINUTE_MS));
    },
    stop: async () => undefined,
  };
});
