// The demo carries on past a site report the BPP does not answer in time (a slow plan on a loaded
// machine), as a site's own agent process does; any other failure still ends the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MarketSite } from '../../src/compose/market.ts';
import { tickSites } from '../../src/compose/market-day.ts';
import { epochMs } from '../../src/domain/time.ts';
import { FlexError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';

const site = (id: string, tick: () => Promise<void>): MarketSite => ({ id, agent: { tick } }) as unknown as MarketSite;

test('a site report not answered in time is logged and the slot carries on; another failure ends the run', async () => {
  const lines: string[] = [];
  const log = createLogger('warn', {}, (l) => lines.push(l));
  let reported = 0;
  const ok = site('man', async () => {
    reported++;
  });
  const slow = site('lon', async () => {
    throw new FlexError(
      'FLX_PEER_UNREACHABLE',
      'POST http://127.0.0.1:1/internal/agent/report failed: no answer within 10000 ms',
    );
  });
  await tickSites([slow, ok], epochMs(0), log);
  assert.equal(reported, 1, 'the other site reported');
  assert.equal(lines.length, 1, lines.join(''));
  const line = JSON.parse(lines[0] ?? '{}') as { site?: string; msg?: string; error?: string };
  assert.equal(line.site, 'lon');
  assert.match(String(line.msg), /not answered in time; carrying on at the next slot/);
  assert.match(String(line.error), /no answer within 10000 ms/);
  const broken = site('lon', async () => {
    throw new FlexError('FLX_INTERNAL', 'a plan holding one job twice');
  });
  await assert.rejects(tickSites([broken, ok], epochMs(0), log), /a plan holding one job twice/);
});
