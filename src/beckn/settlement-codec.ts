// Metered delivery on the wire: a `settlement` tag group with the totals and one `period` tag group
// per settlement period (baseline, metered, delivered, shortfall), carried in on_status.
import type { SettlementSummary } from '../domain/settlement.ts';
import { epochMs, isoOf } from '../domain/time.ts';
import { decimal, readTag, tagGroup, type TagGroup } from './wire.ts';

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

/** A portfolio order's settlement at one site (tag group `site-settlement`, see wire-order.ts). */
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
