// Site moves as a backtest lever (issue 15, "flexlon using every lever"; the lever is issue 13's site
// move): the rule on the plans (moves.ts), the lateness it reads off a plan against the lateness the
// site meters, and flexlon moving late work from a full site to an idle one, paying for each move.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fleetSites } from '../../src/backtest/fleet.ts';
import { loadDay } from '../../src/backtest/checkpoint.ts';
import { summarise } from '../../src/backtest/metrics.ts';
import { movesFor, plannedLateGpuH, runningPlan, type MoveSite, type WaitingJob } from '../../src/backtest/moves.ts';
import { runBacktest } from '../../src/backtest/run.ts';
import type { BacktestOptions } from '../../src/backtest/run-options.ts';
import { SiteSim } from '../../src/backtest/site-sim.ts';
import type { SimJob } from '../../src/backtest/sim-job.ts';
import { createPlanningSolver } from '../../src/compose/solver.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { PERIOD_MS } from '../../src/domain/settlement-day.ts';
import { epochMs } from '../../src/domain/time.ts';
import { kwh } from '../../src/domain/units.ts';
import { DEFAULT_WORK } from '../../src/optimise/planner.ts';
import { jobPowerKw } from '../../src/sim/power.ts';
import { profilePower } from '../../src/sim/site-profile.ts';
import { DAY, DAY_START, history, tmp } from './fixtures.ts';

const P = jobPowerKw(profilePower('half-idle'), 8);
const NOW = DAY_START;
const H = PERIOD_MS / 3_600_000;

/** An 8-GPU job of `periods` half hours at P, due `dueIn` periods from NOW. */
const waiting = (id: string, periods: number, dueIn: number, extra: Partial<WaitingJob> = {}): WaitingJob => ({
  id,
  gpus: 8,
  powerKw: P,
  energyKwh: P * H * periods,
  remainingKwh: P * H * periods,
  deadlineAt: NOW + dueIn * PERIOD_MS,
  ...extra,
});

/** A plan row: `kw` from slot `from` for `n` slots of a 96-slot horizon. */
const row = (id: string, from: number, n: number, kw = P) => ({
  id,
  site: 'x',
  powerKw: Array.from({ length: 96 }, (_, t) => (t >= from && t < from + n ? kw : 0)),
});

const site = (id: string, limitKw: number, jobs: ReturnType<typeof row>[], w: WaitingJob[] = []): MoveSite => ({
  id,
  gpus: 512,
  limitKw,
  kwPerGpu: P / 8,
  waiting: w,
  plan: { jobs, slots: 96, slot: 0 },
});

