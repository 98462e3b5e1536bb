// A small site `lon` for planner and fleet-plan tests: its forecast series, its 8-GPU jobs and its
// agent's report (30 kW IT limit, 5 kW base load, PUE 1.2).
import type { ComputeJob, FlexibilityReport } from '../../src/domain/compute.ts';
import type { SignalSeries } from '../../src/domain/signals.ts';
import { epochMs, type EpochMs } from '../../src/domain/time.ts';
import { kw } from '../../src/domain/units.ts';

const HOUR = 3_600_000;

/** A queued 8-GPU job at 6.5 kW running `hours`, due 6 h after its release. */
export const lonJob = (id: string, releaseAt: EpochMs, hours: number, submittedAt = releaseAt): ComputeJob =>
  ({
    id,
    name: id,
    site: 'lon',
    slo: 'deferrable',
    gpus: 8,
    powerKw: 6.5,
    minPowerKw: 6.5,
    energyKwh: 6.5 * hours,
    remainingKwh: 6.5 * hours,
    submittedAt,
    releaseAt,
    deadlineAt: epochMs(releaseAt + 6 * HOUR),
    preemptible: false,
    allowedSites: ['lon'],
    work: 8 * hours,
    workUnit: 'gpu-hours',
    state: 'queued',
  }) as unknown as ComputeJob;

/** lon's report at `at`: 8 slots of 5 kW base load. */
export const lonReport = (at: EpochMs, jobs: ComputeJob[]): FlexibilityReport => ({
  site: 'lon',
  region: 'lon',
  at,
  itPowerLimitKw: kw(30),
  pue: 1.2,
  gridImportLimitKw: kw(60),
  baseLoadFrom: at,
  slotMinutes: 30,
  baseLoadKw: new Array(8).fill(5),
  jobs,
});

/** A region's half-hourly forecast: `prices[t]` £/MWh from `start`, one intensity throughout, issued at `start`. */
export const halfHourSignals = (
  region: string,
  start: EpochMs,
  prices: readonly number[],
  carbonGPerKwh = 150,
): Map<string, SignalSeries> =>
  new Map([
    [
      region,
      {
        region,
        issuedAt: start,
        slotMinutes: 30,
        points: prices.map((price, t) => ({
          start: epochMs(start + t * 1_800_000),
          price: price as never,
          carbonForecast: carbonGPerKwh as never,
        })),
      },
    ],
  ]);
