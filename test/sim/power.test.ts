import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  A100_SXM_NODE,
  checkNodePower,
  gpuMarginalKw,
  jobPowerKw,
  nodeIdleKw,
  nodeItKw,
  nodeMaxKw,
  poolItKw,
} from '../../src/sim/power.ts';

const close = (actual: number, expected: number, eps = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

test('an A100 SXM node draws 0.98 kW idle and 3.94 kW with every GPU busy (367 W per GPU, fitted on the Phoenix sweep)', () => {
  assert.equal(A100_SXM_NODE.gpuPeakW, 367);
  close(nodeIdleKw(A100_SXM_NODE), 8 * 0.06 + 0.5);
  close(nodeMaxKw(A100_SXM_NODE), 8 * 0.367 + 1.0);
});

test('node power rises linearly with busy GPUs, and a job adds exactly its marginal power', () => {
  for (let k = 0; k <= 8; k++)
    close(nodeItKw(A100_SXM_NODE, k), nodeIdleKw(A100_SXM_NODE) + jobPowerKw(A100_SXM_NODE, k));
  close(jobPowerKw(A100_SXM_NODE, 8), nodeMaxKw(A100_SXM_NODE) - nodeIdleKw(A100_SXM_NODE));
  close(gpuMarginalKw(A100_SXM_NODE), 0.307 + 0.5 / 8);
});

test('pool power depends on how many GPUs are busy, not on which nodes they sit', () => {
  close(poolItKw(A100_SXM_NODE, 2, 8), 2 * nodeIdleKw(A100_SXM_NODE) + jobPowerKw(A100_SXM_NODE, 8));
  close(poolItKw(A100_SXM_NODE, 2, 8), nodeItKw(A100_SXM_NODE, 4) * 2);
  assert.throws(() => poolItKw(A100_SXM_NODE, 2, 17), RangeError);
  assert.throws(() => nodeItKw(A100_SXM_NODE, -1), RangeError);
});

test("a lower GPU draw (the power-cap seam) lowers a job's power; defaults are the peak", () => {
  assert.ok(jobPowerKw(A100_SXM_NODE, 4, 250) < jobPowerKw(A100_SXM_NODE, 4));
  close(jobPowerKw(A100_SXM_NODE, 4, A100_SXM_NODE.gpuPeakW), jobPowerKw(A100_SXM_NODE, 4));
});

test('nonsensical power parameters are refused with a clear message', () => {
  assert.throws(() => checkNodePower({ ...A100_SXM_NODE, gpuPeakW: 50 }), /gpuPeakW must be ≥ gpuIdleW/);
  assert.throws(() => checkNodePower({ ...A100_SXM_NODE, gpusPerNode: 0 }), /gpusPerNode/);
  assert.throws(() => checkNodePower({ ...A100_SXM_NODE, nodeLoadOverheadKw: 0.1 }), /nodeLoadOverheadKw/);
  assert.throws(() => checkNodePower({ ...A100_SXM_NODE, gpuTdpW: 300 }), /gpuTdpW/);
  assert.equal(checkNodePower(A100_SXM_NODE), A100_SXM_NODE);
});

test('the fitted power-cap curve: throughput and draw fall with the cap; energy per unit of work is lowest near half TDP', async () => {
  const { throughputAt, drawFractionAt, energyPerWorkAt, cappedDrawW, minCapW } =
    await import('../../src/sim/power-cap.ts');
  close(throughputAt(1), 1);
  close(drawFractionAt(1), 1);
  assert.ok(throughputAt(0.5) > 0.6 && throughputAt(0.5) < 0.75, `training at 200 W: ${throughputAt(0.5)}`);
  assert.ok(
    throughputAt(0.5, 'inference') > throughputAt(0.5, 'training'),
    'inference tolerates caps better than pre-training',
  );
  for (let f = 0.3; f < 1; f += 0.05) assert.ok(throughputAt(f) <= throughputAt(f + 0.05) + 1e-12, 'monotone');
  assert.ok(
    energyPerWorkAt(0.5) < 0.85 && energyPerWorkAt(0.25) > 1.1,
    'cheaper per unit of work at 200 W, dearer at 100 W',
  );
  assert.equal(minCapW(A100_SXM_NODE), 200);
  close(cappedDrawW(A100_SXM_NODE, 400), 367);
  assert.ok(cappedDrawW(A100_SXM_NODE, 200) < 200 && cappedDrawW(A100_SXM_NODE, 200) > 190);
});