describe('the move rule', () => {
  // Site a is full (its limit taken by a running job) until slot 10; the waiting job's plan starts
  // it there, 4 periods long and due in 6: late.
  const full = (w: WaitingJob) => site('a', P, [row('run', 0, 10), row(w.id, 10, 4)], [w]);

  it('moves a job its plan makes late to a site with room, at the live market cost', () => {
    const j = waiting('j', 4, 6);
    const moves = movesFor({ sites: [full(j), site('b', 2 * P, [row('r2', 0, 96)])], now: NOW });
    assert.deepEqual(moves, [{ jobId: 'j', from: 'a', to: 'b', gbp: 1 + 0.1 * 8 }]);
  });

  it('moves none where the other site has no room, or not in time, or not of the same node', () => {
    const j = waiting('j', 4, 6);
    // b full in slot 3.
    const b = site('b', 2 * P, [row('r2', 0, 96), row('r3', 3, 1)]);
    assert.deepEqual(movesFor({ sites: [full(j), b], now: NOW }), []);
    // Due half way through period 4: from the next period a 4-period run ends in the period holding
    // the deadline, which the metrics count as late.
    const tight = waiting('t', 4, 4.5);
    assert.deepEqual(movesFor({ sites: [full(tight), site('b', 2 * P, [])], now: NOW }), []);
    // Another node kind.
    const other = { ...site('b', 2 * P, []), kwPerGpu: P / 4 };
    assert.deepEqual(movesFor({ sites: [full(j), other], now: NOW }), []);
  });

  it('moves none whose lateness is worth less than the move, and a job only once', () => {
    // Late by one period at a 4-period job: 8 GPUs × 0.5 h × 1/4 of its energy × 1 = 1 GPU-hour: £0.25 < £1.80.
    const j = waiting('j', 4, 13);
    assert.ok(Math.abs(plannedLateGpuH(j, row('j', 10, 4).powerKw, 96, 0, NOW) - 1) < 1e-9);
    assert.deepEqual(movesFor({ sites: [full(j), site('b', 2 * P, [])], now: NOW }), []);
    const moved = waiting('m', 4, 6, { movedFrom: 'b' });
    assert.deepEqual(movesFor({ sites: [full(moved), site('b', 2 * P, [])], now: NOW }), []);
  });

  it('moves no job its plan does not hold yet, and counts work beyond the horizon late only past the deadline', () => {
    // Submitted since a's plan was made: a's next plan reads it first.
    const fresh = waiting('f', 4, 6);
    const a = site('a', P, [row('run', 0, 10)], [fresh]);
    assert.deepEqual(movesFor({ sites: [a, site('b', 2 * P, [])], now: NOW }), []);
    // Half its work beyond a 10-slot plan: late only where the period after the plan is.
    const j = waiting('j', 4, 30);
    const half = Array.from({ length: 10 }, (_, t) => (t >= 8 ? P : 0));
    assert.equal(plannedLateGpuH(j, half, 10, 0, NOW), 0);
    const due = waiting('d', 4, 9);
    // Slots 8 and 9 are late by 0 and 1 periods, the half beyond (period 10) by 2: (1 × ¼ + 2 × ½) of
    // its energy, × 8 GPUs × 0.5 h = 5 GPU-hours.
    assert.ok(Math.abs(plannedLateGpuH(due, half, 10, 0, NOW) - 5) < 1e-9);
  });

  it('reads room at a site with no plan off its running jobs, each until its work is done', () => {
    // 2.5 periods of work left at full power: two full slots and half of the third.
    const plan = runningPlan('b', [{ id: 'r', powerKw: P, remainingKwh: P * H * 2.5 }], 6);
    const expected = [P, P, P / 2, 0, 0, 0];
    plan.jobs[0]?.powerKw.forEach((kw, t) =>
      assert.ok(Math.abs(kw - (expected[t] as number)) < 1e-9, `slot ${t}: ${kw}`),
    );
    // A 2-period job due in 6 fits from slot 1 only if a site of 1.5 P has room in slots 1 and 2: it
    // has not (P is taken in slot 1), so a 2 P site takes it.
    const a = site('a', P, [row('run', 0, 10), row('j', 10, 2)], [waiting('j', 2, 6)]);
    const small = { ...site('b', 1.5 * P, []), plan };
    assert.deepEqual(movesFor({ sites: [a, small], now: NOW }), []);
    assert.equal(movesFor({ sites: [a, { ...small, limitKw: 2 * P }], now: NOW }).length, 1);
  });

  it('counts the room the jobs it moved take: the second of two late jobs finds none', () => {
    const j1 = waiting('j1', 4, 6);
    const j2 = waiting('j2', 4, 6);
    const a = site('a', P, [row('run', 0, 10), row('j1', 10, 4), row('j2', 14, 4)], [j1, j2]);
    const moves = movesFor({ sites: [a, site('b', P, [])], now: NOW });
    // j2 is the later of the two in a's plan, so the more late: it moves first, and fills b.
    assert.deepEqual(
      moves.map((m) => m.jobId),
      ['j2'],
    );
  });

  it('reads the lateness off a plan as the site meters it', () => {
    // Due 3 periods from now; planned in slots 2–5 at full power. Run so at a site, its metered
    // lateness (Finished.lateGpuH) is what the plan gives it.
    const j = waiting('j', 4, 3);
    const plan = row('j', 2, 4).powerKw;
    const expected = plannedLateGpuH(j, plan, 96, 0, NOW);
    const sim = new SiteSim(fleetSites(['edi'], 'idle')[0]?.spec as never);
    const job: SimJob = {
      id: 'j',
      gpus: 8,
      powerKw: P,
      energyKwh: j.energyKwh,
      submittedAt: NOW,
      releaseAt: NOW,
      deadlineAt: j.deadlineAt,
      work: 8 * 2,
      remainingKwh: j.remainingKwh,
    };
    sim.add([job]);
    for (let t = 0; t < 8; t++) {
      sim.arrive(NOW + t * PERIOD_MS);
      sim.step(NOW + t * PERIOD_MS, () => t >= 2, 'fifo', 0);
    }
    assert.equal(sim.finished.length, 1);
    assert.ok(
      Math.abs((sim.finished[0]?.lateGpuH ?? NaN) - expected) < 1e-9,
      `${sim.finished[0]?.lateGpuH} against ${expected}`,
    );
    // 1 + 2 + 3 periods late of a quarter of its energy each: 8 GPUs × 0.5 h × 6 / 4 × 2 periods … = 6 GPU-hours.
    assert.ok(Math.abs(expected - 6) < 1e-9);
  });
});

