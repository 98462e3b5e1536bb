// From GPU power samples to a site's average grid import per settlement period. Pure.
//
// The formula (docs/meters.md), per period [a, b) and with every quantity positive = import:
//
//   node GPU kW  = time-weighted mean over [a, b) of that node's Σ power.draw (W) / 1000
//   site kW      = (Σ_nodes node GPU kW + nodes × nonGpuKwPerNode) × PUE
//
// Each sample of a node stands for the time from when it was taken until that node's next sample,
// but for at most `holdMs` (1.5 poll intervals), so a node that stops answering stops counting. A
// node's coverage is the share of [a, b) its samples stand for; if any node has less than
// `minCoverage` (0.5) the period is NaN (unknown), never a number made up from too little.
import type { SlotGrid } from '../../domain/time.ts';
import { slotStart } from '../../domain/time.ts';

/** One poll of one node: the sum of its GPUs' power.draw, watts, at wall time `at` (epoch ms). */
export interface NodeSample {
  readonly at: number;
  readonly gpuW: number;
}

export interface SiteModel {
  /** kW per node besides its GPUs (CPUs, memory, fans, network), ≥ 0. */
  readonly nonGpuKwPerNode: number;
  /** Facility kW per IT kW, ≥ 1. */
  readonly pue: number;
  /** The longest a sample stands for, ms. */
  readonly holdMs: number;
  /** The least share of a period every node must cover for the period to be known (0.5). */
  readonly minCoverage: number;
}

export interface NodePeriod {
  /** Mean GPU power over the covered part, W (NaN where nothing is covered). */
  readonly meanW: number;
  /** Covered share of the period, 0–1. */
  readonly coverage: number;
}

/** A node's mean GPU power over [from, to), from its samples in time order. */
export const nodePeriod = (samples: readonly NodeSample[], from: number, to: number, holdMs: number): NodePeriod => {
  let energy = 0; // W·ms
  let covered = 0; // ms
  // The first sample that can reach into [from, to): binary search, as a node keeps hours of samples.
  let lo0 = 0;
  for (let hi0 = samples.length; lo0 < hi0;) {
    const mid = (lo0 + hi0) >> 1;
    if ((samples[mid]?.at ?? Infinity) < from - holdMs) lo0 = mid + 1;
    else hi0 = mid;
  }
  for (let i = Math.max(0, lo0 - 1); i < samples.length; i++) {
    const s = samples[i];
    if (s === undefined || s.at >= to) break;
    const next = samples[i + 1]?.at ?? Infinity;
    const lo = Math.max(s.at, from);
    const hi = Math.min(next, s.at + holdMs, to);
    if (hi <= lo) continue;
    energy += s.gpuW * (hi - lo);
    covered += hi - lo;
  }
  return { meanW: covered > 0 ? energy / covered : NaN, coverage: covered / (to - from) };
};

/** The site's average import (kW) over [from, to), or NaN where a node is under-covered. */
export const siteImportKw = (
  nodes: ReadonlyArray<readonly NodeSample[]>,
  from: number,
  to: number,
  m: SiteModel,
): number => {
  let gpuKw = 0;
  for (const samples of nodes) {
    const p = nodePeriod(samples, from, to, m.holdMs);
    if (!(p.coverage >= m.minCoverage)) return NaN;
    gpuKw += p.meanW / 1000;
  }
  return nodes.length === 0 ? NaN : (gpuKw + nodes.length * m.nonGpuKwPerNode) * m.pue;
};

/** siteImportKw for every slot of `grid`. */
export const siteImportPerSlot = (
  nodes: ReadonlyArray<readonly NodeSample[]>,
  grid: SlotGrid,
  m: SiteModel,
): number[] =>
  Array.from({ length: grid.slots }, (_, k) => siteImportKw(nodes, slotStart(grid, k), slotStart(grid, k + 1), m));
