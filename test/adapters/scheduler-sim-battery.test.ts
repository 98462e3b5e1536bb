// The simulated site battery (src/adapters/scheduler-sim/battery.ts): the SiteBattery contract on its
// own and as the battery a SimCluster owns, its configuration checks, the exact instant it stops at
// a limit, the cluster's meter adding its grid-side power (not multiplied by PUE), and a property
// over random setpoint sequences: stored energy stays within its limits and energy conserves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SimBattery, type SimBatteryConfig } from '../../src/adapters/scheduler-sim/battery.ts';
import { SimCluster, type SimClusterConfig } from '../../src/adapters/scheduler-sim/cluster.ts';
import { epochMs, MINUTE_MS, type EpochMs, type SlotGrid } from '../../src/domain/time.ts';
import { kwh } from '../../src/domain/units.ts';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { FlexError } from '../../src/errors.ts';
import { A100_SXM_NODE, jobPowerKw } from '../../src/sim/power.ts';
import { batteryContract } from '../contract/battery.contract.ts';

const HOUR = 60 * MINUTE_MS;
const t0 = epochMs(Date.UTC(2024, 0, 15));
const at = (hours: number): EpochMs => epochMs(t0 + hours * HOUR);
const site = 'lon-1';
const slots = (n: number, start: EpochMs = t0): SlotGrid => ({ start, slotMinutes: 30, slots: n });
const close = (actual: number, expected: number, what = 'value', eps = 1e-9): void =>
  assert.ok(
    Math.abs(actual - expected) <= eps * Math.max(1, Math.abs(expected)),
    `${what}: ${actual}, expected ${expected}`,
  );

/** 200 kWh, 100 kW charge, 80 kW discharge, 90 % efficient, kept within 20–190 kWh, half full. */
const bat: SimBatteryConfig = {
  capacityKwh: 200,
  maxChargeKw: 100,
  maxDischargeKw: 80,
  roundTripEfficiency: 0.9,
  minSocKwh: 20,
  maxSocKwh: 190,
  initialSocKwh: 100,
  degradationGbpPerMwh: 15,
};

const small: SimClusterConfig = { site, region: 'GB', gridImportLimitKw: 500, trainingNodes: 1, inferenceNodes: 0 };

batteryContract('simulated battery', async () => {
  const b = new SimBattery(site, bat, t0);
  return {
    battery: b,
    now: () => b.now,
    advance: async (ms) => b.advanceTo(epochMs(b.now + ms)),
    energy: async () => ({ chargedKwh: b.chargedKwh, dischargedKwh: b.dischargedKwh }),
    stop: async () => undefined,
  };
});

batteryContract('simulated cluster with a battery (advanced by the cluster)', async () => {
  const c = new SimCluster({ ...small, battery: bat }, t0);
  const b = c.battery;
  assert.ok(b);
  return {
    battery: b,
    now: () => c.now,
    advance: async (ms) => c.advanceTo(epochMs(c.now + ms)),
    energy: async () => ({ chargedKwh: b.chargedKwh, dischargedKwh: b.dischargedKwh }),
    stop: async () => undefined,
  };
});

