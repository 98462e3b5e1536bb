// A composed market for tests (src/compose.ts): real HTTP on loopback, signatures, SQLite files in a
// temp folder, the market clock not started (market time stays at the start of the day) and every
// site's agent having reported once. stop() closes it and removes the folder.
//
// `extraProviders` adds providers beside the demo's, each a BPP of its own with one simulated site
// and its agent, composed the way src/compose/market.ts composes the demo's (same registry, clock,
// signals and key folder): a data centre of another size, price or quote lifetime, or a battery-only
// site — a battery behind the meter and no deferrable compute (issue 16) — or a BPP registered as
// Beckn 2.0 (`becknVersion`, issue 18).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Procurement } from '../../src/agents/grid/orchestrator.ts';
import { DEFAULT_PRICING, type PricingPolicy } from '../../src/agents/flex/pricing.ts';
import type { SimBatteryConfig } from '../../src/adapters/scheduler-sim/battery.ts';
import { keyFilePath } from '../../src/adapters/keystore-file/keystore.ts';
import {
  composeAgent,
  composeBpp,
  composeMarket,
  dispatchKeyId,
  freePort,
  HORIZON_SLOTS,
  SLOT_MINUTES,
  type Market,
  type MarketSite,
  type RunningRole,
} from '../../src/compose/index.ts';
import { makeKeys } from '../../src/compose/parts.ts';
import { DEFAULT_WORK } from '../../src/optimise/planner.ts';
import type { FlexNeed } from '../../src/domain/offers.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import { demoConfig, type DemoInput } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/log.ts';

export interface TestMarket {
  readonly m: Market;
  stop(): Promise<void>;
}

/** A provider added beside the demo's: its own BPP selling one simulated site. */
export interface ExtraProvider {
  /** The site id; the provider is `dc-<site>.flexlon.local`. */
  readonly site: string;
  readonly trainingNodes: number;
  readonly gridImportLimitKw: number;
  /** Deferrable jobs in the site's day (0: no flexible compute); absent: the profile's own. */
  readonly jobs?: number;
  readonly battery?: SimBatteryConfig;
  readonly pricing?: PricingPolicy;
  /** How long a quote holds between select and confirm (wall seconds; the demo's is 300). */
  readonly quoteTtlSeconds?: number;
  readonly seed?: number;
  /**
   * The Beckn version its BPP registers itself with (BppConfig.becknVersion, docs/beckn-2.md): "2.0"
   * registers `beckn_version: "2.0.0"` at its URL + /v2; absent, the record names none (1.1.1).
   */
  readonly becknVersion?: '1.1.1' | '2.0';
}

const HOST = '127.0.0.1';

/** Composes one extra provider and its site's agent into market `m` (keys in `dataDir`/keys). */
const addProvider = async (
  m: Market,
  dataDir: string,
  x: ExtraProvider,
  roles: RunningRole[],
): Promise<{ provider: Market['providers'][number]; site: MarketSite }> => {
  const id = `dc-${x.site}.flexlon.local`;
  const agentId = `agent-${x.site}.${id}`;
  const keys = { dir: join(dataDir, 'keys'), generate: true };
  for (const k of [id, dispatchKeyId(id), agentId]) await makeKeys(keys).signer(k);
  const peer = (subscriberId: string, url: string) => ({
    subscriberId,
    url,
    keyFile: keyFilePath(keys.dir, subscriberId),
  });
  const [bppPort, agentPort] = [await freePort(), await freePort()];
  const bppUrl = `http://${HOST}:${bppPort}`;
  const agentUrl = `http://${HOST}:${agentPort}`;
  const store = (name: string) => ({ kind: 'sqlite' as const, file: join(m.runDir, `${name}-${x.site}.db`) });
  const bpp = await composeBpp(
    {
      id,
      name: `FlexLon test provider (${x.site})`,
      listen: { host: HOST, port: bppPort, publicUrl: bppUrl },
      store: store('flex-orchestrator'),
      logLevel: 'silent',
      keys,
      registry: { url: m.urls.registry, subscribe: true },
      clock: { kind: 'system' },
      signals: { kind: 'shipped' },
      planner: { kind: 'highs', timeLimitSeconds: 5, milpTimeLimitSeconds: 0.25, work: DEFAULT_WORK },
      sites: [{ id: x.site, region: 'GB', agentUrl, agent: peer(agentId, agentUrl) }],
      slotMinutes: SLOT_MINUTES,
      horizonSlots: HORIZON_SLOTS,
      pricing: x.pricing ?? DEFAULT_PRICING,
      quoteTtlSeconds: x.quoteTtlSeconds ?? 300,
      supportEmail: `flexibility-desk@${id}`,
      baseline: 'fifo',
      carbonCap: 'none',
      gatherReportsMs: 2000,
      incrementalReplans: true,
      outboxEveryMs: 1000,
      ...(x.becknVersion ? { becknVersion: x.becknVersion } : {}),
    },
    { clock: m.clock, signals: m.signals, log: createLogger('silent') },
  );
  roles.push(bpp);
  const agent = await composeAgent(
    {
      id: agentId,
      listen: { host: HOST, port: agentPort, publicUrl: agentUrl },
      store: store('compute-agent'),
      logLevel: 'silent',
      keys,
      clock: { kind: 'system' },
      slotMinutes: SLOT_MINUTES,
      horizonSlots: HORIZON_SLOTS,
      site: { id: x.site, region: 'GB', gridImportLimitKw: x.gridImportLimitKw, pue: 1.3 },
      orchestrator: peer(dispatchKeyId(id), bppUrl),
      scheduler: {
        kind: 'sim',
        profile: 'half-idle',
        seed: x.seed ?? 7,
        ...(x.jobs === undefined ? {} : { jobs: x.jobs }),
        trainingNodes: x.trainingNodes,
        baseline: 'fifo',
        ...(x.battery ? { battery: x.battery } : {}),
      },
      pollSeconds: 30,
    },
    { clock: m.clock, signals: m.signals, log: createLogger('silent'), drive: 'external' },
  );
  roles.push(agent);
  if (!agent.sim) throw new Error(`site ${x.site} is not simulated`);
  return {
    provider: { id, url: bpp.url, orchestrator: bpp.orchestrator, store: bpp.store, sites: [x.site] },
    site: {
      id: x.site,
      name: x.site,
      agent: agent.agent,
      cluster: agent.sim.cluster,
      businessAsUsual: agent.sim.twin,
      jobs: agent.sim.jobs.length,
      offeredLoad: agent.sim.offeredLoad,
      url: agent.url,
      store: agent.store,
    },
  };
};

