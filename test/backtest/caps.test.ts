// GPU power caps as a backtest lever (issue 15, "flexlon using every lever"; the lever is issue 13
// item 2): how a capped job runs at a site, and flexlon capping a running job through a price spike
// when the site has room, without making it late.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  capChoices,
  capFields,
  cappedRun,
  cappedStarts,
  capsFor,
  minEnergyPerWork,
  startNowRun,
  type CappedStartInput,
} from '../../src/backtest/caps.ts';
import { fleetSites, type FleetSite } from '../../src/backtest/fleet.ts';
import { loadDay } from '../../src/backtest/checkpoint.ts';
import { summarise } from '../../src/backtest/metrics.ts';
import { runBacktest } from '../../src/backtest/run.ts';
import type { BacktestOptions } from '../../src/backtest/run-options.ts';
import { SiteSim } from '../../src/backtest/site-sim.ts';
import { createPlanningSolver } from '../../src/compose/solver.ts';
import type { Solver } from '../../src/ports.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { PERIOD_MS } from '../../src/domain/settlement-day.ts';
import { epochMs } from '../../src/domain/time.ts';
import { kw, kwh } from '../../src/domain/units.ts';
import { capWattsFor } from '../../src/agents/compute/levers.ts';
import { DEFAULT_WORK } from '../../src/optimise/planner.ts';
import { MIN_CAP_FRACTION, throughputAt } from '../../src/sim/power-cap.ts';
import { jobPowerKw } from '../../src/sim/power.ts';
import { profilePower } from '../../src/sim/site-profile.ts';
import { DAY, DAY_START, halfHour, history, tmp } from './fixtures.ts';

const HALF_IDLE = profilePower('half-idle');
const BUSY = profilePower('busy');
const P = jobPowerKw(HALF_IDLE, 8);
const H = PERIOD_MS / 3_600_000;

describe('a capped job at a backtest site', () => {
  it('runs at the sweep draw and speed of the cap the agent would set for the planned power', () => {
    const { minPowerKw, powerCapRangeW, minCapThroughput } = capFields(HALF_IDLE, P);
    assert.deepEqual(powerCapRangeW, { minW: 200, maxW: 400 });
    assert.ok(minPowerKw > 0.4 * P && minPowerKw < 0.7 * P, `floor ${minPowerKw} of ${P}`);
    const floor = cappedRun(HALF_IDLE, P, minPowerKw);
    assert.ok(floor);
    assert.ok(Math.abs(floor.drawKw - minPowerKw) < 1e-9);
    assert.ok(Math.abs(floor.rateKw - P * minCapThroughput) < 1e-9);
    assert.equal(minCapThroughput, throughputAt(MIN_CAP_FRACTION));
    // Full power (or more) is no cap.
    assert.equal(cappedRun(HALF_IDLE, P, P), undefined);
    // Half way: slower than full, faster than the floor, and less energy per unit of work than either
    // end on this node.
    const mid = cappedRun(HALF_IDLE, P, (P + minPowerKw) / 2);
    assert.ok(mid && mid.rateKw < P && mid.rateKw > floor.rateKw);
  });

  it('saves energy per unit of work only where the node overhead a busy GPU holds is small', () => {
    // Half-idle node (0.5 → 1.0 kW overhead): about 0.77 of the energy per GPU-hour at half TDP.
    const idle = minEnergyPerWork(HALF_IDLE);
    assert.ok(idle > 0.7 && idle < 0.8, `half-idle ${idle}`);
    // Busy profile's node (1.5 → 3.3 kW): a capped GPU still holds its share of that overhead longer,
    // so the best cap saves far less, and the lowest saves almost nothing.
    const busy = minEnergyPerWork(BUSY);
    assert.ok(busy > 0.9 && busy < 0.95, `busy ${busy}`);
    const floor =
      capFields(BUSY, jobPowerKw(BUSY, 8)).minPowerKw / jobPowerKw(BUSY, 8) / throughputAt(MIN_CAP_FRACTION);
    assert.ok(floor > 0.95 && floor < 1, `busy at the lowest cap ${floor}`);
  });

  it('is metered at its draw, counts its progress as GPU-hours and finishes later', () => {
    const site = fleetSites(['edi'], 'idle')[0] as FleetSite;
    const job = () => ({
      id: 'j',
      gpus: 8,
      powerKw: P,
      energyKwh: P * 2,
      remainingKwh: P * 2,
      submittedAt: DAY_START,
      releaseAt: DAY_START,
      deadlineAt: DAY_START + 6 * 3_600_000,
      work: 16,
    });
    const { minPowerKw } = capFields(HALF_IDLE, P);
    const meter = (spec: FleetSite['spec'], caps?: Map<string, number>) => {
      const sim = new SiteSim(spec);
      sim.add([job()]);
      sim.arrive(DAY_START);
      const m = sim.step(DAY_START, () => true, 'fifo', 0, undefined, undefined, undefined);
      const n = sim.step(DAY_START + PERIOD_MS, () => true, 'fifo', 0, undefined, undefined, caps);
      return { first: m, second: n, left: sim.running[0]?.remainingKwh ?? 0 };
    };
    const caps = new Map([['j', minPowerKw]]);
    const capped = meter(site.spec, caps);
    const speed = throughputAt(MIN_CAP_FRACTION);
    const pue = site.spec.pue;
    const idleKwh = site.spec.trainingIdleKw * H * pue;
    assert.ok(Math.abs(capped.second.jobsKwh - minPowerKw * H * pue) < 1e-9);
    assert.ok(Math.abs(capped.second.importKwh - idleKwh - minPowerKw * H * pue) < 1e-9);
    assert.ok(Math.abs(capped.second.gpuHours - 8 * H * speed) < 1e-9);
    assert.ok(Math.abs(capped.left - (P * 2 - P * H - P * H * speed)) < 1e-9);
    // Uncapped, the same two periods run it at full power; a site whose node is not known ignores caps.
    const full = meter(site.spec);
    assert.ok(Math.abs(full.second.jobsKwh - P * H * pue) < 1e-9);
    const { node: _node, ...noNode } = site.spec;
    const ignored = meter(noNode, caps);
    assert.ok(Math.abs(ignored.second.jobsKwh - full.second.jobsKwh) < 1e-12);
  });
});

