// `node --import tsx bench/backtest-load.ts [fill...]`: the busy fleet's offered load and whether the
// site's own scheduler keeps up with it, without the grid data or a planner. For each fill (the share
// of the pool's GPU-hours a day's jobs are drawn up to; default the backtest's BACKTEST_BUSY_FILL)
// it draws a year of 2023's days for lon, man and edi (seed 1, the backtest's day seeds) and runs
// them through the backtest's site (src/backtest/site-sim.ts) under strict FIFO and with backfill,
// with the two drain days, printing one JSON line per fill and order: offered load and utilisation
// (GPU-hours over the pools' GPU-hours in the year), deadlines met, jobs open after the drain days and
// the longest queue. BENCH_FROM / BENCH_TO change the days.
import { daySeed, fleetSites, BACKTEST_BUSY_FILL } from '../src/backtest/fleet.ts';
import { datesBetween, DRAIN_DAYS } from '../src/backtest/run.ts';
import { SiteSim } from '../src/backtest/site-sim.ts';
import { simJobOf } from '../src/backtest/sim-job.ts';
import { PERIOD_MS, settlementDayStart } from '../src/domain/settlement-day.ts';
import { epochMs } from '../src/domain/time.ts';
import { CALIBRATION } from '../src/sim/calibration.ts';
import { BUSY_BACKLOG_HOURS, profilePower } from '../src/sim/site-profile.ts';
import { generateDay } from '../src/sim/workload.ts';

const fills = process.argv.slice(2).map(Number);
const from = process.env.BENCH_FROM ?? '2023-01-01';
const to = process.env.BENCH_TO ?? '2023-12-31';
const sites = fleetSites(['lon', 'man', 'edi'], 'busy');
const days = datesBetween(from, to);
const allDays = datesBetween(from, to, DRAIN_DAYS);
const power = profilePower('busy');

for (const fill of fills.length > 0 ? fills : [BACKTEST_BUSY_FILL])
  for (const order of ['fifo', 'backfill'] as const) {
    let ran = 0;
    let capacity = 0;
    let offered = 0;
    let met = 0;
    let finished = 0;
    let open = 0;
    let longestQueue = 0;
    const bySite: Record<string, number> = {};
    for (const s of sites) {
      const sim = new SiteSim(s.spec);
      const jobsOf = (k: number) =>
        generateDay({
          seed: daySeed(1, s.spec.id, k),
          site: s.spec.id,
          dayStart: epochMs(settlementDayStart(days[k] as string)),
          gpuMix: 'training',
          power,
          arrivalsByHour: CALIBRATION.alibaba.bestEffort.arrivalsByHour,
          arrivalStartHour: -BUSY_BACKLOG_HOURS,
          fillGpuHours: fill * s.spec.gpus * 24,
        }).jobs;
      let siteOffered = 0;
      for (let k = 0; k < allDays.length; k++) {
        // As the backtest does: a day's jobs are queued a day ahead (arrivals begin the evening before).
        for (const d of [...(k === 0 ? [0] : []), k + 1].filter((x) => x < days.length)) {
          const jobs = jobsOf(d);
          siteOffered += jobs.reduce((a, j) => a + j.work, 0);
          sim.add(jobs.map(simJobOf));
        }
        const date = allDays[k] as string;
        const end = settlementDayStart(datesBetween(date, date, 1)[1] as string);
        for (let t: number = settlementDayStart(date); t < end; t += PERIOD_MS) {
          sim.arrive(t);
          const m = sim.step(t, () => true, order, 0);
          ran += m.gpuHours;
          longestQueue = Math.max(longestQueue, m.waiting);
        }
        for (const f of sim.finished.splice(0)) {
          finished++;
          if (f.lateH <= 0) met++;
        }
      }
      const siteCapacity = s.spec.gpus * 24 * days.length;
      bySite[s.spec.id] = Math.round((siteOffered / siteCapacity) * 1000) / 1000;
      capacity += siteCapacity;
      offered += siteOffered;
      open += sim.open;
    }
    console.log(
      JSON.stringify({
        bench: 'backtest-load',
        from,
        to,
        fill,
        order,
        offeredLoad: Math.round((offered / capacity) * 1000) / 1000,
        offeredLoadBySite: bySite,
        utilisation: Math.round((ran / capacity) * 1000) / 1000,
        deadlinesMet: Math.round((met / finished) * 1000) / 1000,
        jobsOpenAfterDrain: open,
        longestQueue,
      }),
    );
  }
