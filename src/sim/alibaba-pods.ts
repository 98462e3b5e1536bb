// `--workload alibaba:PATH` (issue 15): a backtest day's jobs drawn from the pods of an Alibaba GPU
// 2023 (openb) pod list read at run time from PATH (the trace is for research use only and is never
// copied into the project). The synthetic workload draws 8–64-GPU training jobs and takes only the
// hour of arrival from the trace; this one takes the pods themselves.
// - A pod is usable when it asks for GPUs and ran: scheduled, then deleted after that. Its run is
//   scheduled → deleted, at most 24 h (pods still running when the trace ends carry its end as their
//   deletion time; a day-long cap keeps them from holding a site for weeks); a fractional GPU share
//   counts as a whole GPU, since a shared GPU still draws power (as src/sim/calibration.ts).
// - The trace is not a time-true load: its 6,203 usable pods over 149 days ask for about 58
//   GPU-hours a day (runs capped at 24 h), a fraction of one site. So each day draws pods with
//   replacement (seeded), each at its own time of day (seconds since the trace's start, mod 24 h: the
//   trace's clock starts at an unknown local time), until they ask for the fleet's fill of the pool's
//   GPU-hours, as the synthetic busy day is sized: a bootstrap of the trace's joint distribution of
//   GPUs, run time, QoS and time of day, scaled to the site.
// - Best-effort (BE) pods get 4–16 h of slack before their deadline, as the synthetic workload (the
//   trace has no deadlines). Latency-sensitive and other pods must start at the first decision after
//   they arrive (the next half-hour boundary: the backtest decides once a period) and are due at the
//   end of the period their run then ends in (lateness is priced per period: docs/planning-problem.md,
//   "Soft deadlines"); any further wait is late. In the trace half of them were scheduled within 2 s.
// - Pods are planned in groups: those of one QoS class submitted in one half hour whose runs last the
//   same number of half hours run side by side as one job (their GPUs summed, at most 64, and their
//   GPU-hours kept), submitted with the group's last pod. Every strategy sees a job at the next period
//   start after its submission (src/backtest/site-sim.ts), so a group is seen when its pods would be;
//   without groups a 256-GPU site's day is about 3,700 pods, most shorter than a period.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ComputeJob } from '../domain/compute.ts';
import { seeded, uniform } from '../domain/random.ts';
import { epochMs } from '../domain/time.ts';
import { kwh } from '../domain/units.ts';
import { FlexError } from '../errors.ts';
import { periodsInDay, PERIOD_MS, settlementPeriodOf } from '../domain/settlement-day.ts';
import { jobPowerKw, type GpuNodePower } from './power.ts';

export const ALIBABA_POD_LIST = 'openb_pod_list_default.csv';
const DAY_S = 86_400;
const PERIOD_S = 1_800;
/** The largest group: the synthetic busy profile's largest job (src/backtest/fleet-file.ts LARGEST_JOB_GPUS). */
export const GROUP_MAX_GPUS = 64;

export interface AlibabaPod {
  readonly gpus: number;
  /** Run time, hours (scheduled → deleted, at most 24). */
  readonly hours: number;
  /** Seconds after midnight of the trace's clock at which it was created. */
  readonly secondOfDay: number;
  readonly bestEffort: boolean;
}

export interface AlibabaTrace {
  readonly path: string;
  readonly pods: readonly AlibabaPod[];
  /** Rows of the file, and rows left out (no GPU, never ran, or more GPUs than a group holds). */
  readonly rows: number;
  readonly skipped: number;
  /** Of `skipped`, pods asking for more than GROUP_MAX_GPUS GPUs (a site may have no more). */
  readonly tooLarge: number;
}

/** The most pods one site's day may take: a list of ever shorter pods would otherwise never fill it. */
export const MAX_PODS_PER_DAY = 200_000;

const REQUIRED = ['num_gpu', 'qos', 'creation_time', 'scheduled_time', 'deletion_time'] as const;

