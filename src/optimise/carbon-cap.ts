// The carbon cap as every part of the planner counts it (docs/planning-problem.md, "Carbon cap").
// A plain cap (carbonCapKg alone) limits the kg the plan emits. With carbonCapGPerKwh it limits the
// plan's mean intensity:
//   kg emitted − carbonCapGPerKwh × kWh imported for the IT load (PUE × IT) / 1000 ≤ carbonCapKg,
// so each kWh of IT load counts against the cap only by how much dirtier than the stated intensity
// it is, and work done in clean hours makes room rather than using it. A battery's charging earns no
// room, only its carbon: were it credited, the plan could charge and discharge at once in clean
// hours, waste energy and emit more kg the tighter the cap (measured: 33.5 kg uncapped, 35.2 kg at
// 190 g/kWh). The BPP's `fifo-intensity` cap is of this kind (src/agents/flex/carbon-cap.ts).
import type { PlanningProblem, Schedule } from '../domain/planning.ts';

type Site = PlanningProblem['sites'][number];

// Grams, not kg: callers divide by 1000 last, as they did before the intensity existed, so a plain kg
// cap (intensity 0) gives the LP the very same coefficients, bit for bit, and the same plans.

/** Grams the cap counts per kWh imported for IT load at `site` in slot t (may be below 0 with an intensity). */
export const capGPerKwh = (p: PlanningProblem, site: Site, t: number): number =>
  (site.carbonGPerKwh[t] ?? 0) - (p.carbonCapGPerKwh ?? 0);

/** Grams the cap counts per kWh a battery imports (its charge; a discharge takes it back): its carbon alone. */
export const batteryCapGPerKwh = (site: Site, t: number): number => site.carbonGPerKwh[t] ?? 0;

/** What the cap counts of `kg` emitted with `itKwh` imported for the IT load (kg, as carbonCapKg). */
export const capUseKg = (p: PlanningProblem, kg: number, itKwh: number): number =>
  kg - ((p.carbonCapGPerKwh ?? 0) * itKwh) / 1000;

/** A schedule's import for its IT load (kWh, PUE × IT), battery flows aside: what an intensity cap credits. */
export const itImportKwh = (p: PlanningProblem, s: Schedule): number => {
  const pue = new Map(p.sites.map((x) => [x.id, x.pue]));
  let kwh = 0;
  for (const j of s.jobs) {
    const k = pue.get(j.site) ?? 1;
    for (const kw of j.powerKw) kwh += kw * k;
  }
  return (kwh * p.slotMinutes) / 60;
};

/**
 * The cap's limit made stricter by `share` of the gross limit: with an intensity, the allowance plus
 * the credit the problem's work would earn (Σ job energy × the least PUE at the intensity), so a margin
 * remains where the allowance is 0; a negative allowance moves further below 0, not towards it.
 */
export const tightenedCap = (p: PlanningProblem, share: number): number => {
  const cap = p.carbonCapKg ?? 0;
  if (!((p.carbonCapGPerKwh ?? 0) > 0) && cap >= 0) return cap * (1 - share);
  const pue = Math.min(...p.sites.map((s) => s.pue));
  const credit = ((p.carbonCapGPerKwh ?? 0) * pue * p.jobs.reduce((a, j) => a + j.energyKwh, 0)) / 1000;
  return cap - share * (Math.abs(cap) + credit);
};

/**
 * Whether a plan keeps the cap, from what the cap counts of it (`useKg`, capUseKg) and the kg it emits:
 * with an intensity the use is a small difference of large figures, so the tolerance scales with the kg.
 */
export const usesWithinCap = (p: PlanningProblem, useKg: number, kg: number, rel = 1e-9): boolean =>
  p.carbonCapKg === undefined ||
  useKg <=
    p.carbonCapKg + rel * Math.max(1, Math.abs(p.carbonCapKg), p.carbonCapGPerKwh === undefined ? 0 : Math.abs(kg));

/** The cap in words, for a reason or a verdict: "6768 kg" or "0.0 kg + 250.0 g per kWh imported for IT". */
export const capWords = (p: PlanningProblem): string =>
  p.carbonCapGPerKwh === undefined
    ? `${p.carbonCapKg} kg`
    : `${(p.carbonCapKg ?? 0).toFixed(1)} kg + ${p.carbonCapGPerKwh.toFixed(1)} g per kWh imported for IT`;
