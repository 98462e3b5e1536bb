// The last stage: with every job placed, plan the batteries alone — a small LP over charge,
// discharge and state of charge per battery site — so grid import stays in [0, ceiling], the
// state of charge in [min, capacity] and back to its initial level, and the carbon cap holds, at
// least cost. Without batteries there is nothing to choose: only the cap is checked.
import type { BatteryBoundInput, BatterySchedule, JobSchedule, PlanningProblem } from '../domain/planning.ts';
import { importCaps } from './site-rows.ts';
import { INF, LpBuilder, type LpModel, type LpSolve } from './lp.ts';
import { batteryCapGPerKwh, capGPerKwh, capWords, usesWithinCap } from './carbon-cap.ts';

export type BatteryResult =
  | { readonly ok: true; readonly batteries: BatterySchedule[] }
  | { readonly ok: false; readonly reason: string; readonly carbon: boolean };

/** What the carbon cap counts (kg, carbon-cap.ts) of the IT load alone (import = PUE × IT, no battery). */
const capOfLoad = (p: PlanningProblem, load: readonly Float64Array[]): number => {
  const h = p.slotMinutes / 60;
  let kg = 0;
  p.sites.forEach((s, i) => {
    for (let t = 0; t < p.slots; t++) kg += (capGPerKwh(p, s, t) * (load[i]![t] as number) * s.pue * h) / 1000;
  });
  return kg;
};

/** kWh imported for the IT load alone (PUE × IT). */
const itKwhOfLoad = (p: PlanningProblem, load: readonly Float64Array[]): number => {
  let kwh = 0;
  p.sites.forEach((s, i) => {
    for (let t = 0; t < p.slots; t++) kwh += (load[i]![t] as number) * s.pue;
  });
  return (kwh * p.slotMinutes) / 60;
};

const buildModel = (p: PlanningProblem, load: readonly Float64Array[], sites: number[]): LpModel => {
  const T = p.slots;
  const h = p.slotMinutes / 60;
  const caps = importCaps(p);
  const b = new LpBuilder();
  const carbonRow = p.carbonCapKg === undefined ? -1 : b.row(-INF, p.carbonCapKg - capOfLoad(p, load));
  for (const s of sites) {
    const site = p.sites[s]!;
    const bat = site.battery!;
    const imp = b.numRows;
    // charge − discharge ∈ [−PUE·IT, ceiling − PUE·IT]: import neither negative nor above the ceiling.
    for (let t = 0; t < T; t++) {
      const it = (load[s]![t] as number) * site.pue;
      b.row(-it, (caps[s]![t] as number) - it);
    }
    const soc = b.numRows;
    for (let t = 0; t < T; t++) b.row(t === 0 ? bat.initialSocKwh : 0, t === 0 ? bat.initialSocKwh : 0);
    for (let t = 0; t < T; t++) {
      const price = ((site.priceGbpPerMwh[t] ?? 0) * h) / 1000;
      const kg = (batteryCapGPerKwh(site, t) * h) / 1000;
      const c = carbonRow >= 0 ? [carbonRow] : [];
      b.col(
        price,
        0,
        bat.maxChargeKw,
        [...c, imp + t, soc + t],
        [...(c.length ? [kg] : []), 1, -bat.roundTripEfficiency * h],
      );
      const wear = ((bat.degradationGbpPerMwh ?? 0) * h) / 1000;
      b.col(wear - price, 0, bat.maxDischargeKw, [...c, imp + t, soc + t], [...(c.length ? [-kg] : []), -1, h]);
      const last = t === T - 1;
      b.col(
        0,
        last ? Math.max(bat.minSocKwh, bat.initialSocKwh) : bat.minSocKwh,
        bat.capacityKwh,
        last ? [soc + t] : [soc + t, soc + t + 1],
        last ? [1] : [1, -1],
      );
    }
  }
  return b.build();
};

