// Writes a SignalHistory as FlexLon's normalised CSV (NORMALISED_COLUMNS): one row per region and
// period, plus one row per recorded forecast vintage (with forecast_issued_utc). The `quality`
// column names the faults found for that period. The file appears whole or not at all: it is
// written beside the target and renamed into place.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { FlexError } from '../../errors.ts';
import { findRegion } from '../../domain/regions.ts';
import { settlementPeriodOf } from '../../domain/settlement-day.ts';
import type { PeriodRecord, SignalHistory } from '../../domain/signal-history.ts';
import { NORMALISED_COLUMNS } from './formats.ts';

const utc = (t: number): string => new Date(t).toISOString().slice(0, 16) + 'Z';

const cell = (v: string | number | undefined): string => {
  if (v === undefined) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export const normalisedCsv = (h: SignalHistory): { text: string; rows: number } => {
  const quality = new Map<string, Set<string>>();
  for (const f of h.faults) {
    if (f.from === undefined || f.from !== f.to || f.kind === 'missing-period') continue;
    const key = `${f.region ?? '*'}|${f.from}`;
    (quality.get(key) ?? quality.set(key, new Set()).get(key))?.add(f.kind);
  }
  const lines: string[] = [NORMALISED_COLUMNS.join(',')];
  for (const region of h.regionIds()) {
    const name = findRegion(region)?.name ?? String(region);
    const starts = h.periodStarts(region);
    for (const start of starts) {
      const r: PeriodRecord = h.get(region, start) ?? {};
      const sp = settlementPeriodOf(start);
      const q = [...(quality.get(`${region}|${start}`) ?? []), ...(quality.get(`*|${start}`) ?? [])].join(';');
      const base = [utc(start), sp.date, sp.period, region, name];
      lines.push(
        [
          ...base,
          r.carbonForecast,
          r.carbonActual,
          r.carbonIndex,
          r.price,
          r.priceVolume,
          r.imbalancePrice,
          undefined,
          q,
        ]
          .map(cell)
          .join(','),
      );
      for (const v of h.vintagesOf(region, start, 'carbon')) {
        lines.push(
          [...base, v.value, undefined, undefined, undefined, undefined, undefined, utc(v.issuedAt), 'vintage']
            .map(cell)
            .join(','),
        );
      }
    }
  }
  return { text: `${lines.join('\n')}\n`, rows: lines.length - 1 };
};

/** Writes text to `file` through a temporary file in the same folder and a rename. */
export const writeAtomically = (file: string, text: string): void => {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new FlexError('FLX_CONFIG_INVALID', `cannot write ${file}: ${(e as Error).message}`, { path: '--out' });
  }
};
