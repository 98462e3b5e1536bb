// A composed market for tests (src/compose.ts): real HTTP on loopback, signatures, SQLite files in a
// temp folder, the market clock not started (market time stays at the start of the day) and every
// site's agent having reported once. stop() closes it and removes the folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Procurement } from '../../src/agents/grid/orchestrator.ts';
import { composeMarket, SLOT_MINUTES, type Market } from '../../src/compose/index.ts';
import type { FlexNeed } from '../../src/domain/offers.ts';
import { epochMs, MINUTE_MS } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import { demoConfig, type DemoInput } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/log.ts';

export interface TestMarket {
  readonly m: Market;
  stop(): Promise<void>;
}

export const openMarket = async (
  name: string,
  input: Omit<DemoInput, 'dataDir'> = {},
  log: Logger = createLogger('silent'),
): Promise<TestMarket> => {
  const dir = mkdtempSync(join(tmpdir(), `flexlon-${name}-`));
  // The tests that use this market are about the protocol, pricing and settlement on the site they
  // were written for: the half-idle site with no carbon cap (the demo's defaults before issue 13).
  // A test about the busy default or the cap says so in `input`.
  const config = demoConfig({
    logLevel: 'silent',
    siteProfile: 'half-idle',
    carbonCap: 'none',
    ...input,
    dataDir: dir,
  });
  const m = await composeMarket(config, name, log);
  await Promise.all(m.sites.map((site) => site.agent.tick(m.dayStart)));
  return {
    m,
    async stop() {
      await m.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
