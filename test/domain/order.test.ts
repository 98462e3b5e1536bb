import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { transition, ORDER_STATES, type Order, type OrderEvent } from '../../src/domain/order.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbp, kw } from '../../src/domain/units.ts';

const fresh = (): Order => ({
  id: 'o1',
  transactionId: 't1',
  bapId: 'bap',
  bapUri: 'http://bap',
  offerId: 'f1',
  site: 'lon',
  windowStart: epochMs(1000),
  windowEnd: epochMs(2000),
  reductionKw: kw(0),
  priceGbp: gbp(0),
  state: 'searched',
  updatedAt: epochMs(0),
});
const t = epochMs(10);
const select: OrderEvent = { type: 'select', reductionKw: kw(100), priceGbp: gbp(5), quoteExpiresAt: epochMs(100) };

test('the happy path: searched → quoted → initialised → confirmed → active → completed', () => {
  let o = fresh();
  for (const e of [
    select,
    { type: 'init', baselineMethod: 'X' },
    { type: 'confirm' },
    { type: 'start' },
    { type: 'finish' },
  ] as OrderEvent[]) {
    const r = transition(o, e, t);
    assert.ok(r.ok, `${e.type} from ${o.state}`);
    o = r.order;
  }
  assert.equal(o.state, 'completed');
  assert.equal(o.reductionKw, 100);
});

test('illegal transitions are refused with a reason and change nothing', () => {
  const o = fresh();
  const r = transition(o, { type: 'confirm' }, t);
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.reason : '', /cannot confirm an order that is searched/);
  assert.equal(o.state, 'searched');
});

test('an expired quote cannot be initialised or confirmed', () => {
  const quoted = transition(fresh(), select, t);
  assert.ok(quoted.ok);
  const late = transition(quoted.order, { type: 'init', baselineMethod: 'X' }, epochMs(101));
  assert.equal(late.ok, false);
  assert.match(!late.ok ? late.reason : '', /expired/);
});

const events: fc.Arbitrary<OrderEvent> = fc.oneof(
  fc.constant(select),
  fc.constant<OrderEvent>({ type: 'init', baselineMethod: 'X' }),
  fc.constant<OrderEvent>({ type: 'confirm' }),
  fc.constant<OrderEvent>({ type: 'start' }),
  fc.constant<OrderEvent>({ type: 'finish' }),
  fc.constant<OrderEvent>({ type: 'cancel', reason: 'r' }),
  fc.constant<OrderEvent>({ type: 'fail', reason: 'r' }),
);

test('property: whatever events arrive, the state stays a known state and final states never change', () => {
  fc.assert(
    fc.property(fc.array(events, { maxLength: 20 }), (es) => {
      let o = fresh();
      for (const e of es) {
        const wasFinal = ['completed', 'cancelled', 'failed'].includes(o.state);
        const r = transition(o, e, t);
        if (wasFinal && r.ok) return false;
        if (r.ok) o = r.order;
        if (!ORDER_STATES.includes(o.state)) return false;
      }
      return true;
    }),
  );
});
