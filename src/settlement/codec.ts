// Metered delivery on the wire: a `settlement` tag group with the totals and one `period` tag group
// per settlement period (baseline, metered, delivered, shortfall), carried in on_status; and a
// portfolio order's `site-settlement` groups. Tag groups are Beckn v1.1's extension point
// (BECKN-009); this codec writes and reads them itself, so settlement stays free of the beckn layer
// (its groups are structurally beckn/wire.ts TagGroups).
import { decimal } from '../domain/decimal.ts';
import { epochMs, isoOf } from '../domain/time.ts';
import type { SettlementSummary } from './delivered.ts';

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
  ...s.periods.map((p) =>
    tagGroup('period', `Settlement period from ${isoOf(p.start)}`, {
      start: isoOf(p.start),
      'baseline-kw': decimal(p.baselineKw),
      'metered-kw': decimal(p.meteredKw),
      'delivered-kwh': decimal(p.deliveredKwh),
      'committed-kwh': decimal(p.committedKwh),
      'shortfall-kwh': decimal(p.shortfallKwh),
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
      };
    });
  return {
    baselineMethod: method,
    periods,
    deliveredKwh: n(tags, 'settlement', 'delivered-kwh'),
    committedKwh: n(tags, 'settlement', 'committed-kwh'),
    shortfallKwh: n(tags, 'settlement', 'shortfall-kwh'),
    performance: n(tags, 'settlement', 'performance'),
    paymentGbp: n(tags, 'settlement', 'payment-gbp'),
  };
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