export const openMarket = async (
  name: string,
  input: Omit<DemoInput, 'dataDir'> & { readonly extraProviders?: readonly ExtraProvider[] } = {},
  log: Logger = createLogger('silent'),
): Promise<TestMarket> => {
  const dir = mkdtempSync(join(tmpdir(), `flexlon-${name}-`));
  // The tests that use this market are about the protocol, pricing and settlement on the site they
  // were written for: the half-idle site with no carbon cap (the demo's defaults before issue 13).
  // A test about the busy default or the cap says so in `input`.
  const { extraProviders = [], ...demo } = input;
  const config = demoConfig({
    logLevel: 'silent',
    siteProfile: 'half-idle',
    carbonCap: 'none',
    ...demo,
    dataDir: dir,
  });
  const composed = await composeMarket(config, name, log);
  const roles: RunningRole[] = [];
  const stop = async () => {
    for (const r of [...roles].reverse()) await r.stop().catch(() => undefined);
    await composed.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  let m: Market = composed;
  try {
    for (const x of extraProviders) {
      const added = await addProvider(composed, dir, x, roles);
      m = { ...m, providers: [...m.providers, added.provider], sites: [...m.sites, added.site] };
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const market = m;
  // A first report that fails must not leave the market's servers open: the test's after hook
  // never sees a market to stop, and the test process would wait on them until CI's time runs out.
  await Promise.all(market.sites.map((site) => site.agent.tick(market.dayStart))).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  return { m: market, stop };
};

/**
 * Buys a small reduction in the first window from slot `fromSlot` on that the site can sell (each
 * tried in turn up to `toSlot`), two slots long: the procurement and the window's end.
 */
export const buyEarlyWindow = async (
  m: Market,
  o: { fromSlot?: number; toSlot?: number; kw?: number; need?: Partial<FlexNeed> } = {},
): Promise<{ p: Procurement; windowEnd: number }> => {
  const slot = SLOT_MINUTES * MINUTE_MS;
  for (let from = o.fromSlot ?? 4; from <= (o.toSlot ?? 12); from++) {
    const windowStart = epochMs(m.dayStart + from * slot);
    const windowEnd = windowStart + 2 * slot;
    const got = await m.bap.procure(
      {
        kind: 'price-peak',
        windowStart,
        windowEnd: epochMs(windowEnd),
        wantedKw: kw(o.kw ?? 20),
        maxPriceGbpPerMwh: gbpPerMwh(100_000),
        ...o.need,
      },
      randomUUID(),
    );
    if (!('none' in got)) return { p: got, windowEnd };
  }
  throw new Error(`no window from slot ${o.fromSlot ?? 4} to ${o.toSlot ?? 12} had flexibility to buy`);
};

/** Runs market time (the clock started) through `until`, every site reporting at each slot boundary. */
export const runThrough = async (m: Market, until: number, from: number = m.dayStart): Promise<void> => {
  const slot = SLOT_MINUTES * MINUTE_MS;
  m.clock.start();
  for (let t = from + slot; t <= until; t += slot) {
    await m.clock.waitUntil(epochMs(t));
    await Promise.all(m.sites.map((site) => site.agent.tick(epochMs(t))));
  }
};
