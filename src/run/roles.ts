// `flexlon run ROLE --config FILE`: the JSON file parsed into the role's typed config
// (src/compose/config.ts), field by field, failing fast with FLX_CONFIG_INVALID naming the file and
// the field. Nothing here starts anything: the composers in src/compose/ do (docs/operator-guide.md,
// "Running each participant as its own process", lists every field).
import { dirname, resolve } from 'node:path';
import { DEFAULT_MONITOR, type MonitorPolicy } from '../agents/grid/monitor.ts';
import { DEFAULT_NEED_POLICY, type NeedPolicy } from '../agents/grid/orchestrator.ts';
import { DEFAULT_PRICING, type PricingPolicy } from '../agents/flex/pricing.ts';
import type {
  AgentConfig,
  BapConfig,
  BppConfig,
  BppSiteConfig,
  ClockConfig,
  GatewayConfig,
  KeysConfig,
  ListenConfig,
  MeterConfig,
  PeerKeyConfig,
  PlannerConfig,
  RegistryConfig,
  RegistryRef,
  SchedulerConfig,
  SignalsConfig,
  StoreConfig,
} from '../compose/config.ts';
import type { BapRunConfig, BuyerMeterFile, BuyerMeterUnit } from '../compose/bap.ts';
import { DEFAULT_RATE_LIMIT, type RateLimit } from '../beckn/rate-limit.ts';
import { DEFAULT_CANCELLATION, type CancellationPolicy } from '../domain/order.ts';
import type { LogLevel } from '../log.ts';
import { DEFAULT_SITE_PROFILE, SITE_PROFILES } from '../sim/site-profile.ts';
import type { ConfigReader } from './config-reader.ts';

export const readListen = (c: ConfigReader): ListenConfig => {
  const l = c.object('listen');
  const host = l.string('host', '127.0.0.1');
  const port = l.number('port', undefined, 1, 65_535, true);
  l.done();
  return { host, port, publicUrl: c.url('publicUrl', `http://${host}:${port}`) };
};

/** `store`: {"sqlite": "file.db"} (relative to the config file) or {"postgres": {"url", "schema", "passwordFile"?}}. */
export const readStore = (c: ConfigReader): StoreConfig => {
  const s = c.object('store');
  if (s.has('sqlite') === s.has('postgres'))
    s.fail('sqlite', 'give exactly one of "sqlite" (a file path) or "postgres" ({url, schema, passwordFile})');
  if (s.has('sqlite')) {
    const file = s.filePath('sqlite');
    s.done();
    return { kind: 'sqlite', file };
  }
  const pg = s.object('postgres');
  const url = pg.string('url');
  const schema = pg.string('schema');
  const passwordFile = pg.has('passwordFile') ? pg.filePath('passwordFile') : undefined;
  pg.done();
  s.done();
  return { kind: 'postgres', url, schema, ...(passwordFile ? { passwordFile } : {}) };
};

export const readKeys = (c: ConfigReader): KeysConfig => {
  const k = c.object('keys');
  const dir = k.filePath('dir');
  const generate = k.boolean('generate', false);
  k.done();
  return { dir, generate };
};

/**
 * `clock`: {"kind": "system"} (live: market time is the wall clock) or {"kind": "replay",
 * "marketStart": RFC 3339, "wallStart": RFC 3339, "speed": N}: market time = marketStart + (now −
 * wallStart) × speed, the same in every process given the same values, and after a restart.
 */
export const readClock = (c: ConfigReader): ClockConfig => {
  const k = c.object('clock', { kind: 'system' });
  const kind = k.oneOf('kind', ['system', 'replay'] as const);
  if (kind === 'system') {
    k.done();
    return { kind: 'system' };
  }
  const marketStart = k.time('marketStart');
  const wallStart = k.time('wallStart');
  const speed = k.number('speed', 1, 0.001, 100_000);
  k.done();
  return { kind: 'replay', marketStart, wallStart, speed };
};

