// The class-LP planner with HiGHS: against brute force and the exact MILP on small instances,
// property tests that every plan passes the independent check with a bound below its cost, and
// infeasible problems answered with a reason.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { PlanningProblem } from '../../src/domain/planning.ts';
import { HighsClient } from '../../src/adapters/solver-highs/client.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import { buildExactModel } from '../../src/optimise/milp.ts';
import { DEFAULT_PLANNER_OPTIONS, planWithLp, type PlannerOptions } from '../../src/optimise/planner.ts';
import { runProfile } from '../../src/optimise/disaggregate.ts';
import { problemArb } from './arbitraries.ts';

const client = new HighsClient();
after(() => client.close());

const plan = (p: PlanningProblem, o: Partial<PlannerOptions> = {}) =>
  planWithLp(p, client.solve, { ...DEFAULT_PLANNER_OPTIONS, ...o });
const noMilp = { milpMaxBinaries: -1 };

/** The exact optimum, from the job-level MILP solved to a zero gap (undefined when infeasible). */
const exactOptimum = async (p: PlanningProblem): Promise<number | undefined> => {
  const em = buildExactModel(p);
  const out = await client.solve(em.model, { timeLimitSeconds: 60, mipRelGap: 0 });
  if (out.status === 'infeasible') return undefined;
  assert.equal(out.status, 'optimal', 'the reference MILP solves to optimality');
  return out.objective;
};

const close = (a: number, b: number, rel = 1e-6) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));

const flat = (n: number, v: number): number[] => new Array<number>(n).fill(v);
const base = (over: Partial<PlanningProblem> = {}): PlanningProblem => ({
  version: 1,
  start: '2023-06-01T00:00:00Z',
  slotMinutes: 30,
  slots: 8,
  sites: [
    {
      id: 'lon',
      itPowerLimitKw: 100,
      pue: 1.5,
      gridImportLimitKw: 1000,
      priceGbpPerMwh: [50, 40, 30, 200, 200, 60, 20, 80],
      carbonGPerKwh: [300, 250, 200, 100, 100, 150, 300, 350],
    },
  ],
  jobs: [],
  commitments: [],
  ...over,
});

/** Every combination of start slots for non-preemptible jobs at one site with no battery: the true optimum. */
const bruteForce = (p: PlanningProblem): number | undefined => {
  const h = p.slotMinutes / 60;
  const site = p.sites[0]!;
  let best: number | undefined;
  const load = new Float64Array(p.slots);
  const go = (i: number): void => {
    if (i === p.jobs.length) {
      let cost = 0;
      let kg = 0;
      for (let t = 0; t < p.slots; t++) {
        if (
          (load[t] as number) > site.itPowerLimitKw + 1e-9 ||
          (load[t] as number) * site.pue > site.gridImportLimitKw + 1e-9
        )
          return;
        cost += ((site.priceGbpPerMwh[t] as number) * (load[t] as number) * site.pue * h) / 1000;
        kg += ((site.carbonGPerKwh[t] as number) * (load[t] as number) * site.pue * h) / 1000;
      }
      if (p.carbonCapKg !== undefined && kg > p.carbonCapKg + 1e-9) return;
      if (best === undefined || cost < best) best = cost;
      return;
    }
    const j = p.jobs[i]!;
    const run = runProfile(j.energyKwh, j.maxPowerKw, h);
    for (let s = j.releaseSlot; s + run.length <= j.deadlineSlot; s++) {
      run.forEach((kw, k) => {
        load[s + k] = (load[s + k] as number) + kw;
      });
      go(i + 1);
      run.forEach((kw, k) => {
        load[s + k] = (load[s + k] as number) - kw;
      });
    }
  };
  go(0);
  return best;
};

test('non-preemptible jobs: the planner finds the brute-force optimum and proves it', async () => {
  const p = base({
    carbonCapKg: 40,
    jobs: [
      { id: 'a', energyKwh: 50, maxPowerKw: 50, releaseSlot: 0, deadlineSlot: 8, preemptible: false, sites: ['lon'] },
      { id: 'b', energyKwh: 30, maxPowerKw: 40, releaseSlot: 1, deadlineSlot: 7, preemptible: false, sites: ['lon'] },
      { id: 'c', energyKwh: 60, maxPowerKw: 60, releaseSlot: 2, deadlineSlot: 8, preemptible: false, sites: ['lon'] },
    ],
  });
  const truth = bruteForce(p);
  assert.ok(truth !== undefined);
  const s = await plan(p);
  assert.deepEqual(checkSchedule(p, s).violations, []);
  assert.ok(close(s.costGbp, truth, 1e-4), `cost ${s.costGbp} vs brute force ${truth}`);
  assert.ok(s.lowerBoundGbp <= truth + 1e-9);
  assert.equal(s.status, 'optimal');
});

