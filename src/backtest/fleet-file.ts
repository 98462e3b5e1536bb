// `flexlon backtest --fleet FILE`: a fleet of the operator's own sites, as JSON, instead of the demo's
// three (issue 15). Each site has a training pool of GPU nodes (a named node or its power model), a
// PUE, an inference pool and the share of its GPU-hours a day's jobs ask for; the jobs are the busy
// profile's (fleet.ts). Every fault names the field at fault (FLX_CONFIG_INVALID, exit 2), e.g.
// `fleet.json: $.sites[1].trainingNodes must be a whole number ≥ 1, got 0`.
//
// {
//   "sites": [
//     { "id": "lon", "trainingNodes": 32, "node": "dgx-a100", "pue": 1.3, "inferenceNodes": 4, "fill": 0.85 },
//     { "id": "gpu-east", "trainingNodes": 12,
//       "node": { "gpusPerNode": 8, "gpuIdleW": 60, "gpuPeakW": 330, "nodeIdleOverheadKw": 1.5, "nodeLoadOverheadKw": 3 },
//       "battery": { "capacityKwh": 400, "maxChargeKw": 200, "maxDischargeKw": 200, "roundTripEfficiency": 0.88,
//                    "minSocKwh": 40, "maxSocKwh": 360, "initialSocKwh": 200, "degradationGbpPerMwh": 40 } }
//   ]
// }
import { readFileSync } from 'node:fs';
import { BATTERY_REPORT_FIELDS } from '../domain/compute.ts';
import { FlexError } from '../errors.ts';
import { A100_SXM_NODE, DGX_A100_NODE, nodeIdleKw, nodeMaxKw, type GpuNodePower } from '../sim/power.ts';
import { BACKTEST_BUSY_FILL, PUE, type FleetSite } from './fleet.ts';
import type { SiteBattery } from './site-battery.ts';

/** A value as the user wrote it: JSON's 1e400 reads as Infinity, which JSON.stringify shows as null. */
const shown = (v: unknown): string => (typeof v === 'number' ? String(v) : JSON.stringify(v));

/** The largest training job the busy profile draws (src/sim/workload.ts, the `training` mix). */
export const LARGEST_JOB_GPUS = 64;

export const NODE_MODELS: Readonly<Record<string, GpuNodePower>> = {
  'dgx-a100': DGX_A100_NODE,
  'a100-sxm': A100_SXM_NODE,
};

const SITE_KEYS = [
  'id',
  'trainingNodes',
  'node',
  'pue',
  'inferenceNodes',
  'fill',
  'battery',
  'gridImportLimitKw',
] as const;
const NODE_KEYS = [
  'gpusPerNode',
  'gpuIdleW',
  'gpuPeakW',
  'gpuTdpW',
  'nodeIdleOverheadKw',
  'nodeLoadOverheadKw',
] as const;
const BATTERY_KEYS = [...BATTERY_REPORT_FIELDS, 'initialSocKwh'] as const;

