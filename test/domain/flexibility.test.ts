import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { summariseFlexibility } from '../../src/domain/flexibility.ts';
import { metadataFromText, resolveMetadata, type QueuePolicy } from '../../src/domain/job-metadata.ts';
import { epochMs } from '../../src/domain/time.ts';
import { kw, kwh } from '../../src/domain/units.ts';

const H = 3_600_000;
const t0 = epochMs(Date.UTC(2025, 0, 1));
const job = (id: string, patch: Partial<ComputeJob>): ComputeJob => ({
  id,
  name: id,
  site: 'a',
  slo: 'deferrable',
  gpus: 1,
  powerKw: kw(10),
  energyKwh: kwh(10),
  remainingKwh: kwh(10),
  submittedAt: t0,
  releaseAt: t0,
  deadlineAt: epochMs(t0 + 4 * H),
  preemptible: false,
  allowedSites: ['a'],
  work: 1,
  workUnit: 'gpu-hours',
  state: 'queued',
  ...patch,
});

test('min power per slot: base load, running jobs at their lowest cap, and only the compulsory part of deferrable jobs', () => {
  const jobs = [
    job('run', { state: 'running', minPowerKw: kw(6), remainingKwh: kwh(10) }), // 1 h at 10 kW, could run at 6 kW
    job('loose', {}), // 1 h of work within 4 h: no compulsory part
    job('tight', { deadlineAt: epochMs(t0 + 1.5 * H) }), // 1 h of work within 1.5 h: compulsory from 0.5 h to 1 h
    job('mine', { state: 'held', heldBy: 'other' }), // an operator's: not counted at all
  ];
  const s = summariseFlexibility(jobs, [1, 1, 1, 1, 1, 1, 1, 1], t0, 30, t0);
  assert.deepEqual(s.minPowerKw, [7, 17, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(s.asapPowerKw, [31, 31, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(s.powerCapHeadroomKw, [4, 4, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(
    s.deferrable.map((w) => [w.from - t0, w.to - t0, w.energyKwh, w.jobs]),
    [
      [0, 1.5 * H, 10, 1],
      [0, 4 * H, 10, 1],
    ],
  );
  assert.deepEqual(s.locational, []);
});

test('locational options list the waiting jobs allowed at other sites', () => {
  const s = summariseFlexibility([job('m', { allowedSites: ['a', 'b'] })], [0, 0], t0, 30, t0);
  assert.deepEqual(s.locational, [{ jobId: 'm', sites: ['a', 'b'], powerKw: 10, energyKwh: 10 }]);
});

const policy: QueuePolicy = {
  slo: 'deferrable',
  maxDeferralHours: 12,
  gpuPowerKw: 0.4,
  cpuPowerKw: 0.01,
  preemptible: false,
  defaultRunHours: 4,
};
const facts = { site: 'a', submittedAt: t0, gpus: 2, cpus: 4, timeLimitMinutes: 120 };

test('metadata: defaults come from the queue policy and the time limit', () => {
  const m = resolveMetadata({}, facts, policy, 'c');
  assert.equal(m.powerKw, 0.8);
  assert.equal(m.energyKwh, 1.6);
  assert.equal(m.deadlineAt, t0 + 14 * H);
  assert.deepEqual(m.allowedSites, ['a']);
  assert.deepEqual(m.issues, []);
});

test('metadata: a comment may nest under "flexlon", use power_w, and plain text is nobody\'s metadata', () => {
  const { fields } = metadataFromText(
    '{"flexlon":{"power_w":500,"energy_kwh":2,"slo":"inflexible","preemptible":"true","sites":"a,b"},"other":1}',
    'c',
  );
  const m = resolveMetadata(fields, facts, policy, 'c');
  assert.equal(m.powerKw, 0.5);
  assert.equal(m.energyKwh, 2);
  assert.equal(m.slo, 'inflexible');
  assert.equal(m.preemptible, true);
  assert.deepEqual(m.allowedSites, ['a', 'b']);
  assert.deepEqual(metadataFromText('nightly ETL for team x', 'c'), { fields: {}, issues: [] });
});

test('metadata: broken JSON and bad values are reported field by field, with what was used instead', () => {
  assert.match(
    metadataFromText('{"deadline": ', 'job 7 --comment').issues[0] ?? '',
    /job 7 --comment: starts with "\{" but is not valid JSON/,
  );
  const m = resolveMetadata(
    { deadline: '2025-01-02T10:00:00', slo: 'urgent', sites: [] },
    facts,
    policy,
    'job 7 --comment',
  );
  assert.equal(m.issues.length, 3);
  assert.match(
    m.issues[0] ?? '',
    /job 7 --comment\.deadline: "2025-01-02T10:00:00" is not an ISO-8601 time with a zone/,
  );
  assert.match(m.issues.join('\n'), /slo: "urgent" is not one of deferrable, inflexible; used the queue's deferrable/);
  assert.equal(m.slo, 'deferrable');
});
