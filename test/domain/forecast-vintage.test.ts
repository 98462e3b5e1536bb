// The noise behind synthetic forecast vintages: it reproduces the error statistics it is calibrated
// to, depends only on the seed and the period, and grows with lead time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CALIBRATION_2023,
  DEFAULT_VINTAGE_MODEL,
  NoisePath,
  fitErrors,
  leadFactor,
  noiseSeed,
  vintageIssuedAt,
  vintageValue,
} from '../../src/domain/forecast-vintage.ts';

test('fitErrors: MAE, RMSE, bias and lag-1 autocorrelation of a known series, skipping gaps', () => {
  const f = fitErrors([1, -1, 1, -1, undefined, 3]);
  assert.equal(f.n, 5);
  assert.equal(f.mae, 7 / 5);
  assert.ok(Math.abs(f.bias - 0.6) < 1e-12);
  assert.ok(f.phi < -0.5, 'alternating signs are negatively correlated');
  assert.throws(() => fitErrors([undefined, 2]), /at least two/);
});

test('a noise path reproduces the calibrated MAE, the Laplace RMSE/MAE ratio and the autocorrelation', () => {
  for (const spec of [CALIBRATION_2023.carbon, CALIBRATION_2023.price]) {
    const path = new NoisePath(42, spec);
    const f = fitErrors(Array.from({ length: 60_000 }, (_, i) => path.at(i)));
    assert.ok(Math.abs(f.mae / spec.mae - 1) < 0.05, `MAE ${f.mae} vs ${spec.mae}`);
    assert.ok(Math.abs(f.rmse / f.mae - Math.SQRT2) < 0.08, `RMSE/MAE ${f.rmse / f.mae}`);
    assert.ok(Math.abs(f.phi - spec.phi) < 0.03, `lag-1 ${f.phi} vs ${spec.phi}`);
    assert.ok(Math.abs(f.bias) < spec.mae * 0.15, `bias ${f.bias}`);
  }
});

test('noise depends only on seed and index: the same seed gives the same values in any access order', () => {
  const a = new NoisePath(7, CALIBRATION_2023.carbon);
  const b = new NoisePath(7, CALIBRATION_2023.carbon);
  const late = b.at(5000);
  assert.equal(a.at(5000), late);
  assert.equal(a.at(10), b.at(10));
  assert.notEqual(new NoisePath(8, CALIBRATION_2023.carbon).at(10), a.at(10));
  assert.notEqual(noiseSeed(1, 'carbon', 18), noiseSeed(1, 'price', 18));
  assert.notEqual(noiseSeed(1, 'carbon', 13), noiseSeed(1, 'carbon', 18));
  assert.throws(() => a.at(-1), /before 2000-01-01/);
});

test('the error grows with lead time: none once known, full at a day ahead', () => {
  const day = DEFAULT_VINTAGE_MODEL.fullErrorLeadMs;
  assert.equal(leadFactor(0, day), 0);
  assert.equal(leadFactor(-5, day), 0);
  assert.equal(leadFactor(day / 4, day), 0.5);
  assert.equal(leadFactor(day, day), 1);
  assert.equal(leadFactor(3 * day, day), 1);
  assert.equal(vintageValue(200, 1000, 1000, 17, day), 200, 'known at issue: the recorded value');
  assert.equal(vintageValue(200, day, 0, 10, day), 210);
  assert.equal(
    vintageIssuedAt(1_800_000 * 3 + 5, DEFAULT_VINTAGE_MODEL),
    1_800_000 * 3,
    'issued at the half hour at or before asOf',
  );
});
