// The contract every SiteBattery adapter must meet (src/ports.ts), exercised only through the port,
// plus the fixture's clock and the battery's grid-side energy registers (what an inverter's import
// and export counters read). test/adapters/scheduler-sim-battery.test.ts runs it against the
// simulated battery.
//
// Each test gets a fresh fixture. The fixture's battery must start strictly between minSocKwh and
// maxSocKwh and have non-zero power limits both ways, so that it can be charged and discharged.
// Durations are derived from the spec and the stored energy, so any battery size fits.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { epochMs, MINUTE_MS, type EpochMs } from '../../src/domain/time.ts';
import type { SiteBattery } from '../../src/ports.ts';

const HOUR_MS = 60 * MINUTE_MS;

export interface BatteryEnv {
  readonly battery: SiteBattery;
  /** The battery's clock. */
  now(): EpochMs;
  /** Lets `ms` of battery time pass (the simulated battery advances; a real one is waited for). */
  advance(ms: number): Promise<void>;
  /** Grid-side energy since the fixture began: drawn while charging and delivered while discharging (kWh). */
  energy(): Promise<{ readonly chargedKwh: number; readonly dischargedKwh: number }>;
  stop(): Promise<void>;
}

/** Tolerance for energies of a battery with this capacity: rounding only, never a modelling slack. */
const tol = (b: SiteBattery): number => 1e-9 * Math.max(1, b.spec.capacityKwh);

const near = (actual: number, expected: number, eps: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `${what}: ${actual}, expected ${expected} (±${eps})`);

/** How long (ms) `kw` takes to move the stored energy by `kwh` (losses on charging, BatteryReport). */
const msFor = (b: SiteBattery, kw: number, kwh: number): number =>
  (Math.abs(kwh) / Math.abs(kw > 0 ? kw * b.spec.roundTripEfficiency : kw)) * HOUR_MS;

