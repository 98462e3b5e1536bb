// The demo's narration: every line stamped with UTC, the GB settlement period and UK local time
// when it differs, and the lines of one moment in a fixed order (issue 16: "[18:13] … DELIVERING"
// was printed before "[18:00] window opens").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { money, stamp, Timeline, windowLabel } from '../../src/cli/demo-events.ts';
import { penniesAddingUp } from '../../src/domain/decimal.ts';

test('a stamp names UTC, the settlement period and, in summer, BST', () => {
  assert.equal(stamp(Date.parse('2023-01-24T18:00:00Z')), '[18:00 SP37]');
  assert.equal(stamp(Date.parse('2023-01-24T00:00:00Z')), '[00:00 SP1]');
  // 17:00 UTC is 18:00 BST; the settlement day starts at 23:00 UTC the evening before.
  assert.equal(stamp(Date.parse('2023-07-12T17:00:00Z')), '[17:00 SP37 · 18:00 BST]');
  assert.equal(stamp(Date.parse('2023-07-11T23:00:00Z')), '[23:00 SP1 · 00:00 BST]');
  // The day the clocks go back has 50 periods: 23:30 UTC on 29 October 2023 is its 50th.
  assert.equal(stamp(Date.parse('2023-10-29T23:30:00Z')), '[23:30 SP50]');
});

test('a window names its UTC times, its settlement periods and, in summer, BST', () => {
  const t = (iso: string) => Date.parse(iso);
  assert.equal(windowLabel(t('2023-01-24T18:00:00Z'), t('2023-01-24T19:00:00Z')), '18:00–19:00 UTC (SP37–38)');
  assert.equal(windowLabel(t('2023-01-24T18:00:00Z'), t('2023-01-24T18:30:00Z')), '18:00–18:30 UTC (SP37)');
  assert.equal(
    windowLabel(t('2023-07-12T18:00:00Z'), t('2023-07-12T19:00:00Z')),
    '18:00–19:00 UTC (SP39–40, 19:00–20:00 BST)',
  );
  // The spring change's day has 46 periods: 18:00 UTC (19:00 BST) is SP37 of it.
  assert.equal(
    windowLabel(t('2023-03-26T18:00:00Z'), t('2023-03-26T19:00:00Z')),
    '18:00–19:00 UTC (SP37–38, 19:00–20:00 BST)',
  );
  // Across the autumn change (01:00 UTC on 29 October 2023): 01:30 BST, then 01:30 GMT.
  assert.equal(
    windowLabel(t('2023-10-29T00:30:00Z'), t('2023-10-29T01:30:00Z')),
    '00:30–01:30 UTC (SP4–5, 01:30 BST–01:30 GMT)',
  );
});

test('lines of one moment come out in rank order, and in time order across moments', () => {
  const out: string[] = [];
  const t = new Timeline((l) => out.push(l));
  const at = (hhmm: string) => Date.parse(`2023-01-24T${hhmm}:00Z`);
  t.add(at('16:00'), 1, ['offer']);
  t.add(at('18:00'), 1, ['push DELIVERING']);
  t.add(at('18:00'), 0, ['window opens']);
  assert.deepEqual(out, ['offer'], 'a moment is held until a later one is narrated');
  t.add(at('19:00'), 1, ['push DELIVERED']);
  t.add(at('19:30'), 1, ['status', 'support']);
  t.flush();
  assert.deepEqual(out, ['offer', 'window opens', 'push DELIVERING', 'push DELIVERED', 'status', 'support']);
});

test('money: to the penny, halves away from zero, the minus before the pound sign, never "-£0.00"', () => {
  assert.equal(money(2.83), '£2.83');
  assert.equal(money(-1.24), '-£1.24');
  assert.equal(money(0.125), '£0.13');
  assert.equal(money(-0.125), '-£0.13');
  assert.equal(money(-0.004), '£0.00');
  assert.equal(money(-0), '£0.00');
});

test("an offer's cost parts add up to its opportunity cost as printed, to the penny", () => {
  // `flexlon demo --jobs 150`: energy −1.503, lateness 0, caps 4.766 (each rounded: −£1.50 + £4.77 =
  // £3.27) beside an opportunity cost of £3.263 (£3.26).
  const parts = { energyGbp: -1.503, latenessGbp: 0, capsGbp: 4.766, batteryGbp: 0, movesGbp: 0 };
  const shown = penniesAddingUp(parts, 3.263);
  assert.deepEqual(shown, { energyGbp: -1.5, latenessGbp: 0, capsGbp: 4.76, batteryGbp: 0, movesGbp: 0 });
  assert.equal(money(Object.values(shown).reduce((a, x) => a + x, 0)), money(3.263));
  // As the buyer has them, off the wire: each part and the total already rounded to the penny.
  assert.deepEqual(
    penniesAddingUp({ energyGbp: -1.5, latenessGbp: 0, capsGbp: 4.77, batteryGbp: 0, movesGbp: 0 }, 3.26),
    {
      energyGbp: -1.5,
      latenessGbp: 0,
      capsGbp: 4.76,
      batteryGbp: 0,
      movesGbp: 0,
    },
  );
  // Parts that already add up are only rounded.
  assert.deepEqual(penniesAddingUp({ a: -1.24, b: 1.11, c: 0.66 }, 0.53), { a: -1.24, b: 1.11, c: 0.66 });
  // Parts that do not sum to the total (more than rounding apart) are left as they are.
  assert.deepEqual(penniesAddingUp({ a: 1, b: 2 }, 5), { a: 1, b: 2 });
});
