// Each lane's metered import per site and settlement day (kW per period): the BL01 a commitment is
// made against (commitments.ts windowTerms). Kept only as far back as BL01 looks; on resume, rebuilt
// from the saved days within that look-back (run.ts).
import { PERIOD_H } from '../domain/settlement-day.ts';
import type { PeriodRow } from './checkpoint.ts';
import { BL01_SETTLEMENT } from './products.ts';

export class LaneMeters {
  private readonly meters: Map<string, Map<string, number[]>[]>;

  /** One meter per site for each strategy `names` holds. */
  constructor(names: readonly string[], sites: readonly unknown[]) {
    this.meters = new Map(names.map((name) => [name, sites.map(() => new Map())]));
  }

  /** A strategy's meters, one per site: import (kW per period) by settlement day. */
  of(name: string): Map<string, number[]>[] {
    return this.meters.get(name) as Map<string, number[]>[];
  }

  /** Keeps a strategy's metered day, dropping the days BL01 no longer looks back to. */
  keep(name: string, date: string, rows: readonly PeriodRow[]): void {
    this.of(name).forEach((site, i) => {
      site.set(
        date,
        rows.map((r) => (r.siteKwh[i] as number) / PERIOD_H),
      );
      if (site.size > BL01_SETTLEMENT.lookbackDays + 2) site.delete(site.keys().next().value as string);
    });
  }
}
