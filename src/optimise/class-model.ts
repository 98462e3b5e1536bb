// The class model: jobs with the same window, allowed sites, preemptibility and run length (bucketed) are one class, and
// one LP plans the classes (IT power per class, site and slot), the batteries, every site and grid
// limit, every commitment and the carbon cap. It is a RELAXATION of the job problem — any job plan
// sums to a feasible class plan — so its optimum (proved through lagrangianBound) is a lower bound
// on the cost of every plan. To keep the LP small at fleet scale, windows may be widened to a grid
// of `granularity` slots (still a relaxation); disaggregation then respects each job's own window.
// The rows it shares with the exact MILP (site limits, battery state of charge, the carbon cap) and
// the columns that fill them are in site-rows.ts.
import type { PlanningProblem } from '../domain/planning.ts';
import { INF, LpBuilder, type LpModel } from './lp.ts';
import { addBatteries, addSiteRows, powerEntries, type SiteRows } from './site-rows.ts';
import { mayLeaveUnserved, runEnd, unservedGbpPerKwh } from './soft.ts';
import { capGPerKwh } from './carbon-cap.ts';
import { moveGbpAtIndex } from './move-cost.ts';

// Defined with the site rows; src/optimise/{planner,local-search,warm}.ts still import it from here.

/**
 * Soft deadlines of a class (soft.ts): energy in slot t ≥ deadlineSlot costs lateGbpPerKwhSlot ×
 * (t − deadlineSlot + 1) per kWh, and energy left beyond the horizon unservedGbpPerKwh (absent: not
 * allowed). Members share the deadline; the rates are the least of the members' (a relaxation).
 */
export interface ClassSlo {
  readonly deadlineSlot: number;
  readonly lateGbpPerKwhSlot: number;
  readonly unservedGbpPerKwh?: number;
}

export interface JobClass {
  /** The class window [releaseSlot, deadlineSlot), covering every member's own window. */
  readonly releaseSlot: number;
  readonly deadlineSlot: number;
  /** Indices into problem.sites. */
  readonly sites: readonly number[];
  readonly preemptible: boolean;
  /** Indices into problem.jobs. */
  readonly jobs: readonly number[];
  readonly energyKwh: number;
  /** Per slot of the class window: Σ maxPowerKw of the members whose own window covers it. */
  readonly capKw: Float64Array;
  /** Soft classes only: the window then runs past the deadline. */
  readonly slo?: ClassSlo;
  /**
   * Parallel to sites, where a member states a move cost (move-cost.ts): £ per kWh the class runs
   * there, the least of its members' move cost ÷ energy (0 at a member's home). A job run whole at a
   * site pays exactly its move cost so; one partly beyond the horizon pays less (a relaxation).
   */
  readonly moveGbpPerKwh?: readonly number[];
}

/** A job's move cost per kWh at site index s (0 at its home): what the LP charges for it there. */
const jobMovePerKwh = (p: PlanningProblem, i: number, s: number): number => {
  const j = p.jobs[i]!;
  return j.energyKwh > 0 ? moveGbpAtIndex(p, j, s) / j.energyKwh : 0;
};

/** The class's move cost per kWh at each of its sites, or undefined when no member states one. */
const classMoveRates = (
  p: PlanningProblem,
  jobs: readonly number[],
  sites: readonly number[],
): number[] | undefined => {
  if (!jobs.some((i) => (p.jobs[i]!.moveCostGbp ?? 0) > 0)) return undefined;
  return sites.map((s) => Math.min(...jobs.map((i) => jobMovePerKwh(p, i, s))));
};

/** Lateness cost (£) of one kWh of the class's energy in slot t. */
export const classLateCost = (c: JobClass, t: number): number =>
  c.slo && t >= c.slo.deadlineSlot ? c.slo.lateGbpPerKwhSlot * (t - c.slo.deadlineSlot + 1) : 0;

/** A job's soft deadline as a class would carry it (granularity g widens the deadline up, a relaxation). */
const jobSlo = (p: PlanningProblem, i: number, g: number): ClassSlo | undefined => {
  const j = p.jobs[i]!;
  if (j.slo?.kind !== 'soft') return undefined;
  return {
    deadlineSlot: Math.ceil(j.deadlineSlot / g) * g,
    lateGbpPerKwhSlot: j.energyKwh > 0 ? (j.slo.lateGbpPerHour * (p.slotMinutes / 60)) / j.energyKwh : 0,
    ...(mayLeaveUnserved(p, j) ? { unservedGbpPerKwh: unservedGbpPerKwh(p, j) } : {}),
  };
};