/** Reads a pod list: PATH is the CSV or a folder holding openb_pod_list_default.csv. */
export const readAlibabaTrace = (path: string): AlibabaTrace => {
  const bad = (why: string): never => {
    throw new FlexError('FLX_CONFIG_INVALID', `--workload alibaba:${path}: ${why}`, { path });
  };
  let file = path;
  let text = '';
  try {
    if (statSync(path).isDirectory()) file = join(path, ALIBABA_POD_LIST);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    bad(`cannot be read (${(e as Error).message}); give the pod list ${ALIBABA_POD_LIST} or the folder holding it`);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const head = (lines[0] ?? '').split(',').map((c) => c.trim());
  const at = Object.fromEntries(REQUIRED.map((c) => [c, head.indexOf(c)])) as Record<(typeof REQUIRED)[number], number>;
  const missing = REQUIRED.filter((c) => at[c] < 0);
  if (missing.length) bad(`its header lacks ${missing.join(', ')} (an openb pod list has ${REQUIRED.join(', ')})`);
  const pods: AlibabaPod[] = [];
  let tooLarge = 0;
  for (let i = 1; i < lines.length; i++) {
    const cells = (lines[i] as string).split(',');
    const num = (c: (typeof REQUIRED)[number]): number | undefined => {
      const raw = cells[at[c]]?.trim() ?? '';
      if (raw === '') return undefined;
      const n = Number(raw);
      if (!Number.isFinite(n)) bad(`line ${i + 1}: ${c} must be a number, got "${raw}"`);
      return n;
    };
    const gpus = num('num_gpu') ?? 0;
    const created = num('creation_time');
    const scheduled = num('scheduled_time');
    const deleted = num('deletion_time');
    if (!(gpus > 0) || created === undefined || scheduled === undefined || deleted === undefined) continue;
    if (!(deleted > scheduled)) continue;
    // The backtest's sites hold at least 64 GPUs (fleet-file.ts); a larger pod could never start.
    if (Math.ceil(gpus) > GROUP_MAX_GPUS) {
      tooLarge++;
      continue;
    }
    pods.push({
      gpus: Math.ceil(gpus),
      hours: Math.min(24, (deleted - scheduled) / 3600),
      secondOfDay: ((created % DAY_S) + DAY_S) % DAY_S,
      bestEffort: cells[at.qos]?.trim() === 'BE',
    });
  }
  if (pods.length === 0) bad(`holds no pod that asks for 1–${GROUP_MAX_GPUS} GPUs and ran (scheduled, then deleted)`);
  return { path: file, pods, rows: lines.length - 1, skipped: lines.length - 1 - pods.length, tooLarge };
};

export interface AlibabaDayOptions {
  readonly seed: number;
  readonly site: string;
  readonly dayStart: number;
  readonly trainingGpus: number;
  /** Share of the pool's 24 GPU-hours a GPU the day's pods ask for. */
  readonly fill: number;
  readonly power: GpuNodePower;
}

interface Group {
  gpus: number;
  gpuHours: number;
  lastSecond: number;
  readonly bestEffort: boolean;
}

/** One day's jobs at a site, drawn from the trace's pods and grouped (see the top); the same options give the same day. */
export const alibabaDay = (trace: AlibabaTrace, o: AlibabaDayOptions): ComputeJob[] => {
  const rnd = seeded(o.seed);
  const target = o.fill * o.trainingGpus * 24;
  const open = new Map<string, Group>();
  const groups: Group[] = [];
  let asked = 0;
  let drawn = 0;
  // The settlement day is 23 or 25 hours on a clock-change day: a pod's time of day is taken within
  // the day's real length, so no job of this day is submitted after the next day starts (a site's
  // queue takes each day's jobs in submission order, after the last day's).
  const dayS = (periodsInDay(settlementPeriodOf(o.dayStart).date) * PERIOD_MS) / 1000;
  while (asked < target) {
    if (++drawn > MAX_PODS_PER_DAY)
      throw new FlexError(
        'FLX_CONFIG_INVALID',
        `--workload alibaba:${trace.path}: its pods are too short to fill site ${o.site}'s day (${target.toFixed(0)} GPU-hours) in ${MAX_PODS_PER_DAY} pods`,
        { path: trace.path },
      );
    const drawnPod = trace.pods[Math.floor(rnd() * trace.pods.length)] as AlibabaPod;
    const pod = { ...drawnPod, secondOfDay: drawnPod.secondOfDay % dayS };
    asked += pod.gpus * pod.hours;
    const key = `${pod.bestEffort ? 'be' : 'ls'}|${Math.floor(pod.secondOfDay / PERIOD_S)}|${Math.ceil(pod.hours * 2)}`;
    let g = open.get(key);
    if (g && g.gpus + pod.gpus > GROUP_MAX_GPUS) g = undefined;
    if (!g) {
      g = { gpus: 0, gpuHours: 0, lastSecond: 0, bestEffort: pod.bestEffort };
      open.set(key, g);
      groups.push(g);
    }
    g.gpus += pod.gpus;
    g.gpuHours += pod.gpus * pod.hours;
    g.lastSecond = Math.max(g.lastSecond, pod.secondOfDay);
  }
  // The day's UK date, as in workload.ts: the UTC date of a summer settlement day's start (23:00 UTC)
  // is the day before, which gave the day after the spring clock change the ids of the day before,
  // and a year's backtest stopped there (FLX_INTERNAL: a job appears more than once).
  const day = settlementPeriodOf(o.dayStart).date;
  return groups
    .map((g) => {
      const hours = g.gpuHours / g.gpus;
      const submittedAt = o.dayStart + g.lastSecond * 1000;
      const period = PERIOD_S * 1000;
      const nextDecision = Math.ceil(submittedAt / period) * period;
      const deadlineAt = g.bestEffort
        ? submittedAt + (hours + uniform(rnd, 4, 16)) * 3_600_000
        : Math.ceil((nextDecision + hours * 3_600_000) / period) * period;
      const powerKw = jobPowerKw(o.power, g.gpus);
      return { g, hours, deadlineAt, submittedAt, powerKw };
    })
    .sort((a, b) => a.submittedAt - b.submittedAt)
    .map(({ g, hours, deadlineAt, submittedAt, powerKw }, k): ComputeJob => {
      const energyKwh = kwh(powerKw * hours);
      return {
        id: `${o.site}-${day}-a${String(k + 1).padStart(4, '0')}`,
        name: `${g.bestEffort ? 'be' : 'ls'}-${g.gpus}g`,
        site: o.site,
        slo: 'deferrable',
        gpus: g.gpus,
        powerKw,
        energyKwh,
        remainingKwh: energyKwh,
        submittedAt: epochMs(submittedAt),
        releaseAt: epochMs(submittedAt),
        deadlineAt: epochMs(deadlineAt),
        preemptible: false,
        allowedSites: [o.site],
        work: g.gpuHours,
        workUnit: 'gpu-hours',
        state: 'queued',
      };
    });
};
