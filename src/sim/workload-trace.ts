// A one-day workload drawn from distributions fitted on the public traces (src/sim/calibration.ts,
// or a fit made at run time from a traces directory: src/sim/fit-traces.ts):
// - Alibaba GPU 2023 (openb) pods: QoS LS (latency-sensitive) → inflexible, BE (best effort) →
//   deferrable; their share, GPU counts (GPU pods only: CPU-only pods are not GPU jobs; fractional
//   GPU shares count as a whole GPU, since a shared GPU still draws power), log-normal run times
//   (truncated to 5 min–24 h) and arrivals by hour. The trace's clock starts at an unknown local
//   time, so "hour" is hours since the trace's start, mod 24.
// - Azure LLM inference 2023: how bursty inference load is. The trace covers one hour, so it fixes
//   the noise around the daily shape (5-minute coefficient of variation, scaled to the slot length),
//   not the shape itself, which stays the raised cosine of generateDay (an assumption).
// Still assumed, not in any trace: how much slack best-effort jobs have before their deadline
// (4–16 h, as generateDay).
import type { ComputeJob } from '../domain/compute.ts';
import { intBetween, seeded, uniform, type Random } from '../domain/random.ts';
import { settlementPeriodOf } from '../domain/settlement-day.ts';
import { epochMs, MINUTE_MS } from '../domain/time.ts';
import { kwh } from '../domain/units.ts';
import { CALIBRATION } from './calibration.ts';
import type { Calibration } from './fit-traces.ts';
import { A100_SXM_NODE, checkNodePower, jobPowerKw, poolItKw, type GpuNodePower } from './power.ts';
import { arrivalHours, slotClockHours, type GeneratedDay, type WorkloadOptions } from './workload.ts';

const HOUR_MS = 60 * MINUTE_MS;
type QosFit = Calibration['alibaba']['bestEffort'];

export interface TraceWorkloadOptions extends Omit<WorkloadOptions, 'gpuMix'> {
  /** Fitted parameters (default: the shipped CALIBRATION). */
  readonly calibration?: Calibration;
}

const weighted = (rnd: Random, entries: readonly (readonly [number, number])[]): number => {
  const total = entries.reduce((a, [, w]) => a + w, 0);
  let x = rnd() * total;
  for (const [v, w] of entries) if ((x -= w) < 0) return v;
  return entries[entries.length - 1]?.[0] ?? 1;
};

/** Standard normal by Box–Muller. */
const normal = (rnd: Random): number => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());

const drawHours = (rnd: Random, fit: QosFit): number =>
  Math.min(24, Math.max(5 / 60, Math.exp(fit.runHours.logMean + fit.runHours.logSd * normal(rnd))));

const drawJob = (
  rnd: Random,
  o: TraceWorkloadOptions,
  power: GpuNodePower,
  cal: Calibration,
): Omit<ComputeJob, 'id'> => {
  const { latencySensitive: ls, bestEffort: be } = cal.alibaba;
  const deferrable = rnd() < be.pods / (be.pods + ls.pods);
  const fit = deferrable ? be : ls;
  const gpus = weighted(
    rnd,
    fit.gpuCounts.filter(([g]) => g > 0),
  );
  // By UK clock hour: 23 or 25 hours of arrivals on a clock-change day (workload.ts arrivalHours).
  const hour = weighted(rnd, arrivalHours(o.dayStart, fit.arrivalsByHour, 0));
  const submittedAt = epochMs(o.dayStart + hour * HOUR_MS + intBetween(rnd, 0, 59) * MINUTE_MS);
  const hours = drawHours(rnd, fit);
  const slackH = deferrable ? uniform(rnd, 4, 16) : 0;
  const powerKw = jobPowerKw(power, gpus);
  const energyKwh = kwh(powerKw * hours);
  return {
    name: `${deferrable ? 'be' : 'ls'}-${gpus}g`,
    site: o.site,
    slo: deferrable ? 'deferrable' : 'inflexible',
    gpus,
    powerKw,
    energyKwh,
    remainingKwh: energyKwh,
    submittedAt,
    releaseAt: submittedAt,
    deadlineAt: epochMs(submittedAt + (hours + slackH) * HOUR_MS),
    preemptible: false,
    allowedSites: [o.site],
    work: gpus * hours,
    workUnit: 'gpu-hours',
    state: 'queued',
  };
};

/** Inference pool power per slot: the daily shape of generateDay with the Azure trace's burstiness. */
const inference = (
  rnd: Random,
  hours: readonly number[],
  slotMinutes: number,
  power: GpuNodePower,
  nodes: number,
  cal: Calibration,
): number[] => {
  // Bursts average out over a slot: a 5-minute CV shrinks by √(slot / 5 min) for independent bins.
  const cv =
    Math.max(cal.azure.code.fiveMinuteCv, cal.azure.conv.fiveMinuteCv) / Math.sqrt(Math.max(1, slotMinutes / 5));
  return hours.map((hour) => {
    const shape = 0.5 - 0.5 * Math.cos((2 * Math.PI * (hour - 5)) / 24);
    const u = Math.min(1, Math.max(0, (0.2 + 0.6 * shape) * (1 + cv * normal(rnd))));
    return poolItKw(power, nodes, u * nodes * power.gpusPerNode);
  });
};

/** One day for one site, drawn from the trace fits; the same options give the same day. */
export const generateTraceDay = (o: TraceWorkloadOptions): GeneratedDay => {
  const { seed, jobs = 36, slotMinutes = 30, inferenceNodes = 4 } = o;
  const power = checkNodePower(o.power ?? A100_SXM_NODE);
  const cal = o.calibration ?? (CALIBRATION as unknown as Calibration);
  if (!Number.isInteger(jobs) || jobs < 0) throw new RangeError(`jobs must be a non-negative integer, got ${jobs}`);
  if (!Number.isInteger(slotMinutes) || slotMinutes <= 0 || 1440 % slotMinutes !== 0)
    throw new RangeError(`slotMinutes must divide a day, got ${slotMinutes}`);
  const rnd = seeded(seed);
  // The day's UK date (workload.ts, alibaba-pods.ts): a summer settlement day starts at 23:00 UTC.
  const day = settlementPeriodOf(o.dayStart).date;
  const list = Array.from({ length: jobs }, () => drawJob(rnd, o, power, cal))
    .sort((a, b) => a.submittedAt - b.submittedAt)
    .map((j, k): ComputeJob => ({ id: `${o.site}-${day}-t${String(k + 1).padStart(3, '0')}`, ...j }));
  return {
    jobs: list,
    inferenceKw: inference(
      seeded((seed ^ 0x9e3779b9) >>> 0),
      slotClockHours(o.dayStart, slotMinutes),
      slotMinutes,
      power,
      inferenceNodes,
      cal,
    ),
  };
};