export const planBatteries = async (
  p: PlanningProblem,
  load: readonly Float64Array[],
  solve: LpSolve,
  timeLimitSeconds: number,
): Promise<BatteryResult> => {
  const sites = p.sites.flatMap((s, i) => (s.battery ? [i] : []));
  if (sites.length === 0) {
    const kg = capOfLoad(p, load);
    const gross = kg + ((p.carbonCapGPerKwh ?? 0) * itKwhOfLoad(p, load)) / 1000;
    const over =
      p.carbonCapKg === undefined
        ? false
        : p.carbonCapGPerKwh === undefined
          ? kg > p.carbonCapKg * (1 + 1e-9)
          : !usesWithinCap(p, kg, gross);
    if (over)
      return {
        ok: false,
        carbon: true,
        reason: `the plan's carbon counts ${kg.toFixed(1)} kg against the cap of ${capWords(p)}`,
      };
    return { ok: true, batteries: [] };
  }
  const out = await solve(buildModel(p, load, sites), { timeLimitSeconds });
  if (out.status === 'infeasible')
    return {
      ok: false,
      carbon: p.carbonCapKg !== undefined,
      reason: 'no battery schedule keeps import within its limits and the carbon cap for this job plan',
    };
  if (out.status === 'failed') return { ok: false, carbon: false, reason: out.reason };
  const T = p.slots;
  return {
    ok: true,
    batteries: sites.map((s, k) => {
      const chargeKw: number[] = [];
      const dischargeKw: number[] = [];
      for (let t = 0; t < T; t++) {
        const c = Math.max(0, out.colValue[k * 3 * T + 3 * t] ?? 0);
        const d = Math.max(0, out.colValue[k * 3 * T + 3 * t + 1] ?? 0);
        chargeKw.push(c);
        dischargeKw.push(d);
      }
      return { site: p.sites[s]!.id, chargeKw, dischargeKw };
    }),
  };
};

/** IT power per site and slot of a job plan (kW), in the problem's site order. */
export const loadOfJobs = (p: PlanningProblem, jobs: readonly JobSchedule[]): Float64Array[] => {
  const index = new Map(p.sites.map((s, i) => [s.id, i]));
  const load = p.sites.map(() => new Float64Array(p.slots));
  for (const j of jobs) {
    const row = load[index.get(j.site) ?? -1];
    if (row) for (let t = 0; t < p.slots; t++) row[t] = (row[t] as number) + (j.powerKw[t] ?? 0);
  }
  return load;
};

/**
 * The least the battery's part of a bill can be over the run (£, usually negative: what it saves):
 * Σ price × (charge − discharge) + wear × discharge + its end state's value. The LP keeps the
 * battery's own limits (power, state of charge, charging losses) and drops every tie to the site
 * (import never negative, the connection, committed windows' caps), so no schedule the site can run
 * costs less: a relaxation, which makes a bound on a run's objective with a battery site the bound
 * without it plus this (src/backtest/bound.ts). Undefined where the LP is not solved to optimality.
 */
export const batteryCostBound = async (
  i: BatteryBoundInput,
  solve: LpSolve,
  timeLimitSeconds: number,
): Promise<number | undefined> => {
  const bat = i.battery;
  const T = i.priceGbpPerMwh.length;
  if (T === 0) return 0;
  const h = i.slotMinutes / 60;
  const b = new LpBuilder();
  // Row t: stored after slot t − stored after slot t − 1 − η·h·charge + h·discharge = 0 (the
  // initial level on the right of the first).
  const soc = b.numRows;
  for (let t = 0; t < T; t++) b.row(t === 0 ? bat.initialSocKwh : 0, t === 0 ? bat.initialSocKwh : 0);
  // The end's value, z ≥ m·(s0 − s_T)/η and z ≥ m·(s0 − s_T): rows z + (m/η)·s_T ≥ (m/η)·s0 and
  // z + m·s_T ≥ m·s0.
  const m = i.endGbpPerKwh;
  const eta = bat.roundTripEfficiency;
  const short = b.row((m / eta) * bat.initialSocKwh, INF);
  const over = b.row(m * bat.initialSocKwh, INF);
  const wear = ((bat.degradationGbpPerMwh ?? 0) * h) / 1000;
  for (let t = 0; t < T; t++) {
    const price = ((i.priceGbpPerMwh[t] ?? 0) * h) / 1000;
    b.col(price, 0, bat.maxChargeKw, [soc + t], [-eta * h]);
    b.col(wear - price, 0, bat.maxDischargeKw, [soc + t], [h]);
    const last = t === T - 1;
    b.col(
      0,
      bat.minSocKwh,
      bat.capacityKwh,
      last ? [soc + t, short, over] : [soc + t, soc + t + 1],
      last ? [1, m / eta, m] : [1, -1],
    );
  }
  b.col(1, -INF, INF, [short, over], [1, 1]);
  const out = await solve(b.build(), { timeLimitSeconds });
  return out.status === 'optimal' ? out.objective : undefined;
};
