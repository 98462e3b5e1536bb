// The parts of a process config every role shares (docs/operator-guide.md, "Running each
// participant as its own process"): where it listens, its store, its keys, the registry, the
// market clock, the grid signals and the log level. Each reader refuses unknown fields and names
// the field at fault.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ReplayClock, SystemClock } from '../adapters/clock/clocks.ts';
import { FileKeyStore } from '../adapters/keystore-file/keystore.ts';
import { CsvSignalSource } from '../adapters/signals-csv/source.ts';
import { openPostgresStore } from '../adapters/store-postgres/index.ts';
import { openSqliteStore } from '../adapters/store-sqlite/index.ts';
import { SHIPPED_GRID } from '../config.ts';
import { epochMs } from '../domain/time.ts';
import { FlexError } from '../errors.ts';
import type { Logger, LogLevel } from '../log.ts';
import { createPinoLogger } from '../observability/logger.ts';
import { staticKeyResolver, type KeyResolver, type TrustedKey } from '../beckn/key-resolver.ts';
import type { Clock, Store } from '../ports.ts';
import type { ConfigReader } from './config-reader.ts';

export interface Listen {
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
}

export const readListen = (c: ConfigReader): Listen => {
  const l = c.object('listen');
  const host = l.string('host', '127.0.0.1');
  const port = l.number('port', undefined, 1, 65_535, true);
  l.done();
  return { host, port, publicUrl: c.url('publicUrl', `http://${host}:${port}`) };
};

/** `store`: {"sqlite": "file.db"} (relative to the config file) or {"postgres": {"url", "schema", "passwordFile"?}}. */
export const readStore = (c: ConfigReader, agent: string): (() => Promise<Store>) => {
  const s = c.object('store');
  if (s.has('sqlite') === s.has('postgres'))
    s.fail('sqlite', 'give exactly one of "sqlite" (a file path) or "postgres" ({url, schema, passwordFile})');
  if (s.has('sqlite')) {
    const file = s.filePath('sqlite');
    s.done();
    return () => openSqliteStore(file);
  }
  const pg = s.object('postgres');
  const url = pg.string('url');
  const schema = pg.string('schema');
  const passwordFile = pg.has('passwordFile') ? pg.filePath('passwordFile') : undefined;
  pg.done();
  s.done();
  return () => openPostgresStore({ url, schema, actor: agent, ...(passwordFile ? { passwordFile } : {}) });
};

export const readKeys = (c: ConfigReader): FileKeyStore => {
  const k = c.object('keys');
  const dir = k.filePath('dir');
  const generate = k.boolean('generate', false);
  k.done();
  return new FileKeyStore(dir, generate);
};

/**
 * `clock`: {"kind": "system"} (live: market time is the wall clock) or {"kind": "replay",
 * "marketStart": RFC 3339, "wallStart": RFC 3339, "speed": N}: market time = marketStart + (now −
 * wallStart) × speed, the same in every process given the same values, and after a restart.
 */
export const readClock = (c: ConfigReader): Clock => {
  const k = c.object('clock', { kind: 'system' });
  const kind = k.oneOf('kind', ['system', 'replay'] as const);
  if (kind === 'system') {
    k.done();
    return new SystemClock();
  }
  const marketStart = k.time('marketStart');
  const wallStart = k.time('wallStart');
  const speed = k.number('speed', 1, 0.001, 100_000);
  k.done();
  return new ReplayClock(epochMs(marketStart), speed, wallStart);
};

/** `signals`: {"kind": "shipped"} (the GB data in data/grid) or {"kind": "csv", "carbon": [...], "price": [...]}. */
export const readSignals = (c: ConfigReader): CsvSignalSource => {
  const s = c.object('signals', { kind: 'shipped' });
  const kind = s.oneOf('kind', ['shipped', 'csv'] as const);
  if (kind === 'shipped') {
    s.done();
    return new CsvSignalSource(SHIPPED_GRID);
  }
  const rel = (f: string) => resolve(dirname(s.file), f);
  const files = {
    carbon: s.strings('carbon').map(rel),
    price: s.strings('price').map(rel),
    regional: s.strings('regional', []).map(rel),
  };
  s.done();
  return new CsvSignalSource(files);
};

