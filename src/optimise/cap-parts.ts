// The GPU power cap as a continuous lever (issue 13 item 2; docs/cost-model.md, "GPU power caps"):
// a running job whose scheduler can cap it enters the planning problem as two parts, its floor and
// its cappable part. The problem builder (problem.ts) splits the job; the dispatch (dispatch.ts)
// reads the cappable part back into the job's GPU power for the current slot.
import type { ComputeJob } from '../domain/compute.ts';
import type { JobSpec } from '../domain/planning.ts';

/**
 * A running job that its scheduler can cap enters the problem as two parts (issue 13 item 2, the
 * cap as a continuous lever): its floor, pinned like any running job at its lowest-cap power, and
 * this part — the power between the floor and full power — preemptible and soft over the same slots.
 * Leaving part of it out of a slot is capping the job there; the energy then runs later, and the
 * time lost is costed as lateness at the job's own £ per GPU-hour (docs/cost-model.md, "GPU power
 * caps"). The energy is kept whole (a cap saves energy per unit of work on the measured curves, so
 * this overstates the cost slightly rather than understating it).
 */
export const CAP_PART_PREFIX = 'cap:';
export const capPartId = (jobId: string): string => `${CAP_PART_PREFIX}${jobId}`;

/**
 * A running job that can be capped, as its floor and its cappable part (CAP_PART_PREFIX); any other
 * job as it is. `defaultLateGbpPerGpuHour` is the lateness cost for a job that states none.
 */
export const capParts = (job: ComputeJob, spec: JobSpec, defaultLateGbpPerGpuHour: number): JobSpec[] => {
  const floorKw = job.minPowerKw ?? spec.maxPowerKw;
  if (job.state !== 'running' || !(floorKw < spec.maxPowerKw - 1e-6) || floorKw <= 0) return [spec];
  const share = floorKw / spec.maxPowerKw;
  // The cappable part carries the share of the job's work that the lowest cap gives up (1 − its
  // speed there), so its lateness is that share of the job's: on the measured A100 curve a cap at
  // half TDP keeps 70 % of the speed for 54 % of the GPU power, so a kWh shed by capping delays less
  // work than a kWh of a waiting job deferred.
  const speed = Math.min(1, Math.max(share, job.minCapThroughput ?? share));
  const late = (job.lateGbpPerGpuHour ?? defaultLateGbpPerGpuHour) * job.gpus * (1 - speed);
  if (!(late > 0)) return [spec];
  // The work is the floor's: the cappable part carries energy and lateness, not extra units.
  const { work: _work, ...rest } = spec;
  return [
    { ...spec, energyKwh: spec.energyKwh * share, maxPowerKw: floorKw },
    {
      ...rest,
      id: capPartId(spec.id),
      energyKwh: spec.energyKwh * (1 - share),
      maxPowerKw: spec.maxPowerKw - floorKw,
      preemptible: true,
      slo: { kind: 'soft', lateGbpPerHour: late },
    },
  ];
};
