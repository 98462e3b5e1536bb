// flexlon's capacity value (planner-strategy.ts, docs/backtest.md "Capacity value"): on a site whose
// offered load over the last week is high, each hour a kWh is deferred costs a share of the lateness
// price, so the planner no longer leaves GPUs idle now for a cheap slot that the jobs still to come
// will need; on a half-idle site it costs nothing.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { PERIOD_MS } from '../../src/domain/settlement-day.ts';
import { epochMs } from '../../src/domain/time.ts';
import { kw, kwh } from '../../src/domain/units.ts';
import { createPlanningSolver } from '../../src/compose/solver.ts';
import { DEFAULT_WORK } from '../../src/optimise/planner.ts';
import { summarise } from '../../src/backtest/metrics.ts';
import { loadDay } from '../../src/backtest/checkpoint.ts';
import {
  capacityValue,
  OFFERED_FREE,
  OFFERED_FULL,
  OfferedLoad,
  offeredAt,
  uncontendedAt,
} from '../../src/backtest/capacity-value.ts';
import type { SimJob } from '../../src/backtest/sim-job.ts';
import type { SiteSim } from '../../src/backtest/site-sim.ts';
import { runBacktest } from '../../src/backtest/run.ts';
import type { BacktestOptions } from '../../src/backtest/run-options.ts';
import { DAY, halfHour, history, SMALL_SITE, tmp } from './fixtures.ts';

const solver = createPlanningSolver({ work: DEFAULT_WORK });
after(() => solver.close());

describe('capacity value', () => {
  it('reads a site as uncontended from its arrivals exactly where a strategy looking every period does', () => {
    // Sixteen days of 8-GPU jobs on 64 GPUs, three of them busy, every job still waiting (so a
    // look at each period start sees every job submitted by then).
    let seed = 11;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const start = Date.UTC(2023, 2, 1);
    const jobs: SimJob[] = [];
    for (let d = 0; d < 16; d++) {
      const n = d >= 3 && d <= 5 ? 60 : 8;
      for (let k = 0; k < n; k++) {
        const hours = 1 + Math.floor(rand() * 6);
        const at = start + d * 86_400_000 + Math.floor(rand() * 86_400_000);
        jobs.push({
          id: `j${d}-${k}`,
          gpus: 8,
          powerKw: 8,
          energyKwh: 8 * hours,
          remainingKwh: 8 * hours,
          submittedAt: at,
          releaseAt: at,
          deadlineAt: at + 86_400_000,
          work: 8 * hours,
        });
      }
    }
    const slots = 16 * 48;
    const fast = uncontendedAt(jobs, 64, start, PERIOD_MS, slots);
    const offered = new OfferedLoad();
    const site = { spec: { id: 'edi', gpus: 64 }, waiting: [] as SimJob[], running: [] as SimJob[] };
    let flips = 0;
    for (let p = 0; p < slots; p++) {
      const now = start + p * PERIOD_MS;
      site.waiting = jobs.filter((j) => j.submittedAt <= now);
      const free =
        offeredAt(offered, site as unknown as SiteSim, now) < OFFERED_FREE && offered.seenFor('edi', now) >= 86_400_000;
      assert.equal(fast[p] === 1, free, `period ${p}`);
      if (p > 0 && fast[p] !== fast[p - 1]) flips++;
    }
    // The case is not trivial: the site turns contended and uncontended again.
    assert.ok(flips >= 2, `${flips} changes`);
  });

  it('is nothing up to OFFERED_FREE, rises as the square to the full share at OFFERED_FULL', () => {
    // £0.25 per GPU-hour late over 1 kW per GPU: £250 per MWh-hour; a quarter of it at full contention.
    assert.equal(capacityValue(0.5, 1), 0);
    assert.equal(capacityValue(OFFERED_FREE, 1), 0);
    assert.equal(capacityValue(OFFERED_FULL, 1), 62.5);
    assert.equal(capacityValue(0.97, 1), 62.5);
    const mid = (OFFERED_FREE + OFFERED_FULL) / 2;
    assert.ok(Math.abs(capacityValue(mid, 1) - 62.5 / 4) < 1e-9);
    // Half the power per GPU: a kWh is twice the GPU-hours, so twice the value; share 0 turns it off.
    assert.equal(capacityValue(OFFERED_FULL, 0.5), 125);
    assert.equal(capacityValue(OFFERED_FULL, 1, 0), 0);
  });

  // Seven 8-GPU jobs of an hour (two periods) submitted every hour on a 64-GPU site: 56 of its 64
  // GPUs busy on average (87.5 % offered). Each is due 12 h after submission. Every evening
  // 18:00–24:00 is cheaper (£60 against £100/MWh) and has room for a quarter of a day's jobs.
  const stream = (dayStart: number): ComputeJob[] =>
    Array.from({ length: 24 * 7 }, (_, k) => {
      const at = dayStart + Math.floor(k / 7) * 2 * PERIOD_MS;
      return {
        id: `edi-${dayStart}-${k}`,
        name: 'batch',
        site: 'edi',
        slo: 'deferrable',
        gpus: 8,
        powerKw: kw(8),
        energyKwh: kwh(8),
        remainingKwh: kwh(8),
        submittedAt: epochMs(at),
        releaseAt: epochMs(at),
        deadlineAt: epochMs(at + 12 * 3_600_000),
        preemptible: false,
        allowedSites: ['edi'],
        work: 8,
        workUnit: 'gpu-hours',
        state: 'queued',
      };
    });

  const run = async (share: number) => {
    const to = new Date(Date.parse(`${DAY}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    const o: BacktestOptions = {
      from: DAY,
      to,
      sites: ['edi'],
      fleet: 'busy',
      strategies: ['fifo', 'flexlon'],
      seed: 3,
      out: tmp(),
      history: history(
        (t) => (halfHour(t) >= 36 ? 60 : 100),
        () => 150,
      ),
      solver,
      carbonGbpPerTonne: 0,
      capacityValueShare: share,
      fleetSites: [SMALL_SITE],
      workload: (_s, k, dayStart) => ({ jobs: k < 2 ? stream(dayStart) : [], inferenceKw: [0] }),
    };
    const out = await runBacktest(o);
    const chunks = out.days.map((_, k) => loadDay(o.out, k));
    return summarise(chunks, ['fifo', 'flexlon'], out.open, 0).summary;
  };

  it('on a contended site keeps flexlon from holding work back for a cheap slot it cannot fill', async () => {
    const free = await run(0);
    const priced = await run(0.25);
    const fifo = priced.fifo;
    const a = free.flexlon;
    const b = priced.flexlon;
    assert.ok(fifo && a && b);
    // Without the capacity value the planner holds the day's work back for the evening, which the
    // work still to come needs too: the queue builds and jobs wait hours (FIFO: none). The value
    // applies once a day of submissions is seen, so the second day runs nearer FIFO: less waiting
    // for no more £ (here less, since the evening is not oversubscribed).
    assert.equal(fifo.slo.meanWaitH, 0);
    assert.ok(a.slo.meanWaitH > 4, `wait without ${a.slo.meanWaitH} h`);
    assert.ok(b.slo.meanWaitH < a.slo.meanWaitH - 0.5, `wait ${b.slo.meanWaitH} h, without ${a.slo.meanWaitH} h`);
    assert.ok(b.objectiveGbp <= a.objectiveGbp, `objective £${b.objectiveGbp}, without £${a.objectiveGbp}`);
    assert.equal(b.gpuHours, a.gpuHours);
  });
});
