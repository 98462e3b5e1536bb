// The Store contract, part 3: the BPP's typed records (commitments, plans, dispatches, meter readings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epochMs, type EpochMs } from '../../src/domain/time.ts';
import type { PlannedJobPower } from '../../src/agents/flex/plan-record.ts';
import type { CommitmentKeys, DispatchKeys, MeterReading, PlanKeys } from '../../src/store/records.ts';
import { hasCode, order, T0, type WithStore } from './store-fixtures.ts';

const HOUR = 3_600_000;

interface Commitment extends CommitmentKeys {
  readonly slotMinutes: number;
  readonly maxImportKw: readonly number[];
}

const commitment = (orderId: string, site: string, startH: number, hours: number): Commitment => ({
  orderId,
  site,
  windowStart: epochMs(T0 + startH * HOUR),
  windowEnd: epochMs(T0 + (startH + hours) * HOUR),
  slotMinutes: 30,
  maxImportKw: Array.from({ length: hours * 2 }, (_, k) => 100 + k),
});

const reading = (
  site: string,
  slot: number,
  importKw: number,
  readAt = T0 + slot * 1_800_000 + 60_000,
): MeterReading => ({
  site,
  slotStart: epochMs(T0 + slot * 1_800_000),
  slotMinutes: 30,
  importKw,
  readAt,
  source: 'sim',
});

