// Per-subscriber rate limits at the BPP receiver (issue 14, admission control): a token bucket per
// verified subscriber; over it, 429 FLX_RATE_LIMITED with Retry-After, nothing done and nothing
// audited, while another subscriber is still served. Signed requests over HTTP, keys in a registry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildContext } from '../../src/beckn/context.ts';
import { registryKeyResolver } from '../../src/beckn/key-resolver.ts';
import { DEFAULT_RATE_LIMIT, type RateLimit } from '../../src/beckn/rate-limit.ts';
import { registerReceiver } from '../../src/beckn/receiver.ts';
import { signBody } from '../../src/beckn/signing.ts';
import type { Signer, Store } from '../../src/ports.ts';
import { listen, startNetwork, type TestNetwork } from '../helpers/network.ts';

const CB = 'http://127.0.0.1:9/cb';
let net: TestNetwork;
let clock = Date.now();
let receivers = 0;
const handled: string[] = [];
let greedy: Signer;
let modest: Signer;

before(async () => {
  net = await startNetwork();
  greedy = net.signer('bap.greedy');
  modest = net.signer('bap.modest');
  for (const s of [greedy, modest]) await net.subscribe(s, 'BAP', CB);
});
after(async () => {
  await net.stop();
});

const bpp = async (rateLimit?: RateLimit | false): Promise<{ url: string; store: Store }> => {
  const store = await net.store(`bpp-${++receivers}`);
  const app = net.app();
  registerReceiver(app, {
    subscriberId: 'bpp.test',
    role: 'BPP',
    resolver: registryKeyResolver(net.registry),
    store,
    now: () => clock,
    handlers: {
      status: async ({ msg }) => {
        handled.push(msg.context.message_id);
      },
    },
    onBackgroundError: () => {},
    ...(rateLimit === undefined ? {} : { rateLimit }),
  });
  return { url: await listen(app), store };
};

interface Answer {
  readonly status: number;
  readonly code: string | undefined;
  readonly retryAfter: string | null;
  readonly messageId: string;
}

const send = async (url: string, s: Signer): Promise<Answer> => {
  const context = buildContext({ action: 'status', bapId: s.subscriberId, bapUri: CB, now: clock });
  const body = JSON.stringify({ context, message: { order_id: 'o-1' } });
  const created = Math.floor(clock / 1000);
  const authorization = signBody({
    body,
    subscriberId: s.subscriberId,
    uniqueKeyId: s.uniqueKeyId,
    created,
    expires: created + 30,
    sign: (d) => s.sign(d),
  }).header;
  const r = await fetch(`${url}/status`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body,
  });
  const answer = (await r.json()) as { message: { ack: { status: string } }; error?: { message?: string } };
  if (r.status === 200) assert.equal(answer.message.ack.status, 'ACK');
  return {
    status: r.status,
    code: /^(FLX_[A-Z_]+)/.exec(answer.error?.message ?? '')?.[1],
    retryAfter: r.headers.get('retry-after'),
    messageId: context.message_id,
  };
};

const statuses = (answers: readonly Answer[]) => answers.map((a) => (a.code ? `${a.status} ${a.code}` : a.status));

test('over its bucket a subscriber gets 429 FLX_RATE_LIMITED with Retry-After, unaudited and with no effect; another is still served; the bucket refills', async () => {
  const { url, store } = await bpp({ perSecond: 2, burst: 3 });
  const greedyAnswers: Answer[] = [];
  for (let k = 0; k < 5; k++) greedyAnswers.push(await send(url, greedy));
  assert.deepEqual(statuses(greedyAnswers), [200, 200, 200, '429 FLX_RATE_LIMITED', '429 FLX_RATE_LIMITED']);
  assert.deepEqual(
    greedyAnswers.slice(3).map((a) => a.retryAfter),
    ['1', '1'],
  );
  // The refused ones did nothing and left no audit row; the accepted ones are audited as ever.
  await new Promise((r) => setTimeout(r, 50));
  const refused = new Set(greedyAnswers.slice(3).map((a) => a.messageId));
  assert.equal(handled.filter((id) => refused.has(id)).length, 0);
  const trail = await store.auditTrail();
  assert.equal(trail.filter((e) => e.messageId !== undefined && refused.has(e.messageId)).length, 0);
  assert.equal(trail.filter((e) => e.kind === 'beckn.in').length, 3);
  // The limit is per subscriber: another buyer is served at once.
  assert.deepEqual(statuses([await send(url, modest)]), [200]);
  // One second on, two more requests' worth has come back, and no more.
  clock += 1000;
  const later = [await send(url, greedy), await send(url, greedy), await send(url, greedy)];
  assert.deepEqual(statuses(later), [200, 200, '429 FLX_RATE_LIMITED']);
});

test('a BPP receiver is limited by default (2,000 a second, bursts of 4,000); rateLimit false turns it off', async () => {
  assert.deepEqual(DEFAULT_RATE_LIMIT, { perSecond: 2000, burst: 4000 });
  const limited = await bpp({ perSecond: 1, burst: 1 });
  const open = await bpp(false);
  const byDefault = await bpp();
  const at = clock;
  const answers = { limited: [] as Answer[], open: [] as Answer[], byDefault: [] as Answer[] };
  for (let k = 0; k < 20; k++) {
    answers.limited.push(await send(limited.url, modest));
    answers.open.push(await send(open.url, modest));
    answers.byDefault.push(await send(byDefault.url, modest));
  }
  assert.equal(clock, at);
  assert.equal(answers.limited.filter((a) => a.status === 429).length, 19);
  assert.equal(answers.open.filter((a) => a.status === 200).length, 20);
  assert.equal(answers.byDefault.filter((a) => a.status === 200).length, 20);
});
