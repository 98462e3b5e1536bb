// The per-subscriber rate limit of a BPP comes from its `flexlon run` config (issue 14, admission
// control): the example config states the defaults, a value there reaches the running BPP's Beckn
// endpoints, and a bad value is refused naming the field. A BPP composed from the example config
// file (real registry, keys, SQLite store, signed requests over loopback HTTP).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildContext } from '../src/beckn/context.ts';
import { DEFAULT_RATE_LIMIT } from '../src/beckn/rate-limit.ts';
import { signBody } from '../src/beckn/signing.ts';
import { composeBpp } from '../src/compose/bpp.ts';
import type { BppConfig } from '../src/compose/config.ts';
import { ConfigReader } from '../src/run/config-reader.ts';
import { readBpp } from '../src/run/roles.ts';
import type { Signer } from '../src/ports.ts';
import { startNetwork, type TestNetwork } from './helpers/network.ts';
import { freePort } from './helpers/run-process.ts';
import { projectRoot } from './helpers/shared.ts';

type Json = Record<string, unknown>;
const EXAMPLE = join(projectRoot, 'docs', 'examples', 'run', 'bpp.json');
const CB = 'http://127.0.0.1:9/cb';

let net: TestNetwork;
let dir: string;
let buyer: Signer;
before(async () => {
  net = await startNetwork();
  dir = mkdtempSync(join(tmpdir(), 'flexlon-rate-config-'));
  buyer = net.signer('bap.rate-config');
  await net.subscribe(buyer, 'BAP', CB);
});
after(async () => {
  await net.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The example BPP config with `patch` applied, written beside its state and read as `flexlon run bpp` does. */
const configOf = async (name: string, patch: (c: Json) => void): Promise<BppConfig> => {
  const c = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Json;
  c.listen = { host: '127.0.0.1', port: await freePort() };
  c.registry = { url: net.registryUrl, subscribe: true };
  c.store = { sqlite: `state/${name}.db` };
  c.planner = { kind: 'greedy', timeLimitSeconds: 1 };
  c.logLevel = 'silent';
  patch(c);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(c));
  return readBpp(ConfigReader.load(file));
};

const status = async (url: string): Promise<string> => {
  const now = Date.now();
  const context = buildContext({ action: 'status', bapId: buyer.subscriberId, bapUri: CB, now });
  const body = JSON.stringify({ context, message: { order_id: 'o-none' } });
  const created = Math.floor(now / 1000);
  const authorization = signBody({
    body,
    subscriberId: buyer.subscriberId,
    uniqueKeyId: buyer.uniqueKeyId,
    created,
    expires: created + 30,
    sign: (d) => buyer.sign(d),
  }).header;
  const r = await fetch(`${url}/status`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body,
  });
  const answer = (await r.json()) as { error?: { message?: string } };
  return `${r.status} ${/^(FLX_[A-Z_]+)/.exec(answer.error?.message ?? '')?.[1] ?? ''}`.trim();
};

test('the example BPP config states the default rate limit, and a bad one is refused naming the field', async () => {
  const example = readBpp(ConfigReader.load(EXAMPLE));
  assert.deepEqual(example.rateLimit, DEFAULT_RATE_LIMIT);
  assert.equal((await configOf('absent', (c) => delete c.rateLimit)).rateLimit, undefined, 'absent: the default');
  assert.equal((await configOf('off', (c) => (c.rateLimit = { enabled: false }))).rateLimit, false);
  await assert.rejects(
    configOf('zero-burst', (c) => (c.rateLimit = { perSecond: 5, burst: 0 })),
    (e: Error & { code?: string }) =>
      e.code === 'FLX_CONFIG_INVALID' && /rateLimit\.burst: must be a whole number from 1/.test(e.message),
  );
  await assert.rejects(
    configOf('typo', (c) => (c.rateLimit = { perSecnd: 5 })),
    (e: Error) => /rateLimit\.perSecnd: is not a known field here/.test(e.message),
  );
});

test("a BPP started from a config with rateLimit {perSecond 1, burst 2} refuses the buyer's third request at once with 429 FLX_RATE_LIMITED", async () => {
  const limited = await composeBpp(await configOf('limited', (c) => (c.rateLimit = { perSecond: 1, burst: 2 })));
  const open = await composeBpp(await configOf('open', (c) => (c.rateLimit = { enabled: false })));
  try {
    const answers: string[] = [];
    for (let k = 0; k < 4; k++) answers.push(await status(limited.url));
    // The first two reach the handler (no such order: a coded NACK, not the limit), then the bucket is empty.
    assert.deepEqual(answers, [
      '404 FLX_ORDER_NOT_FOUND',
      '404 FLX_ORDER_NOT_FOUND',
      '429 FLX_RATE_LIMITED',
      '429 FLX_RATE_LIMITED',
    ]);
    // With the limit off in the config, the same burst is never limited.
    const unlimited: string[] = [];
    for (let k = 0; k < 6; k++) unlimited.push(await status(open.url));
    assert.ok(!unlimited.some((a) => a.startsWith('429')), unlimited.join(', '));
  } finally {
    await limited.stop();
    await open.stop();
  }
});