test('the lower bound never exceeds the exact optimum, and the LP path alone stays close to it', async () => {
  const runs = fc.sample(problemArb({ maxJobs: 10, slots: 12 }), { numRuns: 40, seed: 7 });
  for (const p of runs) {
    const truth = await exactOptimum(p);
    // Exact classes, and windows widened to a coarse grid (the bound is then proved over exact classes).
    for (const maxColumns of [100_000, 10]) {
      const s = await plan(p, { ...noMilp, maxColumns });
      if (truth === undefined) {
        assert.equal(s.status, 'infeasible');
        continue;
      }
      if (s.status === 'infeasible') {
        assert.match(s.reason ?? '', /not a proof/, 'only the greedy fallback may miss a feasible plan');
        continue;
      }
      assert.deepEqual(checkSchedule(p, s).violations, []);
      assert.ok(
        s.lowerBoundGbp <= truth + 1e-6 * Math.max(1, Math.abs(truth)),
        `bound ${s.lowerBoundGbp} above the optimum ${truth} (maxColumns ${maxColumns})`,
      );
      assert.ok(
        s.costGbp >= truth - 1e-6 * Math.max(1, Math.abs(truth)),
        `cost ${s.costGbp} below the optimum ${truth}`,
      );
    }
  }
});

test('property: every plan passes the independent check; optimal only when proven; infeasible only with a reason', async () => {
  await fc.assert(
    fc.asyncProperty(problemArb({ maxJobs: 12, slots: 16 }), async (p) => {
      const s = await plan(p);
      if (s.status === 'infeasible') return (s.reason ?? '').length > 0;
      const verdict = checkSchedule(p, s);
      assert.deepEqual(verdict.violations, []);
      assert.ok(s.lowerBoundGbp <= s.costGbp + 1e-9);
      if (s.status === 'optimal') assert.ok(s.costGbp - s.lowerBoundGbp <= 1e-6 * Math.max(1, Math.abs(s.costGbp)));
      return true;
    }),
    { numRuns: 60, seed: 11 },
  );
});

test('a proven-infeasible problem is never answered with a plan', async () => {
  const runs = fc.sample(problemArb({ maxJobs: 8, slots: 10, tight: true }), { numRuns: 30, seed: 3 });
  let infeasibleSeen = 0;
  for (const p of runs) {
    const truth = await exactOptimum(p);
    const s = await plan(p);
    if (truth === undefined) {
      infeasibleSeen++;
      assert.equal(s.status, 'infeasible');
      assert.ok((s.reason ?? '').length > 10);
    }
  }
  assert.ok(infeasibleSeen > 0, 'the sample includes infeasible problems');
});

test('infeasible: the reason names the carbon cap and the least carbon possible', async () => {
  const p = base({
    carbonCapKg: 1,
    jobs: [
      { id: 'a', energyKwh: 50, maxPowerKw: 50, releaseSlot: 0, deadlineSlot: 8, preemptible: true, sites: ['lon'] },
    ],
  });
  const s = await plan(p);
  assert.equal(s.status, 'infeasible');
  // 50 kWh × PUE 1.5 at the cleanest 100 g/kWh = 7.5 kg at least.
  assert.match(s.reason ?? '', /carbon cap of 1 kg cannot be met: every plan emits at least 7\.5 kg/);
});

test('infeasible: the reason names the commitments, or the window that overflows the site', async () => {
  const job = {
    id: 'a',
    energyKwh: 150,
    maxPowerKw: 100,
    releaseSlot: 2,
    deadlineSlot: 5,
    preemptible: true,
    sites: ['lon'],
  };
  const committed = await plan(
    base({ jobs: [job], commitments: [{ site: 'lon', fromSlot: 2, toSlot: 4, maxImportKw: 0 }] }),
  );
  assert.equal(committed.status, 'infeasible');
  assert.match(committed.reason ?? '', /commitments \(lon ≤ 0 kW in \[2, 4\)\) cannot be kept/);
  const crowded = await plan(base({ jobs: [job, { ...job, id: 'b' }] }));
  assert.equal(crowded.status, 'infeasible');
  assert.match(
    crowded.reason ?? '',
    /slots \[2, 5\) need 300\.0 kWh of IT energy, but the sites can take at most 150\.0 kWh/,
  );
  // With a second site the jobs may not use, the shortage is lon's: man's room is not counted.
  const lon = base().sites[0]!;
  const two = await plan(base({ sites: [lon, { ...lon, id: 'man' }], jobs: [job, { ...job, id: 'b' }] }));
  assert.equal(two.status, 'infeasible');
  assert.match(
    two.reason ?? '',
    /slots \[2, 5\) need 300\.0 kWh of IT energy, but lon \(the only site they may run at\) can take at most 150\.0 kWh there \(2 jobs at lon: a, b\)/,
  );
});

