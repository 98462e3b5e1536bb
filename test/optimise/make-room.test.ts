// Make-room (src/optimise/make-room.ts) through repair: a job that finds no room moves others out of
// its way. Preemptible jobs were the only ones it moved; a waiting job that is not preemptible but
// has somewhere else to go (later in its window, another of its sites) now moves whole, so a hard
// job it blocks is placed instead of the repair failing. A job with nowhere else to go stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobSpec, PlanningProblem } from '../../src/domain/planning.ts';
import { unitCosts, type Draft } from '../../src/optimise/disaggregate.ts';
import { repair } from '../../src/optimise/repair.ts';
import { makeRoom, Occupancy } from '../../src/optimise/make-room.ts';
import { loads } from '../../src/optimise/placement.ts';

const site = (id: string, price: number[]) => ({
  id,
  itPowerLimitKw: 10,
  pue: 1,
  gridImportLimitKw: 100,
  priceGbpPerMwh: price,
  carbonGPerKwh: [100, 100, 100, 100],
});

const job = (id: string, o: Partial<JobSpec>): JobSpec => ({
  id,
  energyKwh: 8,
  maxPowerKw: 8,
  releaseSlot: 0,
  deadlineSlot: 1,
  preemptible: false,
  sites: ['a'],
  ...o,
});

const problem = (jobs: JobSpec[], sites = [site('a', [10, 50, 60, 70])]): PlanningProblem => ({
  version: 1,
  start: '2023-01-24T00:00:00Z',
  slotMinutes: 60,
  slots: 4,
  sites,
  jobs,
  commitments: [],
});

/** `mover` holds slot 0 at site a; `rigid` (slot 0 only, at a) is not placed yet. */
const draft = (p: PlanningProblem): Draft => ({
  site: Int32Array.from([0, -1]),
  power: [Float64Array.from([8, 0, 0, 0]), undefined],
  deficitKwh: Float64Array.from([0, p.jobs[1]!.energyKwh]),
});

/** 10 kW per slot: room for one of the two 8 kW jobs at a time. */
const limits = (p: PlanningProblem) => p.sites.map(() => new Float64Array(p.slots).fill(10));

test('a non-preemptible job with a longer window moves later, whole, for a hard job that has only slot 0', () => {
  const p = problem([job('mover', { deadlineSlot: 4 }), job('rigid', {})]);
  const d = draft(p);
  const r = repair(p, d, limits(p), unitCosts(p, 0));
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.deepEqual([...d.power[1]!], [8, 0, 0, 0], 'the hard job runs in its one slot');
  assert.deepEqual([...d.power[0]!], [0, 8, 0, 0], 'the mover runs whole in the cheapest slot left');
});

test('a non-preemptible job allowed at another site moves there, whole', () => {
  const p = problem(
    [job('mover', { sites: ['a', 'b'] }), job('rigid', {})],
    [site('a', [10, 50, 60, 70]), site('b', [90, 90, 90, 90])],
  );
  const d = draft(p);
  const r = repair(p, d, limits(p), unitCosts(p, 0));
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.equal(d.site[0], 1, 'the mover is at b');
  assert.deepEqual([...d.power[0]!], [8, 0, 0, 0]);
  assert.equal(d.site[1], 0);
});

test('a job with nowhere else to go is not moved: the repair fails and names the job that found no room', () => {
  const p = problem([job('stuck', {}), job('rigid', {})]);
  const d = draft(p);
  const r = repair(p, d, limits(p), unitCosts(p, 0));
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.reason, /job rigid: no room left/);
  assert.deepEqual([...d.power[0]!], [8, 0, 0, 0], 'the job in the way is where it was');
});

test('a job listed twice in the occupancy is counted once: no room is found that clearing cannot free', () => {
  // P (preemptible) and B (rigid) share slot 0 at 5 kW each; H needs 8 kW there. Clearing P frees
  // 5 kW, not enough. With P counted twice (it is listed again after a top-up), make-room found room,
  // said yes, and left slot 0 at 13 kW against a 10 kW limit.
  const p = problem([
    job('P', { energyKwh: 5, maxPowerKw: 5, deadlineSlot: 2, preemptible: true }),
    job('B', { energyKwh: 5, maxPowerKw: 5 }),
    job('H', {}),
  ]);
  const d: Draft = {
    site: Int32Array.from([0, 0, -1]),
    power: [Float64Array.from([5, 0, 0, 0]), Float64Array.from([5, 0, 0, 0]), undefined],
    deficitKwh: Float64Array.from([0, 0, 8]),
  };
  const occ = new Occupancy(p, d);
  occ.add(0, 0, d.power[0]);
  const load = loads(p, d);
  const ok = makeRoom(p, d, 2, load, limits(p), unitCosts(p, 0), new Map([['a', 0]]), occ);
  assert.equal(ok, false);
  assert.deepEqual([...load[0]!], [10, 0, 0, 0], 'nothing changed');
  assert.deepEqual([...loads(p, d)[0]!], [10, 0, 0, 0]);
});
