// `flexlon run bpp`: the Flexibility Orchestrator's sites, planner, pricing and policies.
import { DEFAULT_PRICING, type PricingPolicy } from '../../agents/flex/pricing.ts';
import type { BppConfig, BppSiteConfig, PlannerConfig } from '../../compose/config.ts';
import { DEFAULT_MOVE_COST, type MoveCost } from '../../domain/compute.ts';
import { DEFAULT_CANCELLATION, type CancellationPolicy } from '../../domain/order.ts';
import type { ConfigReader } from '../config-reader.ts';
import { readDashboard, readParticipant, readPeerKey, readRateLimit, readVerifyThreads } from './common.ts';
import { readComputeEnergy, type ComputeEnergySection } from './compute-energy.ts';

/** A BPP's config as `flexlon run bpp` reads it: the role's, and the compute agent's when it buys grid windows. */
export type BppRunConfig = BppConfig & { readonly computeEnergy?: ComputeEnergySection };

const readSite = (s: ConfigReader): BppSiteConfig => {
  const id = s.string('id');
  const region = s.string('region', 'GB');
  const agentUrl = s.url('agentUrl');
  const agent = readPeerKey(s, s.string('agentId'), agentUrl, 'agent');
  s.done();
  return { id, region, agentUrl, agent };
};

const readPricing = (c: ConfigReader): PricingPolicy => {
  const p = c.object('pricing', {});
  const out = {
    marginGbpPerMwh: p.number('marginGbpPerMwh', DEFAULT_PRICING.marginGbpPerMwh, -10_000, 100_000),
    floorGbpPerMwh: p.number('floorGbpPerMwh', DEFAULT_PRICING.floorGbpPerMwh, 0, 100_000),
    minimumKw: p.number('minimumKw', DEFAULT_PRICING.minimumKw, 0, 1_000_000),
    sellBelowCost: p.boolean('sellBelowCost', false),
  };
  p.done();
  return out;
};

const readCancellation = (c: ConfigReader): CancellationPolicy => {
  const p = c.object('cancellation', {});
  const out = {
    freeNoticeMinutes: p.number('freeNoticeMinutes', DEFAULT_CANCELLATION.freeNoticeMinutes, 0, 7 * 24 * 60, true),
    lateFeePercent: p.number('lateFeePercent', DEFAULT_CANCELLATION.lateFeePercent, 0, 100),
  };
  p.done();
  return out;
};

/** What moving a job to another of the BPP's sites costs (docs/cost-model.md, "Site moves"). */
const readMoveCost = (c: ConfigReader): { moveCost?: MoveCost } => {
  if (!c.has('moveCost')) return {};
  const m = c.object('moveCost');
  const out = {
    gbpPerMove: m.number('gbpPerMove', DEFAULT_MOVE_COST.gbpPerMove, 0, 1_000_000),
    gbpPerGpu: m.number('gbpPerGpu', DEFAULT_MOVE_COST.gbpPerGpu, 0, 1_000_000),
  };
  m.done();
  return { moveCost: out };
};

/** `carbonCapKg` (kg over each plan's horizon) or `carbonCap`: "fifo" | "fifo-intensity" | "none"; not both. */
const readCarbonCap = (c: ConfigReader): { carbonCap?: number | 'fifo' | 'fifo-intensity' | 'none' } => {
  if (c.has('carbonCapKg') && c.has('carbonCap'))
    c.fail('carbonCap', 'give carbonCapKg (kg) or carbonCap ("fifo", "fifo-intensity" or "none"), not both');
  if (c.has('carbonCapKg')) return { carbonCap: c.number('carbonCapKg', undefined, 0, 1e12) };
  if (c.has('carbonCap')) return { carbonCap: c.oneOf('carbonCap', ['fifo', 'fifo-intensity', 'none'] as const) };
  return {};
};

const readPlanner = (c: ConfigReader): PlannerConfig => {
  const p = c.object('planner', { kind: 'highs' });
  const kind = p.oneOf('kind', ['highs', 'greedy'] as const);
  const timeLimitSeconds = p.number('timeLimitSeconds', 5, 0.1, 600);
  p.done();
  return { kind, timeLimitSeconds };
};

export const readBpp = (c: ConfigReader): BppRunConfig => {
  const { id, logLevel, listen, store, keys, registry, clock, signals } = readParticipant(c);
  const planner = readPlanner(c);
  const sites = c.array('sites', 1).map(readSite);
  if (new Set(sites.map((s) => s.id)).size !== sites.length) c.fail('sites', 'site ids must be unique');
  const slotMinutes = c.number('slotMinutes', 30, 5, 60, true);
  const horizonSlots = c.number('horizonSlots', 96, 2, 2000, true);
  const out: BppRunConfig = {
    id,
    logLevel,
    listen,
    store,
    keys,
    registry,
    clock,
    signals,
    planner,
    sites,
    slotMinutes,
    horizonSlots,
    name: c.string('name', `FlexLon data centre (${id})`),
    pricing: readPricing(c),
    cancellation: readCancellation(c),
    quoteTtlSeconds: c.number('quoteTtlSeconds', 300, 5, 86_400, true),
    ...readCarbonCap(c),
    ...readMoveCost(c),
    ...(c.has('capacityValueShare') ? { capacityValueShare: c.number('capacityValueShare', undefined, 0, 1) } : {}),
    supportEmail: c.string('supportEmail', `flexibility-desk@${id}`),
    baseline: c.oneOf('baseline', ['fifo', 'bl01'] as const, 'fifo'),
    outboxEveryMs: c.number('outboxEveryMs', 1000, 50, 60_000, true),
    verifyThreads: readVerifyThreads(c),
    ...readDashboard(c),
    ...readRateLimit(c),
    // The version the BPP registers itself with (docs/beckn-2.md); absent: the record names none (1.1.1).
    ...(c.has('becknVersion') ? { becknVersion: c.oneOf('becknVersion', ['1.1.1', '2.0'] as const) } : {}),
    // DEG compute-energy (docs/beckn-2.md): the grid windows it buys for its own plan.
    ...readComputeEnergy(c, { id, sites, slotMinutes, listen }),
  };
  c.optionalString('role');
  c.done();
  return out;
};