test('when the solver fails, the greedy plan is used and says why', async () => {
  const p = base({
    jobs: [
      { id: 'a', energyKwh: 50, maxPowerKw: 50, releaseSlot: 0, deadlineSlot: 8, preemptible: true, sites: ['lon'] },
    ],
  });
  const s = await planWithLp(p, async () => ({ status: 'failed', reason: 'solver unavailable', seconds: 0 }));
  assert.equal(s.status, 'feasible');
  assert.match(s.planner ?? '', /greedy.*fallback: solver unavailable/);
  assert.deepEqual(checkSchedule(p, s).violations, []);
});

test('a solve that overruns its wall-clock limit is killed, and the next solve gets a fresh worker', async () => {
  const impatient = new HighsClient({ killGraceSeconds: 0, killGraceFactor: -0.999 });
  try {
    const big = buildExactModel({
      ...base({
        slots: 48,
        sites: [{ ...base().sites[0]!, priceGbpPerMwh: flat(48, 50), carbonGPerKwh: flat(48, 100) }],
      }),
      jobs: Array.from({ length: 60 }, (_, i) => ({
        id: `j${i}`,
        energyKwh: 20 + (i % 7) * 5,
        maxPowerKw: 10 + (i % 5) * 5,
        releaseSlot: i % 10,
        deadlineSlot: 48,
        preemptible: i % 2 === 0,
        sites: ['lon'],
      })),
    });
    const killed = await impatient.solve(big.model, { timeLimitSeconds: 1 });
    assert.equal(killed.status, 'failed');
    assert.match(killed.status === 'failed' ? killed.reason : '', /worker terminated/);
    assert.equal(impatient.stats.kills, 1);
    // A limit this long gives a kill timer of seconds: the tiny model solves in a fresh worker.
    const again = await impatient.solve(buildExactModel(base()).model, { timeLimitSeconds: 5000 });
    assert.notEqual(again.status, 'failed', again.status === 'failed' ? again.reason : '');
    assert.equal(impatient.stats.restarts, 1);
  } finally {
    await impatient.close();
  }
});

/** One preemptible job of 100 kWh IT that may run anywhere in the day (the intensity-cap tests). */
const dayJob = {
  id: 'a',
  energyKwh: 100,
  maxPowerKw: 100,
  releaseSlot: 0,
  deadlineSlot: 8,
  preemptible: true,
  sites: ['lon'],
};

test('an intensity cap: the plan imports no dirtier than the stated g per kWh, at the least cost that allows', async () => {
  // One preemptible job of 100 kWh IT over the day (50 kWh a slot at most). On price alone it runs in
  // slots 6 (20 £/MWh, 300 g) and 2 (30 £/MWh, 200 g): 250 g per kWh. At most 200 g per kWh, the
  // cheapest mix keeps slot 2 and offsets each kWh of slot 6 with two of slot 5 (60 £/MWh, 150 g):
  // 50 kWh in slot 2, 16.7 in slot 6 and 33.3 in slot 5, £5.75 with PUE 1.5 (£3.75 without the cap).
  const job = dayJob;
  const free = await plan(base({ version: 2, jobs: [job] }));
  assert.ok(close(free.costGbp, 3.75, 1e-6), `uncapped ${free.costGbp}`);
  const p = base({ version: 2, jobs: [job], carbonCapKg: 0, carbonCapGPerKwh: 200 });
  const s = await plan(p);
  const v = checkSchedule(p, s);
  assert.deepEqual(v.violations, []);
  assert.ok(close(s.costGbp, 5.75, 1e-6), `capped ${s.costGbp}`);
  const importKwh = 100 * 1.5;
  assert.ok(close(s.carbonKg, (200 * importKwh) / 1000, 1e-6), `the cap binds: ${s.carbonKg} kg over ${importKwh} kWh`);
  assert.ok(Math.abs(v.carbonCapUseKg) < 1e-6, `the cap counts carbon less 200 g per kWh: ${v.carbonCapUseKg}`);
  // The price-only plan breaks it, and the check says by how much against what.
  const broken = checkSchedule(p, { ...free, version: 2 });
  assert.ok(!broken.ok);
  assert.match(
    broken.violations.join('\n'),
    /counts 7\.500 kg against the cap of 0\.0 kg \+ 200\.0 g per kWh imported for IT/,
  );
  // A negative allowance: the plan must import cleaner than 200 g per kWh by 3 kg in all.
  const stricter = { ...p, carbonCapKg: -3 };
  const t = await plan(stricter);
  assert.deepEqual(checkSchedule(stricter, t).violations, []);
  assert.ok(t.carbonKg <= (200 * importKwh) / 1000 - 3 + 1e-6, `${t.carbonKg} kg`);
  assert.ok(t.costGbp > s.costGbp);
  // Cleaner than 100 g per kWh (the cleanest slots) cannot be had: the reason says so.
  const none = await plan({ ...p, carbonCapGPerKwh: 90 });
  assert.equal(none.status, 'infeasible');
  assert.match(
    none.reason ?? '',
    /carbon cap of 0\.0 kg \+ 90\.0 g per kWh imported for IT cannot be met: every plan counts at least 1\.5 kg against it/,
  );
});

