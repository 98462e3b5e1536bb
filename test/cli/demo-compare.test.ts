import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Market } from '../../src/compose/market.ts';
import { carbonCapLines, sameWorkWords, savedWords, sideBySide, type Savings } from '../../src/cli/demo-compare.ts';
import { demoConfig } from '../../src/config.ts';

// The `flexlon demo --jobs 150` run a new user read (2023-01-24): FlexLon £2,103.84 and FIFO
// £2,121.78 over the two days, 11,489 and 11,576 GPU-hours of work.
const run = (flexlonGpuHours: number): Savings => ({
  gbp: 2121.78 - 2103.84,
  gCo2: 21_100,
  gCo2AtForecast: 21_000,
  bauGbp: 2121.78,
  flexlonGbp: 2103.84,
  bauGCo2: 3_000_000,
  flexlonGCo2: 2_978_900,
  bauKwh: 11_000,
  flexlonKwh: 10_900,
  bauGpuHours: 11_576,
  flexlonGpuHours,
  caveats: [],
});

describe('the demo against FIFO on the same work (sameWorkWords)', () => {
  it('takes the work left waiting out of the headline saving', () => {
    const s = run(11_489);
    assert.equal(savedWords(s), '£17.94 less energy cost and 21.1 kgCO2 less');
    // FIFO's £0.18329 per GPU-hour × 11,489 = £2,105.83: £1.99 less for the same work, not £17.94.
    const same = sameWorkWords(s);
    assert.equal(
      same,
      '£1.99 less energy cost and 1.4 kgCO2 more than FIFO would have taken for the 11489 GPU-hours FlexLon ran (at FIFO\'s average £ and gCO2 per GPU-hour); the other £15.95 of "vs FIFO" is the 87 GPU-hours FlexLon left to run after the two days',
    );
  });

  it('prints the saving as the difference of the two totals printed beside it, to the penny', () => {
    // `npm start` read "FlexLon £1418.21 …, FIFO £1452.79" beside "£34.57 less": 1452.79 − 1418.21 = 34.58
    // (and 1000.0 − 980.0 kg is 20.0, where the unrounded 20.098 printed 20.1).
    const s = {
      ...run(11_576),
      bauGbp: 1452.786,
      flexlonGbp: 1418.214,
      gbp: 34.572,
      bauGCo2: 1_000_049,
      flexlonGCo2: 979_951,
    };
    assert.equal(savedWords(s), '£34.58 less energy cost and 20.0 kgCO2 less');
    assert.match(sideBySide(s), /^FlexLon £1418\.21 and 980\.0 kgCO2, FIFO £1452\.79 and 1000\.0 kgCO2$/);
  });

  it('says nothing when both ran the same work', () => {
    assert.equal(sameWorkWords(run(11_576)), undefined);
    assert.equal(sameWorkWords(run(11_580)), undefined);
    assert.equal(sameWorkWords({ ...run(11_489), bauGpuHours: 0 }), undefined);
    // Under one GPU-hour apart, even on a small day: not "the 0 GPU-hours FlexLon left".
    assert.equal(sameWorkWords({ ...run(499.7), bauGpuHours: 500 }), undefined);
  });

  it("counts work FlexLon ran beyond FIFO at FIFO's rate too", () => {
    assert.match(
      sameWorkWords(run(11_700)) ?? '',
      /^£40.67 less energy cost .*; "vs FIFO" is £22.73 smaller than this, FIFO's cost of the 124 GPU-hours FlexLon ran beyond it$/,
    );
  });
});

describe('the carbon cap line against "vs FIFO" (carbonCapLines)', () => {
  // `flexlon demo --date 2023-07-12`: every plan kept the FIFO cap on the forecast intensity, while
  // the two days emitted 0.1 kg more than FIFO at the actual: the line says why both hold.
  // The market here is the audit trail's plan rows only (all the function reads).
  const market = {
    stores: { flex: { auditTrail: async () => [{ kind: 'plan', payload: { carbonKg: 1082, carbonCapKg: 1418 } }] } },
  } as unknown as Market;
  const config = demoConfig({});
  it('reconciles a cap kept on the forecast with more CO2 than FIFO at the actual', async () => {
    const lines = await carbonCapLines(config, market, { ...run(11_576), gCo2: -100, gCo2AtForecast: 3_300 });
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? '', /1 of 1 plans within it; the first plan 1082 kg against a cap of 1418 kg$/);
    assert.match(
      lines[1] ?? '',
      /at NESO's forecast intensity, which the plans and the cap work with, FlexLon emitted 3\.3 kg less than FIFO over the two days; at the actual intensity \("vs FIFO" above\) 0\.1 kg more/,
    );
  });
  it('adds nothing where the two agree', async () => {
    assert.equal((await carbonCapLines(config, market, run(11_576))).length, 1);
    assert.equal((await carbonCapLines(config, market, { ...run(11_576), gCo2: -100, gCo2AtForecast: -50 })).length, 1);
  });
});
