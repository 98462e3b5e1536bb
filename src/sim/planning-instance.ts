// Seeded planning problems at fleet scale, for benchmarks and tests: three GB sites with batteries,
// half-hourly price and carbon curves with a day shape (cheap, windy nights; an evening price peak;
// a midday solar dip in carbon; Scotland cleaner, London dearer), and a job mix of checkpointable
// training, batch and non-preemptible jobs with release times, SLO slack and site residency. Site
// limits leave ~1.7× headroom over the average load, and the carbon cap is set below what the
// cost-optimal plan emits, so it binds.
import type { JobSpec, PlanningProblem, SiteSpec } from '../domain/planning.ts';
import { intBetween, pick, seeded, uniform, type Random } from '../domain/random.ts';

export interface InstanceOptions {
  readonly jobs: number;
  readonly seed: number;
  readonly slots?: number;
  readonly slotMinutes?: number;
  readonly batteries?: boolean;
  /** Carbon cap as a share of the jobs' energy at the sites' mean carbon intensity (default 0.93). */
  readonly capShare?: number;
  /**
   * Offered load as a share of the sites' IT capacity over the horizon (say 1.25): a version 2
   * problem where most jobs have soft deadlines (a £/GPU-hour lateness cost) and a tenth are hard.
   */
  readonly overload?: number;
}

const SITES = [
  { id: 'lon', priceOffset: 12, carbonScale: 1.0, pue: 1.3 },
  { id: 'man', priceOffset: 0, carbonScale: 0.95, pue: 1.25 },
  { id: 'edi', priceOffset: -8, carbonScale: 0.55, pue: 1.2 },
] as const;

/** Hour of day (0–24) at the middle of slot t. */
const hourOf = (t: number, slotMinutes: number): number => (((t + 0.5) * slotMinutes) / 60) % 24;

const priceCurve = (rnd: Random, slots: number, slotMinutes: number, offset: number): number[] =>
  Array.from({ length: slots }, (_, t) => {
    const hr = hourOf(t, slotMinutes);
    const evening = hr >= 16 && hr < 20 ? 90 : 0;
    const day = hr >= 7 && hr < 22 ? 25 : 0;
    const night = hr < 5 ? -20 : 0;
    return Math.round((70 + offset + evening + day + night + uniform(rnd, -12, 12)) * 100) / 100;
  });

const carbonCurve = (rnd: Random, slots: number, slotMinutes: number, scale: number): number[] =>
  Array.from({ length: slots }, (_, t) => {
    const hr = hourOf(t, slotMinutes);
    const solar = hr >= 10 && hr < 16 ? -45 : 0;
    const evening = hr >= 16 && hr < 21 ? 60 : 0;
    const wind = 40 * Math.sin((2 * Math.PI * (t + 7)) / slots);
    return Math.max(10, Math.round((170 + solar + evening + wind + uniform(rnd, -15, 15)) * scale));
  });

interface Kind {
  readonly share: number;
  readonly preemptible: boolean;
  readonly kw: [number, number];
  readonly run: [number, number];
  readonly slack: readonly number[];
}

// Run lengths and slack in slots (30 min). Slack tiers stand for SLO classes: hours, a shift, a day.
const KINDS: readonly Kind[] = [
  { share: 0.35, preemptible: true, kw: [20, 160], run: [4, 20], slack: [8, 16, 32, 96] },
  { share: 0.35, preemptible: true, kw: [5, 40], run: [1, 8], slack: [4, 8, 16, 48] },
  { share: 0.3, preemptible: false, kw: [5, 60], run: [1, 6], slack: [2, 6, 12, 24] },
];

const makeJob = (rnd: Random, i: number, slots: number, h: number): JobSpec => {
  const r = rnd();
  const kind = r < KINDS[0]!.share ? KINDS[0]! : r < KINDS[0]!.share + KINDS[1]!.share ? KINDS[1]! : KINDS[2]!;
  const maxPowerKw = Math.round(uniform(rnd, kind.kw[0], kind.kw[1]));
  const run = Math.min(slots, intBetween(rnd, kind.run[0], kind.run[1]));
  // Energy in whole kWh, a little under `run` full-power slots so the last slot is partial.
  const energyKwh = Math.max(1, Math.round(maxPowerKw * h * (run - uniform(rnd, 0, 0.6))));
  // A quarter of the jobs are the queue already waiting (release 0); the rest arrive through the day.
  const releaseSlot = rnd() < 0.25 ? 0 : intBetween(rnd, 0, Math.max(0, slots - run - 1));
  const deadlineSlot = Math.min(slots, releaseSlot + run + pick(rnd, kind.slack));
  const where = rnd();
  const sites = where < 0.4 ? [pick(rnd, SITES).id] : where < 0.6 ? [SITES[0].id, SITES[1].id] : SITES.map((s) => s.id);
  // Work in GPU-hours at 0.7 kW per GPU.
  return {
    id: `job-${i}`,
    energyKwh,
    maxPowerKw,
    releaseSlot,
    deadlineSlot,
    preemptible: kind.preemptible,
    sites,
    work: Math.round((energyKwh / 0.7) * 100) / 100,
  };
};

