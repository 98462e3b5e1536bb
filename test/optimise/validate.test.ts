// The published JSON Schemas match the ones the code validates with, and validation names paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  problemSchemaV1,
  problemSchemaV2,
  scheduleSchemaV1,
  scheduleSchemaV2,
} from '../../src/domain/planning-schema.ts';
import { jsonPath, validateProblem, validateSchedule } from '../../src/optimise/validate.ts';
import { projectRoot } from '../helpers/shared.ts';

const doc = (name: string): unknown => JSON.parse(readFileSync(join(projectRoot, 'docs', name), 'utf8'));

test('docs/schemas holds exactly the schemas the code validates with', () => {
  assert.deepEqual(doc('schemas/planning-problem.v1.schema.json'), problemSchemaV1);
  assert.deepEqual(doc('schemas/schedule.v1.schema.json'), scheduleSchemaV1);
  assert.deepEqual(doc('schemas/planning-problem.v2.schema.json'), problemSchemaV2);
  assert.deepEqual(doc('schemas/schedule.v2.schema.json'), scheduleSchemaV2);
});

test('the documented example problem and schedule are valid', () => {
  const p = validateProblem(doc('examples/problem.json'));
  assert.ok(p.ok, JSON.stringify(!p.ok && p.faults));
  assert.ok(validateSchedule(doc('examples/schedule.json')).ok);
});

test('faults name JSON paths', () => {
  assert.equal(jsonPath('/jobs/3/deadlineSlot'), '$.jobs[3].deadlineSlot');
  assert.equal(jsonPath(''), '$');
  const p = doc('examples/problem.json') as {
    jobs: { releaseSlot: number; deadlineSlot: number }[];
    sites: { battery?: { initialSocKwh: number } }[];
    commitments: { toSlot: number }[];
  };
  p.jobs[0]!.deadlineSlot = 0;
  p.sites[0]!.battery!.initialSocKwh = 1e6;
  p.commitments[0]!.toSlot = 9;
  const v = validateProblem(p);
  assert.ok(!v.ok);
  const text = v.faults.map((f) => `${f.path}: ${f.message}`).join('\n');
  assert.match(text, /\$\.jobs\[0\]\.deadlineSlot: must be >= 1/);
  const q = doc('examples/problem.json') as typeof p;
  q.jobs[1]!.deadlineSlot = q.jobs[1]!.releaseSlot;
  q.sites[0]!.battery!.initialSocKwh = 1e6;
  q.commitments[0]!.toSlot = 9;
  const w = validateProblem(q);
  assert.ok(!w.ok);
  const text2 = w.faults.map((f) => `${f.path}: ${f.message}`).join('\n');
  assert.match(text2, /\$\.jobs\[1\]\.deadlineSlot: 1 must be after releaseSlot 1/);
  assert.match(
    text2,
    /\$\.sites\[0\]\.battery\.initialSocKwh: 1000000 kWh must lie in \[minSocKwh, capacityKwh\] = \[20, 200\]/,
  );
  assert.match(text2, /\$\.commitments\[0\]\.toSlot: 9 is beyond the horizon of 8 slots/);
  const missing = validateProblem({ version: 1 });
  assert.ok(!missing.ok && missing.faults.some((f) => f.path === '$.start' && f.message === 'is required'));
});

test('a carbon cap below 0 kg needs an intensity; an intensity needs the kg it adds to', () => {
  const p = doc('examples/problem.json') as Record<string, unknown>;
  const negative = validateProblem({ ...p, version: 2, carbonCapKg: -5 });
  assert.ok(!negative.ok);
  assert.match(
    negative.faults.map((f) => `${f.path}: ${f.message}`).join('\n'),
    /\$\.carbonCapKg: -5 is below 0; a cap in kg must be at least 0/,
  );
  const { carbonCapKg: _kg, ...uncapped } = p;
  const alone = validateProblem({ ...uncapped, version: 2, carbonCapGPerKwh: 180 });
  assert.ok(!alone.ok);
  assert.match(
    alone.faults.map((f) => `${f.path}: ${f.message}`).join('\n'),
    /\$\.carbonCapGPerKwh: needs carbonCapKg/,
  );
  assert.ok(validateProblem({ ...p, version: 2, carbonCapKg: -5, carbonCapGPerKwh: 180 }).ok);
  // An intensity of 0 adds nothing: below 0 kg that is an impossible cap in kg.
  assert.ok(!validateProblem({ ...p, version: 2, carbonCapKg: -5, carbonCapGPerKwh: 0 }).ok);
  // Version 1 has no intensity, and its kg stay at least 0.
  assert.ok(!validateProblem({ ...p, version: 1, carbonCapKg: 0, carbonCapGPerKwh: 180 }).ok);
  assert.ok(!validateProblem({ ...p, version: 1, carbonCapKg: -5 }).ok);
});

