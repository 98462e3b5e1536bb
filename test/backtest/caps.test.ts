// GPU power caps as a backtest lever (issue 15, "flexlon using every lever"; the lever is issue 13
// item 2): how a capped job runs at a site, and flexlon capping a running job through a price spike
// when the site has room, without making it late.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  capFields,
  cappedRun,
  cappedStarts,
  minEnergyPerWork,
  type CappedStartInput,
} from '../../src/backtest/caps.ts';
import { fleetSites, type FleetSite } from '../../src/backtest/fleet.ts';
import { loadDay } from '../../src/backtest/checkpoint.ts';
import { summarise } from '../../src/backtest/metrics.ts';
import { runBacktest, type BacktestOptions } from '../../src/backtest/run.ts';
import { SiteSim } from '../../src/backtest/site-sim.ts';
import { createPlanningSolver } from '../../src/compose/solver.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { PERIOD_MS } from '../../src/domain/settlement-day.ts';
import { epochMs } from '../../src/domain/time.ts';
import { kwh } from '../../src/domain/units.ts';
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
  const plannedAt = (from: number, hours = 4) =>
    Array.from({ length: SLOTS }, (_, t) => (t >= from && t < from + hours / H ? P : 0));
  const input = (o: Partial<CappedStartInput> & { prices: number[] }): CappedStartInput => ({
    node: HALF_IDLE,
    waiting: [{ id: 'j', gpus: 8, powerKw: P, remainingKwh: P * 4, deadlineAt: T0 + 24 * 3_600_000 }],
    plan: [{ id: 'j', site: 'edi', powerKw: plannedAt(8) }],
    limitKw: 8 * P,
    now: T0,
    freeGpus: 64,
    ...o,
  });
  const flat = (p: number) => Array.from({ length: SLOTS }, () => p);
  // Run now: a first period at full power, then capped. Its cost at the prices, against the plan's.
  const nowRun = cappedRun(HALF_IDLE, P, capFields(HALF_IDLE, P).minPowerKw);

  it('starts it where the plan waits for hours only a little cheaper: a cap saves more', () => {
    assert.ok(nowRun);
    // Energy now, capped: P × H at full, then the rest at the floor's draw per its progress.
    const rest = P * 4 - P * H;
    const nowKwh = P * H + (rest * nowRun.drawKw) / nowRun.rateKw;
    assert.ok(nowKwh < 0.85 * P * 4, `${nowKwh} kWh now against ${P * 4} planned`);
    const prices = flat(100).map((p, t) => (t >= 8 ? 90 : p));
    assert.deepEqual([...cappedStarts(input({ prices }))], ['j']);
  });

  it('leaves it to the plan where the later hours are far cheaper', () => {
    const prices = flat(100).map((p, t) => (t >= 8 ? 30 : p));
    assert.equal(cappedStarts(input({ prices })).size, 0);
  });

  it('never where the capped run would end in the period holding its deadline', () => {
    assert.ok(nowRun);
    // Capped, 4 h of work take 0.5 + 3.5 / speed hours: past a deadline 5 h away, not one 7 h away.
    const runH = H + (P * 4 - P * H) / nowRun.rateKw;
    assert.ok(runH > 5 && runH < 6.5, `${runH} h`);
    const plan = [{ id: 'j', site: 'edi', powerKw: plannedAt(1) }];
    const at = (hours: number) => [
      { id: 'j', gpus: 8, powerKw: P, remainingKwh: P * 4, deadlineAt: T0 + hours * 3_600_000 },
    ];
    assert.equal(cappedStarts(input({ prices: flat(100), plan, waiting: at(5) })).size, 0);
    assert.deepEqual([...cappedStarts(input({ prices: flat(100), plan, waiting: at(7) }))], ['j']);
  });

  it('never into GPUs or plan room it does not have, nor for a job the plan starts now or does not hold', () => {
    const prices = flat(100);
    assert.equal(cappedStarts(input({ prices, freeGpus: 4 })).size, 0);
    // Another job holds the whole site's limit for the next 2 hours.
    const full = { id: 'k', site: 'edi', powerKw: Array.from({ length: SLOTS }, (_, t) => (t < 4 ? 8 * P : 0)) };
    assert.equal(
      cappedStarts(input({ prices, plan: [{ id: 'j', site: 'edi', powerKw: plannedAt(8) }, full] })).size,
      0,
    );
    assert.equal(cappedStarts(input({ prices, plan: [{ id: 'j', site: 'edi', powerKw: plannedAt(0) }] })).size, 0);
    assert.equal(cappedStarts(input({ prices, plan: [] })).size, 0);
    // Two such jobs with GPUs for one: the first in the queue starts.
    const two = input({
      prices,
      freeGpus: 8,
      waiting: ['a', 'b'].map((id) => ({ id, gpus: 8, powerKw: P, remainingKwh: P * 4, deadlineAt: T0 + 86_400_000 })),
      plan: ['a', 'b'].map((id) => ({ id, site: 'edi', powerKw: plannedAt(8) })),
    });
    assert.deepEqual([...cappedStarts(two)], ['a']);
  });
});

describe('flexlon caps a running job through a price spike', () => {
  const solver = createPlanningSolver({ work: DEFAULT_WORK });
  after(() => solver.close());
  const site = fleetSites(['edi'], 'idle')[0] as FleetSite;
  const D2 = DAY_START + 86_400_000;
  // Every day (so the forecast, a mean of past days, knows it): £20/MWh from 06:00 to 08:00, £300
  // from 10:00 to 12:00, £40 otherwise. The job below starts in the cheap hours (waiting out the
  // dear ones would make it 4 hours late, which costs more) and runs into the dear ones, with slack
  // to spare: capped there, it finishes later, still on time.
  const price = (t: number) => {
    const k = halfHour(t);
    return k >= 12 && k < 16 ? 20 : k >= 20 && k < 24 ? 300 : 40;
  };
  const job = (id: string, submitted: number, hours: number, slackH: number): ComputeJob => ({
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
  const run = async (caps: boolean, firstDay = 1) => {
    const o: BacktestOptions = {
      from: DAY,
      to: '2023-03-02',
      sites: ['edi'],
      fleet: 'idle',
      strategies: ['fifo', 'flexlon'],
      seed: 3,
      out: tmp(),
      history: history(price, () => 150),
      solver,
      carbonGbpPerTonne: 0,
      pricePerCarbon: 0,
      caps,
      fleetSites: [site],
      // A small job on the first day (so a day of the site's load has been seen by the spike), and on
      // the second a 6-hour job at 06:00 with 2 hours of slack; from 07:30 on, run at its lowest cap
      // to the end it would still meet its deadline, so it is cappable then.
      workload: (_s, k, dayStart) => ({
        jobs:
          k === 0
            ? Array.from({ length: firstDay }, (_, n) => job(`edi-a${n}`, dayStart, firstDay > 1 ? 6 : 1, 16))
            : k === 1
              ? [job('edi-b', dayStart + 6 * 3_600_000, 6, 2)]
              : [],
        inferenceKw: [0],
      }),
    };
    const out = await runBacktest(o);
    const chunks = out.days.map((_, k) => loadDay(o.out, k));
    const rows = chunks.flatMap((c) => c.rows.flexlon ?? []);
    const spikeKwh = rows
      .filter((r) => r.t >= D2 + 10 * 3_600_000 && r.t < D2 + 12 * 3_600_000)
      .reduce((a, r) => a + (r.siteKwh[0] ?? 0), 0);
    return { spikeKwh, out, ...summarise(chunks, ['fifo', 'flexlon'], out.open, 0) };
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
