// Recorded grid signals per region and settlement period, and the faults found while recording them.
// Every source (shipped CSV, a user's CSV, saved NESO/Elexon responses, the live APIs) is read into
// this one shape, so fault handling is the same for all of them: a fault is reported with the file,
// line and period it concerns and what was done about it; nothing is averaged or invented here.
import type { EpochMs } from './time.ts';
import { PERIOD_MS } from './settlement-day.ts';

/** What one source said about one half hour of one region. Absent fields are unknown. */
export interface PeriodRecord {
  /** NESO forecast carbon intensity (gCO2/kWh) as stored by the API: its latest forecast. */
  readonly carbonForecast?: number;
  /** NESO "actual" carbon intensity (estimated from metered generation); national only. */
  readonly carbonActual?: number;
  readonly carbonIndex?: string;
  /** Market index price (£/MWh), from periods with trades only. */
  readonly price?: number;
  /** Market index volume (MWh); 0 means no trades. */
  readonly priceVolume?: number;
  /** Imbalance (system) price, £/MWh: SSP = SBP since P305. */
  readonly imbalancePrice?: number;
  /** When the carbon forecast above was issued, if the source knows (live fetches, vintage files). */
  readonly forecastIssuedAt?: EpochMs;
}

export type RecordField = keyof PeriodRecord;

export const FAULT_KINDS = {
  'missing-period': "no row for a half hour inside the file's span",
  'blank-actual': 'carbon actual empty',
  'zero-actual': 'carbon actual exactly 0 (implausible for GB): treated as missing',
  'negative-carbon': 'carbon intensity below 0 (physically impossible): treated as missing',
  'blank-forecast': 'carbon forecast empty',
  'blank-row': 'every value in the row empty',
  'implausible-row': 'a row far out of line with its neighbours: treated as missing',
  'other-provider': 'market index rows from a provider other than APXMIDP: skipped',
  'zero-volume': 'market index volume 0: no trades, so the 0.00 price is not a price; treated as missing',
  duplicate: 'the same period again with the same value: kept once',
  'conflicting-duplicate': 'the same period again with a different value: the first is kept',
  'settlement-period-mismatch':
    'settlement date/period does not match the UTC start (clock change handled wrongly upstream)',
  'clock-change-day': 'a settlement day of 46 or 50 periods (information, not a fault)',
  'shifted-label': 'timestamps moved to period starts as documented for this format',
} as const;

export type FaultKind = keyof typeof FAULT_KINDS;

export interface DataFault {
  readonly kind: FaultKind;
  readonly file: string;
  readonly line?: number;
  readonly region?: number;
  /** First and last period start concerned (equal for one period). */
  readonly from?: EpochMs;
  readonly to?: EpochMs;
  readonly detail: string;
}

export interface Origin {
  readonly file: string;
  readonly line?: number;
}

const sameValue = (a: unknown, b: unknown): boolean =>
  a === b || (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) < 1e-9);

/** A forecast value as it stood when issued (a live fetch, or a row of a vintage file). */
export interface RecordedVintage {
  readonly issuedAt: EpochMs;
  readonly value: number;
}

export type ForecastSignal = 'carbon' | 'price';

/** Records by region id and period start. Faults accumulate as data is put in. */
export class SignalHistory {
  private readonly regions = new Map<number, Map<number, PeriodRecord>>();
  private readonly vintages = new Map<string, RecordedVintage[]>();
  readonly faults: DataFault[] = [];

  /** Records a forecast issued at a known time; several per period are kept, oldest first. */
  putVintage(region: number, start: EpochMs, signal: ForecastSignal, v: RecordedVintage): void {
    const key = `${signal}|${region}|${start}`;
    const list = this.vintages.get(key) ?? [];
    const same = list.findIndex((x) => x.issuedAt === v.issuedAt);
    if (same >= 0) list[same] = v;
    else list.push(v);
    list.sort((a, b) => a.issuedAt - b.issuedAt);
    this.vintages.set(key, list);
  }

  vintagesOf(region: number, start: number, signal: ForecastSignal): readonly RecordedVintage[] {
    return this.vintages.get(`${signal}|${region}|${start}`) ?? [];
  }

  get vintageCount(): number {
    let n = 0;
    for (const l of this.vintages.values()) n += l.length;
    return n;
  }