export const batteryContract = (name: string, setup: () => Promise<BatteryEnv>): void => {
  describe(`SiteBattery contract: ${name}`, () => {
    let env: BatteryEnv;
    let b: SiteBattery;
    beforeEach(async () => {
      env = await setup();
      b = env.battery;
      const soc = await b.stateOfChargeKwh();
      assert.ok(soc > b.spec.minSocKwh && soc < b.spec.maxSocKwh, 'the fixture starts strictly inside its limits');
      assert.ok(b.spec.maxChargeKw > 0 && b.spec.maxDischargeKw > 0, 'the fixture can charge and discharge');
    });
    afterEach(async () => env.stop());

    /** ΔSoC must equal charged × efficiency − discharged, between two readings. */
    const conserves = async (soc0: number, e0: { chargedKwh: number; dischargedKwh: number }): Promise<void> => {
      const e1 = await env.energy();
      const stored =
        (e1.chargedKwh - e0.chargedKwh) * b.spec.roundTripEfficiency - (e1.dischargedKwh - e0.dischargedKwh);
      near((await b.stateOfChargeKwh()) - soc0, stored, tol(b), 'ΔSoC against charged × efficiency − discharged');
    };

    test('reports a consistent spec and a stored energy within its limits', async () => {
      const s = b.spec;
      assert.ok(s.capacityKwh > 0);
      assert.ok(0 <= s.minSocKwh && s.minSocKwh <= s.maxSocKwh && s.maxSocKwh <= s.capacityKwh);
      assert.ok(s.roundTripEfficiency > 0 && s.roundTripEfficiency <= 1);
      assert.ok(s.degradationGbpPerMwh >= 0);
      assert.equal(typeof b.site, 'string');
    });

    test('accepts setpoints within its power limits, both ways and idle', async () => {
      const until = epochMs(env.now() + 10 * MINUTE_MS);
      for (const kw of [
        b.spec.maxChargeKw,
        b.spec.maxChargeKw / 2,
        0,
        -b.spec.maxDischargeKw / 2,
        -b.spec.maxDischargeKw,
      ]) {
        const r = await b.setPower(kw, until);
        assert.equal(r.ok, true, `setPower(${kw}) was refused: ${JSON.stringify(r)}`);
      }
    });

    test('refuses (invalid) a setpoint beyond its limits, and the earlier setpoint stays in force', async () => {
      const soc0 = await b.stateOfChargeKwh();
      const kw = -b.spec.maxDischargeKw / 2;
      // Short enough not to reach minSocKwh: a quarter of the time that would take.
      const ms = Math.min(HOUR_MS, msFor(b, kw, soc0 - b.spec.minSocKwh) / 4);
      const until = epochMs(env.now() + ms);
      assert.equal((await b.setPower(kw, until)).ok, true);
      for (const [bad, u] of [
        [b.spec.maxChargeKw * 1.01 + 1, until],
        [-(b.spec.maxDischargeKw * 1.01 + 1), until],
        [Number.NaN, until],
        [Number.POSITIVE_INFINITY, until],
        [kw, env.now()],
        [kw, epochMs(env.now() - MINUTE_MS)],
      ] as const) {
        const r = await b.setPower(bad, u);
        assert.equal(r.ok, false, `setPower(${bad}, ${u}) was accepted`);
        if (!r.ok) assert.equal(r.code, 'invalid');
      }
      assert.equal(await b.stateOfChargeKwh(), soc0, 'a refusal changes nothing now');
      const e0 = await env.energy();
      await env.advance(ms);
      // The accepted discharge ran its full course, untouched by the refusals.
      near(soc0 - (await b.stateOfChargeKwh()), (-kw * ms) / HOUR_MS, tol(b), 'energy drawn from store');
      await conserves(soc0, e0);
    });

    test('charging stops exactly at maxSocKwh; charging a full battery is refused', async () => {
      const soc0 = await b.stateOfChargeKwh();
      const e0 = await env.energy();
      const kw = b.spec.maxChargeKw;
      const fill = msFor(b, kw, b.spec.maxSocKwh - soc0);
      assert.equal((await b.setPower(kw, epochMs(env.now() + 2 * fill + HOUR_MS))).ok, true);
      await env.advance(2 * fill + HOUR_MS);
      near(await b.stateOfChargeKwh(), b.spec.maxSocKwh, tol(b), 'stored energy');
      assert.ok((await b.stateOfChargeKwh()) <= b.spec.maxSocKwh, 'never above maxSocKwh');
      // It drew power only until it was full, not to the end of the setpoint.
      near((await env.energy()).chargedKwh - e0.chargedKwh, (kw * fill) / HOUR_MS, tol(b), 'energy charged');
      await conserves(soc0, e0);
      const r = await b.setPower(kw, epochMs(env.now() + HOUR_MS));
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.code, 'invalid');
      assert.equal((await b.setPower(-b.spec.maxDischargeKw, epochMs(env.now() + MINUTE_MS))).ok, true);
    });

    test('discharging stops exactly at minSocKwh; discharging an empty battery is refused', async () => {
      const soc0 = await b.stateOfChargeKwh();
      const e0 = await env.energy();
      const kw = -b.spec.maxDischargeKw;
      const empty = msFor(b, kw, soc0 - b.spec.minSocKwh);
      assert.equal((await b.setPower(kw, epochMs(env.now() + 2 * empty + HOUR_MS))).ok, true);
      await env.advance(2 * empty + HOUR_MS);
      near(await b.stateOfChargeKwh(), b.spec.minSocKwh, tol(b), 'stored energy');
      assert.ok((await b.stateOfChargeKwh()) >= b.spec.minSocKwh, 'never below minSocKwh');
      near((await env.energy()).dischargedKwh - e0.dischargedKwh, soc0 - b.spec.minSocKwh, tol(b), 'energy delivered');
      await conserves(soc0, e0);
      const r = await b.setPower(kw, epochMs(env.now() + HOUR_MS));
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.code, 'invalid');
      assert.equal((await b.setPower(b.spec.maxChargeKw, epochMs(env.now() + MINUTE_MS))).ok, true);
    });

    test('a later setpoint replaces an earlier one from the moment it is given', async () => {
      const soc0 = await b.stateOfChargeKwh();
      const e0 = await env.energy();
      const up = b.spec.maxChargeKw / 2;
      const down = -b.spec.maxDischargeKw / 2;
      // Each leg moves at most a quarter of the room it has, so neither reaches a limit.
      const room = Math.min(b.spec.maxSocKwh - soc0, soc0 - b.spec.minSocKwh) / 4;
      const leg = Math.min(msFor(b, up, room), msFor(b, down, room), HOUR_MS);
      assert.equal((await b.setPower(up, epochMs(env.now() + 10 * leg))).ok, true);
      await env.advance(leg);
      assert.equal((await b.setPower(down, epochMs(env.now() + 10 * leg))).ok, true);
      await env.advance(leg);
      const expected = soc0 + ((up * b.spec.roundTripEfficiency + down) * leg) / HOUR_MS;
      near(await b.stateOfChargeKwh(), expected, tol(b), 'stored energy after both legs');
      await conserves(soc0, e0);
    });

    test('after `until` it idles: nothing more is stored, drawn or delivered', async () => {
      const soc0 = await b.stateOfChargeKwh();
      const kw = b.spec.maxChargeKw / 2;
      const ms = Math.min(HOUR_MS, msFor(b, kw, (b.spec.maxSocKwh - soc0) / 4));
      assert.equal((await b.setPower(kw, epochMs(env.now() + ms))).ok, true);
      await env.advance(ms);
      const soc1 = await b.stateOfChargeKwh();
      near(soc1 - soc0, (kw * b.spec.roundTripEfficiency * ms) / HOUR_MS, tol(b), 'stored while charging');
      const e1 = await env.energy();
      await env.advance(3 * ms);
      near(await b.stateOfChargeKwh(), soc1, tol(b), 'stored energy while idle');
      const e2 = await env.energy();
      near(e2.chargedKwh, e1.chargedKwh, tol(b), 'energy charged while idle');
      near(e2.dischargedKwh, e1.dischargedKwh, tol(b), 'energy delivered while idle');
    });
  });
};