test('configuration: each bad field fails fast with FLX_CONFIG_INVALID naming it', () => {
  const cases: [Partial<Record<keyof SimBatteryConfig, number>>, string][] = [
    [{ capacityKwh: 0 }, 'capacityKwh'],
    [{ capacityKwh: Number.NaN }, 'capacityKwh'],
    [{ maxChargeKw: -1 }, 'maxChargeKw'],
    [{ maxDischargeKw: Number.POSITIVE_INFINITY }, 'maxDischargeKw'],
    [{ roundTripEfficiency: 0 }, 'roundTripEfficiency'],
    [{ roundTripEfficiency: 1.01 }, 'roundTripEfficiency'],
    [{ minSocKwh: -1 }, 'minSocKwh'],
    [{ minSocKwh: 201 }, 'minSocKwh'],
    [{ maxSocKwh: 10 }, 'maxSocKwh'],
    [{ maxSocKwh: 201 }, 'maxSocKwh'],
    [{ initialSocKwh: 10 }, 'initialSocKwh'],
    [{ initialSocKwh: 195 }, 'initialSocKwh'],
    [{ degradationGbpPerMwh: -1 }, 'degradationGbpPerMwh'],
  ];
  for (const [bad, field] of cases) {
    assert.throws(
      () => new SimBattery(site, { ...bat, ...bad }, t0),
      (e: unknown) => e instanceof FlexError && e.code === 'FLX_CONFIG_INVALID' && e.path === `battery.${field}`,
      `${JSON.stringify(bad)} should be refused as ${field}`,
    );
  }
  // Through the cluster too, before anything runs.
  assert.throws(
    () => new SimCluster({ ...small, battery: { ...bat, capacityKwh: -5 } }, t0),
    (e: unknown) => e instanceof FlexError && e.path === 'battery.capacityKwh',
  );
  // Defaults: limits are the whole capacity, no wear cost; zero power limits are allowed (a battery that only idles).
  const plain = new SimBattery(
    site,
    { capacityKwh: 50, maxChargeKw: 0, maxDischargeKw: 0, roundTripEfficiency: 1, initialSocKwh: 0 },
    t0,
  );
  assert.deepEqual(
    { min: plain.spec.minSocKwh, max: plain.spec.maxSocKwh, wear: plain.spec.degradationGbpPerMwh },
    { min: 0, max: 50, wear: 0 },
  );
});

test('stops at its limit at the exact instant, inside a slot, and meters only until then', async () => {
  // 90 kW × 0.9 = 81 kWh stored per hour; 30 kWh of room fills in 30/81 h ≈ 22.2 min, not on a boundary.
  const b = new SimBattery(site, { ...bat, initialSocKwh: 160 }, t0);
  assert.equal((await b.setPower(90, at(2))).ok, true);
  b.advanceTo(at(1));
  assert.equal(await b.stateOfChargeKwh(), 190);
  const fullAt = t0 + (30 / 81) * HOUR;
  close(b.averageKw(t0, fullAt), 90, 'power until full');
  close(b.averageKw(fullAt, at(1)), 0, 'power after full');
  close(b.averageKw(t0, at(0.5)), (90 * (fullAt - t0)) / (0.5 * HOUR), 'first slot average');
  close(b.chargedKwh, 30 / 0.9, 'energy charged');
  // Once stopped it stays idle, even though the setpoint ran to hour 2.
  const charged = b.chargedKwh;
  b.advanceTo(at(3));
  assert.equal(b.chargedKwh, charged);
  close(b.energyKwh(at(1), at(3)), 0, 'energy after full');
  assert.ok(Number.isNaN(b.averageKw(at(2), at(4))), 'NaN beyond what has been simulated');
  assert.throws(() => b.advanceTo(at(2)), /backwards/);
});

test('a limit reached sooner than a double can resolve still counts its energy, in battery and meter', async () => {
  // 1e-9 kWh at 30 kW lasts 0.12 µs, under half the gap between doubles near today's epoch (fast-check found it).
  const b = new SimBattery(
    site,
    { ...bat, capacityKwh: 1, maxChargeKw: 1, maxDischargeKw: 30, minSocKwh: 0, maxSocKwh: 1e-9, initialSocKwh: 1e-9 },
    t0,
  );
  assert.equal((await b.setPower(-30, at(1))).ok, true);
  b.advanceTo(at(0.5));
  assert.equal(await b.stateOfChargeKwh(), 0);
  close(b.dischargedKwh, 1e-9, 'energy delivered', 1e-12);
  close(b.energyKwh(t0, at(0.5)), -1e-9, 'metered', 1e-12);
});

