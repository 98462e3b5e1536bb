// One plan answers every site's report of a slot (issue 13 item 8): the reports wait for one
// another, not for a timer, when every site reports; a silent site delays the others by at most
// the gather time; plans run one at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReportBatcher } from '../../src/agents/flex/report-batch.ts';

const batcher = (sites: string[], gatherMs = 5_000) => {
  let slot = 0;
  let plans = 0;
  let running = 0;
  let overlapped = false;
  const b = new ReportBatcher<number>({
    sites: () => sites,
    slotNow: () => slot,
    gatherMs,
    plan: async () => {
      running++;
      overlapped ||= running > 1;
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return ++plans;
    },
  });
  return {
    b,
    next: () => slot++,
    get plans() {
      return plans;
    },
    get overlapped() {
      return overlapped;
    },
  };
};

test('the reports of a slot from every site share one plan, without waiting for the timer', async () => {
  const x = batcher(['lon', 'man', 'edi']);
  const started = performance.now();
  const answers = await Promise.all(['lon', 'man', 'edi'].map((s) => x.b.submit(s)));
  assert.deepEqual(answers, [1, 1, 1]);
  assert.ok(performance.now() - started < 1_000, 'no site waited for the gather time');
  x.next();
  assert.deepEqual(await Promise.all(['edi', 'lon', 'man'].map((s) => x.b.submit(s))), [2, 2, 2]);
  assert.equal(x.plans, 2);
});

test('a site that does not report delays the others by the gather time, no more', async () => {
  const x = batcher(['lon', 'man'], 150);
  const started = performance.now();
  assert.equal(await x.b.submit('lon'), 1);
  const waited = performance.now() - started;
  assert.ok(waited >= 140 && waited < 2_000, `waited ${waited.toFixed(0)} ms`);
});

test('a report after its slot was planned (a re-report) gets a new plan at once; plans never overlap', async () => {
  const x = batcher(['lon', 'man']);
  await Promise.all([x.b.submit('lon'), x.b.submit('man')]);
  const started = performance.now();
  assert.equal(await x.b.submit('man'), 2, 'a fresh plan with the new report');
  assert.ok(performance.now() - started < 1_000);
  // Two reports while a plan runs: the second batch waits for the first plan to end.
  x.next();
  const first = Promise.all([x.b.submit('lon'), x.b.submit('man')]);
  const again = x.b.submit('lon');
  assert.deepEqual(await first, [3, 3]);
  assert.equal(await again, 4);
  assert.equal(x.overlapped, false);
});
