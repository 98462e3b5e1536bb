// Flexibility products as data (issues 16 and 17): what a product measures, what it pays and how
// under-delivery cuts the pay — each a named, documented parameter, so a settlement states exactly
// the terms it applied and a counterparty can recompute it.
//
//   measurement  reduction     delivered = (baseline − metered) × h per settlement period
//                import-limit  the site's import against the limit: a period complies when metered ≤ limit;
//                              it is never stated as a percentage over 100 of a reduction
//   payments     availability  £/MW/h × accepted MW × window hours (ENA standard products with availability)
//                utilisation   £/MWh × min(max(delivered, 0), accepted) MWh, per period
//                dfs           £/MWh × min(max(delivered, 0), accepted) MWh per period, pay-as-bid (NESO DFS
//                              utilisation rules; no performance factor, no penalty for non-delivery)
//   performance  WPD/NGED Flexible Power: after a 5 % tolerance, each 1 % of under-delivery cuts 3 % of
//                the pay (factor = max(0, 1 − 3 × max(0, shortfall − 0.05)); zero at 61.67 % delivered)
//   agreed price an order bought with no product (FlexLon's rule before products, delivered.ts): the
//                agreed £ for the accepted volume × performance, performance = (accepted − Σ shortfall)
//                ÷ accepted within 0–100 %, shortfall = max(0, accepted − delivered) per period
import { FlexError } from '../errors.ts';
import { epochMs } from '../domain/time.ts';
import { settle } from './delivered.ts';
import {
  PROPORTIONAL,
  WPD_PERFORMANCE,
  type BaselineName,
  type Measurement,
  type PerformanceRule,
  type ProductTerms,
} from '../domain/products.ts';

export { PROPORTIONAL, WPD_PERFORMANCE };
export type { BaselineName, Measurement, PerformanceRule, ProductTerms };

/** The pay factor for a delivered share of the accepted volume under a rule. */
export const performanceFactor = (rule: PerformanceRule, deliveredShare: number): number => {
  const shortfall = Math.max(0, 1 - deliveredShare);
  return Math.max(0, Math.min(1, 1 - rule.cutPerShortfall * Math.max(0, shortfall - rule.tolerance)));
};

export interface MeteredPeriod {
  /** UTC start (epoch ms), with its settlement day and period for people. */
  readonly start: number;
  readonly settlementDate: string;
  readonly settlementPeriod: number;
  readonly baselineKw: number;
  readonly meteredKw: number;
}

export interface SettledPeriod extends MeteredPeriod {
  readonly acceptedKwh: number;
  /** reduction: (baseline − metered) × h; import-limit: the reduction made towards the limit (≥ 0). */
  readonly deliveredKwh: number;
  /** What counts for pay: min(max(delivered, 0), accepted), never below 0. */
  readonly countedKwh: number;
  /** import-limit only: import above the limit × h (0 when compliant). */
  readonly exceedanceKwh?: number;
  readonly complies?: boolean;
  readonly utilisationGbp: number;
}