  /** Adds fields for one period; a field already set is a duplicate (kept) or a conflict (first kept). */
  put(region: number, start: EpochMs, fields: PeriodRecord, origin: Origin): void {
    let periods = this.regions.get(region);
    if (!periods) this.regions.set(region, (periods = new Map()));
    const had = periods.get(start) ?? {};
    const merged: Record<string, unknown> = { ...had };
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      // Grid-average carbon intensity cannot be negative, whatever a file says.
      if ((k === 'carbonForecast' || k === 'carbonActual') && typeof v === 'number' && v < 0) {
        this.fault({
          kind: 'negative-carbon',
          ...origin,
          region,
          from: start,
          to: start,
          detail: `${k} ${v} gCO2/kWh: treated as missing`,
        });
        continue;
      }
      const old = (had as Record<string, unknown>)[k];
      if (old === undefined) merged[k] = v;
      else if (k !== 'forecastIssuedAt') {
        const same = sameValue(old, v);
        this.fault({
          kind: same ? 'duplicate' : 'conflicting-duplicate',
          ...origin,
          region,
          from: start,
          to: start,
          detail: same ? `${k} repeated` : `${k} ${String(v)} conflicts with ${String(old)} read earlier`,
        });
      }
    }
    periods.set(start, merged as PeriodRecord);
  }

  fault(f: DataFault): void {
    this.faults.push(f);
  }

  get(region: number, start: number): PeriodRecord | undefined {
    return this.regions.get(region)?.get(start);
  }

  /** Period starts held for a region (records or vintages), in order. */
  periodStarts(region: number): number[] {
    const out = new Set(this.regions.get(region)?.keys() ?? []);
    for (const key of this.vintages.keys()) {
      const [, r, t] = key.split('|');
      if (Number(r) === region) out.add(Number(t));
    }
    return [...out].sort((a, b) => a - b);
  }

  regionIds(): number[] {
    const ids = new Set(this.regions.keys());
    for (const key of this.vintages.keys()) ids.add(Number(key.split('|')[1]));
    return [...ids].sort((a, b) => a - b);
  }

  /** First and last period start that has `field` for the region, or undefined. */
  span(region: number, field: RecordField): { from: EpochMs; to: EpochMs } | undefined {
    let from = Infinity;
    let to = -Infinity;
    for (const [t, r] of this.regions.get(region) ?? []) {
      if (r[field] === undefined) continue;
      if (t < from) from = t;
      if (t > to) to = t;
    }
    return from === Infinity ? undefined : { from: from as EpochMs, to: to as EpochMs };
  }

  /** Periods in [from, to] that have no row for the region at all, as runs. */
  gaps(region: number, from: number, to: number): { from: EpochMs; to: EpochMs; periods: number }[] {
    const periods = this.regions.get(region);
    const out: { from: EpochMs; to: EpochMs; periods: number }[] = [];
    let run: { from: number; to: number } | undefined;
    for (let t = from; t <= to; t += PERIOD_MS) {
      if (periods?.has(t)) {
        if (run) {
          out.push({ from: run.from as EpochMs, to: run.to as EpochMs, periods: (run.to - run.from) / PERIOD_MS + 1 });
          run = undefined;
        }
      } else if (run) run.to = t;
      else run = { from: t, to: t };
    }
    if (run)
      out.push({ from: run.from as EpochMs, to: run.to as EpochMs, periods: (run.to - run.from) / PERIOD_MS + 1 });
    return out;
  }
}

/** Fault counts by kind, in a stable order, for reports. */
export const countFaults = (faults: readonly DataFault[]): { kind: FaultKind; count: number; periods: number }[] => {
  const by = new Map<FaultKind, { count: number; periods: number }>();
  for (const f of faults) {
    const c = by.get(f.kind) ?? { count: 0, periods: 0 };
    c.count += 1;
    c.periods += f.from !== undefined && f.to !== undefined ? (f.to - f.from) / PERIOD_MS + 1 : 1;
    by.set(f.kind, c);
  }
  return (Object.keys(FAULT_KINDS) as FaultKind[])
    .filter((k) => by.has(k))
    .map((k) => ({ kind: k, ...(by.get(k) as { count: number; periods: number }) }));
};