describe('a waiting job started now and capped (cappedStarts)', () => {
  // One 8-GPU job of 4 hours at full power that the plan runs from slot 8 (4 h from now), alone at a
  // site of 64 GPUs; 48 slots of prices.
  const SLOTS = 48;
  const T0 = DAY_START;
  const JOB = { id: 'j', gpus: 8, powerKw: P, remainingKwh: P * 4, deadlineAt: T0 + 24 * 3_600_000 };
  const plannedAt = (from: number, hours = 4, kw = P) =>
    Array.from({ length: SLOTS }, (_, t) => (t >= from && t < from + hours / H ? kw : 0));
  const input = (o: Partial<CappedStartInput> & { prices: number[] }): CappedStartInput => ({
    node: HALF_IDLE,
    waiting: [JOB],
    plan: [{ id: 'j', site: 'edi', powerKw: plannedAt(8) }],
    limitKw: 8 * P,
    now: T0,
    freeGpus: 64,
    ...o,
  });
  const flat = (p: number) => Array.from({ length: SLOTS }, () => p);
  const started = (i: CappedStartInput) => [...cappedStarts(i).ids];
  const floor = cappedRun(HALF_IDLE, P, capFields(HALF_IDLE, P).minPowerKw);
  const run = startNowRun(HALF_IDLE, JOB, flat(100));

  it('runs it as capsFor would: a first period at full power, capped periods, a last one at full power', () => {
    assert.ok(floor && run);
    const n = run.periods - 2;
    const last = JOB.remainingKwh - P * H - n * floor.rateKw * H;
    // What is left for the last period is no more than a capped period's progress, and more than 0.
    assert.ok(last > 0 && last <= floor.rateKw * H + 1e-9, `last ${last} kWh`);
    // At £100/MWh flat its £ × 10 is its kWh.
    const kwh = P * H + n * floor.drawKw * H + last;
    assert.ok(Math.abs(run.gbp * 10 - kwh) < 1e-9, `${run.gbp * 10} against ${kwh}`);
    assert.ok(kwh < 0.85 * JOB.remainingKwh, `${kwh} kWh against ${JOB.remainingKwh}`);
    // Priced only in its last period, or only in its first: both at full power.
    const only = (t: number) => flat(0).map((_, k) => (k === t ? 1000 : 0));
    assert.ok(Math.abs((startNowRun(HALF_IDLE, JOB, only(run.periods - 1))?.gbp ?? NaN) - last) < 1e-9);
    assert.ok(Math.abs((startNowRun(HALF_IDLE, JOB, only(0))?.gbp ?? NaN) - P * H) < 1e-9);
    // Not within the prices: no run.
    assert.equal(startNowRun(HALF_IDLE, JOB, flat(100).slice(0, run.periods - 1)), undefined);
  });

  it('starts it where the plan waits for hours only a little cheaper: the cap saves more', () => {
    const prices = flat(100).map((p, t) => (t >= 8 ? 90 : p));
    const out = cappedStarts(input({ prices }));
    assert.deepEqual([...out.ids], ['j']);
    // What it adds to the plan: full power over its run, less its planned slots.
    assert.ok(run);
    for (let t = 0; t < SLOTS; t++) {
      const want = (t < run.periods ? P : 0) - (t >= 8 && t < 16 ? P : 0);
      assert.ok(Math.abs((out.addedKw[t] ?? NaN) - want) < 1e-9, `slot ${t}`);
    }
  });

  it('leaves it to the plan where the later hours are far cheaper', () => {
    const prices = flat(100).map((p, t) => (t >= 8 ? 30 : p));
    assert.equal(cappedStarts(input({ prices })).ids.size, 0);
  });

  it('at a higher cap where the lowest would reach the period holding its deadline, and never where every cap would', () => {
    assert.ok(run);
    const plan = [{ id: 'j', site: 'edi', powerKw: plannedAt(1) }];
    const at = (ms: number) => cappedStarts(input({ prices: flat(100), plan, waiting: [{ ...JOB, deadlineAt: ms }] }));
    const due = (ms: number) => [...at(ms).ids];
    /** Periods of the run started now: the slots where its power is, its planned slots given back. */
    const periods = (ms: number) => at(ms).addedKw.filter((kw, t) => kw + (plannedAt(1)[t] ?? 0) > 1e-9).length;
    const end = T0 + run.periods * PERIOD_MS;
    // Due at the end of its run's last period at the lowest cap, or within the next: that run.
    assert.deepEqual(due(end), ['j']);
    assert.equal(periods(end), run.periods);
    assert.deepEqual(due(end + 10 * 60_000), ['j']);
    // Due within that run's last period, whose energy would count as late: a higher cap's shorter run.
    assert.deepEqual(due(end - 10 * 60_000), ['j']);
    assert.ok(periods(end - 10 * 60_000) < run.periods, `${periods(end - 10 * 60_000)} periods`);
    // Due when its run at full power would end (8 periods): every capped run is longer, so none.
    assert.deepEqual(due(T0 + 8 * PERIOD_MS), []);
  });

  it('fits the plan room its own planned slots give back, and no more; and the GPUs free', () => {
    const prices = flat(100);
    // Another job holds the limit less one job's power in every slot: the job fits now only because
    // it gives back its own slots 8–15, where the plan has it.
    const others = { id: 'k', site: 'edi', powerKw: flat(7 * P) };
    assert.deepEqual(started(input({ prices, plan: [{ id: 'j', site: 'edi', powerKw: plannedAt(8) }, others] })), [
      'j',
    ]);
    // Two such jobs planned after the horizon's middle: the first fills the room, the second does not fit.
    const two = input({
      prices,
      waiting: ['a', 'b'].map((id) => ({ ...JOB, id })),
      plan: [others, ...['a', 'b'].map((id) => ({ id, site: 'edi', powerKw: plannedAt(30) }))],
    });
    assert.deepEqual(started(two), ['a']);
    // The same two with GPUs for one: the first in the queue starts.
    const gpus = input({
      prices,
      freeGpus: 8,
      waiting: ['a', 'b'].map((id) => ({ ...JOB, id })),
      plan: ['a', 'b'].map((id) => ({ id, site: 'edi', powerKw: plannedAt(8) })),
    });
    assert.deepEqual(started(gpus), ['a']);
    assert.deepEqual(started(input({ prices, freeGpus: 4 })), []);
    // Not a job the plan starts now, nor one it does not hold.
    assert.deepEqual(started(input({ prices, plan: [{ id: 'j', site: 'edi', powerKw: plannedAt(0) }] })), []);
    assert.deepEqual(started(input({ prices, plan: [] })), []);
  });

  it('takes room capsFor then no longer gives a running job in the same period', () => {
    // A running 2-hour job, planned at full power through slot 3, at a site of two jobs' power. Capped
    // now it ends in slot 4, which the plan leaves free, unless a job started this period fills it.
    const running = [{ id: 'r', powerKw: P, remainingKwh: 2 * P, deadlineAt: T0 + 86_400_000 }];
    const base = {
      node: HALF_IDLE,
      running,
      plan: [{ id: 'r', site: 'edi', powerKw: plannedAt(0, 2) }],
      slot: 0,
      limitKw: 2 * P,
      now: T0,
      prices: flat(100),
    };
    assert.equal(capsFor(base).size, 1);
    assert.equal(capsFor({ ...base, addedKw: flat(2 * P) }).size, 0);
  });

  it('caps at the measured cap that saves most over the hours it can be kept, not always the lowest', () => {
    // A running 2-hour job alone at a site of two jobs' power, planned at full power through slot 3.
    const capOf = (node: typeof HALF_IDLE, prices: number[], hours = 2, dueH = 24) => {
      const p = jobPowerKw(node, 8);
      const out = capsFor({
        node,
        running: [{ id: 'r', powerKw: p, remainingKwh: hours * p, deadlineAt: T0 + dueH * 3_600_000 }],
        plan: [{ id: 'r', site: 'edi', powerKw: plannedAt(0, hours, p) }],
        slot: 0,
        limitKw: 2 * p,
        now: T0,
        prices,
      }).get('r');
      assert.ok(out !== undefined, 'capped');
      // The cap the Compute-Flex agent sets for that planned power, as a fraction of TDP.
      return (capWattsFor({ ...capFields(node, p), powerKw: kw(p) }, out) as number) / 400;
    };
    // At equal prices: the half-idle node's lowest cap (0.77 of the energy per unit of work), the busy
    // node's 250 W (0.93; its lowest saves almost nothing, since the node's overhead is drawn longer).
    assert.equal(capOf(HALF_IDLE, flat(100)), MIN_CAP_FRACTION);
    assert.equal(capOf(BUSY, flat(100)), 0.625);
    // With half an hour of slack on 4 hours of work, 200 W could be kept for 1.6 h only; 300 W, which
    // does more of the work on that time, saves most over the run (1.41 kWh against 0.77).
    assert.equal(capOf(HALF_IDLE, flat(100), 4, 4.5), 0.75);
    // Where now is three times dearer than the end of the run, the busy node's lowest cap too.
    const dearNow = flat(100).map((p, t) => (t === 0 ? 3 * p : p));
    assert.equal(capOf(BUSY, dearNow), MIN_CAP_FRACTION);
    // Every choice is a measured cap from the lowest up to below TDP, set exactly whatever the job's
    // size (the planned power's rounding down to whole watts must not land a watt low).
    for (const node of [HALF_IDLE, BUSY])
      for (let gpus = 1; gpus <= 24; gpus++) {
        const p = jobPowerKw(node, gpus);
        const caps = capChoices(node, p).map((c) =>
          capWattsFor({ ...capFields(node, p), powerKw: kw(p) }, c.plannedKw),
        );
        assert.deepEqual(caps, [200, 250, 300, 350], `${gpus} GPUs`);
      }
  });
});

