// Metered delivery on the wire: a `settlement` tag group with the totals and one `period` tag group
// per settlement period (baseline, metered, delivered, shortfall), carried in on_status; and a
// portfolio order's `site-settlement` groups. Tag groups are Beckn v1.1's extension point
// (BECKN-009); this codec writes and reads them itself, so settlement stays free of the beckn layer
// (its groups are structurally beckn/wire.ts TagGroups).
import { decimal } from '../domain/decimal.ts';
import { epochMs, isoOf } from '../domain/time.ts';
import type { ProductTerms } from '../domain/products.ts';
import { FlexError } from '../errors.ts';
import type { SettlementSummary } from './delivered.ts';
import { parseProduct } from './product.ts';

/** A Beckn v1.1 TagGroup as far as this codec writes and reads one. */
export interface TagGroup {
  descriptor: { code?: string; name?: string };
  list: { descriptor: { code?: string }; value: string }[];
}

const tagGroup = (code: string, name: string, values: Record<string, string | number>): TagGroup => ({
  descriptor: { code, name },
  list: Object.entries(values).map(([k, v]) => ({ descriptor: { code: k }, value: String(v) })),
});

const readTag = (groups: readonly TagGroup[] | undefined, group: string, code: string): string | undefined =>
  groups?.find((g) => g.descriptor?.code === group)?.list?.find((t) => t.descriptor?.code === code)?.value;

export const settlementTags = (s: SettlementSummary): TagGroup[] => [
  tagGroup('settlement', 'Settlement', {
    'baseline-method': s.baselineMethod,
    'delivered-kwh': decimal(s.deliveredKwh),
    'committed-kwh': decimal(s.committedKwh),
    'shortfall-kwh': decimal(s.shortfallKwh),
    performance: decimal(s.performance, 4),
    'payment-gbp': decimal(s.paymentGbp, 2),
  }),
  ...(s.terms
    ? [
        tagGroup('product-settlement', 'Settled under the product the buyer sent in init', {
          product: s.terms.product,
          measurement: s.terms.measurement,
          ...(s.terms.importLimitKw === undefined ? {} : { 'import-limit-kw': decimal(s.terms.importLimitKw) }),
          'performance-rule': s.terms.performanceRule,
          'performance-factor': decimal(s.terms.performanceFactor, 4),
          'availability-gbp': decimal(s.terms.availabilityGbp, 2),
          'utilisation-gbp': decimal(s.terms.utilisationGbp, 2),
        }),
      ]
    : []),
  ...s.periods.map((p) =>
    tagGroup('period', `Settlement period from ${isoOf(p.start)}`, {
      start: isoOf(p.start),
      'baseline-kw': decimal(p.baselineKw),
      'metered-kw': decimal(p.meteredKw),
      'delivered-kwh': decimal(p.deliveredKwh),
      'committed-kwh': decimal(p.committedKwh),
      'shortfall-kwh': decimal(p.shortfallKwh),
      ...(p.exceedanceKwh === undefined ? {} : { 'exceedance-kwh': decimal(p.exceedanceKwh) }),
    }),
  ),
];

/** Reads the settlement back; undefined when the message carries none (yet). */
export const readSettlement = (tags: readonly TagGroup[] | undefined): SettlementSummary | undefined => {
  const method = readTag(tags, 'settlement', 'baseline-method');
  if (method === undefined) return undefined;
  const n = (group: TagGroup[] | readonly TagGroup[] | undefined, g: string, c: string): number =>
    Number(readTag(group, g, c) ?? NaN);
  const periods = (tags ?? [])
    .filter((t) => t.descriptor.code === 'period')
    .map((t) => {
      const one = [t];
      return {
        start: epochMs(Date.parse(readTag(one, 'period', 'start') ?? '')),
        baselineKw: n(one, 'period', 'baseline-kw'),
        meteredKw: n(one, 'period', 'metered-kw'),
        deliveredKwh: n(one, 'period', 'delivered-kwh'),
        committedKwh: n(one, 'period', 'committed-kwh'),
        shortfallKwh: n(one, 'period', 'shortfall-kwh'),
        ...(readTag(one, 'period', 'exceedance-kwh') === undefined
          ? {}
          : { exceedanceKwh: n(one, 'period', 'exceedance-kwh') }),
      };
    });
  const product = readTag(tags, 'product-settlement', 'product');
  const limit = readTag(tags, 'product-settlement', 'import-limit-kw');
  return {
    baselineMethod: method,
    periods,
    deliveredKwh: n(tags, 'settlement', 'delivered-kwh'),
    committedKwh: n(tags, 'settlement', 'committed-kwh'),
    shortfallKwh: n(tags, 'settlement', 'shortfall-kwh'),
    performance: n(tags, 'settlement', 'performance'),
    paymentGbp: n(tags, 'settlement', 'payment-gbp'),
    ...(product === undefined
      ? {}
      : {
          terms: {
            product,
            measurement:
              readTag(tags, 'product-settlement', 'measurement') === 'import-limit' ? 'import-limit' : 'reduction',
            ...(limit === undefined ? {} : { importLimitKw: Number(limit) }),
            performanceRule: readTag(tags, 'product-settlement', 'performance-rule') ?? '',
            performanceFactor: n(tags, 'product-settlement', 'performance-factor'),
            availabilityGbp: n(tags, 'product-settlement', 'availability-gbp'),
            utilisationGbp: n(tags, 'product-settlement', 'utilisation-gbp'),
          },
        }),
  };
};

