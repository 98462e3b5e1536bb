// A composed market for tests (src/compose.ts): real HTTP on loopback, signatures, SQLite files in a
// temp folder, the market clock not started (market time stays at the start of the day) and every
// site's agent having reported once. stop() closes it and removes the folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeMarket, type Market } from '../../src/compose/index.ts';
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