// Overloaded instances: £ per GPU-hour of lateness by job tier, and the kW of one GPU.
const LATE_GBP_PER_GPU_HOUR = [0.1, 0.5, 2] as const;
const GPU_KW = 0.7;

/**
 * Soft deadlines for an overloaded fleet: a tenth of the preemptible jobs stay hard (must-run
 * inference); the rest pay £/GPU-hour × GPUs per hour late, and a third of those must finish within a
 * day of their deadline.
 */
const withSlo = (rnd: Random, j: JobSpec): JobSpec => {
  if (j.preemptible && rnd() < 0.1) return { ...j, slo: { kind: 'hard' } };
  const gpus = Math.max(1, Math.round(j.maxPowerKw / GPU_KW));
  const lateGbpPerHour = pick(rnd, LATE_GBP_PER_GPU_HOUR) * gpus;
  return {
    ...j,
    slo: rnd() < 1 / 3 ? { kind: 'soft', lateGbpPerHour, maxDelaySlots: 48 } : { kind: 'soft', lateGbpPerHour },
  };
};

export const generatePlanningProblem = (o: InstanceOptions): PlanningProblem => {
  const rnd = seeded(o.seed);
  const slots = o.slots ?? 96;
  const slotMinutes = o.slotMinutes ?? 30;
  const h = slotMinutes / 60;
  const plain = Array.from({ length: o.jobs }, (_, i) => makeJob(rnd, i, slots, h));
  const jobs = o.overload === undefined ? plain : plain.map((j) => withSlo(rnd, j));
  const totalKwh = jobs.reduce((a, j) => a + j.energyKwh, 0);
  const averageKw = totalKwh / (slots * h);
  const sites: SiteSpec[] = SITES.map((s) => {
    // Sites share the load; 1.7× headroom over the average in total, spread 40/35/25 % (overloaded:
    // capacity is the average load / overload).
    const share = s.id === 'lon' ? 0.4 : s.id === 'man' ? 0.35 : 0.25;
    const itPowerLimitKw =
      o.overload === undefined ? Math.ceil(averageKw * 1.7 * share + 200) : Math.ceil((averageKw / o.overload) * share);
    const battery =
      o.batteries === false
        ? undefined
        : {
            capacityKwh: Math.round(itPowerLimitKw * 0.3),
            maxChargeKw: Math.round(itPowerLimitKw * 0.15),
            maxDischargeKw: Math.round(itPowerLimitKw * 0.15),
            roundTripEfficiency: 0.9,
            initialSocKwh: Math.round(itPowerLimitKw * 0.15),
            minSocKwh: Math.round(itPowerLimitKw * 0.03),
          };
    return {
      id: s.id,
      itPowerLimitKw,
      pue: s.pue,
      gridImportLimitKw: Math.round(itPowerLimitKw * s.pue * 0.97),
      priceGbpPerMwh: priceCurve(rnd, slots, slotMinutes, s.priceOffset),
      carbonGPerKwh: carbonCurve(rnd, slots, slotMinutes, s.carbonScale),
      ...(battery ? { battery } : {}),
    };
  });
  const meanKgPerKwh =
    sites.reduce((a, s) => a + (s.carbonGPerKwh.reduce((x, y) => x + y, 0) / slots) * s.pue, 0) / sites.length / 1000;
  return {
    version: o.overload === undefined ? 1 : 2,
    start: '2023-06-01T00:00:00Z',
    slotMinutes,
    slots,
    sites,
    jobs,
    carbonCapKg: Math.round(totalKwh * meanKgPerKwh * (o.capShare ?? 0.93)),
    commitments: [],
  };
};