test('refusals say why, in the actuation answer, with code invalid', async () => {
  const b = new SimBattery(site, bat, t0);
  const r = await b.setPower(120, at(1));
  assert.deepEqual(
    { ok: r.ok, jobId: r.jobId, code: r.ok ? undefined : r.code },
    { ok: false, jobId: 'battery:lon-1', code: 'invalid' },
  );
  assert.match(r.ok ? '' : r.reason, /120 kW is beyond its 100 kW limit/);
  const ok = await b.setPower(-80, at(1));
  assert.deepEqual(ok, { ok: true, jobId: 'battery:lon-1' });
});

/** Two one-node clusters with the same jobs; the first has the battery. */
const pair = (battery: SimBatteryConfig): { withBattery: SimCluster; twin: SimCluster } => {
  const powerKw = jobPowerKw(A100_SXM_NODE, 8);
  const energyKwh = kwh(powerKw * 3);
  const job: ComputeJob = {
    id: 'j1',
    name: 'j1',
    site,
    slo: 'deferrable',
    gpus: 8,
    powerKw,
    energyKwh,
    remainingKwh: energyKwh,
    submittedAt: t0,
    releaseAt: t0,
    deadlineAt: at(24),
    preemptible: false,
    allowedSites: [site],
    work: 24,
    workUnit: 'gpu-hours',
    state: 'queued',
  };
  const withBattery = new SimCluster({ ...small, battery }, t0);
  const twin = new SimCluster(small, t0);
  withBattery.submit([job]);
  twin.submit([job]);
  return { withBattery, twin };
};

test("the cluster's meter adds the battery's grid-side power, not multiplied by PUE", async () => {
  const { withBattery: c, twin } = pair(bat);
  assert.equal(twin.battery, undefined, 'a cluster without battery config has no battery');
  const b = c.battery;
  assert.ok(b);
  // Slot 1: discharge 50 kW. Slot 3: charge 40 kW for ten minutes. Everything else idle.
  c.advanceTo(at(0.5));
  assert.equal((await b.setPower(-50, at(1))).ok, true);
  c.advanceTo(at(1.5));
  assert.equal((await b.setPower(40, epochMs(at(1.5) + 10 * MINUTE_MS))).ok, true);
  c.advanceTo(at(3));
  twin.advanceTo(at(3));
  const g = slots(6);
  const [mine, theirs] = [await c.importKw(g), await twin.importKw(g)];
  const diff = mine.map((v, i) => v - (theirs[i] ?? NaN));
  [0, -50, 0, 40 / 3, 0, 0].forEach((d, i) => close(diff[i] ?? NaN, d, `import difference in slot ${i}`));
  assert.ok(c.pue > 1, 'the test means something only with PUE above 1');
  // Not simulated yet: NaN, as without a battery.
  assert.ok(Number.isNaN((await c.importKw(slots(7)))[6] ?? 0));
  close(await b.stateOfChargeKwh(), 100 - 25 + 40 * 0.9 * (10 / 60), 'stored energy');
  // The cluster reports the battery with its stored energy; the twin reports none.
  const report = await c.report(c.now, slots(48));
  assert.deepEqual(report.battery, { ...b.spec, socKwh: await b.stateOfChargeKwh() });
  assert.equal('battery' in (await twin.report(twin.now, slots(48))), false);
});

test('a clone carries an independent copy of the battery', async () => {
  const { withBattery: c } = pair(bat);
  assert.equal((await c.battery?.setPower(-80, at(1)))?.ok, true);
  c.advanceTo(at(0.5));
  const copy = c.clone();
  assert.notEqual(copy.battery, c.battery);
  assert.equal((await copy.battery?.setPower(100, at(1)))?.ok, true);
  c.advanceTo(at(1));
  copy.advanceTo(at(1));
  close((await c.battery?.stateOfChargeKwh()) ?? NaN, 100 - 80, 'original kept discharging');
  close((await copy.battery?.stateOfChargeKwh()) ?? NaN, 100 - 40 + 45, 'copy charged instead');
  const g = slots(2);
  close(((await c.importKw(g))[0] ?? NaN) - ((await copy.importKw(g))[0] ?? NaN), 0, 'shared history');
});

