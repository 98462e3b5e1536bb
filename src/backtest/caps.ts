// GPU power caps at a backtest site (issue 15: flexlon "using every lever"; the lever is issue 13
// item 2, docs/cost-model.md "GPU power caps"). A site whose node is known (SiteSpec.node) lets the
// planner cap its running jobs: the planner sees each running job as its floor and its cappable part
// (src/optimise/cap-parts.ts), and the power it plans for the current period is turned into watts per
// GPU as the Compute-Flex agent does (src/agents/compute/levers.ts capWattsFor: linear between the
// lowest cap and TDP). The site then runs the job as the measured A100 sweep says a GPU runs under
// that cap (src/sim/power-cap.ts): it draws the sweep's power and does the sweep's share of its work.
// - Work is counted in full-power kWh (SimJob.remainingKwh): a job capped to speed s progresses
//   s × powerKw of it per hour while drawing drawKw.
// - A GPU's share of its node's load overhead (fans, CPUs, NICs) is drawn whatever the cap, so a cap
//   saves less energy per unit of work on a node with a large overhead: the half-idle profile's node
//   (0.5 → 1.0 kW of overhead) needs 0.77 of the energy per GPU-hour of work at the lowest cap (half
//   of TDP), the busy profile's (1.5 → 3.3 kW) 0.98 there and 0.93 at best (minEnergyPerWork).
import type { ComputeJob } from '../domain/compute.ts';
import { kw } from '../domain/units.ts';
import { capWattsFor } from '../agents/compute/levers.ts';
import { cappedDrawW, MEASURED_CAP_FRACTIONS, MIN_CAP_FRACTION, minCapW, throughputAt } from '../sim/power-cap.ts';
import { gpuMarginalKw, type GpuNodePower } from '../sim/power.ts';

/** How a capped job runs over a period: its marginal IT draw and its progress (full-power kWh) per hour. */
export interface CapRun {
  readonly drawKw: number;
  readonly rateKw: number;
}

const tdpW = (node: GpuNodePower): number => node.gpuTdpW ?? node.gpuPeakW;

/** A job's marginal draw with its GPUs capped at `capW`: its uncapped draw scaled as one GPU's is. */
const drawAt = (node: GpuNodePower, powerKw: number, capW: number): number =>
  (powerKw * gpuMarginalKw(node, cappedDrawW(node, capW))) / gpuMarginalKw(node);

/**
 * What a running job of `powerKw` at full power reports to the planner where its GPUs can be capped:
 * its power at the lowest cap, the caps its GPUs accept and its speed at the lowest (ComputeJob).
 */
export const capFields = (
  node: GpuNodePower,
  powerKw: number,
): Required<Pick<ComputeJob, 'minPowerKw' | 'powerCapRangeW' | 'minCapThroughput'>> => ({
  minPowerKw: kw(drawAt(node, powerKw, minCapW(node))),
  powerCapRangeW: { minW: minCapW(node), maxW: tdpW(node) },
  minCapThroughput: throughputAt(MIN_CAP_FRACTION),
});

/**
 * How a job of `powerKw` runs when the plan gives it `plannedKw` while it runs: the cap the agent
 * would set for that power, then the sweep's draw and speed under it. Undefined where the plan asks
 * for full power (or more).
 */
export const cappedRun = (node: GpuNodePower, powerKw: number, plannedKw: number): CapRun | undefined => {
  const fields = capFields(node, powerKw);
  const capW = capWattsFor({ ...fields, powerKw: kw(powerKw) }, plannedKw);
  if (capW === undefined || capW >= tdpW(node)) return undefined;
  return { drawKw: drawAt(node, powerKw, capW), rateKw: powerKw * throughputAt(capW / tdpW(node)) };
};

/**
 * The least energy per unit of work any cap gives a job on this node, against uncapped (≤ 1): a
 * lower bound needs it (bound.ts), since a strategy that caps may do the same work on less energy.
 * Draw and speed are linear between the sweep's caps, so their ratio is least at one of them.
 */
export const minEnergyPerWork = (node: GpuNodePower): number => {
  const tdp = tdpW(node);
  let least = 1;
  for (const f of [MIN_CAP_FRACTION, ...MEASURED_CAP_FRACTIONS]) {
    if (f < MIN_CAP_FRACTION || f > 1) continue;
    least = Math.min(least, gpuMarginalKw(node, cappedDrawW(node, f * tdp)) / gpuMarginalKw(node) / throughputAt(f));
  }
  return least;
};
