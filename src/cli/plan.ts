// `flexlon plan`: plans a problem file into a schedule file; `flexlon plan check` verifies any
// schedule against its problem, independently of how it was made (docs/planning-problem.md).
import { createPlanningSolver } from '../compose/index.ts';
import type { LateJob, PlanningProblem, Schedule } from '../domain/planning.ts';
import { FlexError } from '../errors.ts';
import { checkSchedule } from '../optimise/check.ts';
import { parseFlags, type Command, type Output } from './command.ts';
import { money } from './demo-events.ts';
import { readProblem, readSchedule, writeJson } from './planning-files.ts';
import { capWords, itImportKwh } from '../optimise/carbon-cap.ts';
import { unservedSurcharge } from '../optimise/soft.ts';

const PLAN_USAGE = `Usage: flexlon plan --problem P.json [--out S.json] [--time-limit SECONDS]
       flexlon plan check --problem P.json --schedule S.json

Plans the jobs of a planning problem (docs/planning-problem.md) at least cost under its carbon cap,
site limits and commitments, and writes the schedule (version 1, or 2 for a version 2 problem). Jobs
with soft deadlines (version 2) may finish late or wait beyond the horizon at their lateness cost; the
plan minimises energy + lateness cost and lists the late jobs. Every plan is checked against the
problem before it is written. Exit 0 with a plan; 1 when the problem has none (the schedule file then
says why) or a file cannot be read or is not a valid problem (FLX_PROBLEM_INVALID, naming each field);
2 for a usage error.

Options:
  --problem P.json        the planning problem (required)
  --out S.json            where to write the schedule; without it the schedule goes to stdout
  --time-limit SECONDS    solver budget (default 30)

plan check verifies a schedule against its problem (every constraint, with a tolerance), prints its
cost and carbon, and exits 1 naming every violation.`;

/** The carbon line: kg, and against the cap; with an intensity cap, the plan's own g per kWh imported for IT beside it. */
const carbonLine = (p: PlanningProblem, kg: number, importKwh: number, digits: number): string => {
  if (p.carbonCapKg === undefined) return `carbon      ${kg.toFixed(digits)} kg`;
  if (p.carbonCapGPerKwh === undefined) return `carbon      ${kg.toFixed(digits)} kg of a ${p.carbonCapKg} kg cap`;
  const g = importKwh > 0 ? ((kg / importKwh) * 1000).toFixed(1) : '0.0';
  return `carbon      ${kg.toFixed(digits)} kg, ${g} g per kWh imported for IT (${importKwh.toFixed(1)} kWh), against a cap of ${capWords(p)}`;
};

export const summary = (p: PlanningProblem, s: Schedule, seconds?: number): string[] => {
  if (s.status === 'infeasible')
    return [`status      infeasible: ${s.reason ?? 'no reason given'}`, `planner     ${s.planner ?? '?'}`];
  const gap = s.costGbp > 0 ? ((s.costGbp - s.lowerBoundGbp) / s.costGbp) * 100 : 0;
  const lines = [
    `status      ${s.status}${seconds === undefined ? '' : ` in ${seconds.toFixed(2)} s`} (${p.jobs.length} jobs, ${p.sites.length} sites, ${p.slots} slots)`,
    `cost        ${money(s.costGbp)}  (proven lower bound ${money(s.lowerBoundGbp)}, gap ≤ ${gap.toFixed(3)} %)`,
    carbonLine(p, s.carbonKg, itImportKwh(p, s), 1),
  ];
  if (s.version === 2) lines.push(...lateLines(p, s.energyCostGbp ?? 0, s.late ?? []));
  if ((s.moveCostGbp ?? 0) > 0)
    lines.push(`moves       ${money(s.moveCostGbp ?? 0)}: jobs run away from their home site`);
  if ((s.batteryWearGbp ?? 0) > 0) lines.push(`battery     ${money(s.batteryWearGbp ?? 0)} of wear`);
  if (s.gbpPerUnitOfWork !== undefined) {
    // The work whose energy waits beyond the horizon: its energy is in the cost (bought later, at the
    // unserved price), its carbon in neither the kg nor the divisor (withWorkMetrics).
    const work = s.work ?? 0;
    const waiting = work - (s.workDone ?? work);
    const asked = `£${s.gbpPerUnitOfWork.toPrecision(4)} per unit of work asked for (${work} units; ${waiting.toFixed(2)} of them wait beyond the horizon, their energy in the £ at the unserved price)`;
    lines.push(
      waiting <= 0.005
        ? `per work    £${s.gbpPerUnitOfWork.toPrecision(4)} and ${(s.gCo2PerUnitOfWork ?? 0).toPrecision(4)} gCO2 per unit of work (${work} units)`
        : s.gCo2PerUnitOfWork === undefined
          ? `per work    ${asked}; no gCO2 per unit of work, since none runs within the horizon`
          : `per work    ${asked}; ${s.gCo2PerUnitOfWork.toPrecision(4)} gCO2 per unit of work run within the horizon (${(work - waiting).toFixed(2)} units; the waiting work's carbon is not known yet)`,
    );
  }
  lines.push(`planner     ${s.planner ?? '?'}`);
  return lines;
};

const LATE_SHOWN = 10;