/** Key part of a soft job: deadline, unserved allowed, and its lateness rate in geometric buckets. */
// Exact classes keep the unserved option exact and rates within 10 %; widened ones (coarse) only the
// deadline and a factor-4 rate bucket, allowing unserved energy if any member may (a relaxation).
const sloKey = (slo: ClassSlo | undefined, exact: boolean): string =>
  slo
    ? `|s${slo.deadlineSlot}|${exact ? (slo.unservedGbpPerKwh === undefined ? 'n' : 'u') : ''}|${slo.lateGbpPerKwhSlot > 0 ? Math.floor(Math.log(slo.lateGbpPerKwhSlot) / Math.log(exact ? 1.1 : 4)) : 'z'}`
    : '';

const lessSlo = (a: ClassSlo | undefined, b: ClassSlo | undefined): ClassSlo | undefined => {
  if (!a || !b) return a ?? b;
  const u = [a.unservedGbpPerKwh, b.unservedGbpPerKwh].filter((x) => x !== undefined);
  return {
    deadlineSlot: a.deadlineSlot,
    lateGbpPerKwhSlot: Math.min(a.lateGbpPerKwhSlot, b.lateGbpPerKwhSlot),
    ...(u.length > 0 ? { unservedGbpPerKwh: Math.min(...u) } : {}),
  };
};

export interface ClassModel {
  readonly model: LpModel;
  readonly classes: readonly JobClass[];
  /** Column of (class c, its k-th site, slot t) = colStart[c] + k × window length + (t − releaseSlot). */
  readonly colStart: Int32Array;
  /** Per site: first column of its battery block (charge[t] = b + 3t, discharge = b + 3t + 1, soc = b + 3t + 2), or −1. */
  readonly batteryCol: Int32Array;
  /** The carbon-cap row, or −1 when the problem has no cap. */
  readonly carbonRow: number;
  readonly rows: SiteRows;
  /** Row bounds of the problem itself (the model's carbon row may have been tightened). */
  readonly trueRowLower: Float64Array;
  readonly trueRowUpper: Float64Array;
}

/**
 * Run length buckets (slots at full power). Members of a class have similar run lengths, so the
 * class's profile — which may fill a few slots at the members' combined power — can be shared in
 * proportion to power and still give each member its energy; with mixed run lengths a long job
 * could not follow a profile concentrated in a few slots.
 */
const RUN_BUCKETS = [1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96];
const runBucket = (runSlots: number): number => RUN_BUCKETS.findIndex((b) => runSlots <= b * (1 + 1e-9));

/** The parts of a job's class key that do not depend on the granularity (computed once per problem). */
interface KeyParts {
  readonly sites: number[];
  readonly head: string;
  readonly run: number;
}
const keyParts = new WeakMap<PlanningProblem, KeyParts[]>();

const partsOf = (p: PlanningProblem): KeyParts[] => {
  const known = keyParts.get(p);
  if (known) return known;
  const siteIndex = new Map(p.sites.map((s, i) => [s.id, i]));
  const h = p.slotMinutes / 60;
  const parts = p.jobs.map((j) => {
    const sites = j.sites.map((s) => siteIndex.get(s) as number).sort((a, b) => a - b);
    // Jobs that pay to leave home are classed by their home: a class of mixed homes could move free.
    const home = (j.moveCostGbp ?? 0) > 0 && j.sites.length > 1 ? `h${siteIndex.get(j.sites[0] as string)}|` : '';
    return {
      sites,
      head: `${sites.join(',')}|${j.preemptible ? 'p' : 'n'}|${home}`,
      run: runBucket(j.energyKwh / (j.maxPowerKw * h)),
    };
  });
  keyParts.set(p, parts);
  return parts;
};

