// The busy fleet's calibration (src/backtest/fleet.ts, BACKTEST_BUSY_FILL): a month of its days asks
// for 85–90 % of the pools' GPU-hours, and the site's own strict-FIFO scheduler keeps up with it,
// where the demo's 95 % fill left a backlog that grew all year.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fleetSites, siteDayOf } from '../../src/backtest/fleet.ts';
import { datesBetween, DRAIN_DAYS } from '../../src/backtest/run.ts';
import { SiteSim, type StartOrder } from '../../src/backtest/site-sim.ts';
import { simJobOf } from '../../src/backtest/sim-job.ts';
import { PERIOD_MS, settlementDayStart } from '../../src/domain/settlement-day.ts';

const FROM = '2023-01-01';
const TO = '2023-01-31';

/** A month of the busy fleet through the site alone, as the backtest queues it (a day ahead). */
const month = (order: StartOrder) => {
  const days = datesBetween(FROM, TO);
  const all = datesBetween(FROM, TO, DRAIN_DAYS);
  let offered = 0;
  let capacity = 0;
  let ran = 0;
  let open = 0;
  for (const site of fleetSites(['lon', 'man', 'edi'], 'busy')) {
    const sim = new SiteSim(site.spec);
    for (let k = 0; k < all.length; k++) {
      for (const d of [...(k === 0 ? [0] : []), k + 1].filter((x) => x < days.length)) {
        const jobs = siteDayOf(site, 'busy', 1, d, settlementDayStart(days[d] as string)).jobs;
        offered += jobs.reduce((a, j) => a + j.work, 0);
        sim.add(jobs.map(simJobOf));
      }
      const date = all[k] as string;
      const end = settlementDayStart(datesBetween(date, date, 1)[1] as string);
      for (let t: number = settlementDayStart(date); t < end; t += PERIOD_MS) {
        sim.arrive(t);
        ran += sim.step(t, () => true, order, 0).gpuHours;
      }
    }
    capacity += site.spec.gpus * 24 * days.length;
    open += sim.open;
  }
  return { offeredLoad: offered / capacity, ran, offered, open };
};

describe('busy fleet calibration', () => {
  it('asks for 85–90 % of the pools and strict FIFO finishes it all', () => {
    const fifo = month('fifo');
    assert.ok(fifo.offeredLoad >= 0.85 && fifo.offeredLoad <= 0.9, `offered load ${fifo.offeredLoad}`);
    assert.equal(fifo.open, 0);
    assert.ok(Math.abs(fifo.ran - fifo.offered) < 1e-6 * fifo.offered);
    const backfill = month('backfill');
    assert.equal(backfill.open, 0);
  });
});
