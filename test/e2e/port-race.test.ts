// Issue 14 finding 9: the demo chooses its roles' ports before any role starts (each must know the
// others' URLs), and another process can take a chosen port before it is bound; `flexlon demo
// --serve` then failed with "listen EADDRINUSE". The market is now composed again on fresh ports.
// Here the first port chosen is one a server already holds: the first composition fails on it, is
// stopped and its run folder removed, and the second comes up. Real roles on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeMarket } from '../../src/compose/market.ts';
import { freePort } from '../../src/compose/parts.ts';
import { demoConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';

test(
  'a port taken between its choice and its bind: the market is composed again on fresh ports',
  { timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexlon-port-race-'));
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as { port: number }).port;
    let chosen = 0;
    const choosePort = async (): Promise<number> => (chosen++ === 0 ? taken : freePort());
    const warnings: string[] = [];
    const log = createLogger('warn', {}, (line) => warnings.push(line));
    const config = demoConfig({ logLevel: 'silent', siteProfile: 'half-idle', carbonCap: 'none', dataDir: dir });
    try {
      const m = await composeMarket(config, 'race', log, { choosePort });
      try {
        assert.ok(
          warnings.some((w) => /a port chosen for the market was taken: composing it again/.test(w)),
          warnings.join('\n'),
        );
        assert.ok(chosen > 1, 'ports were chosen again');
        assert.ok(!existsSync(join(dir, 'runs', 'race')), 'the failed attempt left no run folder');
        assert.ok(existsSync(join(dir, 'runs', 'race-2')), 'the second attempt has its own');
        const health = await fetch(`${m.urls.bap}/health`);
        assert.equal(health.status, 200, 'the buyer answers');
        assert.ok(!m.urls.bap.endsWith(`:${taken}`));
      } finally {
        await m.stop();
      }
    } finally {
      holder.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
