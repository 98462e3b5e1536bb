// IT power of a GPU node as a function of how many of its GPUs are busy. Small and pure: the
// simulated cluster and the workload generator both use it, so a job's powerKw and the metered
// site power come from the same numbers.
//
// Accounting convention (stated once, used everywhere in src/sim and the simulated scheduler):
// a node with k of its n GPUs busy draws
//     nodeIdleKw + k · gpuMarginalKw
// where nodeIdleKw is the node with every GPU idle and gpuMarginalKw is what one GPU adds when it
// goes from idle to busy, including its 1/n share of the rise in CPU/fan/NIC overhead. A job's
// powerKw is therefore its *marginal* IT power (gpus · gpuMarginalKw), and the idle power of the
// whole pool is base load. That way base load + Σ running jobs' powerKw is exactly the IT power,
// which is what a planner assumes when it treats base load as fixed, and what deferring a job
// actually removes (an offer must never promise more than that).
import { kw, type Kilowatts } from '../domain/units.ts';
import { CALIBRATION } from './calibration.ts';

export interface GpuNodePower {
  readonly gpusPerNode: number;
  /** Board power of one idle GPU (W). */
  readonly gpuIdleW: number;
  /** Board power one GPU actually draws running flat out at its default power limit (W). */
  readonly gpuPeakW: number;
  /** The GPU's rated board power (TDP, W): power caps are fractions of it (default gpuPeakW). */
  readonly gpuTdpW?: number;
  /** CPUs, memory, fans, NICs, switches of one node with every GPU idle (kW). */
  readonly nodeIdleOverheadKw: number;
  /** The same with every GPU busy (kW); in between it rises linearly with the busy fraction. */
  readonly nodeLoadOverheadKw: number;
}

/** Uncapped draw of a training GPU measured in the Phoenix sweep (mean of its training workloads). */
const MEASURED_PEAK_W = Math.round(
  CALIBRATION.powerCap.training.drawW[CALIBRATION.powerCap.training.drawW.length - 1] ?? 400,
);

/**
 * An 8 × NVIDIA A100 SXM node (DGX/HGX A100 class).
 * - gpuPeakW: what a busy A100 SXM draws at its default 400 W limit, fitted on Emerald AI's Phoenix
 *   sweep (shared traces/emerald-ai-phoenix-2025/dvfs_sweep.csv, by scripts/fit-traces.ts): 367 W,
 *   the mean of its six training workloads (343–388 W). gpuTdpW 400: the A100 SXM TDP.
 * - gpuIdleW 60: an assumption, in line with the ~60–75 W idle readings collected for H100-class
 *   parts in the research notes (shared notes/peers-research.md §4.2); not measured on an A100 here.
 * - node overhead 0.5 kW idle / 1.0 kW at load: assumptions (two server CPUs, memory, fans, NICs).
 *   Probably low: the DGX A100 datasheet gives 6.5 kW maximum system power against 3.9 kW here.
 * Idle and overhead remain placeholders to calibrate against metered data.
 */
export const A100_SXM_NODE: GpuNodePower = {
  gpusPerNode: 8,
  gpuIdleW: 60,
  gpuPeakW: MEASURED_PEAK_W,
  gpuTdpW: 400,
  nodeIdleOverheadKw: 0.5,
  nodeLoadOverheadKw: 1.0,
};

/** Throws on parameters that would make power fall as load rises or go negative (a config fault). */
export const checkNodePower = (p: GpuNodePower): GpuNodePower => {
  const problems: string[] = [];
  if (!Number.isInteger(p.gpusPerNode) || p.gpusPerNode < 1) problems.push('gpusPerNode must be a positive integer');
  if (!(p.gpuIdleW >= 0)) problems.push('gpuIdleW must be ≥ 0');
  if (!(p.gpuPeakW >= p.gpuIdleW)) problems.push('gpuPeakW must be ≥ gpuIdleW');
  if (p.gpuTdpW !== undefined && !(p.gpuTdpW >= p.gpuPeakW))
    problems.push('gpuTdpW must be ≥ gpuPeakW (the rated power bounds the draw)');
  if (!(p.nodeIdleOverheadKw >= 0)) problems.push('nodeIdleOverheadKw must be ≥ 0');
  if (!(p.nodeLoadOverheadKw >= p.nodeIdleOverheadKw)) problems.push('nodeLoadOverheadKw must be ≥ nodeIdleOverheadKw');
  if (problems.length > 0) throw new Error(`invalid GPU node power model: ${problems.join('; ')}`);
  return p;
};

/** IT power of one node with every GPU idle. */
export const nodeIdleKw = (p: GpuNodePower): Kilowatts =>
  kw((p.gpusPerNode * p.gpuIdleW) / 1000 + p.nodeIdleOverheadKw);

/**
 * What one GPU adds to its node's IT power when it goes from idle to busy, drawing `gpuDrawW`
 * (gpuPeakW uncapped; under a cap, src/sim/power-cap.ts gives the draw and the throughput).
 */
export const gpuMarginalKw = (p: GpuNodePower, gpuDrawW: number = p.gpuPeakW): Kilowatts =>
  kw((gpuDrawW - p.gpuIdleW) / 1000 + (p.nodeLoadOverheadKw - p.nodeIdleOverheadKw) / p.gpusPerNode);

/** IT power of one node with `busyGpus` of its GPUs busy (0 ≤ busyGpus ≤ gpusPerNode). */
export const nodeItKw = (p: GpuNodePower, busyGpus: number): Kilowatts => {
  if (busyGpus < 0 || busyGpus > p.gpusPerNode)
    throw new RangeError(`busyGpus ${busyGpus} outside 0..${p.gpusPerNode}`);
  return kw(nodeIdleKw(p) + busyGpus * gpuMarginalKw(p));
};

export const nodeMaxKw = (p: GpuNodePower): Kilowatts => nodeItKw(p, p.gpusPerNode);

/**
 * IT power of a pool of `nodes` nodes with `busyGpus` GPUs busy in all. Power is linear in busy
 * GPUs, so how the GPUs are spread over nodes does not matter.
 */
export const poolItKw = (p: GpuNodePower, nodes: number, busyGpus: number): Kilowatts => {
  if (busyGpus < 0 || busyGpus > nodes * p.gpusPerNode)
    throw new RangeError(`busyGpus ${busyGpus} outside 0..${nodes * p.gpusPerNode}`);
  return kw(nodes * nodeIdleKw(p) + busyGpus * gpuMarginalKw(p));
};

/** Marginal IT power of a job on `gpus` GPUs (see the accounting convention at the top). */
export const jobPowerKw = (p: GpuNodePower, gpus: number, gpuDrawW: number = p.gpuPeakW): Kilowatts =>
  kw(gpus * gpuMarginalKw(p, gpuDrawW));
