// The local-search pass (src/optimise/local-search.ts): from any feasible plan it never raises the
// priced cost (price + λ·carbon of grid import, batteries fixed) and never breaks the independent
// check; on instances where jobs do not compete for room it reaches the brute-force optimum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { PlanningProblem, Schedule } from '../../src/domain/planning.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import { runProfile, type Draft } from '../../src/optimise/disaggregate.ts';
import { greedyPlan } from '../../src/optimise/greedy.ts';
import { localSearch } from '../../src/optimise/local-search.ts';
import { problemArb } from './arbitraries.ts';

const toDraft = (p: PlanningProblem, s: Schedule): Draft => {
  const byId = new Map(s.jobs.map((j) => [j.id, j]));
  return {
    site: Int32Array.from(p.jobs, (j) => p.sites.findIndex((x) => x.id === byId.get(j.id)!.site)),
    power: p.jobs.map((j) => Float64Array.from(byId.get(j.id)!.powerKw)),
    deficitKwh: new Float64Array(p.jobs.length),
  };
};

const toSchedule = (p: PlanningProblem, d: Draft, batteries: Schedule['batteries']): Schedule => {
  const draft: Schedule = {
    version: 1,
    status: 'feasible',
    costGbp: 0,
    carbonKg: 0,
    lowerBoundGbp: Number.NEGATIVE_INFINITY,
    batteries,
    jobs: p.jobs.map((j, i) => ({
      id: j.id,
      site: p.sites[d.site[i] as number]!.id,
      powerKw: Array.from(d.power[i]!),
    })),
  };
  const m = checkSchedule(p, draft);
  return { ...draft, costGbp: m.costGbp, carbonKg: m.carbonKg };
};

/** Σ (price + λ·carbon) × import: what the pass minimises. */
const priced = (p: PlanningProblem, s: Schedule, lambda: number): number => {
  const imp = checkSchedule(p, s).importKw;
  const h = p.slotMinutes / 60;
  let v = 0;
  for (const site of p.sites)
    imp[site.id]!.forEach((x, t) => {
      v += (((site.priceGbpPerMwh[t] ?? 0) + lambda * (site.carbonGPerKwh[t] ?? 0)) * x * h) / 1000;
    });
  return v;
};

test('property: local search never raises the priced cost and every plan it makes passes the check', () => {
  fc.assert(
    fc.property(problemArb({ maxJobs: 12, slots: 16 }), fc.double({ min: 0, max: 0.5, noNaN: true }), (p, lambda) => {
      const start = greedyPlan(p);
      if (start.status === 'infeasible') return;
      const d = toDraft(p, start);
      const r = localSearch(p, d, start.batteries, lambda);
      const after = toSchedule(p, d, start.batteries);
      const verdict = checkSchedule(p, after);
      assert.ok(verdict.ok, verdict.violations.join('; '));
      const before = priced(p, start, lambda);
      assert.ok(
        priced(p, after, lambda) <= before + 1e-6 * Math.max(1, Math.abs(before)),
        `priced cost rose from ${before} to ${priced(p, after, lambda)}`,
      );
      assert.ok(r.gain >= -1e-9);
    }),
    { numRuns: 150, seed: 11 },
  );
});

const flat = (n: number, v: number): number[] => new Array<number>(n).fill(v);

/** Every combination of start slots for non-preemptible jobs at one roomy site: the optimum. */
const bruteForce = (p: PlanningProblem): number => {
  const h = p.slotMinutes / 60;
  const site = p.sites[0]!;
  let best = Number.POSITIVE_INFINITY;
  const go = (i: number, cost: number): void => {
    if (i === p.jobs.length) {
      best = Math.min(best, cost);
      return;
    }
    const j = p.jobs[i]!;
    const run = runProfile(j.energyKwh, j.maxPowerKw, h);
    for (let s = j.releaseSlot; s + run.length <= j.deadlineSlot; s++) {
      go(
        i + 1,
        cost + run.reduce((a, kw, k) => a + ((site.priceGbpPerMwh[s + k] as number) * kw * site.pue * h) / 1000, 0),
      );
    }
  };
  go(0, 0);
  return best;
};

test('with room for every job, local search from the worst starts reaches the brute-force optimum', () => {
  const prices = [50, 40, 30, 200, 200, 60, 20, 80, 90, 10];
  const p: PlanningProblem = {
    version: 1,
    start: '2023-06-01T00:00:00Z',
    slotMinutes: 30,
    slots: prices.length,
    commitments: [],
    sites: [
      {
        id: 'lon',
        itPowerLimitKw: 1000,
        pue: 1.4,
        gridImportLimitKw: 10000,
        priceGbpPerMwh: prices,
        carbonGPerKwh: flat(prices.length, 100),
      },
    ],
    jobs: [
      { id: 'a', energyKwh: 25, maxPowerKw: 20, releaseSlot: 0, deadlineSlot: 8, preemptible: false, sites: ['lon'] },
      { id: 'b', energyKwh: 9, maxPowerKw: 10, releaseSlot: 2, deadlineSlot: 10, preemptible: false, sites: ['lon'] },
      { id: 'c', energyKwh: 30, maxPowerKw: 40, releaseSlot: 3, deadlineSlot: 10, preemptible: false, sites: ['lon'] },
      { id: 'd', energyKwh: 40, maxPowerKw: 30, releaseSlot: 0, deadlineSlot: 10, preemptible: true, sites: ['lon'] },
    ],
  };
  // Start: every job as early as it can run, the preemptible one at full power.
  const h = p.slotMinutes / 60;
  const d: Draft = { site: new Int32Array(4), power: [], deficitKwh: new Float64Array(4) };
  p.jobs.forEach((j, i) => {
    const pw = new Float64Array(p.slots);
    runProfile(j.energyKwh, j.maxPowerKw, h).forEach((kw, k) => {
      pw[j.releaseSlot + k] = kw;
    });
    d.power[i] = pw;
  });
  localSearch(p, d, [], 0);
  const s = toSchedule(p, d, []);
  assert.ok(checkSchedule(p, s).ok);
  // The preemptible job alone: its 40 kWh in the cheapest slots at 30 kW (slots 9, 6 and a third of 2).
  const preemptible = ((10 * 30 + 20 * 30 + 30 * (40 / h - 60)) * p.sites[0]!.pue * h) / 1000;
  const optimum = bruteForce({ ...p, jobs: p.jobs.filter((j) => !j.preemptible) }) + preemptible;
  assert.ok(Math.abs(s.costGbp - optimum) <= 1e-9 * optimum, `cost ${s.costGbp}, optimum ${optimum}`);
});
