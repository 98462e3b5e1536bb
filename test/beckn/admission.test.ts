// Admission by the planner queue and by the outbox backlog (src/beckn/admission.ts): the arithmetic
// the BPP's receiver relies on to refuse (503 FLX_BUSY) rather than ACK a request whose callback
// could not go within its ttl. The end-to-end flood is test/resilience/planner-backlog.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OwedCallbacks, PlanningBacklog } from '../../src/beckn/admission.ts';

test('before any measurement a unit is assumed to take 1 s: with 1.5 × and 1 s to send, a 5 s ttl admits two into an empty queue', () => {
  const b = new PlanningBacklog();
  const now = 1_000_000;
  const due = now + 5_000;
  assert.equal(b.check('offers', now, due), undefined); // 1 × 1 s × 1.5 + 1 s = 2.5 s
  b.queued('offers');
  assert.equal(b.check('offers', now, due), undefined); // 2 × 1 s × 1.5 + 1 s = 4 s
  b.queued('offers');
  const busy = b.check('offers', now, due); // 5.5 s > 5 s
  assert.ok(busy);
  assert.equal(busy.retryAfterSeconds, 2, 'Retry-After: the queue ahead, in whole seconds');
  assert.match(busy.reason, /2 request\(s\).*within this message's ttl/);
});

test('measured durations replace the assumption; every kind queued counts; a slower latest run counts at once', () => {
  const b = new PlanningBacklog({ sendMarginMs: 0, safetyFactor: 1 });
  b.queued('offers');
  b.finished('offers', 200);
  b.queued('check');
  b.finished('check', 100);
  assert.equal(b.waiting, 0);
  b.queued('offers', 3);
  b.queued('check', 2);
  assert.equal(b.aheadMs(), 3 * 200 + 2 * 100);
  assert.equal(b.check('check', 0, 900), undefined); // 800 + 100
  assert.ok(b.check('check', 0, 899));
  // A unit that took 1 s: the smoothed mean lags, the latest does not.
  b.finished('offers', 1_000);
  assert.equal(b.aheadMs(), 2 * 1_000 + 2 * 100);
  // A unit that left without planning (a no-op or a failure) is not a measurement.
  b.finished('offers');
  assert.equal(b.aheadMs(), 1 * 1_000 + 2 * 100);
  // Never below zero, whatever the bookkeeping.
  for (let k = 0; k < 5; k++) b.finished('check');
  assert.equal(b.waiting, 1);
});

test('the outbox backlog counts the ACKs made since the last count, until the next drain', () => {
  const outbox = { owed: 499 };
  const owed = new OwedCallbacks(outbox, 500);
  assert.equal(owed.check(), undefined);
  owed.acked();
  assert.equal(owed.check(), undefined, '500 owed: at the limit');
  owed.acked();
  assert.match(owed.check() ?? '', /^501 callbacks are still owed \(at most 500\)/);
  // A drain ends and the outbox counts again.
  owed.drained();
  outbox.owed = 120;
  assert.equal(owed.owed, 120);
  assert.equal(owed.check(), undefined);
});
