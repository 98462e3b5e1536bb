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
 * Idle and overhead remain placeholders to calibrate against metered data. The half-idle site profile
 * keeps this node (today's demo, unchanged); the busy default uses DGX_A100_NODE.
 */
export const A100_SXM_NODE: GpuNodePower = {
  gpusPerNode: 8,
  gpuIdleW: 60,
  gpuPeakW: MEASURED_PEAK_W,
  gpuTdpW: 400,
  nodeIdleOverheadKw: 0.5,
  nodeLoadOverheadKw: 1.0,
};

/**
 * An NVIDIA DGX A100 (8 × A100 SXM 40/80 GB, 2 × AMD EPYC 7742, 6 NVSwitches): the busy site's node
 * (src/sim/site-profile.ts). The power-cap curves (src/sim/power-cap.ts) are A100 fits, so the
 * default simulated node is an A100 one.
 * - Full load from the datasheet: "System Power Usage 6.5 kW max" (NVIDIA DGX A100 datasheet, 2020;
 *   six 3 kW PSUs, 3+3 redundant). Read as the node with every GPU at its 400 W TDP, the rest of the
 *   node (CPUs, memory, NVSwitches, NICs, fans, PSU loss) is 6.5 − 8 × 0.4 = 3.3 kW at load. Busy GPUs
 *   here draw the Phoenix-measured 367 W (as A100_SXM_NODE), so a node flat out draws 6.24 kW: a
 *   nameplate is an upper bound (an 8 × H100 node measured 18 % below its 10.2 kW rating, see
 *   DGX_H100_NODE), and no metered DGX A100 figure is in the shared data to do better.
 * - gpuIdleW 60 as A100_SXM_NODE (an assumption). Node idle overhead 1.5 kW: an assumption (fans
 *   slowed, CPUs idle, NVSwitches and NICs still powered), not measured; a node with every GPU
 *   idle then draws 1.98 kW, about 30 % of its busy draw.
 */
export const DGX_A100_NODE: GpuNodePower = {
  gpusPerNode: 8,
  gpuIdleW: 60,
  gpuPeakW: MEASURED_PEAK_W,
  gpuTdpW: 400,
  nodeIdleOverheadKw: 1.5,
  nodeLoadOverheadKw: 6.5 - (8 * 400) / 1000,
};

/**
 * An NVIDIA DGX H100 (8 × H100 SXM, 700 W TDP). Not a default (the cap curves are A100 fits); here
 * so a site can be sized on it.
 * - Nameplate 10.2 kW max system power (DGX H100/H200 user guide; 6 × 3.3 kW PSUs, 4+2). Measured:
 *   an 8 × H100 HGX node drew at most ≈8.4 kW training ResNet and Llama2-13B, 18 % below that rating
 *   (Latif et al., "Single-Node Power Demand During AI Training", IEEE Access 13 (2025) 61740,
 *   arXiv 2412.08602). The node flat out is set to the measured 8.4 kW.
 * - gpuPeakW 692: the project's own H200 at its default 700 W limit running a bf16 matmul flat out
 *   (shared traces/h200-duty-cycle-2026-12, the same SXM5 700 W board class; an assumption for H100).
 *   Load overhead = 8.4 − 8 × 0.692 = 2.864 kW.
 * - gpuIdleW 75: the top of the 60–75 W idle readings for H100/H200-class parts (shared
 *   notes/peers-research.md §4.2); node idle overhead 1.5 kW as DGX_A100_NODE (an assumption).
 */
export const DGX_H100_NODE: GpuNodePower = {
  gpusPerNode: 8,
  gpuIdleW: 75,
  gpuPeakW: 692,
  gpuTdpW: 700,
  nodeIdleOverheadKw: 1.5,
  nodeLoadOverheadKw: 8.4 - (8 * 692) / 1000,
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