test('a price or intensity beyond any GB value, or an infinite number, is refused by name', () => {
  const p = doc('examples/problem.json') as {
    sites: { priceGbpPerMwh: number[]; carbonGPerKwh: number[] }[];
    jobs: { energyKwh: number }[];
  };
  p.sites[0]!.priceGbpPerMwh[3] = 1e300;
  p.sites[0]!.carbonGPerKwh[5] = 2e4;
  const v = validateProblem(p);
  assert.ok(!v.ok);
  const text = v.faults.map((f) => `${f.path}: ${f.message}`).join('\n');
  assert.match(text, /^\$\.sites\[0\]\.priceGbpPerMwh\[3\]: 1e\+300 £\/MWh is beyond ±100,000 £\/MWh: check the unit/m);
  assert.match(text, /^\$\.sites\[0\]\.carbonGPerKwh\[5\]: 20000 gCO2\/kWh is beyond ±10,000 gCO2\/kWh/m);
  // A GB price spike stays valid.
  p.sites[0]!.priceGbpPerMwh[3] = -500;
  p.sites[0]!.carbonGPerKwh[5] = 1_100;
  p.sites[0]!.priceGbpPerMwh[4] = 4_000;
  assert.ok(validateProblem(p).ok);
  // Any other figure past the solver's range, by name.
  const huge = doc('examples/problem.json') as { jobs: { energyKwh: number }[] };
  huge.jobs[2]!.energyKwh = 5e13;
  const h = validateProblem(huge);
  assert.ok(!h.ok);
  assert.deepEqual(
    h.faults.map((f) => `${f.path}: ${f.message}`),
    ['$.jobs[2].energyKwh: 50000000000000 is beyond ±1e12: check the unit'],
  );
  // JSON's 1e999 reads as Infinity.
  const q = JSON.parse(
    readFileSync(join(projectRoot, 'docs', 'examples', 'problem.json'), 'utf8').replace(
      /"energyKwh": *[\d.]+/,
      '"energyKwh": 1e999',
    ),
  );
  const w = validateProblem(q);
  assert.ok(!w.ok);
  assert.ok(
    w.faults.some((f) => /^\$\.jobs\[0\]\.energyKwh$/.test(f.path) && f.message === 'must be a finite number'),
    JSON.stringify(w.faults),
  );
});

test('a version 1 file with a version 2 field is told to say version 2, a typo still to check its spelling; a quoted version is named as such', () => {
  const v2 = doc('examples/problem-overloaded.json') as { jobs: Record<string, unknown>[] };
  const v1 = { ...v2, version: 1, jobs: v2.jobs.map((j, i) => (i === 0 ? { ...j, sloo: 1 } : j)) };
  const r = validateProblem(v1);
  assert.ok(!r.ok);
  const byPath = new Map(r.faults.map((f) => [f.path, f.message]));
  assert.match(byPath.get('$.jobs[0].slo') ?? '', /is a field of problem version 2: set "version": 2/);
  assert.match(byPath.get('$.jobs[0].sloo') ?? '', /check the spelling/);
  const quoted = validateProblem({ ...v2, version: '2' });
  assert.deepEqual(!quoted.ok && quoted.faults, [
    { path: '$.version', message: 'must be the number 2, not the string "2" (write "version": 2, without quotes)' },
  ]);
});