export const readLogger = (c: ConfigReader, base: Record<string, unknown>): Logger =>
  createPinoLogger({
    level: c.oneOf<LogLevel>(
      'logLevel',
      ['debug', 'info', 'warn', 'error', 'silent'],
      (process.env.FLEXLON_LOG_LEVEL as LogLevel | undefined) ?? 'info',
    ),
    base,
  });

export const listenOn = async (app: FastifyInstance, l: Listen): Promise<void> => {
  try {
    await app.listen({ host: l.host, port: l.port });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `listen: cannot listen on ${l.host}:${l.port}: ${code === 'EADDRINUSE' ? 'the port is in use' : (code ?? (e as Error).message)}`,
      { path: 'listen' },
    );
  }
};

/** A process of one role, started: where it answers and how to stop it cleanly. */
export interface RunningRole {
  readonly url: string;
  readonly description: string;
  stop(): Promise<void>;
}

/**
 * A peer this process trusts without the registry (the operator's own agents and orchestrator): its
 * key inline (`<prefix>KeyId` + `<prefix>PublicKey`) or in its key file (`<prefix>KeyFile`, only the
 * public fields are read), read when first needed, so the two sides may start in either order and
 * each create its own key on first start.
 */
export interface PeerKey {
  readonly subscriberId: string;
  readonly url: string;
  readonly keyFile?: string;
  readonly uniqueKeyId?: string;
  readonly publicKeyBase64?: string;
}

export const readPeerKey = (c: ConfigReader, subscriberId: string, url: string, prefix: 'agent' | ''): PeerKey => {
  const f = (name: string) => (prefix === '' ? name : `${prefix}${name[0]?.toUpperCase() ?? ''}${name.slice(1)}`);
  if (c.has(f('keyFile'))) return { subscriberId, url, keyFile: c.filePath(f('keyFile')) };
  if (!c.has(f('keyId')) && !c.has(f('publicKey')))
    c.fail(f('keyFile'), `name the peer's key: ${f('keyFile')} (its key file), or ${f('keyId')} and ${f('publicKey')}`);
  return { subscriberId, url, uniqueKeyId: c.string(f('keyId')), publicKeyBase64: c.string(f('publicKey')) };
};

const trustedOf = (p: PeerKey): TrustedKey => {
  if (p.keyFile === undefined)
    return {
      subscriberId: p.subscriberId,
      url: p.url,
      uniqueKeyId: p.uniqueKeyId ?? '',
      publicKeyBase64: p.publicKeyBase64 ?? '',
    };
  let key: { subscriber_id?: unknown; unique_key_id?: unknown; signing_public_key?: unknown };
  try {
    key = JSON.parse(readFileSync(p.keyFile, 'utf8')) as typeof key;
  } catch (e) {
    throw new FlexError(
      'FLX_SIG_UNKNOWN_KEY',
      `the key file ${p.keyFile} of ${p.subscriberId} cannot be read yet: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (
    key.subscriber_id !== p.subscriberId ||
    typeof key.unique_key_id !== 'string' ||
    typeof key.signing_public_key !== 'string'
  ) {
    throw new FlexError(
      'FLX_SIG_UNKNOWN_KEY',
      `the key file ${p.keyFile} is not a public key of ${p.subscriberId} (subscriber_id, unique_key_id, signing_public_key)`,
    );
  }
  return {
    subscriberId: p.subscriberId,
    url: p.url,
    uniqueKeyId: key.unique_key_id,
    publicKeyBase64: key.signing_public_key,
  };
};

export const peerKeyResolver = (peers: readonly PeerKey[]): KeyResolver => ({
  async resolve(subscriberId, uniqueKeyId, nowMs) {
    const keys = peers.filter((p) => p.subscriberId === subscriberId).map(trustedOf);
    return staticKeyResolver(keys).resolve(subscriberId, uniqueKeyId, nowMs);
  },
});