const configs = fc
  .record({
    capacityKwh: fc.integer({ min: 1, max: 2000 }),
    maxChargeKw: fc.integer({ min: 1, max: 1000 }),
    maxDischargeKw: fc.integer({ min: 1, max: 1000 }),
    roundTripEfficiency: fc.double({ min: 0.5, max: 1, noNaN: true }),
    lo: fc.double({ min: 0, max: 1, noNaN: true }),
    hi: fc.double({ min: 0, max: 1, noNaN: true }),
    init: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ lo, hi, init, ...c }): SimBatteryConfig => {
    const minSocKwh = c.capacityKwh * Math.min(lo, hi);
    const maxSocKwh = c.capacityKwh * Math.max(lo, hi);
    return { ...c, minSocKwh, maxSocKwh, initialSocKwh: minSocKwh + (maxSocKwh - minSocKwh) * init };
  });

/** A setpoint as a fraction of the power limit (beyond ±1 must be refused), held for some minutes, then time passes. */
const moves = fc.array(
  fc.record({
    power: fc.oneof(fc.constantFrom(-1, 0, 1), fc.double({ min: -1.3, max: 1.3, noNaN: true })),
    holdMinutes: fc.integer({ min: -5, max: 600 }),
    advanceMinutes: fc.integer({ min: 0, max: 600 }),
  }),
  { minLength: 1, maxLength: 25 },
);

test('property: stored energy stays within its limits, refusals are exactly the out-of-limit setpoints, and energy conserves (battery and meter)', async () => {
  await fc.assert(
    fc.asyncProperty(configs, moves, async (cfg, seq) => {
      const c = new SimCluster({ ...small, battery: cfg }, t0);
      const twin = new SimCluster(small, t0);
      const b = c.battery;
      assert.ok(b);
      const { minSocKwh: min, maxSocKwh: max, maxChargeKw, maxDischargeKw, roundTripEfficiency: eff } = b.spec;
      const soc0 = await b.stateOfChargeKwh();
      const eps = 1e-9 * Math.max(1, cfg.capacityKwh);
      for (const m of seq) {
        const kw = m.power * (m.power > 0 ? maxChargeKw : maxDischargeKw);
        const soc: number = await b.stateOfChargeKwh();
        const expectOk: boolean =
          Math.abs(m.power) <= 1 && m.holdMinutes > 0 && !(kw > 0 && soc >= max) && !(kw < 0 && soc <= min);
        const r = await b.setPower(kw, epochMs(c.now + m.holdMinutes * MINUTE_MS));
        assert.equal(r.ok, expectOk, `setPower(${kw}) at ${soc} kWh in [${min}, ${max}]: ${JSON.stringify(r)}`);
        if (!r.ok) assert.equal(r.code, 'invalid');
        c.advanceTo(epochMs(c.now + m.advanceMinutes * MINUTE_MS));
        const after = await b.stateOfChargeKwh();
        assert.ok(after >= min && after <= max, `stored ${after} kWh outside [${min}, ${max}]`);
        close(after - soc0, b.chargedKwh * eff - b.dischargedKwh, 'ΔSoC vs charged × eff − discharged', eps);
      }
      // Round the span up to whole slots so the meter can read all of it.
      const end = epochMs(t0 + Math.ceil((c.now - t0) / (30 * MINUTE_MS) + 1) * 30 * MINUTE_MS);
      c.advanceTo(end);
      twin.advanceTo(end);
      const g = slots((end - t0) / (30 * MINUTE_MS));
      const energy = (xs: number[]): number => xs.reduce((a, x) => a + x * 0.5, 0);
      const extra = energy(await c.importKw(g)) - energy(await twin.importKw(g));
      close(extra, b.chargedKwh - b.dischargedKwh, 'metered energy added by the battery', eps);
    }),
    { numRuns: 200 },
  );
});