/** A job's class key at a granularity, with its widened window and soft deadline. */
const classKey = (
  p: PlanningProblem,
  parts: readonly KeyParts[],
  i: number,
  granularity: number,
  byRunLength: boolean,
): { key: string; r: number; d: number; sites: number[]; slo: ClassSlo | undefined } => {
  const j = p.jobs[i]!;
  const part = parts[i]!;
  const r = Math.floor(j.releaseSlot / granularity) * granularity;
  const d = Math.min(p.slots, Math.ceil(runEnd(p, j) / granularity) * granularity);
  const slo = jobSlo(p, i, granularity);
  const key = `${r}|${d}|${part.head}${byRunLength ? part.run : ''}${sloKey(slo, byRunLength && granularity === 1)}`;
  return { key, r, d, sites: part.sites, slo };
};

/** Job columns of buildClasses(p, granularity, byRunLength) without building it (no profiles). */
const columnsAt = (p: PlanningProblem, granularity: number, byRunLength: boolean): number => {
  const parts = partsOf(p);
  const seen = new Set<string>();
  let columns = 0;
  p.jobs.forEach((j, i) => {
    if (j.energyKwh <= 0) return;
    const c = classKey(p, parts, i, granularity, byRunLength);
    if (seen.has(c.key)) return;
    seen.add(c.key);
    columns += (c.d - c.r) * c.sites.length;
  });
  return columns;
};

export const buildClasses = (p: PlanningProblem, granularity = 1, byRunLength = true): JobClass[] => {
  const parts = partsOf(p);
  const groups = new Map<
    string,
    { r: number; d: number; sites: number[]; preemptible: boolean; jobs: number[]; slo?: ClassSlo }
  >();
  p.jobs.forEach((j, i) => {
    if (j.energyKwh <= 0) return;
    const { key, r, d, sites, slo } = classKey(p, parts, i, granularity, byRunLength);
    const g = groups.get(key);
    if (g) {
      g.jobs.push(i);
      const less = lessSlo(g.slo, slo);
      if (less) g.slo = less;
    } else groups.set(key, { r, d, sites, preemptible: j.preemptible, jobs: [i], ...(slo ? { slo } : {}) });
  });
  return [...groups.values()].map((g) => {
    const capKw = new Float64Array(g.d - g.r);
    let energyKwh = 0;
    for (const i of g.jobs) {
      const j = p.jobs[i]!;
      energyKwh += j.energyKwh;
      for (let t = j.releaseSlot; t < runEnd(p, j); t++) capKw[t - g.r] = (capKw[t - g.r] as number) + j.maxPowerKw;
    }
    const moves = classMoveRates(p, g.jobs, g.sites);
    return {
      releaseSlot: g.r,
      deadlineSlot: g.d,
      sites: g.sites,
      preemptible: g.preemptible,
      jobs: g.jobs,
      energyKwh,
      capKw,
      ...(g.slo ? { slo: g.slo } : {}),
      ...(moves ? { moveGbpPerKwh: moves } : {}),
    };
  });
};

/** One class per job: the tightest relaxation for bound.ts (each job capped at its own power). */
export const jobClasses = (p: PlanningProblem): JobClass[] => {
  const siteIndex = new Map(p.sites.map((s, i) => [s.id, i]));
  return p.jobs.flatMap((j, i) => {
    if (j.energyKwh <= 0) return [];
    const slo = jobSlo(p, i, 1);
    const sites = j.sites.map((id) => siteIndex.get(id) as number);
    const moves = classMoveRates(p, [i], sites);
    return [
      {
        releaseSlot: j.releaseSlot,
        deadlineSlot: runEnd(p, j),
        sites,
        preemptible: j.preemptible,
        jobs: [i],
        energyKwh: j.energyKwh,
        capKw: new Float64Array(runEnd(p, j) - j.releaseSlot).fill(j.maxPowerKw),
        ...(slo ? { slo } : {}),
        ...(moves ? { moveGbpPerKwh: moves } : {}),
      },
    ];
  });
};

export const classColumns = (classes: readonly JobClass[]): number =>
  classes.reduce((a, c) => a + (c.deadlineSlot - c.releaseSlot) * c.sites.length, 0);

/**
 * The classes to plan with. Exact classes (own windows, run-length buckets) when their LP has at most
 * `maxColumns` job columns; otherwise windows widened to the finest grid that fits, without run
 * buckets — a smaller relaxation whose duals still price carbon and prove a bound over the exact
 * classes (bound.ts).
 */
