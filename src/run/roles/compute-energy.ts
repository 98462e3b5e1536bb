// DEG compute-energy in `flexlon run` configs (issue 18, docs/operator-guide.md): the grid agent as a
// role of its own (`flexlon run grid-agent`), and the Flexibility Orchestrator's `computeEnergy`
// section (`flexlon run bpp`): the grid agents it buys windows from, the grid areas its sites are in,
// the kW it buys and how often it looks for lapsed windows. Errors are FLX_CONFIG_INVALID naming the
// field, as for every role.
import type { BppSiteConfig, ClockConfig, ListenConfig, SignalsConfig } from '../../compose/config.ts';
import type { ComputeAgentConfig, GridAgentConfig } from '../../compose/compute-energy.ts';
import { findRegion } from '../../domain/regions.ts';
import type { ConfigReader } from '../config-reader.ts';
import { readListen, readParticipant, readStore } from './common.ts';

/** `flexlon run grid-agent`: the grid agent's role config, with the clock and signals it reads windows from. */
export interface GridAgentRunConfig extends GridAgentConfig {
  readonly clock: ClockConfig;
  readonly signals: SignalsConfig;
}

/** The compute agent inside `flexlon run bpp`: its own id, address and store; keys, registry, log as the BPP's. */
export type ComputeEnergySection = Omit<ComputeAgentConfig, 'keys' | 'registry' | 'logLevel' | 'renew'> & {
  readonly renew: NonNullable<ComputeAgentConfig['renew']>;
};

/** `areas`: {"<grid area>": "<FlexLon signal region>", …}, at least one. */
const readAreas = (c: ConfigReader): Record<string, string> => {
  const a = c.object('areas');
  const names = Object.keys(a.value);
  if (names.length === 0) c.fail('areas', 'must name at least one grid area, e.g. {"Cambridge-East": "East England"}');
  const out = Object.fromEntries(names.map((n) => [n, a.string(n)]));
  // Each area's windows come from its region's signals: a name the signals do not know is refused here.
  for (const [n, region] of Object.entries(out))
    if (!findRegion(region))
      a.fail(n, `${JSON.stringify(region)} is not a NESO region; use GB or an id 1–17 (13 London) or its name`);
  a.done();
  return out;
};

export const readGridAgent = (c: ConfigReader): GridAgentRunConfig => {
  const { id, logLevel, listen, store, keys, registry, clock, signals } = readParticipant(c);
  const areas = readAreas(c);
  const slotMinutes = c.number('slotMinutes', 30, 5, 60, true);
  const windowSlots = c.number('windowSlots', 8, 1, Math.floor((24 * 60) / slotMinutes), true);
  const capacityKw = c.number('capacityKw', undefined, 1, 1e7);
  const discount = c.number('discount', 0, 0, 1);
  c.optionalString('role');
  c.done();
  return {
    id,
    listen,
    store,
    keys,
    registry,
    logLevel,
    clock,
    signals,
    areas,
    slotMinutes,
    windowSlots,
    capacityKw,
    discount,
  };
};

/**
 * `computeEnergy` of a BPP config: {"id"?, "listen", "publicUrl"?, "store", "gridAgents", "areas",
 * "kw", "renewEveryMinutes"?, "callbackTimeoutMs"?}. Each area's region must be a region of one of
 * the BPP's sites (its windows are laid over that region's signals, and its sites' planned import is
 * what a workload shift reports).
 */
export const readComputeEnergy = (
  c: ConfigReader,
  bpp: {
    readonly id: string;
    readonly sites: readonly BppSiteConfig[];
    readonly slotMinutes: number;
    readonly listen: ListenConfig;
  },
): { computeEnergy?: ComputeEnergySection } => {
  const s = c.optionalObject('computeEnergy');
  if (!s) return {};
  const id = s.string('id', `compute.${bpp.id}`);
  if (id === bpp.id)
    s.fail('id', `must differ from the BPP's own id (${bpp.id}): the compute agent registers as a BAP`);
  const listen = readListen(s);
  if (listen.port !== 0 && listen.port === bpp.listen.port && listen.host === bpp.listen.host)
    s.fail(
      'listen.port',
      `must differ from the BPP's own port ${bpp.listen.port}: the compute agent answers on a port of its own`,
    );
  const store = readStore(s);
  const gridAgents = s.strings('gridAgents');
  if (gridAgents.length === 0 || gridAgents.some((g) => g.trim() === ''))
    s.fail('gridAgents', 'must name at least one grid agent (its subscriber id in the registry)');
  const areas = readAreas(s);
  const regions = new Set(bpp.sites.map((x) => x.region));
  for (const [area, region] of Object.entries(areas))
    if (!regions.has(region))
      s.fail(
        `areas.${area}`,
        `region ${JSON.stringify(region)} is no site's region (the sites' regions: ${[...regions].join(', ')})`,
      );
  const kw = s.number('kw', undefined, 1, 1e7);
  const everyMinutes = s.number('renewEveryMinutes', 60, 0.05, 24 * 60);
  const callbackTimeoutMs = s.number('callbackTimeoutMs', 20_000, 100, 120_000, true);
  s.done();
  return {
    computeEnergy: {
      id,
      listen,
      store,
      areas,
      callbackTimeoutMs,
      sites: Object.fromEntries(bpp.sites.map((x) => [x.id, x.region])),
      renew: { gridAgents, kw, everyMinutes, slotMinutes: bpp.slotMinutes },
    },
  };
};
