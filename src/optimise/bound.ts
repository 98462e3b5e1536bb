// A lower bound over the EXACT classes from any row multipliers of a (possibly coarser) class LP.
// Relax the rows the classes share — site IT and import limits, battery state of charge, the
// carbon cap — with multipliers y (Lagrangian duality; valid for ANY y of the right signs); what is
// left splits into one continuous knapsack per exact class (fill its cheapest slots, by reduced
// cost, up to its energy), solved exactly here, plus each battery column at its better bound:
//   L(y) = Σ_shared rows (y>0 ? y·lower : y·upper) + Σ_classes knapsack_c(y) + Σ_battery cols min(d·l, d·u).
// With duals from the LP over the same classes this is at least the LP's own Lagrangian bound
// (each class's multiplier is optimised exactly); with duals from a coarse LP it still holds.
import type { PlanningProblem } from '../domain/planning.ts';
import { classLateCost, type ClassModel, type JobClass } from './class-model.ts';
import { capGPerKwh } from './carbon-cap.ts';

/** Row multipliers made sign-valid for the row's bounds (y > 0 needs a lower, y < 0 an upper side). */
const validDuals = (cm: ClassModel, rowDual: Float64Array): Float64Array => {
  const y = new Float64Array(rowDual.length);
  for (let i = cm.classes.length; i < rowDual.length; i++) {
    const v = rowDual[i] as number;
    if (
      (v > 0 && Number.isFinite(cm.trueRowLower[i] as number)) ||
      (v < 0 && Number.isFinite(cm.trueRowUpper[i] as number))
    )
      y[i] = v;
  }
  return y;
};

/** min Σ d·x s.t. Σ h·x = energy, 0 ≤ x ≤ ub, over the class's (site, slot) columns. */
const knapsack = (p: PlanningProblem, c: JobClass, reduced: readonly Float64Array[]): number => {
  const h = p.slotMinutes / 60;
  const cols: [number, number][] = [];
  c.sites.forEach((s, k) => {
    // A class's move cost per kWh at a site (class-model.ts) is in its columns' cost there.
    const move = c.moveGbpPerKwh?.[k] ?? 0;
    for (let t = c.releaseSlot; t < c.deadlineSlot; t++) {
      const ub = Math.min(c.capKw[t - c.releaseSlot] as number, p.sites[s]!.itPowerLimitKw);
      if (ub > 0) cols.push([(reduced[s]![t] as number) + (classLateCost(c, t) + move) * h, ub]);
    }
  });
  // A soft class may leave energy beyond the horizon: a column in no shared row (per kW-slot of energy).
  if (c.slo?.unservedGbpPerKwh !== undefined) cols.push([c.slo.unservedGbpPerKwh * h, c.energyKwh / h]);
  cols.sort((a, b) => a[0] - b[0]);
  let left = c.energyKwh;
  let value = 0;
  for (const [d, ub] of cols) {
    if (left <= 0) break;
    const x = Math.min(ub, left / h);
    value += d * x;
    left -= x * h;
  }
  // A class that cannot fit even alone makes the problem infeasible: no finite bound is needed.
  return left > 1e-9 * Math.max(1, c.energyKwh) ? Number.POSITIVE_INFINITY : value;
};

export const exactClassBound = (
  p: PlanningProblem,
  cm: ClassModel,
  rowDual: Float64Array,
  exact: readonly JobClass[],
): number => {
  const y = validDuals(cm, rowDual);
  const h = p.slotMinutes / 60;
  let bound = 0;
  for (let i = cm.classes.length; i < y.length; i++) {
    const v = y[i] as number;
    if (v > 0) bound += v * (cm.trueRowLower[i] as number);
    else if (v < 0) bound += v * (cm.trueRowUpper[i] as number);
  }
  // Reduced cost of 1 kW of IT at (site, slot): its cost less the multipliers of the shared rows it enters.
  const carbonY = cm.carbonRow >= 0 ? (y[cm.carbonRow] as number) : 0;
  const reduced = p.sites.map((site, s) =>
    Float64Array.from({ length: p.slots }, (_, t) => {
      const cost = ((site.priceGbpPerMwh[t] ?? 0) * h * site.pue) / 1000;
      const kg = (capGPerKwh(p, site, t) * h * site.pue) / 1000;
      const imp = (cm.rows.importRow[s] as number) >= 0 ? (y[(cm.rows.importRow[s] as number) + t] as number) : 0;
      return cost - (y[cm.rows.itFirst + s * p.slots + t] as number) - site.pue * imp - kg * carbonY;
    }),
  );
  for (const c of exact) bound += knapsack(p, c, reduced);
  // Battery columns are the same in every class model of the problem.
  const m = cm.model;
  p.sites.forEach((site, s) => {
    const first = cm.batteryCol[s] as number;
    if (first < 0 || !site.battery) return;
    for (let j = first; j < first + 3 * p.slots; j++) {
      let d = m.colCost[j] as number;
      for (let k = m.starts[j] as number; k < (m.starts[j + 1] as number); k++)
        d -= (y[m.indices[k] as number] as number) * (m.values[k] as number);
      bound += Math.min(d * (m.colLower[j] as number), d * (m.colUpper[j] as number));
    }
  });
  return bound;
};
