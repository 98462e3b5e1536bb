// The proven lower bound on the objective (bound.ts) as the outputs give it: results.json's `bound`,
// with the share of fifo's distance to it each strategy closed, and its paragraph in report.html.
import { CHUNK_MAX_JOBS, chunkDaysFor } from './bound.ts';
import type { StrategySummary } from './metrics.ts';
import type { RunOutput } from './run.ts';
import { esc } from './svg.ts';
import { fmt, pct } from './report-format.ts';

/**
 * The proven lower bound on the objective (bound.ts) and, per strategy that finished every job, the
 * share of fifo's distance to it that the strategy closed: (fifo − strategy) / (fifo − bound).
 */
export const boundOf = (out: RunOutput, summary: Record<string, StrategySummary>) => {
  const b = out.bound;
  if (b.objectiveGbp === null) return { objectiveGbp: null, reason: b.reason };
  const fifo = summary.fifo?.objectiveGbp;
  const gap = fifo === undefined ? undefined : fifo - b.objectiveGbp;
  return {
    objectiveGbp: b.objectiveGbp,
    sites: b.sites,
    shareOfGapClosed: Object.fromEntries(
      Object.entries(summary).map(([n, s]) => [
        n,
        gap === undefined || !(gap > 1e-9) || s.slo.jobsOpenAtEnd > 0
          ? null
          : (gap - (s.objectiveGbp - b.objectiveGbp)) / gap,
      ]),
    ),
  };
};

/** The bound's battery part, per battery site, in words (none without a battery site). */
const batteryBoundText = (sites: readonly { site: string; batteryGbp?: number }[]): string => {
  const parts = sites.flatMap((x) =>
    x.batteryGbp === undefined ? [] : [`${esc(x.site)}'s battery at most £${fmt(-x.batteryGbp)} off the bill`],
  );
  return parts.length
    ? `; plus, for ${parts.join(', ')}: one LP of the battery alone over the run, without its ties to the site`
    : '';
};

export const boundHtml = (b: ReturnType<typeof boundOf>, moves: boolean): string =>
  b.objectiveGbp === null
    ? `<p>Proven lower bound on the objective: not computed (${esc(b.reason)}).</p>`
    : `<p>Proven lower bound on the objective (${moves ? 'the sites of one node kind planned together, each job free to run at any of them without the cost of a move, ' : "each site's run planned "}with every job known from its arrival and outturn prices, in problems of up to ${chunkDaysFor(Math.max(...b.sites.map((x) => x.plannedWith?.length ?? 1)))} days of arrivals (fewer where a problem would pass ${CHUNK_MAX_JOBS.toLocaleString('en-GB')} jobs) that each have the ${moves ? 'sites' : 'site'} to themselves, which can only lower it; their LP relaxations' bounds, so no schedule the sites can run costs less${batteryBoundText(b.sites)}): <b>£${fmt(b.objectiveGbp)}</b>. Share of fifo's distance to it closed: ${Object.entries(
        b.shareOfGapClosed,
      )
        .map(([n, x]) => `${n} ${pct(x)}`)
        .join(', ')} (– where fifo is at the bound or the strategy left work open).</p>`;