/** `signals`: {"kind": "shipped"} (the GB data in data/grid) or {"kind": "csv", "carbon": [...], "price": [...]}. */
export const readSignals = (c: ConfigReader): SignalsConfig => {
  const s = c.object('signals', { kind: 'shipped' });
  const kind = s.oneOf('kind', ['shipped', 'csv'] as const);
  if (kind === 'shipped') {
    s.done();
    return { kind: 'shipped' };
  }
  const rel = (f: string) => resolve(dirname(s.file), f);
  const out = {
    kind: 'csv' as const,
    carbon: s.strings('carbon').map(rel),
    price: s.strings('price').map(rel),
    regional: s.strings('regional', []).map(rel),
  };
  s.done();
  return out;
};

export const readLogLevel = (c: ConfigReader): LogLevel =>
  c.oneOf<LogLevel>(
    'logLevel',
    ['debug', 'info', 'warn', 'error', 'silent'],
    (process.env.FLEXLON_LOG_LEVEL as LogLevel | undefined) ?? 'info',
  );

/** `verifyThreads`: ed25519 signature checks on worker threads (0: on the event loop). */
const readVerifyThreads = (c: ConfigReader): number => c.number('verifyThreads', 0, 0, 16, true);

/**
 * `rateLimit`: {"perSecond", "burst"} per verified subscriber at the Beckn endpoints (defaults
 * DEFAULT_RATE_LIMIT, 2,000 and 4,000), or {"enabled": false} for none (docs/reliability.md). A BPP
 * without the field has DEFAULT_RATE_LIMIT, a gateway none (as the receiver's defaults).
 */
const readRateLimit = (c: ConfigReader): { rateLimit?: RateLimit | false } => {
  const r = c.optionalObject('rateLimit');
  if (!r) return {};
  const enabled = r.boolean('enabled', true);
  const perSecond = r.number('perSecond', DEFAULT_RATE_LIMIT.perSecond, 0.001, 1_000_000);
  const burst = r.number('burst', Math.max(DEFAULT_RATE_LIMIT.burst, Math.ceil(perSecond)), 1, 10_000_000, true);
  r.done();
  return { rateLimit: enabled ? { perSecond, burst } : false };
};

const readRegistryRef = (c: ConfigReader): RegistryRef => {
  const reg = c.object('registry');
  const url = reg.url('url');
  const subscribe = reg.boolean('subscribe', true);
  reg.done();
  return { url, subscribe };
};

/**
 * A peer this process trusts without the registry (the operator's own agents and orchestrator): its
 * key inline (`<prefix>KeyId` + `<prefix>PublicKey`) or in its key file (`<prefix>KeyFile`, only the
 * public fields are read), read when first needed, so the two sides may start in either order and
 * each create its own key on first start.
 */
export const readPeerKey = (
  c: ConfigReader,
  subscriberId: string,
  url: string,
  prefix: 'agent' | '',
): PeerKeyConfig => {
  const f = (name: string) => (prefix === '' ? name : `${prefix}${name[0]?.toUpperCase() ?? ''}${name.slice(1)}`);
  if (c.has(f('keyFile'))) return { subscriberId, url, keyFile: c.filePath(f('keyFile')) };
  if (!c.has(f('keyId')) && !c.has(f('publicKey')))
    c.fail(f('keyFile'), `name the peer's key: ${f('keyFile')} (its key file), or ${f('keyId')} and ${f('publicKey')}`);
  return { subscriberId, url, uniqueKeyId: c.string(f('keyId')), publicKeyBase64: c.string(f('publicKey')) };
};

export const readRegistry = (c: ConfigReader): RegistryConfig => {
  const listen = readListen(c);
  const store = readStore(c);
  const logLevel = readLogLevel(c);
  c.optionalString('role');
  c.done();
  return { listen, store, logLevel };
};

export const readGateway = (c: ConfigReader): GatewayConfig => {
  const id = c.string('id');
  const listen = readListen(c);
  const store = readStore(c);
  const keys = readKeys(c);
  const registry = readRegistryRef(c);
  const logLevel = readLogLevel(c);
  const verifyThreads = readVerifyThreads(c);
  const rateLimit = readRateLimit(c);
  c.optionalString('role');
  c.done();
  return { id, listen, store, keys, registry, logLevel, verifyThreads, ...rateLimit };
};

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

