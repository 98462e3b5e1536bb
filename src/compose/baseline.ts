// Settlement baselines for the simulated sites. Two methods:
//  * FLX-CF-FIFO-1 (default): the counterfactual import of the same queue on the site's own FIFO
//    scheduler, run alongside (a twin);
//  * BL01 (`flexlon demo --baseline bl01`): the P376-style historical baseline of
//    src/settlement/baseline-bl01.ts over metered history. A simulated site has no history, so the
//    composition root makes it: each of the previous days replayed on a plain FIFO scheduler with
//    its own seeded queue (what the meter would have recorded without FlexLon). The baseline then
//    differs from the day's own behaviour, as a real historical baseline does, so delivery can fall
//    short of the commitment or exceed it.
import { SimCluster } from '../adapters/scheduler-sim/cluster.ts';
import { settlementDaysOf } from '../formats/meter-csv.ts';
import {
  BL01_DEFAULT,
  bl01Baseline,
  describeBl01,
  type Bl01Config,
  type MeterDay,
} from '../settlement/baseline-bl01.ts';
import { addDays, periodsInDay, settlementDayStart, settlementPeriodOf } from '../domain/settlement-day.ts';
import { epochMs, type EpochMs, type SlotGrid } from '../domain/time.ts';
import type { BaselineMethod } from '../settlement/baselines.ts';
import { profilePower, siteDay, type SiteProfile } from '../sim/site-profile.ts';

/**
 * BL01 over settlement days (UK local midnight to midnight, 46, 48 or 50 periods; BSC Section X-1),
 * the days a site's meter history and the settlement periods are counted in.
 */
const BL01_SETTLEMENT_DAYS: Bl01Config = { ...BL01_DEFAULT, periodsOf: periodsInDay };

/**
 * Calendar days of simulated history a site's BL01 reads: they hold its 10 most recent working days.
 * The agents' BL01 (compose/agent.ts) and `flexlon demo --meter-out` both read this one figure.
 */
export const SIM_HISTORY_DAYS = 15;

export const BL01_METHOD: BaselineMethod = {
  code: 'BL01',
  description: `${describeBl01(BL01_DEFAULT)}; history: the site's previous days on its own FIFO scheduler (simulated); delivered = baseline − metered`,
};

export interface SimSiteHistory {
  readonly site: string;
  readonly seed: number;
  /** The site's profile (default half-idle, the only one before issue 13): history is the same kind of day. */
  readonly profile?: SiteProfile;
  /** Jobs per day; absent: the profile's own. */
  readonly jobs?: number | undefined;
  readonly trainingNodes: number;
  readonly gridImportLimitKw: number;
  readonly dayStart: EpochMs;
  /** Days before dayStart to replay (BL01 wants the 10 most recent working days: 14 calendar days hold them). */
  readonly days: number;
}

/**
 * Half-hourly import of each previous settlement day on a plain FIFO scheduler, each day with its own
 * seeded queue.
 */
export const simulatedHistory = async (h: SimSiteHistory): Promise<MeterDay[]> => {
  const out: MeterDay[] = [];
  const today = settlementPeriodOf(h.dayStart).date;
  for (let d = 1; d <= h.days; d++) {
    const date = addDays(today, -d);
    const start = settlementDayStart(date);
    const end = settlementDayStart(addDays(date, 1));
    const profile = h.profile ?? 'half-idle';
    const day = siteDay({
      profile,
      seed: h.seed + d * 104_729,
      site: h.site,
      dayStart: start,
      trainingNodes: h.trainingNodes,
      jobs: h.jobs,
    });
    const twin = new SimCluster(
      {
        site: h.site,
        region: 'GB',
        gridImportLimitKw: h.gridImportLimitKw,
        trainingNodes: h.trainingNodes,
        power: profilePower(profile),
        admission: 'immediate',
      },
      start,
      day.inferenceKw,
    );
    twin.submit(day.jobs);
    twin.advanceTo(end);
    const grid: SlotGrid = { start, slotMinutes: 30, slots: periodsInDay(date) };
    out.push({ day: date, importKw: await twin.importKw(grid) });
  }
  return out;
};

/**
 * BL01 per slot of `g` (30-minute slots), from `history` (settlement days); NaN where no baseline
 * can be made (too few eligible days), which the BPP treats as "cannot settle here, do not offer".
 * Each slot takes the baseline of the settlement period that holds it (periods matched by number).
 */
export const bl01For = (history: readonly MeterDay[], g: SlotGrid): number[] => {
  const out: number[] = [];
  for (let k = 0; k < g.slots; k++) {
    const { date, period } = settlementPeriodOf(g.start + k * g.slotMinutes * 60_000);
    const r = bl01Baseline(history, date, [], period - 1, period, BL01_SETTLEMENT_DAYS);
    out.push(r.ok ? (r.baselineKw[0] ?? NaN) : NaN);
  }
  return out;
};

/** Calendar days of meter history BL01 reads: its lookback window holds the 10 working days it needs. */
const METER_LOOKBACK_DAYS = 60;

/**
 * A site's stored meter readings as BL01's settlement days from `fromDate` to `toDate` (a period each,
 * 46, 48 or 50 a day, null where no reading), oldest first, grouped as a meter file's are.
 */
export const meterDays = (
  readings: readonly { readonly slotStart: number; readonly slotMinutes: number; readonly importKw: number }[],
  fromDate: string,
  toDate: string,
): MeterDay[] =>
  settlementDaysOf(
    new Map(readings.filter((r) => r.slotMinutes === 30).map((r) => [r.slotStart, r.importKw])),
    fromDate,
    toDate,
  );

/**
 * BL01 over a real site's own meter history (issue 13 item 3): the half-hours its GPU meter saved in
 * the agent's store, read back for the lookback window before each day asked for. A day with a gap
 * in its readings is excluded; a site with no complete day of the right type has no baseline (NaN),
 * and offers wait for one. Days the
 * site delivered flexibility are not marked as event days here (the agent does not know its orders):
 * their lower import lowers the baseline, which is the conservative side for a buyer.
 */
export const bl01FromMeter =
  (read: (from: EpochMs, to: EpochMs) => Promise<readonly MeterReadingLike[]>) =>
  async (g: SlotGrid): Promise<number[]> => {
    const to = epochMs(g.start + g.slots * g.slotMinutes * 60_000);
    const fromDate = addDays(settlementPeriodOf(g.start).date, -METER_LOOKBACK_DAYS);
    const readings = await read(settlementDayStart(fromDate), to);
    return bl01For(meterDays(readings, fromDate, settlementPeriodOf(to - 1).date), g);
  };

type MeterReadingLike = { readonly slotStart: number; readonly slotMinutes: number; readonly importKw: number };
