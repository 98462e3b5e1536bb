// A site's flexibility summed up from its queue: the numbers a Compute-Flex agent reports beside
// the job list, so pricing and aggregate planners need not re-derive them. Pure.
//
// - minPowerKw: the least IT power per slot that still meets every SLO. Base load, running jobs
//   (at their lowest power cap, if the scheduler can cap), inflexible waiting jobs as soon as they
//   may start, and the *compulsory part* of each deferrable job: with earliest start e, latest start
//   l = deadline − run time, every schedule runs the job over [l, e + run time) when l < e + run time
//   (the compulsory part of cumulative scheduling, Lahrichi 1982). Nothing else has to run.
// - asapPowerKw: what the site would draw with no FlexLon: every waiting job from its earliest start
//   (GPU capacity is ignored, so it is an upper bound near busy hours).
// - powerCapHeadroomKw: how much running jobs could shed under power caps.
import type { ComputeJob, DeferrableWindow, FlexibilitySummary, LocationalOption } from './compute.ts';
import { epochMs, MINUTE_MS, type EpochMs } from './time.ts';
import { kw, kwh } from './units.ts';

const HOUR_MS = 60 * MINUTE_MS;

interface Span {
  readonly from: EpochMs;
  readonly slotMinutes: number;
  readonly slots: number;
}

/** Adds a constant power over [a, b) to per-slot averages. */
const addPower = (out: number[], span: Span, a: number, b: number, powerKw: number): void => {
  const slotMs = span.slotMinutes * MINUTE_MS;
  if (!(b > a) || powerKw === 0) return;
  const first = Math.max(0, Math.floor((a - span.from) / slotMs));
  const last = Math.min(span.slots - 1, Math.floor((b - 1 - span.from) / slotMs));
  for (let i = first; i <= last; i++) {
    const s = span.from + i * slotMs;
    const overlap = Math.min(b, s + slotMs) - Math.max(a, s);
    if (overlap > 0) out[i] = (out[i] ?? 0) + (powerKw * overlap) / slotMs;
  }
};

const runMs = (job: ComputeJob): number => (job.powerKw > 0 ? (job.remainingKwh / job.powerKw) * HOUR_MS : 0);

/** Jobs the site will run: waiting or running, and not held by someone FlexLon may not overrule. */
const isLive = (j: ComputeJob): boolean =>
  j.state === 'running' || ((j.state === 'queued' || j.state === 'held') && j.heldBy !== 'other');

const windows = (jobs: readonly ComputeJob[], now: EpochMs, slotMs: number): DeferrableWindow[] => {
  const groups = new Map<string, { from: number; to: number; energy: number; jobs: number }>();
  for (const j of jobs) {
    // Windows are slot-aligned so that jobs with nearly the same window aggregate into one class.
    const from = Math.floor(Math.max(now, j.releaseAt) / slotMs) * slotMs;
    const to = Math.floor(j.deadlineAt / slotMs) * slotMs;
    const key = `${from}-${to}`;
    const g = groups.get(key) ?? { from, to, energy: 0, jobs: 0 };
    g.energy += j.remainingKwh;
    g.jobs += 1;
    groups.set(key, g);
  }
  return [...groups.values()]
    .sort((a, b) => a.from - b.from || a.to - b.to)
    .map((g) => ({
      from: epochMs(g.from),
      to: epochMs(Math.max(g.to, g.from)),
      energyKwh: kwh(g.energy),
      jobs: g.jobs,
    }));
};

/**
 * Summarises `jobs` over the slots of `baseLoadKw` (slot 0 starts at `from`). `now` is when the
 * queue was read: nothing waiting starts before it.
 */
export const summariseFlexibility = (
  jobs: readonly ComputeJob[],
  baseLoadKw: readonly number[],
  from: EpochMs,
  slotMinutes: number,
  now: EpochMs,
): FlexibilitySummary => {
  const span: Span = { from, slotMinutes, slots: baseLoadKw.length };
  const minPower = baseLoadKw.slice();
  const asap = baseLoadKw.slice();
  const headroom = new Array<number>(span.slots).fill(0);
  const deferrable: ComputeJob[] = [];
  const locational: LocationalOption[] = [];
  for (const j of jobs.filter(isLive)) {
    const d = runMs(j);
    if (j.state === 'running') {
      const lowest = Math.min(j.powerKw, j.minPowerKw ?? j.powerKw);
      addPower(asap, span, now, now + d, j.powerKw);
      addPower(minPower, span, now, now + d, lowest);
      addPower(headroom, span, now, now + d, j.powerKw - lowest);
      continue;
    }
    const earliest = Math.max(now, j.releaseAt);
    addPower(asap, span, earliest, earliest + d, j.powerKw);
    if (j.slo === 'inflexible') {
      addPower(minPower, span, earliest, earliest + d, j.powerKw);
      continue;
    }
    const latest = j.deadlineAt - d;
    // At full power: a job that must finish soon has no time to run slower under a cap.
    addPower(minPower, span, Math.max(earliest, latest), earliest + d, j.powerKw);
    deferrable.push(j);
    if (j.allowedSites.some((s) => s !== j.site))
      locational.push({ jobId: j.id, sites: [...j.allowedSites], powerKw: j.powerKw, energyKwh: j.remainingKwh });
  }
  const round = (xs: number[]) => xs.map((x) => Math.round(x * 1000) / 1000);
  return {
    minPowerKw: round(minPower),
    asapPowerKw: round(asap),
    powerCapHeadroomKw: round(headroom),
    deferrable: windows(deferrable, now, slotMinutes * MINUTE_MS),
    locational: locational.map((l) => ({ ...l, powerKw: kw(l.powerKw) })),
  };
};