const lateLine = (l: LateJob): string =>
  l.finishSlot === null
    ? `  ${l.id}: deadline slot ${l.deadlineSlot}, unfinished: ${l.unservedKwh.toFixed(1)} kWh beyond the horizon (${l.lateSlots > 0 ? `≥ ${l.lateSlots} slots late` : 'late once past it'}), ${money(l.costGbp)}`
    : `  ${l.id}: deadline slot ${l.deadlineSlot}, finishes at slot ${l.finishSlot} (${l.lateSlots} slots late), ${money(l.costGbp)}`;

/**
 * The cost split and the late jobs, dearest first (version 2). A late job's cost holds, for energy it
 * leaves beyond the horizon, that energy bought later at the unserved price (soft.ts): said apart, so
 * an energy engineer does not read it all as an SLO penalty.
 */
const lateLines = (p: PlanningProblem, energyGbp: number, late: readonly LateJob[]): string[] => {
  const lateness = late.reduce((a, l) => a + l.costGbp, 0);
  const jobs = new Map(p.jobs.map((j) => [j.id, j]));
  const later = late.reduce((a, l) => {
    const j = jobs.get(l.id);
    // The price of buying it later (the surcharge), not the lateness charged on it as well.
    return a + (j ? l.unservedKwh * unservedSurcharge(p, j) : 0);
  }, 0);
  const lines = [
    `energy      ${money(energyGbp)}`,
    late.length === 0
      ? 'late        none: every job meets its deadline'
      : `late        ${late.length} job${late.length === 1 ? '' : 's'} late or unfinished, lateness ${money(lateness)}${
          later > 0.005
            ? ` (of which ${money(later)} is the energy they leave beyond the horizon, bought later at the unserved price; ${money(lateness - later)} the delay itself)`
            : ''
        }:`,
  ];
  lines.push(...late.slice(0, LATE_SHOWN).map(lateLine));
  if (late.length > LATE_SHOWN)
    lines.push(`  … and ${late.length - LATE_SHOWN} more (the schedule's "late" list has them all)`);
  return lines;
};

const check = (argv: readonly string[], io: Output): number => {
  const { values } = parseFlags(argv, { problem: { type: 'string' }, schedule: { type: 'string' } }, PLAN_USAGE);
  if (!values.problem || !values.schedule)
    throw new FlexError('FLX_CLI_USAGE', `plan check needs --problem and --schedule\n\n${PLAN_USAGE}`);
  const problem = readProblem(values.problem);
  const schedule = readSchedule(values.schedule);
  const verdict = checkSchedule(problem, schedule);
  io.out(`cost        ${money(verdict.costGbp)} (recomputed; the schedule says ${money(schedule.costGbp)})`);
  io.out(carbonLine(problem, verdict.carbonKg, itImportKwh(problem, schedule), 3));
  if (problem.version === 2) for (const line of lateLines(problem, verdict.energyCostGbp, verdict.late)) io.out(line);
  if (verdict.ok) {
    io.out('check       ok: the schedule meets every constraint of the problem');
    return 0;
  }
  for (const v of verdict.violations.slice(0, 50)) io.err(`  violation: ${v}`);
  if (verdict.violations.length > 50) io.err(`  … and ${verdict.violations.length - 50} more`);
  throw new FlexError(
    'FLX_PLAN_CHECK_FAILED',
    `${verdict.violations.length} violation${verdict.violations.length === 1 ? '' : 's'}, first: ${verdict.violations[0] ?? ''}`,
  );
};

const parseSeconds = (raw: string | undefined): number => {
  if (raw === undefined) return 30;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400)
    throw new FlexError(
      'FLX_CLI_USAGE',
      `--time-limit: must be a number of seconds above 0 and at most 86400, got "${raw}"`,
    );
  return n;
};

const plan = async (argv: readonly string[], io: Output): Promise<number> => {
  const { values } = parseFlags(
    argv,
    { problem: { type: 'string' }, out: { type: 'string' }, 'time-limit': { type: 'string' } },
    PLAN_USAGE,
  );
  if (!values.problem) throw new FlexError('FLX_CLI_USAGE', `plan needs --problem\n\n${PLAN_USAGE}`);
  const timeLimitSeconds = parseSeconds(values['time-limit']);
  const problem = readProblem(values.problem);
  const solver = createPlanningSolver({ timeLimitSeconds });
  try {
    const started = performance.now();
    const schedule = await solver.plan(problem);
    const seconds = (performance.now() - started) / 1000;
    // The planner checks its own output; this second check is what the user's file is judged by.
    if (schedule.status !== 'infeasible') {
      const verdict = checkSchedule(problem, schedule);
      if (!verdict.ok)
        throw new FlexError('FLX_INTERNAL', `the plan fails its check: ${verdict.violations.slice(0, 3).join('; ')}`);
    }
    const report = values.out ? io.out : io.err;
    if (values.out) writeJson(values.out, schedule);
    else io.out(JSON.stringify(schedule));
    for (const line of summary(problem, schedule, seconds)) report(line);
    if (values.out) report(`schedule    ${values.out}`);
    return schedule.status === 'infeasible' ? 1 : 0;
  } finally {
    await solver.close();
  }
};

export const planCommand: Command = {
  name: 'plan',
  summary: 'plan a problem file into a schedule; `plan check` verifies a schedule',
  usage: PLAN_USAGE,
  run: async (argv, io) => (argv[0] === 'check' ? check(argv.slice(1), io) : plan(argv, io)),
};
