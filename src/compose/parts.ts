// The parts every role is built from, picked here from validated config: its store (the one store
// selector), clock, grid signals, keys, logger, inbound journal, the peers it trusts without the
// registry, and its listening socket. Only src/compose/ may import adapters (eslint.config.js).
import { createServer } from 'node:net';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ReplayClock, SystemClock } from '../adapters/clock/clocks.ts';
import { FileKeyStore, keyFilePath } from '../adapters/keystore-file/keystore.ts';
import { CsvSignalSource } from '../adapters/signals-csv/source.ts';
import { openPostgresStore, postgresOptionsFromEnv } from '../adapters/store-postgres/index.ts';
import { openSqliteStore } from '../adapters/store-sqlite/index.ts';
import { openSqliteJournal } from '../adapters/store-sqlite/journal.ts';
import { FLEXLON_DOMAIN } from '../beckn/context.ts';
import type { InboundJournal } from '../beckn/journal.ts';
import { V2_PATH } from '../beckn/v2/receiver.ts';
import { createVerifierPool, type VerifierPool } from '../beckn/verify-pool.ts';
import { staticKeyResolver, type KeyResolver, type TrustedKey } from '../beckn/key-resolver.ts';
import { SHIPPED_GRID } from '../config.ts';
import { epochMs } from '../domain/time.ts';
import { FlexError } from '../errors.ts';
import type { Logger, LogLevel } from '../log.ts';
import { createPinoLogger } from '../observability/logger.ts';
import type { Clock, Signer, Store, Subscription } from '../ports.ts';
import type {
  ClockConfig,
  JournalKind,
  KeysConfig,
  ListenConfig,
  PeerKeyConfig,
  SignalsConfig,
  StoreConfig,
} from './config.ts';

/** Opens the store a config names. `actor` is who opens it (recorded against any migration). */
export const openStore = (c: StoreConfig, actor: string): Promise<Store> =>
  c.kind === 'sqlite'
    ? openSqliteStore(c.file)
    : openPostgresStore({
        url: c.url,
        schema: c.schema,
        actor,
        ...(c.passwordFile === undefined ? {} : { passwordFile: c.passwordFile }),
      });

/**
 * The documented default when a run names no store (the demo): a SQLite file per agent in the run
 * folder, or, with FLEXLON_STORE=postgres, a schema per agent and run in the database at
 * FLEXLON_PG_URL (password file FLEXLON_PG_PASSWORD_FILE). Checked before any store is opened.
 */
export const defaultStoreConfig = (
  runDir: string,
  runId: string,
  env: NodeJS.ProcessEnv = process.env,
): ((agent: string) => StoreConfig) => {
  const kind = env.FLEXLON_STORE ?? 'sqlite';
  if (kind === 'sqlite') return (agent) => ({ kind: 'sqlite', file: join(runDir, `${agent}.db`) });
  if (kind !== 'postgres')
    throw new FlexError('FLX_CONFIG_INVALID', `FLEXLON_STORE: must be sqlite or postgres, got "${kind}"`, {
      path: 'FLEXLON_STORE',
    });
  const run = runId
    .replace(/[^a-z0-9]/gi, '')
    .slice(-8)
    .toLowerCase();
  postgresOptionsFromEnv(env, 'flexlon'); // fail fast on a bad URL, before any store is opened
  return (agent) => {
    const o = postgresOptionsFromEnv(env, `flexlon_${run}_${agent.replace(/-/g, '_')}`, agent);
    return {
      kind: 'postgres',
      url: o.url,
      schema: o.schema,
      ...(o.passwordFile ? { passwordFile: o.passwordFile } : {}),
    };
  };
};

/** How each agent's store is opened in a run folder (the environment's choice, see defaultStoreConfig). */
export const storeOpener = (
  runDir: string,
  runId: string,
  env: NodeJS.ProcessEnv = process.env,
): ((agent: string) => Promise<Store>) => {
  const config = defaultStoreConfig(runDir, runId, env);
  return (agent) => openStore(config(agent), agent);
};

/**
 * The inbound journal: grouped commits (one fsync per batch) on a SQLite file when asked for, else
 * none given, so the receiver journals through the Store port (src/beckn/receiver.ts).
 */
export const openJournal = async (
  kind: JournalKind | undefined,
  store: Store,
  config: StoreConfig,
): Promise<{ readonly journal?: InboundJournal; close(): Promise<void> }> => {
  if (kind !== 'sqlite-group-commit' || config.kind !== 'sqlite') return { close: async () => {} };
  const journal = await openSqliteJournal(store.location);
  return { journal, close: () => journal.close() };
};

/** The signature-verifier pool a receiver's `verifyThreads` asks for (none for 0 or absent). */
export const verifierPool = (threads: number | undefined): VerifierPool | undefined =>
  threads ? createVerifierPool(threads) : undefined;

export const makeClock = (c: ClockConfig): Clock =>
  c.kind === 'system' ? new SystemClock() : new ReplayClock(epochMs(c.marketStart), c.speed, c.wallStart);

export const makeSignals = (c: SignalsConfig): CsvSignalSource =>
  c.kind === 'shipped'
    ? new CsvSignalSource(SHIPPED_GRID)
    : new CsvSignalSource({ carbon: [...c.carbon], price: [...c.price], regional: [...(c.regional ?? [])] });

export const makeKeys = (c: KeysConfig): FileKeyStore => new FileKeyStore(c.dir, c.generate);

/**
 * The id of a BPP's dispatch key (its own key pair, beside its Beckn key): agents trust this one
 * only, so a message the BPP signed for the Beckn network is never a valid dispatch.
 */