test('intensity caps on random problems: each plan keeps its cap and never beats the exact optimum, the LP planner making nearly all', async () => {
  const runs = fc.sample(problemArb({ maxJobs: 8, slots: 10 }), { numRuns: 25, seed: 11 });
  let feasible = 0;
  let missed = 0;
  let fallbacks = 0;
  for (const q of runs) {
    // The mean intensity of the horizon, a little below it, with a small allowance either side of 0.
    const mean = q.sites.reduce((a, s) => a + s.carbonGPerKwh.reduce((x, y) => x + y, 0) / q.slots, 0) / q.sites.length;
    const p: PlanningProblem = {
      ...q,
      version: 2,
      carbonCapKg: (q.jobs.length % 3) - 1,
      carbonCapGPerKwh: Math.round(mean * 0.95),
    };
    const truth = await exactOptimum(p);
    // Without the exact MILP: the class LP, placement and local search must keep the cap themselves.
    const s = await plan(p, noMilp);
    if (truth === undefined) {
      assert.equal(s.status, 'infeasible');
      continue;
    }
    if (s.status === 'infeasible') {
      missed++; // the heuristic may miss a tight cap the exact model meets: counted, and bounded below
      continue;
    }
    // The greedy fallback (after the LP's placements broke the cap or a battery limit) keeps the cap too.
    if (!s.planner?.startsWith('class-lp')) fallbacks++;
    feasible++;
    const v = checkSchedule(p, s);
    assert.deepEqual(v.violations, []);
    assert.ok(s.costGbp >= truth - 1e-6 * Math.max(1, Math.abs(truth)), `${s.costGbp} below the optimum ${truth}`);
    assert.ok(s.lowerBoundGbp <= truth + 1e-6 * Math.max(1, Math.abs(truth)));
  }
  assert.ok(feasible >= 10, `${feasible} of 25 capped problems planned`);
  // Measured at seed 11: one of each; the same seed's kg caps fall back on the same problem.
  assert.ok(missed + fallbacks <= 2, `${missed} missed, ${fallbacks} planned by the fallback`);
});

test('an intensity cap with a battery: charging earns no room, so a tighter cap never means more kg', async () => {
  // A battery that loses a fifth of what it stores: were its charging credited at the cap's intensity,
  // charging and discharging at once in clean slots would buy room with wasted energy.
  const battery = {
    capacityKwh: 200,
    maxChargeKw: 100,
    maxDischargeKw: 10,
    roundTripEfficiency: 0.8,
    minSocKwh: 0,
    initialSocKwh: 100,
  };
  const job = dayJob;
  const site = { ...base().sites[0]!, battery };
  let last = Number.POSITIVE_INFINITY;
  for (const g of [260, 230, 210, 200, 190]) {
    const p = base({ version: 2, sites: [site], jobs: [job], carbonCapKg: 0, carbonCapGPerKwh: g });
    const s = await plan(p);
    if (s.status === 'infeasible') continue;
    const v = checkSchedule(p, s);
    assert.deepEqual(v.violations, []);
    assert.ok(s.carbonKg <= last + 1e-6, `${s.carbonKg} kg at ${g} g/kWh, after ${last} kg at a looser cap`);
    // What the cap counts: the kg less the credit on the IT load's import alone (100 kWh × PUE 1.5).
    assert.ok(Math.abs(v.carbonCapUseKg - (s.carbonKg - (g * 150) / 1000)) < 1e-6);
    last = s.carbonKg;
  }
  assert.ok(last < Number.POSITIVE_INFINITY, 'some cap could be kept');
});
