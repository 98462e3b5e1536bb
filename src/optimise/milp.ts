// The exact job-level MILP, for small problems (and as the reference the tests compare against).
// A preemptible job has IT power per allowed site and slot (continuous), with one binary per site
// when it may run at several (Σ_t h·x[s,t] ≤ energy·y_s, Σ_s y_s = 1). A non-preemptible job has
// one binary per (site, start slot): its run is full power for k−1 slots and the remainder in the
// last, which is exactly what the format allows. A job's move cost is on the binaries of the sites
// other than its home, so the MILP prices it exactly. Site rows, batteries and the carbon cap are the
// class model's (site-rows.ts). The solution is decoded to jobs and the batteries re-planned by
// battery-model.ts, so tolerance noise in the MILP answer never reaches the schedule.
import type { PlanningProblem, Schedule } from '../domain/planning.ts';
import type { Draft } from './disaggregate.ts';
import { runProfile } from './disaggregate.ts';
import { LpBuilder, type LpModel } from './lp.ts';
import { addBatteries, addSiteRows, powerEntries } from './site-rows.ts';
import { moveGbpAtIndex } from './move-cost.ts';
import { lateGbpPerKwh, mayLeaveUnserved, runEnd, unservedGbpPerKwh } from './soft.ts';

interface JobCols {
  /** Per allowed site (index into problem.sites): the first column and how many. */
  readonly blocks: { readonly site: number; readonly first: number; readonly count: number; readonly from: number }[];
  /** Site-choice binaries of a multi-site preemptible job, parallel to blocks. */
  readonly choice?: number[];
  /**
   * A soft job that may wait beyond the horizon: its unserved energy (kWh, preemptible) or the
   * binary "it waits whole" (non-preemptible).
   */
  readonly unserved?: number;
}

/**
 * Starts of a non-preemptible job's run: every run that fits before its end, and for a job that may
 * wait beyond the horizon also the runs cut off by the horizon's end (full power to the last slot,
 * the rest unserved), as the format allows.
 */
const runStarts = (p: PlanningProblem, j: PlanningProblem['jobs'][number], k: number): number => {
  const end = runEnd(p, j);
  return mayLeaveUnserved(p, j) ? Math.max(0, p.slots - j.releaseSlot) : Math.max(0, end - k - j.releaseSlot + 1);
};

export interface ExactModel {
  readonly model: LpModel;
  readonly binaries: number;
  readonly jobs: readonly JobCols[];
  readonly batteryCol: Int32Array;
}

/** Counts the binaries the exact model would have, without building it. */
export const exactBinaries = (p: PlanningProblem): number => {
  const h = p.slotMinutes / 60;
  let n = 0;
  for (const j of p.jobs) {
    if (j.energyKwh <= 0) continue;
    if (j.preemptible) {
      if (j.sites.length > 1) n += j.sites.length;
      continue;
    }
    const k = runProfile(j.energyKwh, j.maxPowerKw, h).length;
    const starts = runStarts(p, j, k);
    const wait = mayLeaveUnserved(p, j) ? 1 : 0;
    if (starts + wait > 1 || j.sites.length > 1) n += starts * j.sites.length + wait;
  }
  return n;
};

