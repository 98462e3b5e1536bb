// Why a problem has no plan. Called when the class LP — a relaxation — is infeasible, which proves
// that no plan exists; this finds which family of constraints is to blame by re-solving relaxed
// versions: without the carbon cap (then the cap is too tight, and the least carbon any plan can
// emit is reported), without the commitments, or else the site limits themselves, with the
// tightest window where the jobs' energy exceeds what the sites can take.
import type { PlanningProblem } from '../domain/planning.ts';
import { buildClassModel, buildClasses, type ClassModel } from './class-model.ts';
import { INF, type LpModel, type LpSolve } from './lp.ts';
import { importCaps } from './site-rows.ts';
import { mayLeaveUnserved, runEnd } from './soft.ts';
import { capWords } from './carbon-cap.ts';

const withoutCarbonCap = (cm: ClassModel): LpModel => {
  const rowUpper = Float64Array.from(cm.model.rowUpper);
  rowUpper[cm.carbonRow] = INF;
  return { ...cm.model, rowUpper };
};

/** The same model minimising carbon (kg) instead of cost. */
const minimisingCarbon = (cm: ClassModel): LpModel => {
  const m = withoutCarbonCap(cm);
  const colCost = new Float64Array(m.numCols);
  for (let j = 0; j < m.numCols; j++) {
    for (let k = m.starts[j] as number; k < (m.starts[j + 1] as number); k++)
      if (m.indices[k] === cm.carbonRow) colCost[j] = m.values[k] as number;
  }
  return { ...m, colCost };
};

const MAX_SCAN_SLOTS = 2000;

type Worst = { a: number; b: number; over: number; need: number; have: number; sites: readonly string[] };

/**
 * The window [a, b) where the jobs confined to it and to the sites `ids` need the most energy beyond
 * what those sites can take there (a job that may run at a site outside `ids` is not counted).
 */
const worstWindow = (
  p: PlanningProblem,
  ids: ReadonlySet<string>,
  caps: readonly Float64Array[],
): Worst | undefined => {
  const h = p.slotMinutes / 60;
  const room = new Float64Array(p.slots);
  p.sites.forEach((s, i) => {
    if (!ids.has(s.id)) return;
    for (let t = 0; t < p.slots; t++) {
      const discharge = s.battery ? s.battery.maxDischargeKw : 0;
      room[t] =
        (room[t] as number) +
        Math.max(0, Math.min(s.itPowerLimitKw, ((caps[i]![t] as number) + discharge) / s.pue)) * h;
    }
  });
  // need(a, b) = energy of jobs whose window lies inside [a, b): a 2-D suffix/prefix sum over (release, deadline).
  const T = p.slots;
  const inside = new Float64Array((T + 1) * (T + 1));
  // Soft jobs that may wait beyond the horizon never have to fit; other soft jobs run to their latest finish.
  for (const j of p.jobs)
    if (!mayLeaveUnserved(p, j) && j.sites.every((id) => ids.has(id)))
      inside[j.releaseSlot * (T + 1) + runEnd(p, j)]! += j.energyKwh;
  for (let a = T - 1; a >= 0; a--)
    for (let b = 0; b <= T; b++) inside[a * (T + 1) + b]! += inside[(a + 1) * (T + 1) + b] as number;
  for (let a = 0; a <= T; a++)
    for (let b = 1; b <= T; b++) inside[a * (T + 1) + b]! += inside[a * (T + 1) + b - 1] as number;
  let worst: Worst | undefined;
  for (let a = 0; a < T; a++) {
    let have = 0;
    for (let b = a + 1; b <= T; b++) {
      have += room[b - 1] as number;
      const need = inside[a * (T + 1) + b] as number;
      if (need - have > 1e-6 && (!worst || need - have > worst.over))
        worst = { a, b, over: need - have, need, have, sites: [...ids] };
    }
  }
  return worst;
};

/**
 * The tightest window: over every set of sites some job is confined to (and all the sites), the
 * window where the jobs that must run within it at those sites need the most energy beyond what those
 * sites can take. Counting every site's room for jobs that may use only one would hide the shortage.
 */
