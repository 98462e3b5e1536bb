// `flexlon run agent`: a Compute-Flex agent's site, its scheduler (simulated or Slurm), its meter
// and the orchestrator it reports to.
import type { AgentConfig, MeterConfig, SchedulerConfig } from '../../compose/config.ts';
import { DEFAULT_SITE_PROFILE, SITE_PROFILES } from '../../sim/site-profile.ts';
import type { ConfigReader } from '../config-reader.ts';
import { readClock, readKeys, readListen, readLogLevel, readPeerKey, readStore } from './common.ts';

const readScheduler = (c: ConfigReader): SchedulerConfig => {
  const sch = c.object('scheduler');
  const kind = sch.oneOf('kind', ['sim', 'slurm'] as const);
  if (kind === 'slurm') {
    // The fields are SlurmConfig's, checked by the adapter when it starts.
    const slurm: Record<string, unknown> = { ...sch.value };
    delete slurm.kind;
    return { kind, slurm };
  }
  // A bad profile is FLX_CONFIG_INVALID naming scheduler.profile (ConfigReader.oneOf).
  const out = {
    kind,
    profile: sch.oneOf('profile', SITE_PROFILES, DEFAULT_SITE_PROFILE),
    seed: sch.number('seed', 7, 0, 2 ** 31 - 1, true),
    // Absent: the profile's own day (36 jobs half-idle; busy draws jobs until the pool is 95 % asked for).
    ...(sch.has('jobs') ? { jobs: sch.number('jobs', 36, 1, 2000, true) } : {}),
    trainingNodes: sch.number('trainingNodes', 32, 1, 10_000, true),
    baseline: sch.oneOf('baseline', ['fifo', 'bl01'] as const, 'fifo'),
    ...readBattery(sch),
  };
  sch.done();
  return out;
};

/**
 * `scheduler.battery` of a simulated site (docs/batteries.md): capacityKwh, maxChargeKw,
 * maxDischargeKw, roundTripEfficiency, initialSocKwh, and optionally minSocKwh, maxSocKwh and
 * degradationGbpPerMwh. The limits between fields (min ≤ initial ≤ max ≤ capacity) are checked when
 * the battery is built, naming the field.
 */
type SimBatteryConfig = NonNullable<Extract<SchedulerConfig, { kind: 'sim' }>['battery']>;

const readBattery = (sch: ConfigReader): { battery?: SimBatteryConfig } => {
  const b = sch.optionalObject('battery');
  if (!b) return {};
  const kw = (k: string) => b.number(k, undefined, 0, 1_000_000);
  const battery: SimBatteryConfig = {
    capacityKwh: b.number('capacityKwh', undefined, 0.001, 10_000_000),
    maxChargeKw: kw('maxChargeKw'),
    maxDischargeKw: kw('maxDischargeKw'),
    roundTripEfficiency: b.number('roundTripEfficiency', undefined, 0.01, 1),
    initialSocKwh: b.number('initialSocKwh', undefined, 0, 10_000_000),
    ...(b.has('minSocKwh') ? { minSocKwh: b.number('minSocKwh', 0, 0, 10_000_000) } : {}),
    ...(b.has('maxSocKwh') ? { maxSocKwh: b.number('maxSocKwh', 0, 0, 10_000_000) } : {}),
    ...(b.has('degradationGbpPerMwh') ? { degradationGbpPerMwh: b.number('degradationGbpPerMwh', 0, 0, 100_000) } : {}),
  };
  b.done();
  return { battery };
};

/** A host name, as the GPU meter puts it into a command (`ssh {node} nvidia-smi`): no option dash, no shell characters. */
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const DEFAULT_METER_COMMAND = ['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '{node}', 'nvidia-smi'];

/**
 * `meter` (a real site's GPU meter, docs/meters.md): {"kind": "nvidia-smi", "nodes": [...], "command"?:
 * [...]} or {"kind": "dcgm", "url": "http://{node}:9400/metrics", "nodes": [...], "hostLabel"?}, with
 * intervalSeconds, timeoutSeconds, nonGpuKwPerNode and pue.
 */
const readMeter = (c: ConfigReader, scheduler: SchedulerConfig): MeterConfig | undefined => {
  const m = c.optionalObject('meter');
  if (!m) return undefined;
  if (scheduler.kind === 'sim')
    c.fail('meter', 'is for a real site (scheduler kind "slurm"); a simulated site meters itself');
  const kind = m.oneOf('kind', ['nvidia-smi', 'dcgm'] as const);
  const nodes = m.strings('nodes');
  if (nodes.length === 0) m.fail('nodes', 'must name at least one GPU node');
  const bad = nodes.find((n) => !NODE_NAME.test(n));
  if (bad !== undefined) m.fail('nodes', `must be host names (letters, digits, . _ -), got ${JSON.stringify(bad)}`);
  if (new Set(nodes).size !== nodes.length) m.fail('nodes', 'must not name a node twice');
  const intervalSeconds = m.number('intervalSeconds', 10, 1, 3600);
  const common = {
    nodes,
    intervalSeconds,
    timeoutSeconds: m.number('timeoutSeconds', Math.min(10, intervalSeconds), 0.1, intervalSeconds),
    nonGpuKwPerNode: m.number('nonGpuKwPerNode', 0, 0, 1000),
    ...(m.has('pue') ? { pue: m.number('pue', undefined, 1, 3) } : {}),
  };
  let out: MeterConfig;
  if (kind === 'nvidia-smi') {
    const command = m.strings('command', DEFAULT_METER_COMMAND);
    if (command.length === 0 || command.some((a) => a === ''))
      m.fail('command', 'must be a non-empty list of non-empty arguments, e.g. ["ssh", "{node}", "nvidia-smi"]');
    if (nodes.length > 1 && !command.some((a) => a.includes('{node}')))
      m.fail('command', 'must contain {node} (where the node name goes) when several nodes are named');
    out = { kind, ...common, command };
  } else {
    const url = m.url('url');
    out = { kind, ...common, url, hostLabel: m.string('hostLabel', 'Hostname') };
  }
  m.done();
  return out;
};

export const readAgent = (c: ConfigReader): AgentConfig => {
  const id = c.string('id');
  const listen = readListen(c);
  const store = readStore(c);
  const keys = readKeys(c);
  const clock = readClock(c);
  const slotMinutes = c.number('slotMinutes', 30, 5, 60, true);
  const horizonSlots = c.number('horizonSlots', 96, 2, 2000, true);
  const logLevel = readLogLevel(c);
  const s = c.object('site');
  const site = {
    id: s.string('id'),
    region: s.string('region', 'GB'),
    gridImportLimitKw: s.number('gridImportLimitKw', undefined, 1, 1e7),
    pue: s.number('pue', 1.3, 1, 3),
  };
  s.done();
  const o = c.object('orchestrator');
  const orchestratorUrl = o.url('url');
  const orchestrator = readPeerKey(o, o.string('id'), orchestratorUrl, '');
  o.done();
  const scheduler = readScheduler(c);
  const pollSeconds = c.number('pollSeconds', 30, 1, 3600);
  const meter = readMeter(c, scheduler);
  c.optionalString('role');
  c.done();
  return {
    id,
    listen,
    store,
    keys,
    clock,
    slotMinutes,
    horizonSlots,
    logLevel,
    site,
    orchestrator,
    scheduler,
    pollSeconds,
    ...(meter ? { meter } : {}),
  };
};
