// `flexlon grid need` against a running network (issue 16): a DSO desk's one-off procurement by
// hand — a buyer of its own subscribes to the network's registry, buys across two data-centre
// providers when one is not enough, prints each commitment in UTC with the settlement period and
// local time, and stops; usage mistakes are coded errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;
const dir = mkdtempSync(join(tmpdir(), 'flexlon-grid-need-'));

before(async () => {
  market = await openMarket('gridneed', { sites: '2', providers: 'per-site' });
});

after(async () => {
  await market.stop();
  rmSync(dir, { recursive: true, force: true });
});

const run = async (...args: string[]) => {
  const lines: string[] = [];
  const code = await main(['grid', 'need', ...args], { out: (l) => lines.push(l), err: (l) => lines.push(l) });
  return { code, text: lines.join('\n') };
};

test('a need larger than either provider is bought from both, and said plainly', { timeout: 120_000 }, async () => {
  const r = await run(
    '--registry',
    market.m.urls.registry,
    '--from',
    '2023-01-24T04:00Z',
    '--to',
    '2023-01-24T05:00Z',
    '--kw',
    '10000',
    '--max-price',
    '100000',
    '--data-dir',
    dir,
  );
  assert.equal(r.code, 0, r.text);
  assert.match(
    r.text,
    /^need: 10000 kW from 2023-01-24 04:00 UTC \(SP9 of 2023-01-24, 04:00 GMT\) to 2023-01-24 05:00 UTC/m,
  );
  assert.match(r.text, /^bought [\d.]+ kW of 10000 kW from 2 provider\(s\)/m);
  assert.match(r.text, /^ {2}dc\.flexlon\.local: [\d.]+ kW at lon /m);
  assert.match(r.text, /^ {2}dc-man\.flexlon\.local: [\d.]+ kW at man /m);
  assert.match(r.text, /^short by [\d.]+ kW: no other provider offered/m);
});

test('usage mistakes are coded errors', async () => {
  const none = await run('--from', '2023-01-24T04:00Z');
  assert.equal(none.code, 2);
  assert.match(none.text, /FLX_CLI_USAGE: --registry "": the registry's http\(s\) URL/);
  const odd = await run('--registry', 'http://127.0.0.1:1', '--from', '2023-01-24T04:10Z', '--to', '2023-01-24T05:00Z');
  assert.match(odd.text, /FLX_CLI_USAGE: --from "2023-01-24T04:10Z": settlement periods start on the half hour/);
  const kwBad = await run(
    '--registry',
    'http://127.0.0.1:1',
    '--from',
    '2023-01-24T04:00Z',
    '--to',
    '2023-01-24T05:00Z',
    '--kw=-5',
  );
  assert.match(kwBad.text, /FLX_CLI_USAGE: --kw "-5": a number above 0/);
});
