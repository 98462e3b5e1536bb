import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deliveryLines, type SummaryInput } from '../../src/cli/demo-summary.ts';

// `flexlon demo --date 2023-10-29 [--baseline bl01]` as a new user read it: 134 % delivered over the
// hour, yet its first half hour 20.8 of 21.1 kWh, paid on 99.3 %.
const start = Date.parse('2023-10-29T16:00:00Z');
const input = (baselineMethod: string, first: number): SummaryInput =>
  ({
    procurement: { offer: { site: 'lon', windowStart: start, windowEnd: start + 3_600_000 } },
    sites: [{ id: 'lon' }],
    settlement: {
      baselineMethod,
      committedKwh: 42.2,
      deliveredKwh: first + 35.8,
      performance: 0.993,
      paymentGbp: 8.38,
      periods: [
        { start, baselineKw: 260, meteredKw: 260 - first * 2, deliveredKwh: first, committedKwh: 21.1 },
        { start: start + 1_800_000, baselineKw: 270, meteredKw: 198.4, deliveredKwh: 35.8, committedKwh: 21.1 },
      ],
    },
  }) as unknown as SummaryInput;

describe('the demo summary: why more was delivered than committed (deliveryLines)', () => {
  it('names the period that fell short, which the pay counts', () => {
    const why = deliveryLines(input('FLX-CF-FIFO-1', 20.8)).find((l) => l.startsWith('  why'));
    assert.match(
      why ?? '',
      /^ {2}why 134 % {2}the site stayed a further 14\.4 kW below its FIFO baseline than committed over the window: /,
    );
    assert.match(why ?? '', /; 16:00 SP35 fell short \(20\.8 kWh of 21\.1 kWh committed\), which the pay counts$/);
  });
  it('says nothing of a shortfall where every period delivered its part', () => {
    const why = deliveryLines(input('FLX-CF-FIFO-1', 21.1)).find((l) => l.startsWith('  why'));
    assert.ok(why && !/fell short/.test(why), why);
  });
  it('names the BL01 baseline under --baseline bl01, not FIFO', () => {
    const lines = deliveryLines(input('BL01', 20.8));
    const why = lines.find((l) => l.startsWith('  why')) ?? '';
    assert.match(
      why,
      /below its BL01 baseline than committed over the window: the BL01 baseline is the site's usual import/,
    );
    assert.doesNotMatch(why, /FIFO/);
  });
});
