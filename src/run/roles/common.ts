// What every `flexlon run` role's config shares (listen, store, keys, clock, signals, registry,
// peers' keys, log level, rate limit, dashboard): read field by field, failing fast with
// FLX_CONFIG_INVALID naming the file and the field. One file per role beside this one reads the rest.
import { dirname, resolve } from 'node:path';
import {
  REGISTRY_CACHE_SECONDS,
  type ClockConfig,
  type KeysConfig,
  type ListenConfig,
  type PeerKeyConfig,
  type RegistryRef,
  type SignalsConfig,
  type StoreConfig,
} from '../../compose/config.ts';
import { DEFAULT_RATE_LIMIT, type RateLimit } from '../../beckn/rate-limit.ts';
import type { LogLevel } from '../../log.ts';
import type { ConfigReader } from '../config-reader.ts';

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
export const readVerifyThreads = (c: ConfigReader): number => c.number('verifyThreads', 0, 0, 16, true);

/**
 * `rateLimit`: {"perSecond", "burst"} per verified subscriber at the Beckn endpoints (defaults
 * DEFAULT_RATE_LIMIT, 2,000 and 4,000), or {"enabled": false} for none (docs/reliability.md). A BPP
 * without the field has DEFAULT_RATE_LIMIT, a gateway none (as the receiver's defaults).
 */
export const readRateLimit = (c: ConfigReader): { rateLimit?: RateLimit | false } => {
  const r = c.optionalObject('rateLimit');
  if (!r) return {};
  const enabled = r.boolean('enabled', true);
  const perSecond = r.number('perSecond', DEFAULT_RATE_LIMIT.perSecond, 0.001, 1_000_000);
  const burst = r.number('burst', Math.max(DEFAULT_RATE_LIMIT.burst, Math.ceil(perSecond)), 1, 10_000_000, true);
  r.done();
  return { rateLimit: enabled ? { perSecond, burst } : false };
};

export const readRegistryRef = (c: ConfigReader): RegistryRef => {
  const reg = c.object('registry');
  const url = reg.url('url');
  const subscribe = reg.boolean('subscribe', true);
  const cacheSeconds = reg.number('cacheSeconds', REGISTRY_CACHE_SECONDS, 0, 86_400);
  reg.done();
  return { url, subscribe, ...(cacheSeconds === REGISTRY_CACHE_SECONDS ? {} : { cacheSeconds }) };
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

/** What every Beckn participant that plans or buys reads first: who it is, where, its store, keys, registry, clock and signals. */
export const readParticipant = (c: ConfigReader) => ({
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
export const readDashboard = (
  c: ConfigReader,
): { dashboard?: { operatorTokenFile?: string; backtestDir?: string } } => {
  const d = c.optionalObject('dashboard');
  if (!d) return {};
  const operatorTokenFile = d.has('operatorTokenFile') ? d.filePath('operatorTokenFile') : undefined;
  const backtestDir = d.has('backtestDir') ? d.filePath('backtestDir') : undefined;
  d.done();
  return {
    dashboard: { ...(operatorTokenFile ? { operatorTokenFile } : {}), ...(backtestDir ? { backtestDir } : {}) },
  };
};
