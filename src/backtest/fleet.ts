// The backtest's fleet: the demo's simulated sites (SIM_SITES: lon 32, man 24, edi 16 nodes) with a
// day of work per site and settlement day from the site profiles (src/sim/site-profile.ts): `busy`
// (DGX A100 nodes, the day's GPU-hours 95 % of the pool's, arrivals shaped like the Alibaba GPU 2023
// best-effort pods, from 18:00 the evening before) or `idle` (the profile `half-idle`, whose 36
// jobs a day ask for about half of the 32-node lon pool; scaled here to each site's nodes, 27 at man
// and 18 at edi, since 36 would ask for all of edi's). Each site keeps its own 4-node inference pool
// with the generator's day shape. Every site is priced on the GB national signals.
import { HALF_IDLE_JOBS, siteDay, profilePower, type SiteProfile } from '../sim/site-profile.ts';
import { nodeIdleKw, nodeMaxKw } from '../sim/power.ts';
import { epochMs } from '../domain/time.ts';
import type { ComputeJob } from '../domain/compute.ts';
import { SIM_SITES } from '../sim/sites.ts';
import type { SiteSpec } from './site-sim.ts';

export const FLEETS = ['busy', 'idle'] as const;
export type Fleet = (typeof FLEETS)[number];

/** The cluster's default PUE (src/adapters/scheduler-sim/config.ts). */
export const PUE = 1.3;

/**
 * The demo's simulated sites and their training pools: SIM_SITES in src/sim/sites.ts, the one
 * place their sizes are written. Loading it costs the backtest the market composition's modules
 * (about 0.7 s at start), which is cheaper than two copies of the sizes drifting apart. The
 * battery site (cdf) is left out: the backtest's site model has no battery (docs/backtest.md).
 */
const SITES = SIM_SITES.filter((s) => !('battery' in s)).map((s) => ({ id: s.id, trainingNodes: s.trainingNodes }));

export const SITE_IDS: readonly string[] = SITES.map((s) => s.id);

/** The pool the half-idle profile's 36 jobs are half of (lon, the demo's first site). */
const IDLE_NODES = SIM_SITES[0].trainingNodes;

const profileOf = (fleet: Fleet): SiteProfile => (fleet === 'busy' ? 'busy' : 'half-idle');

export interface FleetSite {
  readonly spec: SiteSpec;
  readonly trainingNodes: number;
}

export const fleetSites = (ids: readonly string[], fleet: Fleet): FleetSite[] => {
  const power = profilePower(profileOf(fleet));
  return ids.map((id) => {
    const s = SITES.find((x) => x.id === id);
    if (!s) throw new RangeError(`unknown site ${id}`);
    return {
      trainingNodes: s.trainingNodes,
      spec: {
        id,
        gpus: s.trainingNodes * power.gpusPerNode,
        trainingIdleKw: s.trainingNodes * nodeIdleKw(power),
        trainingMaxKw: s.trainingNodes * nodeMaxKw(power),
        pue: PUE,
      },
    };
  });
};

/** A seed per site and day, so one day's jobs do not depend on how many days came before. */
export const daySeed = (seed: number, site: string, dayIndex: number): number => {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const c of `${site}|${dayIndex}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
};

export interface SiteDay {
  readonly jobs: ComputeJob[];
  /** Inference pool IT power per half hour of the day (kW). */
  readonly inferenceKw: number[];
}

export const siteDayOf = (site: FleetSite, fleet: Fleet, seed: number, dayIndex: number, dayStart: number): SiteDay => {
  const d = siteDay({
    profile: profileOf(fleet),
    seed: daySeed(seed, site.spec.id, dayIndex),
    site: site.spec.id,
    dayStart: epochMs(dayStart),
    trainingNodes: site.trainingNodes,
    ...(fleet === 'idle' ? { jobs: Math.round((HALF_IDLE_JOBS * site.trainingNodes) / IDLE_NODES) } : {}),
  });
  return { jobs: d.jobs, inferenceKw: d.inferenceKw };
};