/** An 8-GPU training job at edi of `hours` at full power, due `slackH` hours after its run. */
const ediJob = (id: string, submitted: number, hours: number, slackH: number): ComputeJob => ({
  id,
  name: 'train',
  site: 'edi',
  slo: 'deferrable',
  gpus: 8,
  powerKw: P,
  energyKwh: kwh(P * hours),
  remainingKwh: kwh(P * hours),
  submittedAt: epochMs(submitted),
  releaseAt: epochMs(submitted),
  deadlineAt: epochMs(submitted + (hours + slackH) * 3_600_000),
  preemptible: false,
  allowedSites: ['edi'],
  work: 8 * hours,
  workUnit: 'gpu-hours',
  state: 'queued',
});

/**
 * Two days at the half-idle edi on a price repeated daily (so the forecast, a mean of past days,
 * knows it), carbon unpriced, with each day's jobs from `jobs`; the day after is drained.
 */
const ediRun = async (
  solver: Solver,
  price: (t: number) => number,
  caps: boolean,
  strategies: BacktestOptions['strategies'],
  jobs: (k: number, dayStart: number) => ComputeJob[],
) => {
  const o: BacktestOptions = {
    from: DAY,
    to: '2023-03-02',
    sites: ['edi'],
    fleet: 'idle',
    strategies,
    seed: 3,
    out: tmp(),
    history: history(price, () => 150),
    solver,
    carbonGbpPerTonne: 0,
    pricePerCarbon: 0,
    caps,
    fleetSites: [fleetSites(['edi'], 'idle')[0] as FleetSite],
    workload: (_s, k, dayStart) => ({ jobs: jobs(k, dayStart), inferenceKw: [0] }),
  };
  const out = await runBacktest(o);
  const chunks = out.days.map((_, k) => loadDay(o.out, k));
  return { out, chunks, ...summarise(chunks, strategies, out.open, 0) };
};