export const recordTests = (withStore: WithStore): void => {
  test('commitments: kept whole by (order, site), listed by window, filtered by order, site, end and order state', () =>
    withStore(async ({ store }) => {
      const [a1, a2, b, c] = [
        commitment('o-a', 'lon-1', 4, 2),
        commitment('o-a', 'man-1', 4, 2),
        commitment('o-b', 'lon-1', 1, 1),
        commitment('o-c', 'lon-1', 8, 1),
      ];
      for (const x of [a1, a2, b, c]) await store.saveCommitment(x);
      await store.saveOrder(order('o-a', { state: 'confirmed' }));
      await store.saveOrder(order('o-b', { state: 'cancelled' }));
      assert.deepEqual(await store.listCommitments<Commitment>(), [b, a1, a2, c]);
      assert.deepEqual(await store.listCommitments({ orderId: 'o-a' }), [a1, a2]);
      assert.deepEqual(await store.listCommitments({ site: 'lon-1', endsAfter: epochMs(T0 + 2 * HOUR) }), [a1, c]);
      assert.deepEqual(
        await store.listCommitments({ orderStates: ['confirmed', 'active'] }),
        [a1, a2],
        'o-c has no order row, o-b is cancelled',
      );
      assert.deepEqual(await store.listCommitments({ orderStates: [] }), []);
      const moved = { ...a1, windowStart: epochMs(T0), windowEnd: epochMs(T0 + HOUR), maxImportKw: [1, 2] };
      await store.saveCommitment(moved);
      assert.deepEqual(await store.listCommitments({ orderId: 'o-a', site: 'lon-1' }), [moved]);
      await assert.rejects(
        store.saveCommitment({ ...a1, windowEnd: a1.windowStart }),
        hasCode('FLX_INTERNAL', 'windowEnd'),
      );
      await assert.rejects(store.saveCommitment({ ...a1, site: '' }), hasCode('FLX_INTERNAL', 'site'));
    }));

  test('plans: immutable by id, the latest is the last made, saving the same plan again is harmless', () =>
    withStore(async ({ store }) => {
      interface Plan extends PlanKeys {
        readonly costGbp: number;
        readonly slots: readonly number[];
      }
      const plan = (id: string, createdAt: number, costGbp = 10): Plan => ({
        id,
        createdAt,
        horizonStart: epochMs(T0),
        status: 'optimal',
        costGbp,
        slots: [1.5, 0, 2],
      });
      assert.equal(await store.latestPlan(), undefined);
      await store.savePlan(plan('p-2', T0 + 2));
      await store.savePlan(plan('p-1', T0 + 1));
      await store.savePlan(plan('p-3', T0 + 2));
      assert.deepEqual(await store.latestPlan<Plan>(), plan('p-3', T0 + 2), 'ties on createdAt go to the greater id');
      assert.deepEqual(await store.getPlan<Plan>('p-1'), plan('p-1', T0 + 1));
      assert.equal(await store.getPlan('p-none'), undefined);
      await store.savePlan(plan('p-1', T0 + 1));
      await assert.rejects(store.savePlan(plan('p-1', T0 + 1, 99)), hasCode('FLX_STORE_CONFLICT', 'p-1'));
      assert.deepEqual(await store.getPlan<Plan>('p-1'), plan('p-1', T0 + 1));
      await assert.rejects(store.savePlan({ ...plan('p-4', T0), status: '' }), hasCode('FLX_INTERNAL', 'status'));
    }));

  // A plan record gained jobPowerKw (the planned power of the jobs it caps, src/agents/flex/plan-record.ts);
  // the plans table keeps the record as JSON, so plans stored before it still read, as they were.
  test('plans: a record with the optional jobPowerKw and one stored before it was kept both read back as saved', () =>
    withStore(async ({ store }) => {
      const old: PlanKeys & { readonly siteImportKw: Record<string, number[]> } = {
        id: 'p-old',
        createdAt: T0,
        horizonStart: epochMs(T0),
        status: 'feasible',
        siteImportKw: { lon: [120.5, 98.25] },
      };
      const jobPowerKw: readonly PlannedJobPower[] = [
        { id: 'lon-7', site: 'lon', fromSlot: 3, powerKw: [34.05, 26.77, 34.05, 11.96], fullKw: 34.05 },
      ];
      const now = { ...old, id: 'p-new', createdAt: T0 + 1, jobPowerKw };
      await store.savePlan(old);
      await store.savePlan(now);
      assert.deepEqual(await store.getPlan('p-old'), old);
      assert.equal((await store.getPlan<typeof now>('p-old'))?.jobPowerKw, undefined);
      assert.deepEqual(await store.latestPlan(), now);
      assert.deepEqual((await store.getPlan<typeof now>('p-new'))?.jobPowerKw, jobPowerKw);
    }));

  test('dispatches: replaced by id (e.g. to add results), listed by time and filtered', () =>
    withStore(async ({ store }) => {
      interface Dispatch extends DispatchKeys {
        readonly jobs: readonly string[];
        readonly results?: readonly string[];
      }
      const d = (id: string, site: string, at: number, planId?: string, orderId?: string): Dispatch => ({
        id,
        site,
        at,
        jobs: ['j1'],
        ...(planId ? { planId } : {}),
        ...(orderId ? { orderId } : {}),
      });
      const [d1, d2, d3] = [
        d('d1', 'lon-1', T0 + 20, 'p-1', 'o-1'),
        d('d2', 'man-1', T0 + 10, 'p-1'),
        d('d3', 'lon-1', T0 + 30, 'p-2'),
      ];
      for (const x of [d1, d2, d3]) await store.saveDispatch(x);
      assert.deepEqual(await store.listDispatches<Dispatch>(), [d2, d1, d3]);
      assert.deepEqual(await store.listDispatches({ site: 'lon-1' }), [d1, d3]);
      assert.deepEqual(await store.listDispatches({ planId: 'p-1' }), [d2, d1]);
      assert.deepEqual(await store.listDispatches({ orderId: 'o-1' }), [d1]);
      const done = { ...d1, results: ['deferred'] };
      await store.saveDispatch(done);
      assert.deepEqual(await store.listDispatches({ orderId: 'o-1' }), [done]);
    }));

  test('meter readings: one per site and slot, a later reading replaces an earlier one, never the reverse', () =>
    withStore(async ({ store }) => {
      await store.saveMeterReadings([
        reading('lon-1', 0, 300),
        reading('lon-1', 1, 280),
        reading('lon-1', 2, 250),
        reading('man-1', 1, 90),
      ]);
      await store.saveMeterReadings([reading('lon-1', 1, 281, T0 + 10 * HOUR), reading('lon-1', 2, 999, T0)]);
      const slotsOf = (rs: readonly MeterReading[]) => rs.map((r) => [(r.slotStart - T0) / 1_800_000, r.importKw]);
      assert.deepEqual(slotsOf(await store.meterReadings({ site: 'lon-1' })), [
        [0, 300],
        [1, 281],
        [2, 250],
      ]);
      assert.deepEqual(
        slotsOf(
          await store.meterReadings({ site: 'lon-1', from: epochMs(T0 + 1_800_000), to: epochMs(T0 + 3_600_000) }),
        ),
        [[1, 281]],
      );
      assert.deepEqual(await store.meterReadings({ site: 'man-1' }), [reading('man-1', 1, 90)]);
      const noSource: MeterReading = {
        site: 'x',
        slotStart: epochMs(T0) as EpochMs,
        slotMinutes: 30,
        importKw: 0,
        readAt: T0,
      };
      await store.saveMeterReadings([noSource]);
      assert.deepEqual(await store.meterReadings({ site: 'x' }), [noSource]);
      await assert.rejects(
        store.saveMeterReadings([reading('y', 0, 1), reading('y', 1, Number.NaN)]),
        hasCode('FLX_INTERNAL', 'importKw'),
      );
      assert.deepEqual(await store.meterReadings({ site: 'y' }), [], 'a batch with a bad reading writes none');
      await assert.rejects(
        store.saveMeterReadings([{ ...reading('y', 0, 1), slotMinutes: 0 }]),
        hasCode('FLX_INTERNAL', 'slotMinutes'),
      );
    }));
};