export const chooseClasses = (p: PlanningProblem, maxColumns: number): { granularity: number; classes: JobClass[] } => {
  // Columns are counted first and only the classes chosen are built (at 10k jobs, building every
  // candidate took most of a second).
  if (columnsAt(p, 1, true) <= maxColumns) return { granularity: 1, classes: buildClasses(p, 1, true) };
  let granularity = 1;
  for (const g of [2, 3, 4, 6, 8, 12, 16, 24, 48]) {
    if (columnsAt(p, granularity, false) <= maxColumns || g >= p.slots) break;
    granularity = g;
  }
  return { granularity, classes: buildClasses(p, granularity, false) };
};

/**
 * What a kWh of IT energy at each site and slot costs beyond its price, by the LP's row duals:
 * congestion of the IT and import limits, and the carbon cap's shadow price (d = c − Σ yᵢ·aᵢⱼ).
 */
export const shadowCosts = (p: PlanningProblem, cm: ClassModel, rowDual: Float64Array): Float64Array[] => {
  const h = p.slotMinutes / 60;
  const carbonDual = cm.carbonRow >= 0 ? (rowDual[cm.carbonRow] ?? 0) : 0;
  return p.sites.map((site, s) => {
    const out = new Float64Array(p.slots);
    for (let t = 0; t < p.slots; t++) {
      const kg = (capGPerKwh(p, site, t) * h * site.pue) / 1000;
      const imp = (cm.rows.importRow[s] as number) >= 0 ? (rowDual[(cm.rows.importRow[s] as number) + t] ?? 0) : 0;
      out[t] = -((rowDual[cm.rows.itFirst + s * p.slots + t] ?? 0) + site.pue * imp + kg * carbonDual) / h;
    }
    return out;
  });
};

/**
 * Builds the class LP. `carbonTightening` (0–1) lowers the cap in the model only, leaving room for
 * disaggregation. `elastic` adds penalised slack — energy a class leaves unserved, carbon over the
 * cap — so the model always has a solution; used only where a relaxation is not needed (stage 2).
 */
export const buildClassModel = (
  p: PlanningProblem,
  classes: readonly JobClass[],
  carbonTightening = 0,
  elastic = false,
): ClassModel => {
  const h = p.slotMinutes / 60;
  const b = new LpBuilder();
  classes.forEach((c) => b.row(c.energyKwh, c.energyKwh));
  const rows = addSiteRows(p, b, carbonTightening);
  const colStart = new Int32Array(classes.length);
  classes.forEach((c, ci) => {
    colStart[ci] = b.numCols;
    c.sites.forEach((s, k) => {
      const move = c.moveGbpPerKwh?.[k] ?? 0;
      for (let t = c.releaseSlot; t < c.deadlineSlot; t++) {
        const e = powerEntries(p, rows, s, [t], [1], [ci], [h]);
        const cost = e.cost + (classLateCost(c, t) + move) * h;
        b.col(cost, 0, Math.min(c.capKw[t - c.releaseSlot] as number, p.sites[s]!.itPowerLimitKw), e.rows, e.coefs);
      }
    });
  });
  // Soft classes: energy left beyond the horizon (kWh), at its cost.
  classes.forEach((c, ci) => {
    if (c.slo?.unservedGbpPerKwh !== undefined) b.col(c.slo.unservedGbpPerKwh, 0, c.energyKwh, [ci], [1]);
  });
  if (elastic) {
    // Dearer than any slot, so slack is used only where nothing else fits.
    const dearest = Math.max(1, ...p.sites.flatMap((s) => s.priceGbpPerMwh.map((x) => (Math.abs(x) * s.pue) / 1000)));
    classes.forEach((_, ci) => b.col(100 * dearest, 0, INF, [ci], [1]));
    if (rows.carbonRow >= 0) b.col(100 * dearest * 10, 0, INF, [rows.carbonRow], [-1]);
  }
  const batteryCol = addBatteries(p, b, rows);
  const model = b.build();
  const trueRowUpper = Float64Array.from(model.rowUpper);
  if (rows.carbonRow >= 0) trueRowUpper[rows.carbonRow] = p.carbonCapKg as number;
  return {
    model,
    classes,
    colStart,
    batteryCol,
    carbonRow: rows.carbonRow,
    rows,
    trueRowLower: model.rowLower,
    trueRowUpper,
  };
};
