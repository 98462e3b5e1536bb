// Choosing the class grid (src/optimise/class-model.ts chooseClasses): it counts each grid's columns
// before building, so this checks the choice against classes actually built: the exact classes when
// they fit, else the finest widened grid whose LP fits `maxColumns` (the coarsest tried when none
// does), and every job in exactly one class.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildClasses, chooseClasses, classColumns } from '../../src/optimise/class-model.ts';
import { generatePlanningProblem } from '../../src/sim/planning-instance.ts';
import { problemArb } from './arbitraries.ts';

const GRIDS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 48];

const assertChoice = (p: Parameters<typeof chooseClasses>[0], maxColumns: number): void => {
  const { granularity, classes } = chooseClasses(p, maxColumns);
  const exact = buildClasses(p, 1, true);
  const members = classes.flatMap((c) => c.jobs).sort((a, b) => a - b);
  assert.deepEqual(
    members,
    p.jobs.flatMap((j, i) => (j.energyKwh > 0 ? [i] : [])),
    'every job in exactly one class',
  );
  if (classColumns(exact) <= maxColumns) {
    assert.equal(granularity, 1);
    assert.deepEqual(classes, exact);
    return;
  }
  assert.deepEqual(classes, buildClasses(p, granularity, false), 'the classes of the grid chosen');
  // Every finer grid tried (below the horizon's length) does not fit.
  for (const g of GRIDS.filter((x) => x < granularity))
    assert.ok(classColumns(buildClasses(p, g, false)) > maxColumns, `grid ${g} fits but ${granularity} was chosen`);
  const coarsest = GRIDS.filter((g) => g < p.slots).at(-1) ?? 1;
  assert.ok(
    classColumns(classes) <= maxColumns || granularity === coarsest,
    'a grid that does not fit is only kept when no coarser one may be tried',
  );
};

test('property: the grid chosen is the finest whose class LP fits, checked against built classes', () => {
  fc.assert(
    fc.property(problemArb({ maxJobs: 12, slots: 24 }), fc.integer({ min: 1, max: 400 }), (p, maxColumns) => {
      assertChoice(p, maxColumns);
    }),
    { numRuns: 150, seed: 5 },
  );
});

test('fleet-sized instances (v1 and overloaded) choose as built classes say', () => {
  for (const overload of [undefined, 1.25]) {
    const p = generatePlanningProblem({ jobs: 400, seed: 3, ...(overload ? { overload } : {}) });
    for (const maxColumns of [2000, 8000, 20000, 1_000_000]) assertChoice(p, maxColumns);
  }
});
