// Delivered flexibility per settlement period. Sign convention (DESIGN, "Grid data, settlement and
// audit"): delivered = baseline − metered; positive means the site imported less than its baseline.
import type { EpochMs } from '../domain/time.ts';
import { round } from '../domain/units.ts';

export interface PeriodReading {
  readonly start: EpochMs;
  readonly baselineKw: number;
  readonly meteredKw: number;
}

export interface PeriodSettlement extends PeriodReading {
  readonly deliveredKwh: number;
  readonly committedKwh: number;
  /** Committed but not delivered (never negative); for an import-limit product, import above the limit. */
  readonly shortfallKwh: number;
  /** Import-limit products: energy imported above the limit in the period (0 when it complied). */
  readonly exceedanceKwh?: number;
}

/** How a settlement under a product's terms came out (src/settlement/product.ts). */
export interface ProductOutcome {
  readonly product: string;
  readonly measurement: 'reduction' | 'import-limit';
  readonly importLimitKw?: number;
  readonly performanceRule: string;
  readonly performanceFactor: number;
  readonly availabilityGbp: number;
  readonly utilisationGbp: number;
}

export interface SettlementSummary {
  readonly baselineMethod: string;
  readonly periods: readonly PeriodSettlement[];
  readonly deliveredKwh: number;
  readonly committedKwh: number;
  readonly shortfallKwh: number;
  /** Delivered share of the commitment, 0..1 (capped at 1); import-limit: the share of the allowance kept. */
  readonly performance: number;
  readonly paymentGbp: number;
  /** Present when the order carried a product's terms: payment = (availability + utilisation) × factor. */
  readonly terms?: ProductOutcome;
}

/**
 * Settles a committed reduction: each period's committed energy is reductionKw × period length;
 * payment is the agreed price scaled by performance (pay-as-delivered, capped at 100 %).
 */
export const settle = (
  readings: readonly PeriodReading[],
  reductionKw: number,
  slotHours: number,
  agreedPriceGbp: number,
  baselineMethod: string,
): SettlementSummary => {
  const periods = readings.map((r) => {
    const deliveredKwh = (r.baselineKw - r.meteredKw) * slotHours;
    const committedKwh = reductionKw * slotHours;
    return {
      ...r,
      deliveredKwh: round(deliveredKwh),
      committedKwh: round(committedKwh),
      shortfallKwh: round(Math.max(0, committedKwh - deliveredKwh)),
    };
  });
  const deliveredKwh = periods.reduce((a, p) => a + p.deliveredKwh, 0);
  const committedKwh = periods.reduce((a, p) => a + p.committedKwh, 0);
  const shortfallKwh = periods.reduce((a, p) => a + p.shortfallKwh, 0);
  const performance = committedKwh > 0 ? Math.max(0, Math.min(1, (committedKwh - shortfallKwh) / committedKwh)) : 0;
  return {
    baselineMethod,
    periods,
    deliveredKwh: round(deliveredKwh),
    committedKwh: round(committedKwh),
    shortfallKwh: round(shortfallKwh),
    performance: round(performance, 4),
    paymentGbp: round(agreedPriceGbp * performance, 2),
  };
};