describe('flexlon starts a job now and caps it where the plan would wait for hours a little cheaper', () => {
  const solver = createPlanningSolver({ work: DEFAULT_WORK });
  after(() => solver.close());
  const site = fleetSites(['edi'], 'idle')[0] as FleetSite;
  // Every day £100/MWh, £90 from 12:00 to 16:00: a 4-hour job submitted at 06:00 with a day of slack
  // is planned into the cheaper hours; started at once and capped it uses about 0.8 of the energy.
  const price = (t: number) => (halfHour(t) >= 24 && halfHour(t) < 32 ? 90 : 100);
  const run = async (caps: boolean) => {
    // A small job on the first day (a day of the site's load is seen before caps are used), the
    // 4-hour job at 06:00 on the second.
    const r = await ediRun(solver, price, caps, ['flexlon'], (k, dayStart) =>
      k === 0 ? [ediJob('edi-a', dayStart, 1, 23)] : k === 1 ? [ediJob('edi-b', dayStart + 6 * 3_600_000, 4, 20)] : [],
    );
    const b = r.chunks.flatMap((c) => c.finished.flexlon ?? []).find((f) => f.id === 'edi-b');
    return { b, ...r };
  };

  it("runs it at once on less energy than the plan's later run, and on time", async () => {
    const on = await run(true);
    const off = await run(false);
    assert.ok(on.b && off.b);
    // Caps off, the plan waits for the cheaper hours: 6 hours.
    assert.ok(off.b.waitH >= 5.5, `waited ${off.b.waitH} h without caps`);
    // Caps on, it starts at the next decision after its submission.
    assert.ok(on.b.waitH < 0.5 + 1e-9, `waited ${on.b.waitH} h with caps`);
    assert.ok(on.b.lateH <= 0 && off.b.lateH <= 0);
    const a = on.summary.flexlon;
    const z = off.summary.flexlon;
    assert.ok(a && z);
    assert.ok(Math.abs(a.gpuHours - z.gpuHours) < 1e-6, `${a.gpuHours} against ${z.gpuHours} GPU-hours`);
    // Capped after its first period it saves energy: at least a tenth of its own (× PUE).
    const saved = (z.importMwh - a.importMwh) * 1000;
    assert.ok(saved > 0.1 * P * 4 * site.spec.pue, `${saved} kWh saved of ${P * 4} kWh of IT energy`);
    assert.ok(a.energyGbp < z.energyGbp, `£${a.energyGbp} against £${z.energyGbp}`);
  });
});

