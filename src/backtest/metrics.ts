// Per-strategy figures from the simulated periods (results.json, docs/backtest.md "Metrics").
// Energy is the sites' grid import (IT × PUE, idle and inference included) over every simulated
// period, the backtest's days and the drain days; £ at the outturn MID (gaps carried forward), carbon
// location-based at NESO's national average intensity (actual; the stored forecast where the actual
// is missing). Work is GPU-hours run at full speed. A site battery's wear (£ per MWh discharged, as
// its owner states it) is a cost like the bill: in £ per GPU-hour and in the value the captured share
// compares; the bill itself (energyGbp) is what the meter would be charged. So is the energy a battery
// ends the run without (battery-end.ts BatteryEnd: the grid energy to refill it at the run's mean price and
// carbon; a credit where it ends fuller): otherwise a battery emptied on the last day would count as
// a saving.
import { DEFAULT_LATE_GBP_PER_GPU_HOUR } from '../optimise/problem.ts';
import { PERIOD_H } from '../domain/settlement-day.ts';
import type { DayChunk } from './checkpoint.ts';
import { NO_SLACK_H } from './reserve.ts';
import type { BatteryEnd } from './battery-end.ts';

/**
 * SLO classes, by a job's slack (release to deadline, less the run at full power): `must-start`, no
 * slack beyond the period it is seen in (NO_SLACK_H: a latency-sensitive pod of `--workload alibaba`,
 * due when its run ends if started at the first decision), the hard SLO of these runs, met only by a
 * start at that decision; then tight under 8 h and loose from 8 h, both deferrable with a deadline.
 * The synthetic profiles give every job 4–16 h of slack, so they have no must-start jobs.
 */
export const SLO_CLASSES = ['must-start', 'tight', 'loose'] as const;
export const TIGHT_SLACK_H = 8;
export const sloClassOf = (slackH: number | undefined): (typeof SLO_CLASSES)[number] =>
  slackH !== undefined && slackH <= NO_SLACK_H + 1e-9
    ? 'must-start'
    : slackH !== undefined && slackH < TIGHT_SLACK_H
      ? 'tight'
      : 'loose';

export interface SloFigures {
  readonly jobsFinished: number;
  readonly deadlinesMetShare: number;
  readonly meanWaitH: number;
  readonly p95WaitH: number;
  readonly meanLateH: number;
  readonly p95LateH: number;
}

export interface StrategySummary {
  readonly importMwh: number;
  readonly gpuHours: number;
  readonly energyGbp: number;
  /** Battery wear, £ (0 without a battery or with one left idle). */
  readonly batteryWearGbp: number;
  /** Energy the batteries discharged, MWh. */
  readonly batteryDischargedMwh: number;
  /** Stored energy at the end − at the start, kWh, and its worth (£ to refill; negative: a credit). */
  readonly batteryEndKwh: number;
  readonly batteryEndGbp: number;
  readonly tCo2: number;
  /** Jobs moved between sites (moves.ts), and what the moves cost (£): part of the strategy's £. */
  readonly moves: number;
  readonly moveGbp: number;
  /** Running jobs the sites pre-empted for must-start jobs (site-sim.ts; every strategy's sites alike). */
  readonly preemptions: number;
  /** (energyGbp + batteryWearGbp + batteryEndGbp + moveGbp) per GPU-hour. */
  readonly gbpPerGpuHour: number;
  readonly gCo2PerGpuHour: number;
  /** £ (bill, battery wear and moves) + tCO2 × the carbon price: what the captured share compares. */
  readonly valueGbp: number;
  /** Lateness priced as the planner prices it (Finished.lateGpuH × its default £0.25 per GPU-hour). */
  readonly latenessGbp: number;
  /** valueGbp + latenessGbp: the planner's own objective at outturn. */
  readonly objectiveGbp: number;
  readonly peakImportKw: number;
  readonly peakImportKwBySite: readonly number[];
  readonly slo: {
    readonly jobsFinished: number;
    readonly jobsOpenAtEnd: number;
    readonly deadlinesMetShare: number;
    readonly meanWaitH: number;
    readonly p95WaitH: number;
    readonly meanLateH: number;
    readonly p95LateH: number;
    /** The same figures per SLO class (sloClassOf). */
    readonly byClass: Record<string, SloFigures>;
  };
  /** Against fifo (absent without fifo): £ and tCO2 saved (negative: more). */
  readonly vsFifo?: { readonly energyGbp: number; readonly tCo2: number; readonly valueGbp: number };
  /**
   * Share of the oracle's £+carbon saving per GPU-hour over fifo that this strategy captured
   * ((fifo − this) / (fifo − oracle), value per GPU-hour); null when the oracle saves nothing,
   * absent without both.
   */
  readonly captureShare?: number | null;
}