/** `carbonCapKg` (kg over each plan's horizon) or `carbonCap`: "fifo" | "none"; not both. */
const readCarbonCap = (c: ConfigReader): { carbonCap?: number | 'fifo' | 'none' } => {
  if (c.has('carbonCapKg') && c.has('carbonCap'))
    c.fail('carbonCap', 'give carbonCapKg (kg) or carbonCap ("fifo" or "none"), not both');
  if (c.has('carbonCapKg')) return { carbonCap: c.number('carbonCapKg', undefined, 0, 1e12) };
  if (c.has('carbonCap')) return { carbonCap: c.oneOf('carbonCap', ['fifo', 'none'] as const) };
  return {};
};

const readPlanner = (c: ConfigReader): PlannerConfig => {
  const p = c.object('planner', { kind: 'highs' });
  const kind = p.oneOf('kind', ['highs', 'greedy'] as const);
  const timeLimitSeconds = p.number('timeLimitSeconds', 5, 0.1, 600);
  p.done();
  return { kind, timeLimitSeconds };
};

/** What every Beckn participant that plans or buys reads first: who it is, where, its store, keys, registry, clock and signals. */
const readParticipant = (c: ConfigReader) => ({
  id: c.string('id'),
  logLevel: readLogLevel(c),
  listen: readListen(c),
  store: readStore(c),
  keys: readKeys(c),
  registry: readRegistryRef(c),
  clock: readClock(c),
  signals: readSignals(c),
});

/** The operator dashboard (docs/dashboard.md): `"dashboard": {"operatorTokenFile": "…"}` enables its actions. */
const readDashboard = (c: ConfigReader): { dashboard?: { operatorTokenFile?: string; backtestDir?: string } } => {
  const d = c.optionalObject('dashboard');
  if (!d) return {};
  const operatorTokenFile = d.has('operatorTokenFile') ? d.filePath('operatorTokenFile') : undefined;
  const backtestDir = d.has('backtestDir') ? d.filePath('backtestDir') : undefined;
  d.done();
  return {
    dashboard: { ...(operatorTokenFile ? { operatorTokenFile } : {}), ...(backtestDir ? { backtestDir } : {}) },
  };
};

export const readBpp = (c: ConfigReader): BppConfig => {
  const { id, logLevel, listen, store, keys, registry, clock, signals } = readParticipant(c);
  const planner = readPlanner(c);
  const sites = c.array('sites', 1).map(readSite);
  if (new Set(sites.map((s) => s.id)).size !== sites.length) c.fail('sites', 'site ids must be unique');
  const slotMinutes = c.number('slotMinutes', 30, 5, 60, true);
  const horizonSlots = c.number('horizonSlots', 96, 2, 2000, true);
  const out: BppConfig = {
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
    supportEmail: c.string('supportEmail', `flexibility-desk@${id}`),
    baseline: c.oneOf('baseline', ['fifo', 'bl01'] as const, 'fifo'),
    outboxEveryMs: c.number('outboxEveryMs', 1000, 50, 60_000, true),
    verifyThreads: readVerifyThreads(c),
    ...readDashboard(c),
    ...readRateLimit(c),
    // The version the BPP registers itself with (docs/beckn-2.md); absent: the record names none (1.1.1).
    ...(c.has('becknVersion') ? { becknVersion: c.oneOf('becknVersion', ['1.1.1', '2.0'] as const) } : {}),
  };
  c.optionalString('role');
  c.done();
  return out;
};

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

