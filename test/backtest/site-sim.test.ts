// The backtest site's scheduler (src/backtest/site-sim.ts): strict FIFO among the eligible jobs, and
// the planner strategies' early starts only into GPUs left free, never overtaking a waiting one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SiteSim } from '../../src/backtest/site-sim.ts';
import type { SimJob } from '../../src/backtest/sim-job.ts';
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
  it('starts a high-priority job ahead of a strict-FIFO queue that is blocked, and never a low one', () => {
    // 8 of 16 GPUs busy; the queue's head needs 16, so strict FIFO starts nothing behind it.
    const blocked = () => {
      const s = site(job('run', 8, 2), job('wide', 16, 1), job('ls', 4, 1), job('batch', 4, 1));
      s.step(T0, (j) => j.id === 'run', 'fifo', 0);
      return s;
    };
    const t1 = T0 + PERIOD_MS;
    const plain = blocked();
    plain.step(t1, () => true, 'fifo', 0);
    assert.deepEqual(ids(plain), ['run']);
    // With ls at the site's higher QoS it starts in the free GPUs; wide and batch still wait.
    // Every waiting job eligible, strict FIFO, the job named at the site's higher QoS.
    const withQos = (s: SiteSim, id: string) =>
      s.step(
        t1,
        () => true,
        'fifo',
        0,
        undefined,
        undefined,
        undefined,
        (j) => j.id === id,
      );
    const qos = blocked();
    withQos(qos, 'ls');
    assert.deepEqual(ids(qos), ['ls', 'run']);
    assert.deepEqual(
      qos.waiting.map((j) => j.id),
      ['wide', 'batch'],
    );
    // A priority job that does not fit pre-empts a running job of the queue's priority, which waits
    // again in its submission place with the work it had done; the queue then goes on as before.
    const full = site(job('run', 12, 2), job('ls8', 8, 1), job('small', 2, 1));
    full.step(T0, (j) => j.id === 'run', 'fifo', 0);
    const m = withQos(full, 'ls8');
    assert.equal(m.preempted, 1);
    assert.deepEqual(ids(full), ['ls8', 'small']);
    const run = full.waiting.find((j) => j.id === 'run');
    assert.equal(run?.remainingKwh, 12 * 0.5 * 2 - 12 * 0.5 * 0.5);
    assert.equal(run?.startedAt, T0, 'its first start is kept for the wait figures');
  });

  it('pre-empts the fewest jobs, those with the most slack left first, and none where all would not do', () => {
    const withQos = (s: SiteSim, at: number, first: (j: SimJob) => boolean) =>
      s.step(at, () => true, 'backfill', 0, undefined, undefined, undefined, first);
    const t1 = T0 + PERIOD_MS;
    // Two 8-GPU jobs fill the site; `late` is due in 3 h, `slack` in 12 h: `slack` makes room.
    const s = site({ ...job('late', 8, 2), deadlineAt: T0 + 3 * HOUR }, job('slack', 8, 2), {
      ...job('ls', 8, 1),
      submittedAt: T0 + 1,
    });
    s.step(T0, (j) => j.id !== 'ls', 'backfill', 0);
    s.arrive(t1);
    assert.equal(withQos(s, t1, (j) => j.id === 'ls').preempted, 1);
    assert.deepEqual(ids(s), ['late', 'ls']);
    assert.deepEqual(
      s.waiting.map((j) => j.id),
      ['slack'],
    );
    // One job that frees enough is taken before two with more slack: 8 needed, A (4 GPUs) has the
    // most slack, B (8) less, D (4) the least.
    const one = site(
      { ...job('A', 4, 2), deadlineAt: T0 + 12 * HOUR },
      { ...job('B', 8, 2), deadlineAt: T0 + 8 * HOUR },
      { ...job('D', 4, 2), deadlineAt: T0 + 4 * HOUR },
      { ...job('ls8', 8, 1), submittedAt: T0 + 1 },
    );
    one.step(T0, (j) => j.id !== 'ls8', 'backfill', 0);
    one.arrive(t1);
    assert.equal(withQos(one, t1, (j) => j.id === 'ls8').preempted, 1);
    assert.deepEqual(ids(one), ['A', 'D', 'ls8']);
    // A must-start job starts whatever the strategy decided: the site keeps a hard SLO.
    const held = site(job('ls', 4, 1), job('batch', 4, 1));
    held.step(
      T0,
      () => false,
      'fifo',
      0,
      undefined,
      undefined,
      undefined,
      (j) => j.id === 'ls',
    );
    assert.deepEqual(ids(held), ['ls']);
    // Only priority jobs run besides a 4-GPU one: pre-empting it would not free the 8 needed.
    const p = site(job('p1', 12, 2), job('run', 4, 2), { ...job('p2', 8, 1), submittedAt: T0 + 1 });
    p.step(T0, (j) => j.id !== 'p2', 'backfill', 0);
    p.arrive(t1);
    assert.equal(withQos(p, t1, (j) => j.id.startsWith('p')).preempted, 0);
    assert.deepEqual(ids(p), ['p1', 'run']);
  });

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

