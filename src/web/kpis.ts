// The fleet-now KPIs that divide today's energy by the work done (issue 19; definitions in
// docs/dashboard.md, "KPIs"): £ and gCO2 per GPU-hour and SLO attainment. Energy, cost and carbon
// are metered (the sites' meters read through their agents, × outturn price and intensity); the
// GPU-hours and SLO outcomes are followed from the agents' reports (gpu-ledger.ts). A figure is
// given only over periods where both are complete, and is null (shown '–') otherwise: never a 0
// that was not measured.
import type { GpuLedger } from './gpu-ledger.ts';

/** One slot of today already over, summed over the sites; `sites` is how many were metered in it. */
export interface MeteredSlot {
  readonly start: number;
  sites: number;
  kwh: number;
  costGbp: number;
  carbonG: number;
}

const round = (x: number, dp: number): number => Math.round(x * 10 ** dp) / 10 ** dp;

export const workKpis = (
  slots: readonly MeteredSlot[],
  siteCount: number,
  slotMs: number,
  ledger: GpuLedger | undefined,
  dayStart: number,
  now: number,
) => {
  const cover = ledger?.coverage();
  // Slots metered at every site and followed from start to end (GPU-hours complete in them).
  const counted = cover
    ? slots.filter((s) => s.sites === siteCount && s.start >= cover.from && s.start + slotMs <= cover.to)
    : [];
  const gpuHours = counted.reduce((a, s) => a + (ledger?.gpuHoursIn(s.start) ?? 0), 0);
  const kwh = counted.reduce((a, s) => a + s.kwh, 0);
  const costGbp = counted.reduce((a, s) => a + s.costGbp, 0);
  const carbonG = counted.reduce((a, s) => a + s.carbonG, 0);
  const outcomes = ledger?.outcomes(dayStart, now) ?? [];
  const met = outcomes.filter((o) => o.met).length;
  return {
    /** GPU-hours run in the counted slots, and the slots (first, count) they cover. */
    gpuHours: counted.length > 0 ? round(gpuHours, 1) : null,
    gpuHourSlots: counted.length,
    gpuHoursFrom: counted[0]?.start ?? null,
    /** Metered import of the counted slots (kWh): the energy the per-GPU-hour figures divide. */
    gpuHourKwh: counted.length > 0 ? round(kwh, 1) : null,
    /** Metered cost and carbon of the counted slots ÷ their GPU-hours. */
    gbpPerGpuHour: gpuHours > 0 ? round(costGbp / gpuHours, 3) : null,
    gCo2PerGpuHour: gpuHours > 0 ? round(carbonG / gpuHours, 0) : null,
    /** Jobs whose SLO outcome became known today: finished, or past their deadline unfinished. */
    sloJobs: outcomes.length,
    sloMissed: outcomes.length - met,
    sloAttainmentPercent: outcomes.length > 0 ? round((100 * met) / outcomes.length, 1) : null,
  };
};