const readPolicy = (c: ConfigReader): NeedPolicy => {
  const p = c.object('policy', {});
  const d = DEFAULT_NEED_POLICY;
  const windowSlots = p.number('windowSlots', d.windowSlots, 1, 48, true);
  const leadSlots = p.number('leadSlots', d.leadSlots, 0, 96, true);
  const wantedKw = p.number('wantedKw', d.wantedKw, 1, 1e7);
  const maxPriceGbpPerMwh = p.number('maxPriceGbpPerMwh', d.maxPriceGbpPerMwh, 0, 100_000);
  const priceWeight = p.number('priceWeight', d.priceWeight, 0, 1);
  const hours = p.has('peakHours') ? p.numbers('peakHours', 2, 0, 24) : [...d.peakHours];
  if ((hours[0] ?? 0) >= (hours[1] ?? 0))
    p.fail('peakHours', `must be [from, to) hours of the day with from < to, got ${JSON.stringify(hours)}`);
  const procureLeadSlots = p.number('procureLeadSlots', d.procureLeadSlots, 1, 96, true);
  const monitor = readMonitor(p);
  p.done();
  return {
    windowSlots,
    leadSlots,
    wantedKw,
    maxPriceGbpPerMwh,
    priceWeight,
    peakHours: [hours[0] ?? 0, hours[1] ?? 24],
    procureLeadSlots,
    ...(monitor ? { monitor } : {}),
  };
};

/**
 * `policy.monitor` (src/agents/grid/monitor.ts): {"tolerance": share 0–1, default 0.05, the WPD
 * Flexible Power tolerance; "topUp": true | false, default false}. Present (even `{}`): status is
 * asked of every part at each slot of its window and a shortfall beyond the tolerance is alerted
 * (and topped up from another provider if `topUp`); absent: no status until after the window.
 */
const readMonitor = (p: ConfigReader): MonitorPolicy | undefined => {
  const m = p.optionalObject('monitor');
  if (!m) return undefined;
  const tolerance = m.number('tolerance', DEFAULT_MONITOR.tolerance, 0, 1);
  const topUp = m.boolean('topUp', DEFAULT_MONITOR.topUp);
  m.done();
  return { tolerance, topUp };
};

/**
 * `meters`: the buyer's own meter data, one file per site it buys from ([{"site", "file", "unit"?}]):
 * a meter CSV (src/formats/meter-csv.ts; `unit` kWh or kW where the header does not say) or a saved
 * Prometheus query_range answer, a `.json` file (src/formats/prometheus-range.ts; `unit` W or kW).
 * The files are read when the BAP starts (src/compose/bap.ts), and again when they change.
 */
const readMeters = (c: ConfigReader): { meters?: BuyerMeterFile[] } => {
  if (!c.has('meters')) return {};
  const meters = c.array('meters', 1).map((m): BuyerMeterFile => {
    const site = m.string('site');
    const file = m.filePath('file');
    // A CSV is energy or power per period; a Prometheus series is power.
    const units: readonly BuyerMeterUnit[] = file.toLowerCase().endsWith('.json') ? ['W', 'kW'] : ['kWh', 'kW'];
    const unit = m.has('unit') ? m.oneOf('unit', units) : undefined;
    m.done();
    return { site, file, ...(unit ? { unit } : {}) };
  });
  const seen = new Set<string>();
  meters.forEach((m, i) => {
    if (seen.has(m.site))
      c.fail(`meters[${i}].site`, `names ${JSON.stringify(m.site)} a second time: one meter file per site`);
    seen.add(m.site);
  });
  return { meters };
};

export const readBap = (c: ConfigReader): BapRunConfig => {
  const { id, logLevel, listen, store, keys, registry, clock, signals } = readParticipant(c);
  const region = c.string('region', 'GB');
  const slotMinutes = c.number('slotMinutes', 30, 5, 60, true);
  const policy = readPolicy(c);
  const collectMs = c.number('collectMs', 5000, 100, 120_000, true);
  const callbackTimeoutMs = c.number('callbackTimeoutMs', 10_000, 100, 120_000, true);
  const verifyThreads = readVerifyThreads(c);
  const o = c.optionalObject('openadr');
  let openadr: BapConfig['openadr'];
  if (o) {
    openadr = { tokenFile: o.filePath('tokenFile') };
    o.done();
  }
  const dashboard = readDashboard(c);
  const meters = readMeters(c);
  c.optionalString('role');
  c.done();
  return {
    id,
    logLevel,
    listen,
    store,
    keys,
    registry,
    clock,
    signals,
    region,
    slotMinutes,
    policy,
    collectMs,
    callbackTimeoutMs,
    verifyThreads,
    ...(openadr ? { openadr } : {}),
    ...dashboard,
    ...meters,
  };
};
