// `flexlon offers`: the flexibility curve of a site in a window — for each reduction level (kW below
// the current plan's import in every slot of the window), the opportunity cost of re-planning with
// that commitment. The largest level printed is one the planner actually delivered.
import { createPlanningSolver } from '../compose/index.ts';
import { FlexError } from '../errors.ts';
import type { PlanningProblem } from '../domain/planning.ts';
import { flexibilityCurve } from '../optimise/offers.ts';
import { parseFlags, type Command } from './command.ts';
import { windowLabel } from './demo-events.ts';
import { readProblem } from './planning-files.ts';

const USAGE = `Usage: flexlon offers --problem P.json --site ID --from-slot A --to-slot B [--levels N] [--json] [--time-limit SECONDS]

Prints the flexibility curve of a site in slots [A, B): for each reduction level, in kW below the
current plan's grid import in every slot of the window, the opportunity cost (£ and £/MWh of
reduction) found by re-planning with "import ≤ planned − reduction" as a commitment. The largest
level is the largest reduction the planner could deliver (never more).

Options:
  --problem P.json        the planning problem (docs/planning-problem.md)
  --site ID               the site to reduce
  --from-slot A           first slot of the window
  --to-slot B             end of the window (exclusive)
  --levels N              how many levels (default 5)
  --json                  print the curve as JSON
  --time-limit SECONDS    solver budget per re-plan (default 30)`;

const int = (raw: string | undefined, flag: string, lo: number, hi: number): number => {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n < lo || n > hi)
    throw new FlexError(
      'FLX_CLI_USAGE',
      `${flag}: must be a whole number from ${lo} to ${hi}, got ${raw === undefined ? 'nothing' : `"${raw}"`}`,
    );
  return n;
};

/** A problem's slots [from, to) as clock time: UTC, the settlement periods and UK time in summer. */
const windowOf = (problem: PlanningProblem, from: number, to: number): string => {
  const start = Date.parse(problem.start);
  const slot = problem.slotMinutes * 60_000;
  return windowLabel(start + from * slot, start + to * slot);
};

export const offersCommand: Command = {
  name: 'offers',
  summary: "print a site's flexibility curve: reduction → opportunity cost",
  usage: USAGE,
  async run(argv, io) {
    const { values } = parseFlags(
      argv,
      {
        problem: { type: 'string' },
        site: { type: 'string' },
        'from-slot': { type: 'string' },
        'to-slot': { type: 'string' },
        levels: { type: 'string' },
        json: { type: 'boolean' },
        'time-limit': { type: 'string' },
      },
      USAGE,
    );
    if (!values.problem || !values.site)
      throw new FlexError('FLX_CLI_USAGE', `offers needs --problem, --site, --from-slot and --to-slot\n\n${USAGE}`);
    const problem = readProblem(values.problem);
    if (!problem.sites.some((s) => s.id === values.site))
      throw new FlexError(
        'FLX_CLI_USAGE',
        `--site: no site "${values.site}" in the problem (sites: ${problem.sites.map((s) => s.id).join(', ')})`,
      );
    const from = int(values['from-slot'], '--from-slot', 0, problem.slots - 1);
    const to = int(values['to-slot'], '--to-slot', from + 1, problem.slots);
    const levels = values.levels === undefined ? 5 : int(values.levels, '--levels', 1, 50);
    const timeLimitSeconds = values['time-limit'] === undefined ? 30 : Number(values['time-limit']);
    if (!(timeLimitSeconds > 0))
      throw new FlexError(
        'FLX_CLI_USAGE',
        `--time-limit: must be a positive number of seconds, got "${values['time-limit']}"`,
      );
    const solver = createPlanningSolver({ timeLimitSeconds });
    try {
      // Each level re-planned from the base plan, as the BPP prices its offers (src/optimise/warm.ts).
      const curve = await flexibilityCurve((p) => solver.plan(p), problem, values.site, from, to, levels, undefined, {
        planFrom: (p, base) => solver.planFrom(p, base),
      });
      if ('infeasible' in curve) {
        io.err(`no flexibility: ${curve.infeasible}`);
        return 1;
      }
      if (values.json) {
        io.out(JSON.stringify(curve, null, 1));
        return 0;
      }
      const kw = (xs: readonly number[]) => xs.map((x) => x.toFixed(1)).join(' ');
      io.out(
        `site ${curve.site}, slots [${curve.fromSlot}, ${curve.toSlot}) = ${windowOf(problem, curve.fromSlot, curve.toSlot)}; planned import ${kw(curve.plannedKw)} kW; plan cost £${curve.baseCostGbp.toFixed(2)}`,
      );
      if (curve.points.length === 0) {
        io.out('no reduction is deliverable in this window');
        return 0;
      }
      io.out(
        `${'reduction kW'.padStart(13)} ${'opportunity £'.padStart(14)} ${'£/MWh'.padStart(10)}   import ceiling per slot (kW)`,
      );
      for (const p of curve.points) {
        io.out(
          `${p.reductionKw.toFixed(1).padStart(13)} ${p.opportunityCostGbp.toFixed(2).padStart(14)} ${p.opportunityCostGbpPerMwh.toFixed(2).padStart(10)}   ${kw(p.maxImportKw)}`,
        );
      }
      io.out(
        `largest deliverable reduction: ${(curve.points.at(-1)?.reductionKw ?? 0).toFixed(1)} kW in every slot of the window`,
      );
      return 0;
    } finally {
      await solver.close();
    }
  },
};