export interface ProductSettlement {
  readonly product: ProductTerms;
  readonly acceptedKw: number;
  readonly windowHours: number;
  readonly periods: readonly SettledPeriod[];
  readonly deliveredKwh: number;
  readonly acceptedKwh: number;
  /** Share of the accepted volume delivered (reduction), or of the window in compliance (import-limit). */
  readonly deliveredShare: number;
  readonly performanceFactor: number;
  readonly availabilityGbp: number;
  readonly utilisationGbp: number;
  readonly paymentGbp: number;
  /** Plain words for each rule applied, in order. */
  readonly rules: readonly string[];
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Amounts (£, ≥ 0) rounded to pennies that add up to `totalGbp` (default: their sum, rounded): each
 * is rounded down and the pennies left go to the largest remainders (ties: the earlier period). Rounded one by one, two
 * periods of £1.415 read £1.42 each against a total of £2.83.
 */
export const inPennies = (amounts: readonly number[], totalGbp?: number): number[] => {
  const exact = amounts.map((x) => x * 100);
  const down = exact.map((x) => Math.floor(x + 1e-9));
  // The total they must add up to, where it was rounded elsewhere (a payment): else their sum's.
  const total = Math.round((totalGbp ?? exact.reduce((a, x) => a + x, 0) / 100) * 100);
  let left = total - down.reduce((a, x) => a + x, 0);
  const order = exact.map((x, i) => [x - (down[i] as number), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    down[i] = (down[i] as number) + 1;
    left--;
  }
  // A total below their rounded-down sum (a payment rounded the other way): pennies come off the
  // smallest remainders.
  for (const [, i] of [...order].reverse()) {
    if (left >= 0) break;
    if ((down[i] as number) <= 0) continue;
    down[i] = (down[i] as number) - 1;
    left++;
  }
  return down.map((p) => p / 100);
};
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The terms of an order bought with no product: a price agreed for the whole accepted volume, paid
 * in proportion to delivery (delivered.ts `settle`, what the provider applies to such an order).
 * Stated as a product, so a statement of such an order reads like any other.
 */
export interface AgreedPriceTerms extends ProductTerms {
  /** The order's price (£) for its accepted volume. */
  readonly agreedPriceGbp: number;
}

export const AGREED_PRICE_CODE = 'FLEXLON-AGREED-PRICE';

export const agreedPriceTerms = (agreedPriceGbp: number, baseline: BaselineName = 'bl01'): AgreedPriceTerms => ({
  code: AGREED_PRICE_CODE,
  name: 'FlexLon agreed price, paid as delivered',
  measurement: 'reduction',
  baseline,
  performance: PROPORTIONAL,
  agreedPriceGbp,
});

const isAgreedPrice = (p: ProductTerms): p is AgreedPriceTerms =>
  typeof (p as Partial<AgreedPriceTerms>).agreedPriceGbp === 'number';

/** The agreed-price rule, by the very function the provider settles such an order with. */
const settleAgreedPrice = (
  terms: AgreedPriceTerms,
  periods: readonly MeteredPeriod[],
  acceptedKw: number,
  slotHours: number,
): ProductSettlement => {
  const s = settle(
    periods.map((p) => ({ start: epochMs(p.start), baselineKw: p.baselineKw, meteredKw: p.meteredKw })),
    acceptedKw,
    slotHours,
    terms.agreedPriceGbp,
    AGREED_PRICE_CODE,
  );
  const acceptedKwh = s.committedKwh;
  // Each period's part of the price: what it earned before the total is held within 0–100 %, in
  // pennies that add up to the whole.
  // The periods add up to the payment, which is the price × performance rounded on its own.
  const parts = inPennies(
    s.periods.map((q) =>
      acceptedKwh > 0 ? Math.max(0, (terms.agreedPriceGbp * (q.committedKwh - q.shortfallKwh)) / acceptedKwh) : 0,
    ),
    s.paymentGbp,
  );
  const settled: SettledPeriod[] = periods.map((p, i) => {
    const q = s.periods[i] as (typeof s.periods)[number];
    const counted = Math.max(0, Math.min((p.baselineKw - p.meteredKw) * slotHours, acceptedKw * slotHours));
    return {
      ...p,
      acceptedKwh: q.committedKwh,
      deliveredKwh: q.deliveredKwh,
      countedKwh: r3(counted),
      utilisationGbp: parts[i] as number,
    };
  });
  return {
    product: terms,
    acceptedKw,
    windowHours: periods.length * slotHours,
    periods: settled,
    deliveredKwh: s.deliveredKwh,
    acceptedKwh,
    deliveredShare: s.performance,
    performanceFactor: s.performance,
    availabilityGbp: 0,
    utilisationGbp: r2(terms.agreedPriceGbp),
    paymentGbp: s.paymentGbp,
    rules: [
      `reduction: delivered = (baseline − metered) × ${slotHours} h per settlement period; shortfall = max(0, accepted − delivered) per period`,
      `agreed price: £${terms.agreedPriceGbp} for the accepted ${r3(acceptedKwh)} kWh (an order bought with no product), × performance`,
      'performance = (accepted − Σ shortfall) ÷ accepted, held within 0–100 %',
    ],
  };
};

/** Settles a window of metered periods under a product's terms; `acceptedKw` is what the buyer accepted. */
export const settleProduct = (
  product: ProductTerms,
  periods: readonly MeteredPeriod[],
  acceptedKw: number,
  slotHours = 0.5,
): ProductSettlement => {
  if (isAgreedPrice(product)) return settleAgreedPrice(product, periods, acceptedKw, slotHours);
  const limit = product.importLimitKw;
  if (product.measurement === 'import-limit' && (limit === undefined || !(limit >= 0)))
    throw new FlexError('FLX_CONFIG_INVALID', `product ${product.code}: an import-limit product needs importLimitKw`, {
      path: 'importLimitKw',
    });
  const price = product.dfsGbpPerMwh ?? product.utilisationGbpPerMwh ?? 0;
  const settled: SettledPeriod[] = periods.map((p) => {
    const acceptedKwh = acceptedKw * slotHours;
    const reductionKwh = (p.baselineKw - p.meteredKw) * slotHours;
    const counted = Math.max(0, Math.min(reductionKwh, acceptedKwh));
    const base = {
      ...p,
      acceptedKwh: r3(acceptedKwh),
      countedKwh: r3(counted),
      utilisationGbp: r2((counted / 1000) * price),
    };
    if (product.measurement === 'reduction') return { ...base, deliveredKwh: r3(reductionKwh) };
    const exceedanceKwh = Math.max(0, p.meteredKw - (limit as number)) * slotHours;
    return {
      ...base,
      deliveredKwh: r3(Math.max(0, reductionKwh)),
      exceedanceKwh: r3(exceedanceKwh),
      complies: exceedanceKwh === 0,
    };
  });
  const acceptedKwh = settled.reduce((a, p) => a + p.acceptedKwh, 0);
  const deliveredKwh = settled.reduce((a, p) => a + p.deliveredKwh, 0);
  const countedKwh = settled.reduce((a, p) => a + p.countedKwh, 0);
  const windowHours = settled.length * slotHours;
  // Import-limit: the share of the window's import allowance kept; reduction: the share of the accepted volume delivered.
  const allowanceKwh = (limit ?? 0) * windowHours;
  const exceedance = settled.reduce((a, p) => a + (p.exceedanceKwh ?? 0), 0);
  const deliveredShare =
    product.measurement === 'import-limit'
      ? allowanceKwh > 0
        ? Math.max(0, 1 - exceedance / allowanceKwh)
        : exceedance > 0
          ? 0
          : 1
      : acceptedKwh > 0
        ? countedKwh / acceptedKwh
        : 0;
  const isDfs = product.dfsGbpPerMwh !== undefined;
  const factor = isDfs ? 1 : performanceFactor(product.performance, deliveredShare);
  const availabilityGbp = ((product.availabilityGbpPerMwH ?? 0) * acceptedKw * windowHours) / 1000;
  const utilisationGbp = settled.reduce((a, p) => a + p.utilisationGbp, 0);
  const rules = [
    product.measurement === 'import-limit'
      ? `import-limit: each period complies when metered import ≤ ${limit} kW; delivered share = 1 − import above the limit ÷ the window's allowance (${r3(allowanceKwh)} kWh)`
      : `reduction: delivered = (baseline − metered) × ${slotHours} h per settlement period; share = Σ min(max(delivered, 0), accepted) ÷ accepted`,
    isDfs
      ? `DFS-style: ${product.dfsGbpPerMwh} £/MWh × min(max(delivered, 0), accepted) per period, pay-as-bid; no performance factor`
      : `utilisation: ${product.utilisationGbpPerMwh ?? 0} £/MWh × min(max(delivered, 0), accepted) per period`,
    ...(product.availabilityGbpPerMwH
      ? [`availability: ${product.availabilityGbpPerMwH} £/MW/h × ${acceptedKw / 1000} MW × ${windowHours} h`]
      : []),
    ...(isDfs
      ? []
      : [
          `performance ${product.performance.name}: factor = max(0, 1 − ${product.performance.cutPerShortfall} × max(0, shortfall − ${product.performance.tolerance}))`,
        ]),
  ];
  return {
    product,
    acceptedKw,
    windowHours,
    periods: settled,
    deliveredKwh: r3(deliveredKwh),
    acceptedKwh: r3(acceptedKwh),
    deliveredShare: Math.round(deliveredShare * 10_000) / 10_000,
    performanceFactor: Math.round(factor * 10_000) / 10_000,
    availabilityGbp: r2(availabilityGbp),
    utilisationGbp: r2(utilisationGbp),
    paymentGbp: r2((availabilityGbp + utilisationGbp) * factor),
    rules,
  };
};

const PERFORMANCE_RULES: Record<string, PerformanceRule> = {
  [WPD_PERFORMANCE.name]: WPD_PERFORMANCE,
  [PROPORTIONAL.name]: PROPORTIONAL,
};

const fail = (file: string, path: string, why: string): FlexError =>
  new FlexError('FLX_CONFIG_INVALID', `${file}: ${path} ${why}`, { path });

const num = (file: string, o: Record<string, unknown>, key: string, min = 0): number | undefined => {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw fail(file, key, `must be a number ≥ ${min}`);
  return v;
};

/**
 * A product from its JSON description, for example
 * {"code": "DSO_PEAK_REDUCTION", "name": "Peak Reduction", "measurement": "reduction", "baseline": "bl01",
 *  "utilisationGbpPerMwh": 600, "availabilityGbpPerMwH": 12, "performance": "WPD-FLEXIBLE-POWER"}.
 */
export const parseProduct = (json: unknown, file = 'the product'): ProductTerms => {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw fail(file, '(root)', 'must be an object');
  const o = json as Record<string, unknown>;
  const known = [
    'code',
    'name',
    'measurement',
    'importLimitKw',
    'baseline',
    'availabilityGbpPerMwH',
    'utilisationGbpPerMwh',
    'dfsGbpPerMwh',
    'performance',
    'battery',
  ];
  const unknown = Object.keys(o).find((k) => !known.includes(k));
  if (unknown) throw fail(file, unknown, `is not a product field (fields: ${known.join(', ')})`);
  if (typeof o.code !== 'string' || o.code === '') throw fail(file, 'code', 'must be a non-empty string');
  const measurement = o.measurement ?? 'reduction';
  if (measurement !== 'reduction' && measurement !== 'import-limit')
    throw fail(file, 'measurement', 'must be "reduction" or "import-limit"');
  const baseline = o.baseline ?? 'bl01';
  if (!['bl01', 'dfs', 'ena', 'nominated'].includes(baseline as string))
    throw fail(file, 'baseline', 'must be one of bl01, dfs, ena, nominated');
  const perfName = o.performance ?? WPD_PERFORMANCE.name;
  const performance = typeof perfName === 'string' ? PERFORMANCE_RULES[perfName] : undefined;
  if (!performance) throw fail(file, 'performance', `must be one of ${Object.keys(PERFORMANCE_RULES).join(', ')}`);
  if (o.battery !== undefined && typeof o.battery !== 'boolean') throw fail(file, 'battery', 'must be true or false');
  const importLimitKw = num(file, o, 'importLimitKw');
  if (measurement === 'import-limit' && importLimitKw === undefined)
    throw fail(file, 'importLimitKw', 'is needed for an import-limit product');
  const availabilityGbpPerMwH = num(file, o, 'availabilityGbpPerMwH');
  const utilisationGbpPerMwh = num(file, o, 'utilisationGbpPerMwh');
  const dfsGbpPerMwh = num(file, o, 'dfsGbpPerMwh');
  if (dfsGbpPerMwh !== undefined && (utilisationGbpPerMwh !== undefined || availabilityGbpPerMwH !== undefined))
    throw fail(file, 'dfsGbpPerMwh', 'is a DFS-style price: give it alone, without utilisation or availability prices');
  return {
    code: o.code,
    name: typeof o.name === 'string' ? o.name : o.code,
    measurement,
    baseline: baseline as BaselineName,
    performance,
    ...(importLimitKw === undefined ? {} : { importLimitKw }),
    ...(availabilityGbpPerMwH === undefined ? {} : { availabilityGbpPerMwH }),
    ...(utilisationGbpPerMwh === undefined ? {} : { utilisationGbpPerMwh }),
    ...(dfsGbpPerMwh === undefined ? {} : { dfsGbpPerMwh }),
    ...(o.battery === true ? { battery: true } : {}),
  };
};

/**
 * The terms `flexlon settle` reads from a file: a product (parseProduct), or an order's agreed price
 * when it was bought with no product: {"agreedPriceGbp": 12.5} (optionally with "baseline"). Only
 * the command line reads the second form; a product sent in init is always parsed by parseProduct.
 */
export const parseSettleTerms = (json: unknown, file = 'the product'): ProductTerms => {
  const o = json as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o) || !('agreedPriceGbp' in o))
    return parseProduct(json, file);
  const unknown = Object.keys(o).find((k) => !['code', 'name', 'agreedPriceGbp', 'baseline'].includes(k));
  if (unknown)
    throw fail(
      file,
      unknown,
      'does not go with agreedPriceGbp (an order with no product: give agreedPriceGbp and baseline only)',
    );
  const price = num(file, o, 'agreedPriceGbp') as number;
  const baseline = o.baseline ?? 'bl01';
  if (!['bl01', 'dfs', 'ena', 'nominated'].includes(baseline as string))
    throw fail(file, 'baseline', 'must be one of bl01, dfs, ena, nominated');
  return agreedPriceTerms(price, baseline as BaselineName);
};

/**
 * A performance factor as printed beside the payment it multiplies: two decimals, as the WPD table
 * states them (1.00, 0.85), and three where two would not reproduce the payment (0.996 × £38.87 is
 * £38.71, which "× 1.00" would not explain).
 */
export const factorText = (factor: number): string =>
  Math.abs(factor - Math.round(factor * 100) / 100) < 5e-5 ? factor.toFixed(2) : factor.toFixed(3);