const tightestWindow = (p: PlanningProblem): string | undefined => {
  // The scan is O(slots²) in time and memory per set of sites: past 2,000 slots (32 MB a set) the
  // reason stays general rather than risk the process.
  if (p.slots > MAX_SCAN_SLOTS) return undefined;
  const caps = importCaps(p);
  const sets = new Map<string, Set<string>>();
  for (const j of p.jobs)
    if (!mayLeaveUnserved(p, j) && j.energyKwh > 0) sets.set([...j.sites].sort().join('\u0000'), new Set(j.sites));
  sets.set('*', new Set(p.sites.map((s) => s.id)));
  let worst: Worst | undefined;
  for (const ids of sets.values()) {
    const w = worstWindow(p, ids, caps);
    if (w && (!worst || w.over > worst.over)) worst = w;
  }
  if (!worst) return undefined;
  const { a, b } = worst;
  const at = new Set(worst.sites);
  const named = p.jobs
    .filter(
      (j) =>
        !mayLeaveUnserved(p, j) &&
        j.sites.every((id) => at.has(id)) &&
        j.releaseSlot >= a &&
        runEnd(p, j) <= b &&
        j.energyKwh > 0,
    )
    .sort((x, y) => y.energyKwh - x.energyKwh);
  const ids = named
    .slice(0, 3)
    .map((j) => j.id)
    .join(', ');
  const where =
    at.size === p.sites.length
      ? 'the sites'
      : `${worst.sites.join(', ')} (the only site${at.size === 1 ? '' : 's'} they may run at)`;
  return `jobs that must run within slots [${a}, ${b}) need ${worst.need.toFixed(1)} kWh of IT energy, but ${where} can take at most ${worst.have.toFixed(1)} kWh there (${named.length} job${named.length === 1 ? '' : 's'} at ${[...new Set(named.flatMap((j) => j.sites))].join(', ')}: ${ids}${named.length > 3 ? ', …' : ''})`;
};

export const explainInfeasible = async (
  p: PlanningProblem,
  cm: ClassModel,
  solve: LpSolve,
  timeLimitSeconds: number,
): Promise<string> => {
  const limit = { timeLimitSeconds };
  if (cm.carbonRow >= 0) {
    const free = await solve(withoutCarbonCap(cm), limit);
    if (free.status === 'optimal' || free.status === 'limit') {
      const least = await solve(minimisingCarbon(cm), limit);
      const least1 = least.status === 'optimal' ? least.objective.toFixed(1) : undefined;
      const kg =
        least1 === undefined
          ? ''
          : p.carbonCapGPerKwh === undefined
            ? ` every plan emits at least ${least1} kg;`
            : ` every plan counts at least ${least1} kg against it;`;
      return `the carbon cap of ${capWords(p)} cannot be met:${kg} raise the cap (carbonCapKg in a problem file or a bpp config; --carbon-cap KG in the demo) or relax deadlines (proved by the class LP relaxation)`;
    }
  }
  if (p.commitments.length > 0) {
    const loose = buildClassModel({ ...p, commitments: [] }, buildClasses(p), 0);
    const m = cm.carbonRow >= 0 ? withoutCarbonCap(loose) : loose.model;
    const out = await solve(m, limit);
    if (out.status === 'optimal' || out.status === 'limit') {
      const list = p.commitments
        .slice(0, 3)
        .map((c) => `${c.site} ≤ ${c.maxImportKw} kW in [${c.fromSlot}, ${c.toSlot})`)
        .join(', ');
      return `the flexibility commitments (${list}${p.commitments.length > 3 ? ', …' : ''}) cannot be kept together with the jobs' deadlines (proved by the class LP relaxation)`;
    }
  }
  const where = tightestWindow(p);
  return `the jobs do not fit the sites' IT power and grid import limits${where ? `: ${where}` : ' within their windows'} (proved by the class LP relaxation)`;
};