export const buildExactModel = (p: PlanningProblem): ExactModel => {
  const h = p.slotMinutes / 60;
  const b = new LpBuilder();
  const siteIndex = new Map(p.sites.map((s, i) => [s.id, i]));
  const jobRow = p.jobs.map((j) =>
    b.row(
      j.energyKwh > 0 ? (j.preemptible ? j.energyKwh : 1) : 0,
      j.energyKwh > 0 ? (j.preemptible ? j.energyKwh : 1) : 0,
    ),
  );
  const rows = addSiteRows(p, b, 0);
  let binaries = 0;
  const jobs = p.jobs.map((j, i): JobCols => {
    const sites = j.sites.map((id) => siteIndex.get(id) as number);
    const end = runEnd(p, j);
    if (j.energyKwh <= 0) return { blocks: [] };
    // Soft jobs: each kW in a slot past the deadline also pays its lateness (soft.ts).
    const late = (t: number): number => lateGbpPerKwh(p, j, t) * h;
    if (j.preemptible) {
      const multi = sites.length > 1;
      const link = multi ? sites.map(() => b.row(Number.NEGATIVE_INFINITY, 0)) : [];
      const blocks = sites.map((s, k) => {
        const first = b.numCols;
        for (let t = j.releaseSlot; t < end; t++) {
          const e = powerEntries(
            p,
            rows,
            s,
            [t],
            [1],
            multi ? [jobRow[i]!, link[k]!] : [jobRow[i]!],
            multi ? [h, h] : [h],
          );
          b.col(e.cost + late(t), 0, j.maxPowerKw, e.rows, e.coefs);
        }
        return { site: s, first, count: end - j.releaseSlot, from: j.releaseSlot };
      });
      const unserved = mayLeaveUnserved(p, j)
        ? { unserved: b.col(unservedGbpPerKwh(p, j), 0, j.energyKwh, [jobRow[i]!], [1]) }
        : {};
      if (!multi) return { blocks, ...unserved };
      const assign = b.row(1, 1);
      binaries += sites.length;
      return {
        blocks,
        ...unserved,
        // A site but the home pays the job's move cost (move-cost.ts) on its choice binary.
        choice: sites.map((s, k) => b.col(moveGbpAtIndex(p, j, s), 0, 1, [assign, link[k]!], [1, -j.energyKwh], true)),
      };
    }
    const run = runProfile(j.energyKwh, j.maxPowerKw, h);
    const waits = mayLeaveUnserved(p, j);
    const choices = sites.length * runStarts(p, j, run.length) + (waits ? 1 : 0);
    const blocks = sites.map((s) => {
      const first = b.numCols;
      const count = runStarts(p, j, run.length);
      for (let st = j.releaseSlot; st < j.releaseSlot + count; st++) {
        // A run cut off by the horizon's end leaves the rest unserved.
        const kw = run.slice(0, Math.min(run.length, p.slots - st));
        const slots = kw.map((_, k) => st + k);
        const e = powerEntries(p, rows, s, slots, kw, [jobRow[i]!], [1]);
        const placed = kw.reduce((a, x) => a + x * h, 0);
        const extra =
          slots.reduce((a, t, k) => a + late(t) * (kw[k] as number), 0) +
          (kw.length < run.length ? (j.energyKwh - placed) * unservedGbpPerKwh(p, j) : 0);
        // A job with a single possible run needs no binary: its row fixes the column at 1.
        b.col(e.cost + extra + moveGbpAtIndex(p, j, s), 0, 1, e.rows, e.coefs, choices > 1);
        if (choices > 1) binaries++;
      }
      return { site: s, first, count, from: j.releaseSlot };
    });
    if (!waits) return { blocks };
    if (choices > 1) binaries++;
    return {
      blocks,
      unserved: b.col(j.energyKwh * unservedGbpPerKwh(p, j), 0, 1, [jobRow[i]!], [1], choices > 1),
    };
  });
  const batteryCol = addBatteries(p, b, rows);
  return { model: b.build(), binaries, jobs, batteryCol };
};