describe('backtest site battery', () => {
  // 100 kWh stored at most, 20 at least; 90 % round trip; £50 per MWh discharged; 12 kW connection.
  const battery = {
    capacityKwh: 100,
    maxChargeKw: 40,
    maxDischargeKw: 40,
    roundTripEfficiency: 0.9,
    minSocKwh: 20,
    maxSocKwh: 100,
    initialSocKwh: 30,
    degradationGbpPerMwh: 50,
  };
  const withBattery = () =>
    new SiteSim({ id: 's', gpus: 16, trainingIdleKw: 10, trainingMaxKw: 18, pue: 1, battery, gridImportLimitKw: 12 });
  const never = () => false;

  it('charges only into the connection the site leaves, storing the charge less its losses', () => {
    const s = withBattery();
    // The idle pool draws 10 kW: 2 kW of the 12 kW connection is left, 1 kWh in the half hour.
    const m = s.step(T0, never, 'fifo', 0, undefined, { chargeKw: 40, dischargeKw: 0 });
    assert.equal(m.battery?.chargedKwh, 1);
    assert.equal(m.importKwh, 6);
    assert.ok(Math.abs((s.socKwh ?? 0) - 30.9) < 1e-12);
  });

  it('discharges within its stored energy and the site draw, never exporting; wear per MWh discharged', () => {
    const s = withBattery();
    // 40 kW asked for: 20 kWh in the half hour, but the site draws only 5 kWh.
    const m = s.step(T0, never, 'fifo', 0, undefined, { chargeKw: 0, dischargeKw: 40 });
    assert.equal(m.battery?.dischargedKwh, 5);
    assert.equal(m.importKwh, 0);
    assert.equal(m.battery?.wearGbp, (5 * 50) / 1000);
    // With 10 kW of inference the site draws 10 kWh: the 5 kWh stored above the floor is all it gives.
    const n = s.step(T0 + PERIOD_MS, never, 'fifo', 10, undefined, { chargeKw: 0, dischargeKw: 40 });
    assert.equal(n.battery?.dischargedKwh, 5);
    assert.equal(s.socKwh, 20);
    // Without a setpoint it holds its charge, and a checkpoint carries it.
    s.step(T0 + 2 * PERIOD_MS, never, 'fifo', 0);
    const again = withBattery();
    again.restore(s.snapshot());
    assert.equal(again.socKwh, 20);
  });

  it('in a committed window holds the import under its cap: discharging beyond the plan, charging no further', () => {
    const s = withBattery();
    // The site draws 10 kW (5 kWh); the plan asks for 2 kW of discharge, the commitment for at most
    // 4 kW of import: the battery gives 3 kWh, not 1.
    const m = s.step(T0, never, 'fifo', 0, undefined, { chargeKw: 0, dischargeKw: 2, importCapKw: 4 });
    assert.equal(m.battery?.dischargedKwh, 3);
    assert.equal(m.importKwh, 2);
    // A plan that would charge in the window charges only up to the cap (11 kW: 0.5 kWh).
    const n = s.step(T0 + PERIOD_MS, never, 'fifo', 0, undefined, { chargeKw: 40, dischargeKw: 0, importCapKw: 11 });
    assert.equal(n.battery?.chargedKwh, 0.5);
    assert.equal(n.importKwh, 5.5);
    // Still within what it stores above its floor: 27 + 0.45 kWh, 7.45 kWh to give, against 10 asked.
    const o = s.step(T0 + 2 * PERIOD_MS, never, 'fifo', 10, undefined, { chargeKw: 0, dischargeKw: 0, importCapKw: 0 });
    assert.ok(Math.abs((o.battery?.dischargedKwh ?? 0) - 7.45) < 1e-12);
    assert.equal(s.socKwh, 20);
  });
});

describe('backtest site queue', () => {
  it('takes a later-added job submitted earlier in its place, so it arrives on time', () => {
    const s = new SiteSim({ id: 's', gpus: 16, trainingIdleKw: 1, trainingMaxKw: 9, pue: 1 });
    const at = (id: string, t: number): SimJob => ({ ...job(id, 1, 1), submittedAt: T0 + t * HOUR });
    // Day one's last arrival at 17:50; day two's first (added after) at 17:10, as on the spring day.
    s.add([at('d1-a', 17), at('d1-b', 17 + 50 / 60)]);
    s.add([at('d2-a', 17 + 10 / 60), at('d2-b', 18)]);
    assert.deepEqual(
      s.arrive(T0 + 17.5 * HOUR).map((j) => j.id),
      ['d1-a', 'd2-a'],
    );
    assert.deepEqual(
      s.arrive(T0 + 18 * HOUR).map((j) => j.id),
      ['d1-b', 'd2-b'],
    );
  });
});
