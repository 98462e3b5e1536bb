// The per-subscriber rate limit of a BPP and of a gateway comes from its `flexlon run` config (issue
// 14, admission control): the example BPP config states the defaults, a value there reaches the
// running role's Beckn endpoints, and a bad value is refused naming the field. Roles composed from
// the example config files (real registry, keys, SQLite store, signed requests over loopback HTTP).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildContext } from '../src/beckn/context.ts';
import { DEFAULT_RATE_LIMIT } from '../src/beckn/rate-limit.ts';
import { signBody } from '../src/beckn/signing.ts';
import { composeBpp } from '../src/compose/bpp.ts';
import type { BppConfig, GatewayConfig } from '../src/compose/config.ts';
import { composeGateway } from '../src/compose/gateway.ts';
import { ConfigReader } from '../src/run/config-reader.ts';
import { readBpp, readGateway } from '../src/run/roles.ts';
import type { Signer } from '../src/ports.ts';
import { startNetwork, type TestNetwork } from './helpers/network.ts';
import { freePort } from './helpers/run-process.ts';
import { projectRoot } from './helpers/shared.ts';

type Json = Record<string, unknown>;
const EXAMPLE = join(projectRoot, 'docs', 'examples', 'run', 'bpp.json');
const GATEWAY_EXAMPLE = join(projectRoot, 'docs', 'examples', 'run', 'gateway.json');
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

/** The example gateway config with `patch` applied, read as `flexlon run gateway` does. */
const gatewayConfigOf = async (name: string, patch: (c: Json) => void): Promise<GatewayConfig> => {
  const c = JSON.parse(readFileSync(GATEWAY_EXAMPLE, 'utf8')) as Json;
  c.listen = { host: '127.0.0.1', port: await freePort() };
  c.registry = { url: net.registryUrl, subscribe: true };
  c.store = { sqlite: join(dir, `${name}.db`) };
  c.keys = { dir: join(dir, 'keys'), generate: true };
  c.logLevel = 'silent';
  patch(c);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(c));
  return readGateway(ConfigReader.load(file));
};

/** A signed request from the buyer: its HTTP status and FlexLon code, e.g. "429 FLX_RATE_LIMITED". */
const status = async (url: string, action: 'status' | 'search' = 'status'): Promise<string> => {
  const now = Date.now();
  const context = buildContext({ action, bapId: buyer.subscriberId, bapUri: CB, now });
  const body = JSON.stringify({
    context,
    message: action === 'status' ? { order_id: 'o-none' } : { intent: { descriptor: { name: 'flex' } } },
  });
  const created = Math.floor(now / 1000);
  const authorization = signBody({
    body,
    subscriberId: buyer.subscriberId,
    uniqueKeyId: buyer.uniqueKeyId,
    created,
    expires: created + 30,
    sign: (d) => buyer.sign(d),
  }).header;
  const r = await fetch(`${url}/${action}`, {
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
    // The misspelt field names the one it most likely meant.
    (e: Error) => /rateLimit\.perSecnd: is not a known field here: did you mean perSecond\?/.test(e.message),
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

test('a gateway has no rate limit unless its config sets one; a bad one is refused naming the field', async () => {
  assert.equal(readGateway(ConfigReader.load(GATEWAY_EXAMPLE)).rateLimit, undefined, 'the example sets none');
  assert.deepEqual((await gatewayConfigOf('g-set', (c) => (c.rateLimit = { perSecond: 50 }))).rateLimit, {
    perSecond: 50,
    burst: DEFAULT_RATE_LIMIT.burst,
  });
  assert.equal((await gatewayConfigOf('g-off', (c) => (c.rateLimit = { enabled: false }))).rateLimit, false);
  await assert.rejects(
    gatewayConfigOf('g-zero', (c) => (c.rateLimit = { perSecond: 0 })),
    (e: Error & { code?: string }) => e.code === 'FLX_CONFIG_INVALID' && /rateLimit\.perSecond/.test(e.message),
  );
});

test("a gateway started from a config with rateLimit {perSecond 1, burst 2} refuses a BAP's third search at once with 429 FLX_RATE_LIMITED", async () => {
  const limited = await composeGateway(
    await gatewayConfigOf('g-limited', (c) => (c.rateLimit = { perSecond: 1, burst: 2 })),
  );
  const open = await composeGateway(await gatewayConfigOf('g-open', () => undefined));
  try {
    const answers: string[] = [];
    for (let k = 0; k < 4; k++) answers.push(await status(limited.url, 'search'));
    // The first two reach the handler (ACKed and fanned out to the BPPs the earlier tests
    // subscribed, or, run alone, 400 FLX_REQ_CONTEXT: no BPP of the domain), then the bucket is empty.
    assert.match(answers[0] ?? '', /^(200|400 FLX_REQ_CONTEXT)$/, answers.join(', '));
    assert.deepEqual(answers.slice(1), [answers[0], '429 FLX_RATE_LIMITED', '429 FLX_RATE_LIMITED']);
    // Without rateLimit in the config the gateway limits nothing, as before.
    const unlimited: string[] = [];
    for (let k = 0; k < 6; k++) unlimited.push(await status(open.url, 'search'));
    assert.ok(!unlimited.some((a) => a.startsWith('429')), unlimited.join(', '));
  } finally {
    await limited.stop();
    await open.stop();
  }
});
