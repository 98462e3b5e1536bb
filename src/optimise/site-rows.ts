// The rows every LP model of a planning problem shares — each site's IT limit, its import limit and
// battery state of charge (battery sites), the carbon cap — and the columns that fill them: IT power
// at a site (priced, with its carbon), and each battery's charge, discharge and state of charge. The
// class LP (class-model.ts) and the exact MILP (milp.ts) build on them; importCaps is the import
// ceiling (the grid limit and every commitment in force) that the later stages check against too.
import type { PlanningProblem } from '../domain/planning.ts';
import { INF, type LpBuilder } from './lp.ts';
import { batteryCapGPerKwh, capGPerKwh, tightenedCap } from './carbon-cap.ts';

/** Import ceiling per site and slot: the grid limit and every commitment in force (kW). */
export const importCaps = (p: PlanningProblem): Float64Array[] =>
  p.sites.map((site) => {
    const cap = new Float64Array(p.slots).fill(site.gridImportLimitKw);
    for (const c of p.commitments) {
      if (c.site !== site.id) continue;
      for (let t = Math.max(0, c.fromSlot); t < Math.min(p.slots, c.toSlot); t++)
        cap[t] = Math.min(cap[t] as number, c.maxImportKw);
    }
    return cap;
  });

/** Rows shared by every model of the problem: site limits, battery state of charge, carbon cap. */
export interface SiteRows {
  /** IT row of site s, slot t is first + s × slots + t. */
  readonly itFirst: number;
  /** Per site: first import row (battery sites only), else −1. */
  readonly importRow: Int32Array;
  /** Per site: first state-of-charge row (battery sites only), else −1. */
  readonly socRow: Int32Array;
  readonly carbonRow: number;
}

export const addSiteRows = (p: PlanningProblem, b: LpBuilder, carbonTightening: number): SiteRows => {
  const T = p.slots;
  const caps = importCaps(p);
  const itFirst = b.numRows;
  p.sites.forEach((site, s) => {
    for (let t = 0; t < T; t++) {
      // Without a battery, import = PUE × IT, so the import ceiling is an IT ceiling.
      const up = site.battery ? site.itPowerLimitKw : Math.min(site.itPowerLimitKw, (caps[s]![t] as number) / site.pue);
      b.row(0, Math.max(0, up));
    }
  });
  const importRow = new Int32Array(p.sites.length).fill(-1);
  const socRow = new Int32Array(p.sites.length).fill(-1);
  p.sites.forEach((site, s) => {
    if (!site.battery) return;
    importRow[s] = b.numRows;
    for (let t = 0; t < T; t++) b.row(0, caps[s]![t] as number);
    socRow[s] = b.numRows;
    for (let t = 0; t < T; t++)
      b.row(t === 0 ? site.battery.initialSocKwh : 0, t === 0 ? site.battery.initialSocKwh : 0);
  });
  const cap = p.carbonCapKg;
  const carbonRow = cap === undefined ? -1 : b.row(-INF, tightenedCap(p, carbonTightening));
  return { itFirst, importRow, socRow, carbonRow };
};

/**
 * The matrix entries and cost of IT power `kw[i]` at site s in slots[i] (one column): IT rows, import
 * rows (× PUE), and one merged carbon coefficient. `extraRows`/`extraCoefs` come first.
 */
export const powerEntries = (
  p: PlanningProblem,
  r: SiteRows,
  s: number,
  slots: readonly number[],
  kw: readonly number[],
  extraRows: number[] = [],
  extraCoefs: number[] = [],
): { rows: number[]; coefs: number[]; cost: number } => {
  const site = p.sites[s]!;
  const h = p.slotMinutes / 60;
  const rows = [...extraRows];
  const coefs = [...extraCoefs];
  let cost = 0;
  let kg = 0;
  slots.forEach((t, i) => {
    const k = kw[i] as number;
    rows.push(r.itFirst + s * p.slots + t);
    coefs.push(k);
    if ((r.importRow[s] as number) >= 0) {
      rows.push((r.importRow[s] as number) + t);
      coefs.push(site.pue * k);
    }
    cost += ((site.priceGbpPerMwh[t] ?? 0) * h * site.pue * k) / 1000;
    kg += (capGPerKwh(p, site, t) * h * site.pue * k) / 1000;
  });
  if (r.carbonRow >= 0) {
    rows.push(r.carbonRow);
    coefs.push(kg);
  }
  return { rows, coefs, cost };
};

/**
 * Battery columns per slot: charge and discharge (kW, at the grid side) and the state of charge at
 * the end of the slot (kWh). SoC_t = SoC_{t−1} + η·h·charge_t − h·discharge_t (efficiency applied on
 * charging), minSoc ≤ SoC_t ≤ capacity, and the final SoC ≥ the initial one.
 */
export const addBatteries = (
  p: PlanningProblem,
  b: LpBuilder,
  { importRow, socRow, carbonRow }: SiteRows,
): Int32Array => {
  const T = p.slots;
  const h = p.slotMinutes / 60;
  const first = new Int32Array(p.sites.length).fill(-1);
  p.sites.forEach((site, s) => {
    const bat = site.battery;
    if (!bat) return;
    first[s] = b.numCols;
    for (let t = 0; t < T; t++) {
      const price = ((site.priceGbpPerMwh[t] ?? 0) * h) / 1000;
      const kg = (batteryCapGPerKwh(site, t) * h) / 1000;
      const imp = importRow[s]! + t;
      const soc = socRow[s]! + t;
      const withCarbon = (rows: number[], coefs: number[], sign: number) =>
        (carbonRow >= 0
          ? [
              [...rows, carbonRow],
              [...coefs, sign * kg],
            ]
          : [rows, coefs]) as [number[], number[]];
      b.col(price, 0, bat.maxChargeKw, ...withCarbon([imp, soc], [1, -bat.roundTripEfficiency * h], 1));
      const wear = ((bat.degradationGbpPerMwh ?? 0) * h) / 1000;
      b.col(wear - price, 0, bat.maxDischargeKw, ...withCarbon([imp, soc], [-1, h], -1));
      const socLower = t === T - 1 ? Math.max(bat.minSocKwh, bat.initialSocKwh) : bat.minSocKwh;
      b.col(0, socLower, bat.capacityKwh, t === T - 1 ? [soc] : [soc, soc + 1], t === T - 1 ? [1] : [1, -1]);
    }
  });
  return first;
};
