// A flexibility product's terms as data (issues 16 and 17): what it measures, what it pays and how
// under-delivery cuts the pay. They travel with the order (init → the BPP stores them → settlement
// applies exactly them); src/settlement/product.ts settles under them and documents each rule.

export interface PerformanceRule {
  readonly name: string;
  /** Shortfall (share of the accepted volume) paid in full. */
  readonly tolerance: number;
  /** Share of the pay lost per unit of shortfall beyond the tolerance. */
  readonly cutPerShortfall: number;
}

/** WPD (now NGED) Flexible Power terms, as reported by The Energyst (2018). */
export const WPD_PERFORMANCE: PerformanceRule = { name: 'WPD-FLEXIBLE-POWER', tolerance: 0.05, cutPerShortfall: 3 };

/** Pay in proportion to what was delivered, capped at 100 % (FlexLon's own default before products). */
export const PROPORTIONAL: PerformanceRule = { name: 'PROPORTIONAL', tolerance: 0, cutPerShortfall: 1 };

export type Measurement = 'reduction' | 'import-limit';
export type BaselineName = 'bl01' | 'dfs' | 'ena' | 'nominated';

export interface ProductTerms {
  readonly code: string;
  readonly name: string;
  readonly measurement: Measurement;
  /** For import-limit products: the most the site may import in every period of the window (kW). */
  readonly importLimitKw?: number;
  readonly baseline: BaselineName;
  readonly availabilityGbpPerMwH?: number;
  readonly utilisationGbpPerMwh?: number;
  /** DFS-style pay-as-bid price: £/MWh × min(max(delivered, 0), accepted) per period, no performance factor. */
  readonly dfsGbpPerMwh?: number;
  readonly performance: PerformanceRule;
  /** The site is a battery: the ENA same-day adjustment does not apply. */
  readonly battery?: boolean;
}