describe('flexlon caps a running job through a price spike', () => {
  const solver = createPlanningSolver({ work: DEFAULT_WORK });
  after(() => solver.close());
  const D2 = DAY_START + 86_400_000;
  // Every day (so the forecast, a mean of past days, knows it): £20/MWh from 06:00 to 08:00, £300
  // from 10:00 to 12:00, £40 otherwise. The job below starts in the cheap hours (waiting out the
  // dear ones would make it 4 hours late, which costs more) and runs into the dear ones, with slack
  // to spare: capped there, it finishes later, still on time.
  const price = (t: number) => {
    const k = halfHour(t);
    return k >= 12 && k < 16 ? 20 : k >= 20 && k < 24 ? 300 : 40;
  };
  const run = async (caps: boolean, firstDay = 1) => {
    // A small job on the first day (so a day of the site's load has been seen by the spike), and on
    // the second a 6-hour job at 06:00 with 2 hours of slack; from 07:30 on, run at its lowest cap
    // to the end it would still meet its deadline, so it is cappable then.
    const r = await ediRun(solver, price, caps, ['fifo', 'flexlon'], (k, dayStart) =>
      k === 0
        ? Array.from({ length: firstDay }, (_, n) => ediJob(`edi-a${n}`, dayStart, firstDay > 1 ? 6 : 1, 16))
        : k === 1
          ? [ediJob('edi-b', dayStart + 6 * 3_600_000, 6, 2)]
          : [],
    );
    const rows = r.chunks.flatMap((c) => c.rows.flexlon ?? []);
    const spikeKwh = rows
      .filter((x) => x.t >= D2 + 10 * 3_600_000 && x.t < D2 + 12 * 3_600_000)
      .reduce((a, x) => a + (x.siteKwh[0] ?? 0), 0);
    return { spikeKwh, out: r.out, summary: r.summary };
  };

  it('draws less in the spike, does the same work on less energy and still meets the deadline', async () => {
    const on = await run(true);
    const off = await run(false);
    const a = on.summary.flexlon;
    const b = off.summary.flexlon;
    assert.ok(a && b);
    assert.ok(on.spikeKwh < off.spikeKwh - 1, `spike ${on.spikeKwh} kWh with caps, ${off.spikeKwh} without`);
    assert.ok(Math.abs(a.gpuHours - b.gpuHours) < 1e-6, `${a.gpuHours} against ${b.gpuHours} GPU-hours`);
    assert.ok(a.importMwh < b.importMwh, `${a.importMwh} against ${b.importMwh} MWh`);
    assert.ok(a.energyGbp < b.energyGbp);
    assert.equal(a.slo.deadlinesMetShare, 1);
    assert.equal(a.latenessGbp, 0);
    // The bound allows for caps (each job at its least energy per unit of work), so it stays below.
    const bound = on.out.bound.objectiveGbp;
    assert.ok(bound !== null && bound <= a.objectiveGbp + 1e-9, `bound ${bound} against ${a.objectiveGbp}`);
    const boundOff = off.out.bound.objectiveGbp;
    assert.ok(boundOff !== null && bound < boundOff, `bound ${bound} with caps, ${boundOff} without`);
  });

  it('leaves a contended site uncapped, and the bound allows no cap there', async () => {
    // 64 six-hour 8-GPU jobs on the first day and the second day's job: 3,120 GPU-hours, over 60 % of
    // the 128 GPUs' hours from the first submission until 16:30 on the second day, after every job's
    // deadline (the first day's jobs are due by 22:00 that day, when a day of submissions is not yet
    // seen; the second day's at 14:00). So the site counts as contended while any job could be capped.
    const on = await run(true, 64);
    const off = await run(false, 64);
    assert.equal(on.spikeKwh, off.spikeKwh);
    assert.equal(on.summary.flexlon?.importMwh, off.summary.flexlon?.importMwh);
    // The bound gives a job its least energy only where its site reads as uncontended before its deadline.
    assert.equal(on.out.bound.objectiveGbp, off.out.bound.objectiveGbp);
  });
});
