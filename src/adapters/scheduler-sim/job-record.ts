// A job as the simulated cluster (cluster.ts) tracks it: the ComputeJob, mutable, with its place in
// the FIFO queue (`seq`), its throughput under its GPUs' power cap (`speed`, 1 uncapped) and its
// marginal power while running (`drawKw`), as src/sim/power-cap.ts models a cap. The engine
// (engine.ts) steps these records; the cluster's port methods change and show them.
import type { ComputeJob } from '../../domain/compute.ts';
import { kw } from '../../domain/units.ts';
import { jobPowerKw, type GpuNodePower } from '../../sim/power.ts';
import { cappedDrawW, MIN_CAP_FRACTION, minCapW, throughputAt } from '../../sim/power-cap.ts';

/** A job as the cluster tracks it: `speed` is its throughput under its power cap (1 uncapped) and `drawKw` its marginal power while running. */
export type JobRecord = { -readonly [K in keyof ComputeJob]: ComputeJob[K] } & {
  readonly seq: number;
  speed: number;
  drawKw: number;
};

export const isWaiting = (j: JobRecord): boolean => j.state === 'queued' || j.state === 'held';
export const copyRecord = (j: JobRecord): JobRecord => ({ ...j, allowedSites: [...j.allowedSites] });
export const publicJob = ({ seq: _seq, speed: _speed, drawKw: _draw, ...job }: JobRecord): ComputeJob => ({
  ...job,
  allowedSites: [...job.allowedSites],
});

/** A job's record as submitted, `seq` its place in submission order: its cap range, and its cap if it came with one. */
export const newRecord = (job: ComputeJob, power: GpuNodePower, seq: number): JobRecord => {
  const minPowerKw =
    job.gpus > 0 ? Math.min(job.powerKw, jobPowerKw(power, job.gpus, cappedDrawW(power, minCapW(power)))) : job.powerKw;
  const rec: JobRecord = {
    ...job,
    allowedSites: [...job.allowedSites],
    minPowerKw: kw(minPowerKw),
    // The caps setPowerCap accepts: the lowest gives minPowerKw, TDP full power.
    ...(job.gpus > 0
      ? {
          powerCapRangeW: { minW: minCapW(power), maxW: power.gpuTdpW ?? power.gpuPeakW },
          minCapThroughput: throughputAt(MIN_CAP_FRACTION),
        }
      : {}),
    seq,
    speed: 1,
    drawKw: job.powerKw,
  };
  if (job.powerCapW !== undefined) applyCap(rec, power, job.powerCapW);
  return rec;
};

/** Caps the job's GPUs at `capW` each: its speed and draw from then on. */
export const applyCap = (job: JobRecord, power: GpuNodePower, capW: number): void => {
  const fraction = capW / (power.gpuTdpW ?? power.gpuPeakW);
  job.powerCapW = capW;
  job.speed = throughputAt(fraction);
  job.drawKw = jobPowerKw(power, job.gpus, cappedDrawW(power, capW));
};
