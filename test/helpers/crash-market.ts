// A market for the crash tests: the Flexibility Orchestrator (BPP) as a real child process
// (`flexlon run bpp --config …`), which the test kills with SIGKILL and starts again; around it, in
// the test process, a registry, a BAP that counts the callbacks it receives (its receiver dedupes by
// message_id, as any Beckn participant does), and a Compute-Flex agent over a simulated site. All on
// loopback with real signatures; the BPP's store is a SQLite file or a PostgreSQL schema.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComputeAgent } from '../../src/agents/compute/agent.ts';
import { ReplayClock } from '../../src/adapters/clock/clocks.ts';
import { FileKeyStore } from '../../src/adapters/keystore-file/keystore.ts';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import type { BecknClient } from '../../src/beckn/client.ts';
import { registryKeyResolver } from '../../src/beckn/key-resolver.ts';
import { composeAgent, composeRegistry, dispatchKeyId } from '../../src/compose/index.ts';
import { epochMs } from '../../src/domain/time.ts';
import { createLogger } from '../../src/log.ts';
import type { Store } from '../../src/ports.ts';
import { startTestBap, type Callbacks } from './bap.ts';
import { freePort, spawnRole, type RoleChild } from './run-process.ts';

export const IDS = { bpp: 'dc.crash.local', bap: 'grid.crash.local', agent: 'agent-lon.crash.local' } as const;
export const MARKET_START = epochMs(Date.parse('2023-01-24T12:00:00Z'));
export const HORIZON_SLOTS = 16;

export type BppChild = RoleChild;

export interface CrashMarket {
  readonly dir: string;
  readonly bppUrl: string;
  readonly bapUrl: string;
  readonly bapStore: Store;
  readonly client: BecknClient;
  readonly callbacks: Callbacks;
  readonly market: ReplayClock;
  readonly agent: ComputeAgent;
  /** Starts the BPP process and resolves once it printed "ready" (rejects with its stderr if it exits first). */
  startBpp(): Promise<BppChild>;
  stop(): Promise<void>;
}

export type BppStoreConfig =
  { readonly sqlite: string } | { readonly postgres: { readonly url: string; readonly schema: string } };

export const startCrashMarket = async (store: (dir: string) => BppStoreConfig): Promise<CrashMarket> => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-crash-'));
  const keys = new FileKeyStore(join(dir, 'keys'), true);
  // Every key exists before any participant starts: each side names the other's key file.
  const [bapSigner] = [
    await keys.signer(IDS.bap),
    await keys.signer(IDS.agent),
    await keys.signer(IDS.bpp),
    await keys.signer(dispatchKeyId(IDS.bpp)),
  ] as const;
  const stores: Store[] = [];
  const open = async (name: string) => {
    const s = await openSqliteStore(join(dir, `${name}.db`));
    stores.push(s);
    return s;
  };
  const roles: { stop(): Promise<void> }[] = [];
  const registryRole = await composeRegistry({
    listen: { host: '127.0.0.1', port: 0, publicUrl: '' },
    store: { kind: 'sqlite', file: join(dir, 'registry.db') },
    logLevel: 'silent',
  });
  roles.push(registryRole);
  const registryUrl = registryRole.url;
  const registry = new HttpRegistry({ url: registryUrl, now: Date.now, cacheTtlMs: 0 });
  const resolver = registryKeyResolver(registry);

  // The BAP: accepts any callback and records it (after its receiver's dedupe and durable claim).
  const bapStore = await open('bap');
  const bap = await startTestBap({ signer: bapSigner, store: bapStore, registryUrl, resolver });
  const { callbacks, client } = bap;
  const bapUrl = bap.url;

  // The agent over a simulated site (the demo's day: seed 7, 36 jobs); market time replayed at wall
  // speed from 12:00, shared with the BPP process.
  const wallStart = Date.now();
  const market = new ReplayClock(MARKET_START, 1, wallStart);
  const [bppPort, agentPort] = [await freePort(), await freePort()];
  const bppUrl = `http://127.0.0.1:${bppPort}`;
  const agentRole = await composeAgent(
    {
      id: IDS.agent,
      listen: { host: '127.0.0.1', port: agentPort, publicUrl: `http://127.0.0.1:${agentPort}` },
      store: { kind: 'sqlite', file: join(dir, 'agent.db') },
      logLevel: 'silent',
      keys: { dir: join(dir, 'keys'), generate: true },
      clock: { kind: 'system' },
      slotMinutes: 30,
      horizonSlots: HORIZON_SLOTS,
      site: { id: 'lon', region: 'GB', gridImportLimitKw: 400, pue: 1.3 },
      orchestrator: {
        subscriberId: dispatchKeyId(IDS.bpp),
        url: bppUrl,
        keyFile: join(dir, 'keys', `${dispatchKeyId(IDS.bpp)}.json`),
      },
      scheduler: { kind: 'sim', profile: 'half-idle', seed: 7, jobs: 36, trainingNodes: 32, baseline: 'fifo' },
      pollSeconds: 30,
    },
    { clock: market, log: createLogger('silent'), drive: 'external' },
  );
  roles.push(agentRole);
  const agent = agentRole.agent;
  const agentUrl = agentRole.url;

  const configFile = join(dir, 'bpp.json');
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        role: 'bpp',
        id: IDS.bpp,
        listen: { host: '127.0.0.1', port: bppPort },
        store: store(dir),
        keys: { dir: join(dir, 'keys') },
        registry: { url: registryUrl },
        clock: {
          kind: 'replay',
          marketStart: new Date(MARKET_START).toISOString(),
          wallStart: new Date(wallStart).toISOString(),
          speed: 1,
        },
        planner: { kind: 'greedy' },
        horizonSlots: HORIZON_SLOTS,
        quoteTtlSeconds: 600,
        outboxEveryMs: 100,
        logLevel: 'warn',
        sites: [
          {
            id: 'lon',
            region: 'GB',
            agentUrl,
            agentId: IDS.agent,
            agentKeyFile: join(dir, 'keys', `${IDS.agent}.json`),
          },
        ],
      },
      null,
      2,
    ),
  );

  return {
    dir,
    bppUrl,
    bapUrl,
    bapStore,
    client,
    callbacks,
    market,
    agent,
    startBpp: () => spawnRole('bpp', configFile, { FLEXLON_LOG_LEVEL: 'warn' }),
    async stop() {
      await Promise.allSettled([bap.stop(), ...roles.map((r) => r.stop())]);
      await Promise.allSettled(stores.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