/**
 * The product's terms as the buyer sends them in init (tag group `product-terms`; core 1.1.1 has no
 * field for a flexibility product's measurement, payments and performance rule).
 */
export const productTags = (p: ProductTerms): TagGroup =>
  tagGroup('product-terms', `Product ${p.name}: the terms settlement applies`, {
    code: p.code,
    name: p.name,
    measurement: p.measurement,
    ...(p.importLimitKw === undefined ? {} : { 'import-limit-kw': decimal(p.importLimitKw) }),
    baseline: p.baseline,
    ...(p.availabilityGbpPerMwH === undefined
      ? {}
      : { 'availability-gbp-per-mw-h': decimal(p.availabilityGbpPerMwH, 2) }),
    ...(p.utilisationGbpPerMwh === undefined ? {} : { 'utilisation-gbp-per-mwh': decimal(p.utilisationGbpPerMwh, 2) }),
    ...(p.dfsGbpPerMwh === undefined ? {} : { 'dfs-gbp-per-mwh': decimal(p.dfsGbpPerMwh, 2) }),
    performance: p.performance.name,
    ...(p.battery ? { battery: 'true' } : {}),
  });

/**
 * The product's terms in a message's tags, or undefined when it carries none. Terms that do not
 * hold together are a coded request error naming the tag (FLX_REQ_SCHEMA), never a stack trace.
 */
export const readProductTags = (tags: readonly TagGroup[] | undefined, path: string): ProductTerms | undefined => {
  const group = tags?.find((g) => g.descriptor?.code === 'product-terms');
  if (!group) return undefined;
  const v = (c: string) => group.list?.find((t) => t.descriptor?.code === c)?.value;
  const num = (c: string) => (v(c) === undefined ? undefined : Number(v(c)));
  const json = {
    code: v('code'),
    ...(v('name') === undefined ? {} : { name: v('name') }),
    ...(v('measurement') === undefined ? {} : { measurement: v('measurement') }),
    ...(num('import-limit-kw') === undefined ? {} : { importLimitKw: num('import-limit-kw') }),
    ...(v('baseline') === undefined ? {} : { baseline: v('baseline') }),
    ...(num('availability-gbp-per-mw-h') === undefined
      ? {}
      : { availabilityGbpPerMwH: num('availability-gbp-per-mw-h') }),
    ...(num('utilisation-gbp-per-mwh') === undefined ? {} : { utilisationGbpPerMwh: num('utilisation-gbp-per-mwh') }),
    ...(num('dfs-gbp-per-mwh') === undefined ? {} : { dfsGbpPerMwh: num('dfs-gbp-per-mwh') }),
    ...(v('performance') === undefined ? {} : { performance: v('performance') }),
    ...(v('battery') === undefined ? {} : { battery: v('battery') === 'true' }),
  };
  try {
    return parseProduct(json, `${path} product-terms`);
  } catch (e) {
    throw new FlexError('FLX_REQ_SCHEMA', (e as Error).message, { path });
  }
};

/** Per-site settlement of a portfolio order, one `site-settlement` group each (none for a single site). */
export const siteSettlementTags = (
  sites: readonly { readonly site: string; readonly summary: SettlementSummary }[] | undefined,
): TagGroup[] =>
  sites && sites.length > 1
    ? sites.map(({ site, summary: s }) =>
        tagGroup('site-settlement', `Settlement at site ${site}`, {
          site,
          'delivered-kwh': decimal(s.deliveredKwh),
          'committed-kwh': decimal(s.committedKwh),
          'shortfall-kwh': decimal(s.shortfallKwh),
          performance: decimal(s.performance, 4),
          'payment-gbp': decimal(s.paymentGbp, 2),
        }),
      )
    : [];

/** A portfolio order's settlement at one site (tag group `site-settlement`). */
export interface SiteSettlement {
  readonly site: string;
  readonly deliveredKwh: number;
  readonly committedKwh: number;
  readonly shortfallKwh: number;
  readonly performance: number;
  readonly paymentGbp: number;
}

/** Every `site-settlement` group; empty for a single-site order (its totals are the site's). */
export const readSiteSettlements = (tags: readonly TagGroup[] | undefined): SiteSettlement[] =>
  (tags ?? [])
    .filter((t) => t.descriptor.code === 'site-settlement')
    .map((t) => {
      const n = (c: string): number => Number(readTag([t], 'site-settlement', c) ?? NaN);
      return {
        site: readTag([t], 'site-settlement', 'site') ?? '',
        deliveredKwh: n('delivered-kwh'),
        committedKwh: n('committed-kwh'),
        shortfallKwh: n('shortfall-kwh'),
        performance: n('performance'),
        paymentGbp: n('payment-gbp'),
      };
    });