export const dispatchKeyId = (bppId: string): string => `dispatch.${bppId}`;

export const makeLogger = (level: LogLevel, base: Record<string, unknown>): Logger => createPinoLogger({ level, base });

/** The path of the public key file FileKeyStore keeps for `subscriberId` in `dir`. */
export const keyFileOf = (dir: string, subscriberId: string): string => keyFilePath(dir, subscriberId);

/**
 * A peer's key file, parsed; read again only when the file changes (every signed request from an
 * agent or the orchestrator is checked against it, so a read per request would be on the hot path).
 */
const keyFiles = new Map<string, { readonly mtimeMs: number; readonly value: unknown }>();
const readKeyFile = (file: string): unknown => {
  const mtimeMs = statSync(file).mtimeMs;
  const known = keyFiles.get(file);
  if (known?.mtimeMs === mtimeMs) return known.value;
  const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
  keyFiles.set(file, { mtimeMs, value });
  return value;
};

const trustedOf = (p: PeerKeyConfig): TrustedKey => {
  if (!('keyFile' in p))
    return { subscriberId: p.subscriberId, url: p.url, uniqueKeyId: p.uniqueKeyId, publicKeyBase64: p.publicKeyBase64 };
  let key: { subscriber_id?: unknown; unique_key_id?: unknown; signing_public_key?: unknown };
  try {
    key = readKeyFile(p.keyFile) as typeof key;
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

/**
 * The peers whose key file is not there yet. Not an error (the peer writes it on its first start, so
 * the two may start in either order), but until it is there every signed request from that peer is
 * refused: a role says so when it starts, rather than report ready as if it were trusted.
 */
export const keyFilesNotYetThere = (peers: readonly PeerKeyConfig[]): { subscriberId: string; keyFile: string }[] =>
  peers.flatMap((p) =>
    'keyFile' in p && !existsSync(p.keyFile) ? [{ subscriberId: p.subscriberId, keyFile: p.keyFile }] : [],
  );

/** The lines a role prints after "ready" for keyFilesNotYetThere (none where every key file is there). */
export const notYetTrusted = (waiting: readonly { subscriberId: string; keyFile: string }[]): string[] =>
  waiting.map(
    (w) =>
      `no key file yet for ${w.subscriberId} at ${w.keyFile}: its signed requests are refused (FLX_SIG_UNKNOWN_KEY) until it is there; that peer writes it on its first start (keys.generate), or copy its public key file there`,
  );

/** Trusts the given peers, each key read when first needed, so the two sides may start in either order. */
export const peerKeyResolver = (peers: readonly PeerKeyConfig[]): KeyResolver => ({
  async resolve(subscriberId, uniqueKeyId, nowMs) {
    const keys = peers.filter((p) => p.subscriberId === subscriberId).map(trustedOf);
    return staticKeyResolver(keys).resolve(subscriberId, uniqueKeyId, nowMs);
  },
});

/**
 * The registry record a role subscribes. With `becknVersion` '2.0' (a BPP's config) the record says
 * `beckn_version: "2.0.0"` and its URL is the role's 2.0 base, url + /v2 (src/beckn/v2/versions.ts:
 * a 2.0 record's URL is where 2.0 requests go); '1.1.1' says "1.1.1"; absent, the record carries no
 * version, which reads as 1.1.1 too.
 */
export const subscriptionOf = (
  signer: Signer,
  type: Subscription['type'],
  url: string,
  now: number,
  becknVersion?: '1.1.1' | '2.0',
): Subscription => ({
  subscriber_id: signer.subscriberId,
  subscriber_url: becknVersion === '2.0' ? `${url.replace(/\/+$/, '')}${V2_PATH}` : url,
  ...(becknVersion === undefined ? {} : { beckn_version: becknVersion === '2.0' ? '2.0.0' : '1.1.1' }),
  type,
  domain: FLEXLON_DOMAIN,
  unique_key_id: signer.uniqueKeyId,
  signing_public_key: signer.publicKeyBase64,
  valid_from: new Date(now - 60_000).toISOString(),
  valid_until: new Date(now + 365 * 86_400_000).toISOString(),
  status: 'SUBSCRIBED',
});

/** Listens where the config says; a port in use is a config error naming `listen`. Returns the URL. */
/**
 * Fails (FLX_CONFIG_INVALID naming `listen`) when the role's port is already taken, before the role
 * opens or migrates its store: a role that cannot serve writes nothing (issue 14 finding 7). A check,
 * not a reservation: another process may still take the port before the role listens, and listenOn
 * then fails the same way.
 */
export const assertPortFree = async (l: ListenConfig, field = 'listen'): Promise<void> => {
  if (l.port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new FlexError(
          'FLX_CONFIG_INVALID',
          `${field}: cannot listen on ${l.host}:${l.port}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : (e.code ?? e.message)}; nothing was written`,
          { path: field },
        ),
      ),
    );
    probe.listen(l.port, l.host, () => probe.close(() => resolve()));
  });
};

export const listenOn = async (app: FastifyInstance, l: ListenConfig): Promise<string> => {
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
  if (l.port !== 0) return l.publicUrl;
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new FlexError('FLX_INTERNAL', 'server has no TCP address');
  return `http://${l.host}:${addr.port}`;
};

/** A role, started: where it answers and how to stop it cleanly. */
export interface RunningRole {
  readonly url: string;
  readonly description: string;
  /** What the operator should know at start, a line each after "ready" (a peer's key file not there yet). */
  readonly notes?: readonly string[];
  stop(): Promise<void>;
}

/** A port free on 127.0.0.1 now (released at once: a role binds it later, and may find it taken). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr !== null && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