describe('flexlon moves late work from a full site to an idle one', () => {
  const solver = createPlanningSolver({ work: DEFAULT_WORK });
  after(() => solver.close());
  const sites = fleetSites(['lon', 'edi'], 'idle');
  const job = (id: string, submitted: number): ComputeJob => ({
    id,
    name: 'train',
    site: 'edi',
    slo: 'deferrable',
    gpus: 64,
    powerKw: jobPowerKw(profilePower('half-idle'), 64),
    energyKwh: kwh(jobPowerKw(profilePower('half-idle'), 64) * 4),
    remainingKwh: kwh(jobPowerKw(profilePower('half-idle'), 64) * 4),
    submittedAt: epochMs(submitted),
    releaseAt: epochMs(submitted),
    deadlineAt: epochMs(submitted + 6 * 3_600_000),
    preemptible: false,
    allowedSites: ['edi'],
    work: 64 * 4,
    workUnit: 'gpu-hours',
    state: 'queued',
  });
  const run = async (moves: boolean, caps = false) => {
    const o: BacktestOptions = {
      from: DAY,
      to: '2023-03-02',
      sites: ['lon', 'edi'],
      fleet: 'idle',
      strategies: ['fifo', 'flexlon'],
      seed: 3,
      out: tmp(),
      history: history(
        () => 50,
        () => 150,
      ),
      solver,
      carbonGbpPerTonne: 0,
      pricePerCarbon: 0,
      caps,
      moves,
      fleetSites: sites,
      // edi (128 GPUs) gets six 64-GPU 4-hour jobs at 06:00 on the second day, due by 12:00: it runs
      // two at a time, so the last two finish at 18:00, 6 hours late. lon (256 GPUs) gets none.
      workload: (s, k, dayStart) => ({
        jobs:
          k === 1 && s.spec.id === 'edi'
            ? Array.from({ length: 6 }, (_, n) => job(`edi-${n}`, dayStart + 6 * 3_600_000))
            : [],
        inferenceKw: [0],
      }),
    };
    const out = await runBacktest(o);
    const chunks = out.days.map((_, k) => loadDay(o.out, k));
    return { out, ...summarise(chunks, ['fifo', 'flexlon'], out.open, 0) };
  };

  it('meets the deadlines it would miss, and pays for each move in its £', async () => {
    const on = await run(true);
    const off = await run(false);
    const a = on.summary.flexlon;
    const b = off.summary.flexlon;
    assert.ok(a && b);
    assert.ok(b.latenessGbp > 0, `without moves lateness £${b.latenessGbp}`);
    assert.ok(a.moves >= 1, `${a.moves} moves`);
    assert.ok(Math.abs(a.moveGbp - a.moves * (1 + 0.1 * 64)) < 1e-9);
    assert.ok(a.latenessGbp < b.latenessGbp - a.moveGbp, `lateness £${a.latenessGbp} against £${b.latenessGbp}`);
    assert.ok(a.objectiveGbp < b.objectiveGbp);
    // The moves' cost is in the strategy's £: value = bill + moves (no carbon price here).
    assert.ok(Math.abs(a.valueGbp - (a.energyGbp + a.moveGbp)) < 1e-6);
    assert.equal(on.summary.fifo?.moves, 0);
    assert.ok(Math.abs(a.gpuHours - b.gpuHours) < 1e-6);
    // The bound lets every job run at either site, so it stays below the run with moves and is no
    // higher than the bound with each site on its own.
    const bound = on.out.bound.objectiveGbp;
    const boundOff = off.out.bound.objectiveGbp;
    assert.ok(bound !== null && boundOff !== null);
    assert.ok(bound <= a.objectiveGbp + 1e-9, `bound ${bound} against ${a.objectiveGbp}`);
    assert.ok(bound < boundOff - 1, `bound ${bound} with moves, ${boundOff} without`);
  });

  it('keeps the bound below a run that both moves jobs and caps GPUs', async () => {
    const both = await run(true, true);
    const a = both.summary.flexlon;
    const bound = both.out.bound.objectiveGbp;
    assert.ok(a && bound !== null);
    assert.ok(a.moves >= 1);
    assert.ok(bound <= a.objectiveGbp + 1e-9, `bound ${bound} against ${a.objectiveGbp}`);
    // Planned together: the bound's jobs are on the first site, and each site names the group.
    assert.deepEqual(both.out.bound.objectiveGbp === null ? [] : both.out.bound.sites.map((x) => x.plannedWith), [
      ['lon', 'edi'],
      ['lon', 'edi'],
    ]);
  });
});
