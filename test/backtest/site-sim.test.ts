// The backtest site's scheduler (src/backtest/site-sim.ts): strict FIFO among the eligible jobs, and
// the planner strategies' early starts only into GPUs left free, never overtaking a waiting one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SiteSim, type SimJob } from '../../src/backtest/site-sim.ts';
import { PERIOD_MS } from '../../src/domain/settlement-day.ts';

const T0 = Date.parse('2023-02-01T00:00:00Z');
const HOUR = 3_600_000;

/** A job of `gpus` GPUs at 0.5 kW each running `hours`, submitted at T0. */
const job = (id: string, gpus: number, hours: number): SimJob => ({
  id,
  gpus,
  powerKw: gpus * 0.5,
  energyKwh: gpus * 0.5 * hours,
  remainingKwh: gpus * 0.5 * hours,
  submittedAt: T0,
  releaseAt: T0,
  deadlineAt: T0 + 12 * HOUR,
  work: gpus * hours,
});

const site = (...jobs: SimJob[]) => {
  const s = new SiteSim({ id: 's', gpus: 16, trainingIdleKw: 1, trainingMaxKw: 9, pue: 1 });
  s.add(jobs);
  s.arrive(T0);
  return s;
};

const ids = (s: SiteSim) => s.running.map((j) => j.id).sort();

describe('backtest site scheduler', () => {
  it('starts early jobs only into the GPUs the eligible ones leave, any that fits', () => {
    const s = site(job('a', 8, 2), job('big', 16, 1), job('c', 8, 1));
    const eligible = new Set(['a']);
    const early = new Set(['big', 'c']);
    s.step(
      T0,
      (j) => eligible.has(j.id),
      'fifo',
      0,
      (j) => early.has(j.id),
    );
    // a starts; big (16) does not fit the 8 left and holds nothing up; c takes them.
    assert.deepEqual(ids(s), ['a', 'c']);
    assert.deepEqual(
      s.waiting.map((j) => j.id),
      ['big'],
    );
  });

  it('starts no early job while an eligible one waits for GPUs', () => {
    const s = site(job('run', 8, 2), job('wide', 16, 1), job('small', 8, 1));
    s.step(T0, (j) => j.id === 'run', 'fifo', 0);
    // Next period: wide is eligible but 8 GPUs are busy; small may start early but would overtake it.
    const t1 = T0 + PERIOD_MS;
    s.step(
      t1,
      (j) => j.id === 'wide',
      'fifo',
      0,
      (j) => j.id === 'small',
    );
    assert.deepEqual(ids(s), ['run']);
    // Without the early rule nothing else starts either; with wide not eligible, small starts early.
    s.step(
      t1 + PERIOD_MS,
      () => false,
      'fifo',
      0,
      (j) => j.id === 'small',
    );
    assert.deepEqual(ids(s), ['run', 'small']);
  });
});