export interface DailyRow {
  readonly date: string;
  readonly gbp: Record<string, number>;
  readonly kgCo2: Record<string, number>;
  /** Battery wear (£), 0 without a battery. */
  readonly wearGbp: Record<string, number>;
  /** Site moves' cost (£), with --moves on only. */
  readonly moveGbp?: Record<string, number>;
}

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return 0;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
};

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export const summarise = (
  chunks: readonly DayChunk[],
  strategies: readonly string[],
  open: Record<string, number>,
  carbonGbpPerTonne: number,
  batteryEnd: Readonly<Record<string, BatteryEnd>> = {},
): { summary: Record<string, StrategySummary>; daily: DailyRow[] } => {
  const base: Record<string, Omit<StrategySummary, 'vsFifo' | 'captureShare'>> = {};
  for (const name of strategies) {
    let kwh = 0;
    let gpuHours = 0;
    let gbp = 0;
    let g = 0;
    let wear = 0;
    let discharged = 0;
    let moves = 0;
    let moveGbp = 0;
    let preemptions = 0;
    let peak = 0;
    const peakSite: number[] = [];
    const waits: number[] = [];
    const lates: number[] = [];
    let met = 0;
    let lateGbp = 0;
    const classes = new Map<string, { waits: number[]; lates: number[]; met: number }>(
      SLO_CLASSES.map((c) => [c, { waits: [], lates: [], met: 0 }]),
    );
    for (const c of chunks) {
      for (const r of c.rows[name] ?? []) {
        const all = r.siteKwh.reduce((a, b) => a + b, 0);
        kwh += all;
        gpuHours += r.gpuHours;
        gbp += r.gbp;
        g += r.gCo2;
        wear += r.wearGbp ?? 0;
        discharged += r.dischargedKwh ?? 0;
        moves += r.moves ?? 0;
        moveGbp += r.moveGbp ?? 0;
        preemptions += r.preempted ?? 0;
        peak = Math.max(peak, all / PERIOD_H);
        r.siteKwh.forEach((x, i) => (peakSite[i] = Math.max(peakSite[i] ?? 0, x / PERIOD_H)));
      }
      for (const f of c.finished[name] ?? []) {
        waits.push(f.waitH);
        const late = Math.max(0, f.lateH);
        lates.push(late);
        if (f.lateH <= 1e-9) met++;
        const cls = classes.get(sloClassOf(f.slackH)) as { waits: number[]; lates: number[]; met: number };
        cls.waits.push(f.waitH);
        cls.lates.push(late);
        if (f.lateH <= 1e-9) cls.met++;
        lateGbp += f.lateGpuH * DEFAULT_LATE_GBP_PER_GPU_HOUR;
      }
    }
    const end = batteryEnd[name];
    g += (end?.kgCo2 ?? 0) * 1000;
    const endGbp = end?.gbp ?? 0;
    const tCo2 = g / 1e6;
    const valueGbp = gbp + wear + endGbp + moveGbp + tCo2 * carbonGbpPerTonne;
    base[name] = {
      importMwh: kwh / 1000,
      gpuHours,
      energyGbp: gbp,
      batteryWearGbp: wear,
      batteryDischargedMwh: discharged / 1000,
      batteryEndKwh: end?.storedChangeKwh ?? 0,
      batteryEndGbp: endGbp,
      moves,
      moveGbp,
      preemptions,
      tCo2,
      gbpPerGpuHour: gpuHours > 0 ? (gbp + wear + endGbp + moveGbp) / gpuHours : 0,
      gCo2PerGpuHour: gpuHours > 0 ? g / gpuHours : 0,
      valueGbp,
      latenessGbp: lateGbp,
      objectiveGbp: valueGbp + lateGbp,
      peakImportKw: peak,
      peakImportKwBySite: peakSite,
      slo: {
        jobsFinished: waits.length,
        jobsOpenAtEnd: open[name] ?? 0,
        deadlinesMetShare: waits.length ? met / waits.length : 1,
        meanWaitH: mean(waits),
        p95WaitH: quantile(waits, 0.95),
        meanLateH: mean(lates),
        p95LateH: quantile(lates, 0.95),
        byClass: Object.fromEntries(
          [...classes].map(([c, x]) => [
            c,
            {
              jobsFinished: x.waits.length,
              deadlinesMetShare: x.waits.length ? x.met / x.waits.length : 1,
              meanWaitH: mean(x.waits),
              p95WaitH: quantile(x.waits, 0.95),
              meanLateH: mean(x.lates),
              p95LateH: quantile(x.lates, 0.95),
            },
          ]),
        ),
      },
    };
  }
  const fifo = base.fifo;
  const oracle = base.oracle;
  const summary: Record<string, StrategySummary> = {};
  for (const [name, s] of Object.entries(base)) {
    const vsFifo = fifo
      ? { energyGbp: fifo.energyGbp - s.energyGbp, tCo2: fifo.tCo2 - s.tCo2, valueGbp: fifo.valueGbp - s.valueGbp }
      : undefined;
    // Per GPU-hour of work: strategies that leave work unfinished at the end must not look cheaper.
    const perWork = (x: { valueGbp: number; gpuHours: number }) => (x.gpuHours > 0 ? x.valueGbp / x.gpuHours : 0);
    const best = fifo && oracle ? perWork(fifo) - perWork(oracle) : undefined;
    summary[name] = {
      ...s,
      ...(vsFifo ? { vsFifo } : {}),
      ...(best === undefined || !fifo
        ? {}
        : { captureShare: best > 1e-12 ? (perWork(fifo) - perWork(s)) / best : null }),
    };
  }
  // Every day gets the moves' £ once any strategy moved a job (so the daily rows have one shape).
  const moved = Object.values(base).some((s) => s.moves > 0);
  const daily = chunks.map((c) => ({
    date: c.date,
    gbp: Object.fromEntries(strategies.map((n) => [n, (c.rows[n] ?? []).reduce((a, r) => a + r.gbp, 0)])),
    kgCo2: Object.fromEntries(strategies.map((n) => [n, (c.rows[n] ?? []).reduce((a, r) => a + r.gCo2, 0) / 1000])),
    wearGbp: Object.fromEntries(
      strategies.map((n) => [n, (c.rows[n] ?? []).reduce((a, r) => a + (r.wearGbp ?? 0), 0)]),
    ),
    ...(moved
      ? {
          moveGbp: Object.fromEntries(
            strategies.map((n) => [n, (c.rows[n] ?? []).reduce((a, r) => a + (r.moveGbp ?? 0), 0)]),
          ),
        }
      : {}),
  }));
  return { summary, daily };
};