/** Reads the job plan out of a MILP solution: binaries rounded, energy made exact. */
export const decodeExact = (p: PlanningProblem, em: ExactModel, x: Float64Array): Draft => {
  const h = p.slotMinutes / 60;
  const n = p.jobs.length;
  const d: Draft = {
    site: new Int32Array(n).fill(-1),
    power: new Array<Float64Array | undefined>(n),
    deficitKwh: new Float64Array(n),
  };
  p.jobs.forEach((j, i) => {
    const cols = em.jobs[i]!;
    const power = new Float64Array(p.slots);
    if (cols.blocks.length === 0) {
      d.site[i] = p.sites.findIndex((s) => s.id === j.sites[0]);
      d.power[i] = power;
      return;
    }
    if (j.preemptible) {
      const energy = cols.blocks.map((bl) => {
        let e = 0;
        for (let k = 0; k < bl.count; k++) e += Math.max(0, x[bl.first + k] ?? 0);
        return e;
      });
      const k = energy.indexOf(Math.max(...energy));
      const bl = cols.blocks[k]!;
      const total = (energy[k] as number) * h;
      // Energy the job leaves beyond the horizon is not placed (tiny amounts are solver noise).
      const u = cols.unserved === undefined ? 0 : Math.max(0, x[cols.unserved] ?? 0);
      const target = u > 1e-6 * Math.max(1, j.energyKwh) ? Math.max(0, j.energyKwh - u) : j.energyKwh;
      for (let c = 0; c < bl.count; c++)
        power[bl.from + c] = Math.min(
          j.maxPowerKw,
          Math.max(0, x[bl.first + c] ?? 0) * (total > 0 ? target / total : 0),
        );
      d.site[i] = bl.site;
      d.power[i] = power;
      d.deficitKwh[i] = Math.max(0, j.energyKwh - power.reduce((a, v) => a + v * h, 0));
      return;
    }
    let best = { v: -1, site: -1, start: -1 };
    for (const bl of cols.blocks)
      for (let c = 0; c < bl.count; c++)
        if ((x[bl.first + c] ?? 0) > best.v) best = { v: x[bl.first + c] ?? 0, site: bl.site, start: bl.from + c };
    if (cols.unserved !== undefined && (x[cols.unserved] ?? 0) > best.v) {
      // It waits whole beyond the horizon.
      d.site[i] = cols.blocks[0]!.site;
      d.power[i] = power;
      d.deficitKwh[i] = j.energyKwh;
      return;
    }
    if (best.site < 0) {
      d.deficitKwh[i] = j.energyKwh;
      return;
    }
    runProfile(j.energyKwh, j.maxPowerKw, h).forEach((kw, k) => {
      if (best.start + k < p.slots) power[best.start + k] = kw;
    });
    d.site[i] = best.site;
    d.power[i] = power;
    d.deficitKwh[i] = Math.max(0, j.energyKwh - power.reduce((a, v) => a + v * h, 0));
  });
  return d;
};

/** A MIP start from a checked schedule: job columns from its powers, batteries from its flows. */
export const encodeExact = (p: PlanningProblem, em: ExactModel, s: Schedule): Float64Array => {
  const x = new Float64Array(em.model.numCols);
  const bySite = new Map(p.sites.map((site, i) => [site.id, i]));
  const byJob = new Map(s.jobs.map((j) => [j.id, j]));
  p.jobs.forEach((j, i) => {
    const plan = byJob.get(j.id);
    const cols = em.jobs[i]!;
    if (!plan) return;
    const site = bySite.get(plan.site);
    cols.blocks.forEach((bl, k) => {
      if (bl.site !== site) return;
      if (j.preemptible) {
        for (let c = 0; c < bl.count; c++) x[bl.first + c] = plan.powerKw[bl.from + c] ?? 0;
        if (cols.choice) x[cols.choice[k]!] = 1;
      } else {
        const start = plan.powerKw.findIndex((v) => v > 1e-9);
        if (start >= bl.from && start - bl.from < bl.count) x[bl.first + start - bl.from] = 1;
      }
    });
    if (cols.unserved !== undefined) {
      const placed = plan.powerKw.reduce((a, v) => a + v * (p.slotMinutes / 60), 0);
      if (j.preemptible) x[cols.unserved] = Math.max(0, j.energyKwh - placed);
      else if (!plan.powerKw.some((v) => v > 1e-9)) x[cols.unserved] = 1;
    }
  });
  const h = p.slotMinutes / 60;
  p.sites.forEach((site, si) => {
    const first = em.batteryCol[si] as number;
    const plan = s.batteries.find((b) => b.site === site.id);
    if (first < 0 || !site.battery) return;
    let soc = site.battery.initialSocKwh;
    for (let t = 0; t < p.slots; t++) {
      const c = plan?.chargeKw[t] ?? 0;
      const dch = plan?.dischargeKw[t] ?? 0;
      soc += c * h * site.battery.roundTripEfficiency - dch * h;
      x[first + 3 * t] = c;
      x[first + 3 * t + 1] = dch;
      x[first + 3 * t + 2] = soc;
    }
  });
  return x;
};
