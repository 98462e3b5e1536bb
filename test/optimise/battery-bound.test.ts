// The least a battery's part of a bill can be over a run, its ties to the site dropped
// (src/optimise/battery-model.ts batteryCostBound): the backtest's proven bound adds it for a site
// with a battery. Hand-computed on two half-hour slots, through the HiGHS worker.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPlanningSolver } from '../../src/compose/solver.ts';
import type { BatteryBoundInput } from '../../src/domain/planning.ts';

const solver = createPlanningSolver();
after(() => solver.close());

// 100 kWh, 100 kW each way (50 kWh a half hour), 80 % round trip (lost on charging), empty at the start.
const battery = {
  capacityKwh: 100,
  maxChargeKw: 100,
  maxDischargeKw: 100,
  roundTripEfficiency: 0.8,
  initialSocKwh: 0,
  minSocKwh: 0,
};
const bound = async (o: Partial<BatteryBoundInput> & Pick<BatteryBoundInput, 'priceGbpPerMwh'>) => {
  const gbp = await solver.batteryCostBound({ battery, slotMinutes: 30, endGbpPerKwh: 0.05, ...o });
  assert.ok(gbp !== undefined);
  return gbp;
};
const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} against ${b}`);

describe('a battery alone over a run (batteryCostBound)', () => {
  it('charges where cheap and discharges where dear, its losses and wear counted', async () => {
    // 50 kWh bought at £10/MWh store 40 kWh, sold back at £100: £0.50 − £4.00.
    near(await bound({ priceGbpPerMwh: [10, 100] }), -3.5);
    // £20/MWh of wear on the 40 kWh discharged.
    near(await bound({ priceGbpPerMwh: [10, 100], battery: { ...battery, degradationGbpPerMwh: 20 } }), -2.7);
    // No spread worth the losses: it stays idle.
    near(await bound({ priceGbpPerMwh: [100, 110] }), 0);
  });

  it('values what it holds at the end as the metrics do: a surplus at the end price, a shortfall refilled through the losses', async () => {
    // An end value of £200/MWh: fill it in both slots (£0.50 + £5.00) for 80 kWh stored, credited £16.
    near(await bound({ priceGbpPerMwh: [10, 100], endGbpPerKwh: 0.2 }), -10.5);
    // 40 kWh stored at the start, £100/MWh now, £50/MWh at the end: selling 40 kWh earns £4.00 and
    // the shortfall costs 40 / 0.8 × £0.05 = £2.50.
    near(await bound({ priceGbpPerMwh: [100, 100], battery: { ...battery, initialSocKwh: 40 } }), -1.5);
  });
});