export interface FleetFile {
  readonly path: string;
  readonly sites: readonly FleetSite[];
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Parses and checks a fleet file's JSON text; `file` names it in errors. */
export const parseFleetFile = (text: string, file: string): FleetFile => {
  const bad = (path: string, why: string): never => {
    throw new FlexError('FLX_CONFIG_INVALID', `${file}: ${path} ${why}`, { path });
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return bad('$', `is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) return bad('$', 'must be an object with "sites"');
  for (const k of Object.keys(doc)) if (k !== 'sites') bad(`$.${k}`, 'is not a field of a fleet file (only "sites")');
  if (!Array.isArray(doc.sites) || doc.sites.length === 0) return bad('$.sites', 'must be a list of at least one site');
  const ids = new Set<string>();
  const sites = doc.sites.map((raw: unknown, i): FleetSite => {
    const at = `$.sites[${i}]`;
    if (!isObject(raw)) return bad(at, 'must be an object');
    for (const k of Object.keys(raw))
      if (!(SITE_KEYS as readonly string[]).includes(k))
        bad(`${at}.${k}`, `is not a field of a site (${SITE_KEYS.join(', ')})`);
    const battery = raw.battery === undefined ? undefined : batteryOf(raw.battery, `${at}.battery`, bad);
    const id = raw.id;
    if (typeof id !== 'string' || !/^[a-z0-9][a-z0-9-]{0,31}$/.test(id))
      bad(`${at}.id`, `must be 1–32 lower-case letters, digits or dashes, got ${shown(id)}`);
    if (ids.has(id as string)) bad(`${at}.id`, `repeats "${String(id)}"`);
    ids.add(id as string);
    const power = nodeOf(raw.node, `${at}.node`, bad);
    const nodes = raw.trainingNodes;
    if (!Number.isInteger(nodes) || (nodes as number) < 1)
      bad(`${at}.trainingNodes`, `must be a whole number ≥ 1, got ${shown(nodes)}`);
    const gpus = (nodes as number) * power.gpusPerNode;
    if (gpus < LARGEST_JOB_GPUS)
      bad(
        `${at}.trainingNodes`,
        `gives ${gpus} GPUs; the busy profile's jobs need up to ${LARGEST_JOB_GPUS} on one site`,
      );
    const pue = numberOr(raw.pue, PUE, `${at}.pue`, 1, 3, bad);
    const fill = numberOr(raw.fill, BACKTEST_BUSY_FILL, `${at}.fill`, 0.01, 1.5, bad);
    const inferenceNodes = raw.inferenceNodes ?? 4;
    if (!Number.isInteger(inferenceNodes) || (inferenceNodes as number) < 0)
      bad(`${at}.inferenceNodes`, `must be a whole number ≥ 0, got ${shown(raw.inferenceNodes)}`);
    // The connection must carry the whole cluster at full power: the backtest never cuts the
    // cluster's draw, only a battery's charging (site-battery.ts).
    const fullKw = ((nodes as number) + (inferenceNodes as number)) * nodeMaxKw(power) * pue;
    const limit = raw.gridImportLimitKw;
    if (limit !== undefined && (typeof limit !== 'number' || !Number.isFinite(limit) || !(limit >= fullKw)))
      bad(
        `${at}.gridImportLimitKw`,
        `must be a finite number ≥ ${fullKw.toFixed(1)} kW (the site's training and inference nodes at full power × PUE), got ${shown(limit)}`,
      );
    return {
      trainingNodes: nodes as number,
      power,
      fill,
      inferenceNodes: inferenceNodes as number,
      spec: {
        id: id as string,
        gpus,
        trainingIdleKw: (nodes as number) * nodeIdleKw(power),
        trainingMaxKw: (nodes as number) * nodeMaxKw(power),
        pue,
        // Its GPUs can be capped (caps.ts).
        node: power,
        ...(battery ? { battery } : {}),
        ...(limit === undefined ? {} : { gridImportLimitKw: limit as number }),
      },
    };
  });
  return { path: file, sites };
};

const numberOr = (
  raw: unknown,
  dflt: number,
  path: string,
  min: number,
  max: number,
  bad: (path: string, why: string) => never,
): number => {
  if (raw === undefined) return dflt;
  if (typeof raw !== 'number' || !(raw >= min && raw <= max))
    bad(path, `must be a number from ${min} to ${max}, got ${shown(raw)}`);
  return raw as number;
};

