// The carbon cap as every part of the planner counts it (docs/planning-problem.md, "Carbon cap").
// A plain cap (carbonCapKg alone) limits the kg the plan emits. With carbonCapGPerKwh it limits the
// plan's mean intensity: kg emitted − carbonCapGPerKwh × kWh imported / 1000 ≤ carbonCapKg, so each
// kWh counts against the cap only by how much dirtier than the stated intensity it is, and work done
// in clean hours makes room rather than using it. The FIFO cap of the live market is of this kind
// (src/agents/flex/carbon-cap.ts): a cap in kg on a full site is a cap on the work it does.
import type { PlanningProblem } from '../domain/planning.ts';

type Site = PlanningProblem['sites'][number];

/** kg the cap counts per kWh imported at `site` in slot t (may be below 0 with an intensity). */
export const capKgPerKwh = (p: PlanningProblem, site: Site, t: number): number =>
  ((site.carbonGPerKwh[t] ?? 0) - (p.carbonCapGPerKwh ?? 0)) / 1000;

/** What the cap counts of `kg` emitted over `kwh` imported (kg, as carbonCapKg). */
export const capUseKg = (p: PlanningProblem, kg: number, kwh: number): number =>
  kg - ((p.carbonCapGPerKwh ?? 0) * kwh) / 1000;

/**
 * The cap's limit made stricter by `share` of its size: a negative allowance (an intensity cap the
 * plan must beat) moves further below 0, not towards it.
 */
export const tightenedCap = (cap: number, share: number): number => cap - Math.abs(cap) * share;

/**
 * Whether a plan that emits `kg` over `kwh` imported keeps the cap, within a tolerance of the gross
 * kg: with an intensity the cap's use is a small difference of large figures.
 */
export const keepsCap = (p: PlanningProblem, kg: number, kwh: number, rel = 1e-9): boolean =>
  usesWithinCap(p, capUseKg(p, kg, kwh), kg, rel);

/** keepsCap from what the cap counts (`useKg`) and the gross kg emitted. */
export const usesWithinCap = (p: PlanningProblem, useKg: number, kg: number, rel = 1e-9): boolean =>
  p.carbonCapKg === undefined || useKg <= p.carbonCapKg + rel * Math.max(1, Math.abs(p.carbonCapKg), Math.abs(kg));

/** The cap in words, for a reason or a verdict: "6,768 kg" or "0.0 kg + 250 g per kWh imported". */
export const capWords = (p: PlanningProblem): string =>
  p.carbonCapGPerKwh === undefined
    ? `${p.carbonCapKg} kg`
    : `${(p.carbonCapKg ?? 0).toFixed(1)} kg + ${p.carbonCapGPerKwh.toFixed(1)} g per kWh imported`;
