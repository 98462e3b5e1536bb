// Hand-made grid histories and fleets for the backtest tests: every value is chosen so the expected
// outcome can be worked out on paper.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComputeJob } from '../../src/domain/compute.ts';
import { NATIONAL_REGION_ID } from '../../src/domain/regions.ts';
import { PERIOD_MS } from '../../src/domain/settlement-day.ts';
import { SignalHistory } from '../../src/domain/signal-history.ts';
import { epochMs } from '../../src/domain/time.ts';
import { kw, kwh } from '../../src/domain/units.ts';
import type { FleetSite } from '../../src/backtest/fleet.ts';
import { PlannerStrategy } from '../../src/backtest/planner-strategy.ts';
import type { ProductWindow } from '../../src/backtest/product-calendar.ts';
import type { Solver } from '../../src/ports.ts';
import { recordedSource } from '../../src/compose/signals.ts';
import { carbonNoise, gridDataOf } from '../../src/backtest/signal-view.ts';
import { settlementDayStart } from '../../src/domain/settlement-day.ts';

const made: string[] = [];
// Each test file runs in its own process: its output folders go when it exits, pass or fail (they
// were left behind, some thirty a run, before).
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh output folder, removed when the test file's process exits. */
export const tmp = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-backtest-'));
  made.push(dir);
  return dir;
};

/** 2023-03-01: winter time, so the settlement day starts at 00:00 UTC. */
export const DAY = '2023-03-01';
export const DAY_START = Date.UTC(2023, 2, 1);

/** A national history from 12 days before DAY to 8 days after, from per-period functions. */
export const history = (
  price: (t: number) => number,
  carbon: (t: number) => number,
  actualPrice: (t: number) => number = price,
  actualCarbon: (t: number) => number = carbon,
): SignalHistory => {
  const h = new SignalHistory();
  for (let t = DAY_START - 12 * 86_400_000; t < DAY_START + 8 * 86_400_000; t += PERIOD_MS)
    h.put(
      NATIONAL_REGION_ID,
      epochMs(t),
      { carbonForecast: carbon(t), carbonActual: actualCarbon(t), price: actualPrice(t), priceVolume: 100 },
      { file: 'test' },
    );
  return h;
};

/** Half hour of the day (0–47) of an instant. */
export const halfHour = (t: number): number => Math.floor((t % 86_400_000) / PERIOD_MS);

/** One small site: 64 GPUs, 1 kW per GPU at full power, 10 kW idle, PUE 1. */
export const SMALL_SITE: FleetSite = {
  trainingNodes: 8,
  spec: { id: 'edi', gpus: 64, trainingIdleKw: 10, trainingMaxKw: 74, pue: 1 },
};

/** `n` 8-GPU jobs of one period (8 kW × 0.5 h = 4 kWh), submitted at the day's start, due at 23:00. */
export const shortJobs = (n: number, dayStart: number): ComputeJob[] =>
  Array.from({ length: n }, (_, k) => ({
    id: `edi-${k}`,
    name: 'batch',
    site: 'edi',
    slo: 'deferrable',
    gpus: 8,
    powerKw: kw(8),
    energyKwh: kwh(4),
    remainingKwh: kwh(4),
    submittedAt: epochMs(dayStart),
    releaseAt: epochMs(dayStart),
    deadlineAt: epochMs(dayStart + 23 * 3_600_000),
    preemptible: false,
    allowedSites: ['edi'],
    work: 4,
    workUnit: 'gpu-hours',
    state: 'queued',
  }));

/** flexlon as the backtest makes it (48 h horizon, a fresh plan every 4 periods), for driving it period by period. */
export const flexlonWith = (solver: Solver, windows: readonly ProductWindow[] = []): PlannerStrategy =>
  new PlannerStrategy('flexlon', {
    solver,
    horizon: 96,
    fullPlanEvery: 4,
    carbonGbpPerTonne: 70,
    capacityValueShare: 0.25,
    foresight: false,
    windows,
  });

/** The shipped GB data for 16 days from 8 days before `day` (a week of history for the forecasts), seed 1. */
export const recordedAround = (day: string) => {
  const { history } = recordedSource({ kind: 'shipped' });
  const start = settlementDayStart(day);
  const dataStart = start - 8 * 86_400_000;
  return { start, dataStart, data: gridDataOf(history, dataStart, 16 * 48, 1), noise: carbonNoise(1) };
};
