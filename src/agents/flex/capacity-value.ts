// The capacity value of each site for the operational plan (src/optimise/capacity-value.ts; docs/
// cost-model.md, "Capacity value on a full site"): the offered load over the last week read from the
// agents' reports (the energy of the jobs submitted, over the room the site's IT limit leaves above
// its base load), and the £ per MWh per hour ahead a kWh deferred there costs. The backtest measured
// the rule (docs/backtest.md, "Capacity value"); here it keeps a full site from leaving GPUs idle now
// for room later that the jobs still to come will want.
import type { FlexibilityReport } from '../../domain/compute.ts';
import { CAPACITY_VALUE_SHARE, OfferedLoad, capacityValue } from '../../optimise/capacity-value.ts';

/** A site's figures behind its capacity value, for the plan's audit row. */
export interface SiteCapacityValue {
  /** Offered load over the last week (≥ 24 h seen): energy submitted over the room × hours. */
  readonly offered: number;
  /** £/MWh per hour a kWh of the site's work is deferred (0 at a site that is not contended). */
  readonly gbpPerMwhPerHour: number;
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return 0;
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export class CapacityValues {
  private readonly load = new OfferedLoad();

  constructor(
    private readonly lateGbpPerGpuHour: number,
    private readonly share = CAPACITY_VALUE_SHARE,
  ) {}

  /** Each reporting site's capacity value now. Reads every report, so each job is counted once it is seen. */
  at(reports: Iterable<FlexibilityReport>, now: number): Map<string, SiteCapacityValue> {
    const out = new Map<string, SiteCapacityValue>();
    for (const r of reports) {
      // The room the site's deferrable work has: its IT limit above the least base load ahead.
      const roomKw = r.itPowerLimitKw - (r.baseLoadKw.length ? Math.min(...r.baseLoadKw) : 0);
      const offered = this.load.of(
        r.site,
        roomKw,
        r.jobs.map((j) => ({ id: j.id, submittedAt: j.submittedAt, amount: j.energyKwh })),
        now,
      );
      const kwPerGpu = median(r.jobs.filter((j) => j.gpus > 0 && j.powerKw > 0).map((j) => j.powerKw / j.gpus));
      // Rounded as the audit row states them (the plan weighs what is stated).
      out.set(r.site, {
        offered: Math.round(offered * 1000) / 1000,
        gbpPerMwhPerHour: Math.round(capacityValue(offered, kwPerGpu, this.share, this.lateGbpPerGpuHour) * 100) / 100,
      });
    }
    return out;
  }
}