/** A named node (NODE_MODELS) or a node power model (src/sim/power.ts GpuNodePower). */
const nodeOf = (raw: unknown, path: string, bad: (path: string, why: string) => never): GpuNodePower => {
  if (raw === undefined) return DGX_A100_NODE;
  if (typeof raw === 'string') {
    const named = NODE_MODELS[raw];
    return named ?? bad(path, `must be ${Object.keys(NODE_MODELS).join(' or ')} or a node power model, got "${raw}"`);
  }
  if (!isObject(raw)) return bad(path, 'must be a node name or a node power model object');
  for (const k of Object.keys(raw))
    if (!(NODE_KEYS as readonly string[]).includes(k))
      bad(`${path}.${k}`, `is not a field of a node (${NODE_KEYS.join(', ')})`);
  for (const k of NODE_KEYS) {
    const v = raw[k];
    if (k === 'gpuTdpW' && v === undefined) continue;
    if (v === undefined) bad(`${path}.${k}`, 'is required (a number ≥ 0) in a node power model');
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      bad(`${path}.${k}`, `must be a number ≥ 0, got ${shown(v)}`);
  }
  const p = raw as unknown as GpuNodePower;
  if (!Number.isInteger(p.gpusPerNode) || p.gpusPerNode < 1)
    bad(`${path}.gpusPerNode`, `must be a whole number ≥ 1, got ${p.gpusPerNode}`);
  if (p.gpuPeakW < p.gpuIdleW) bad(`${path}.gpuPeakW`, `must be ≥ gpuIdleW (${p.gpuIdleW}), got ${p.gpuPeakW}`);
  if (p.gpuTdpW !== undefined && p.gpuTdpW < p.gpuPeakW)
    bad(`${path}.gpuTdpW`, `must be ≥ gpuPeakW (${p.gpuPeakW}): the rated power bounds the draw`);
  if (p.nodeLoadOverheadKw < p.nodeIdleOverheadKw)
    bad(
      `${path}.nodeLoadOverheadKw`,
      `must be ≥ nodeIdleOverheadKw (${p.nodeIdleOverheadKw}), got ${p.nodeLoadOverheadKw}`,
    );
  return { ...p };
};

/**
 * A site battery behind the meter (site-battery.ts): energies in kWh stored, powers in kW at its grid
 * side. initialSocKwh defaults to halfway between the limits, degradationGbpPerMwh to 0.
 */
const batteryOf = (raw: unknown, path: string, bad: (path: string, why: string) => never): SiteBattery => {
  if (!isObject(raw)) return bad(path, 'must be a battery object');
  for (const k of Object.keys(raw))
    if (!(BATTERY_KEYS as readonly string[]).includes(k))
      bad(`${path}.${k}`, `is not a field of a battery (${BATTERY_KEYS.join(', ')})`);
  const num = (k: (typeof BATTERY_KEYS)[number], dflt?: number): number => {
    const v = raw[k] === undefined ? dflt : raw[k];
    if (v === undefined) return bad(`${path}.${k}`, 'is required (a number ≥ 0)');
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      bad(`${path}.${k}`, `must be a number ≥ 0, got ${shown(v)}`);
    return v as number;
  };
  const capacityKwh = num('capacityKwh');
  if (!(capacityKwh > 0)) bad(`${path}.capacityKwh`, 'must be above 0');
  const maxSocKwh = num('maxSocKwh', capacityKwh);
  const minSocKwh = num('minSocKwh', 0);
  if (maxSocKwh > capacityKwh) bad(`${path}.maxSocKwh`, `must be ≤ capacityKwh (${capacityKwh}), got ${maxSocKwh}`);
  if (minSocKwh > maxSocKwh) bad(`${path}.minSocKwh`, `must be ≤ maxSocKwh (${maxSocKwh}), got ${minSocKwh}`);
  const initialSocKwh = num('initialSocKwh', (minSocKwh + maxSocKwh) / 2);
  if (initialSocKwh < minSocKwh || initialSocKwh > maxSocKwh)
    bad(
      `${path}.initialSocKwh`,
      `must be from minSocKwh (${minSocKwh}) to maxSocKwh (${maxSocKwh}), got ${initialSocKwh}`,
    );
  const roundTripEfficiency = num('roundTripEfficiency');
  if (!(roundTripEfficiency > 0 && roundTripEfficiency <= 1))
    bad(`${path}.roundTripEfficiency`, `must be above 0 and at most 1, got ${roundTripEfficiency}`);
  return {
    capacityKwh,
    maxChargeKw: num('maxChargeKw'),
    maxDischargeKw: num('maxDischargeKw'),
    roundTripEfficiency,
    minSocKwh,
    maxSocKwh,
    initialSocKwh,
    degradationGbpPerMwh: num('degradationGbpPerMwh', 0),
  };
};

/** Reads a fleet file; an unreadable one is FLX_CONFIG_INVALID naming it. */
export const readFleetFile = (file: string): FleetFile => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FlexError('FLX_CONFIG_INVALID', `${file}: cannot be read: ${(e as Error).message}`, { path: '$' });
  }
  return parseFleetFile(text, file);
};
