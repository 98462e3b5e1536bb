// The resilience suite (issue 14): generated and mutated requests (cases.ts) against every endpoint
// of every role of a composed market on loopback (endpoints.ts), all endpoints at once, with every
// role's /health probed beside them. Asserted: no 5xx (a 503 only as FLX_BUSY), every refusal a
// coded NACK (`FLX_…: reason`), every Beckn 200 an ACK, /health answering within 1 s throughout,
// and no order, commitment or subscription made by what was refused (counts before and after).
// RESILIENCE_CASES sets the cases per endpoint: 150 inside `npm test`, 10,000 in `npm run test:resilience`;
// RESILIENCE_SEED replays a run (fast-check prints the seed and the failing recipe).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Market } from '../../src/compose/index.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';
import { materialise, pathsOf, recipes, type Recipe } from './cases.ts';
import { attack, type Attackers, type Endpoint } from './endpoints.ts';
import { closeAgent, post, probeHealth, type Answer } from './send.ts';

const CASES = Number(process.env.RESILIENCE_CASES ?? 150);
const SEED = process.env.RESILIENCE_SEED === undefined ? undefined : Number(process.env.RESILIENCE_SEED);
const HEALTH_LIMIT_MS = 1000;
// RESILIENCE_LOG=<file>: each case is written there before it is sent (to find one that kills the process).
const LOG = process.env.RESILIENCE_LOG;
// RESILIENCE_ONLY=<text>: only the endpoints whose name contains it.
const ONLY = process.env.RESILIENCE_ONLY;
// RESILIENCE_KNOWN_DEFECTS=1: also the cases of a reported, unfixed defect (endpoints.ts knownDefect).
const KNOWN_DEFECTS = process.env.RESILIENCE_KNOWN_DEFECTS === '1';

let market: TestMarket;
let m: Market;
let a: Attackers;
let dir: string;
before(async () => {
  market = await openMarket('resilience');
  m = market.m;
  dir = mkdtempSync(join(tmpdir(), 'flexlon-resilience-'));
  a = await attack(m, dir);
});
after(async () => {
  await a?.stop();
  await market?.stop();
  closeAgent();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const describe = (r: Recipe): string =>
  JSON.stringify(r, (_k, v: unknown) => (typeof v === 'string' && v.length > 80 ? `${v.slice(0, 80)}…` : v));

/** The assertions every answer must pass, whatever was sent. */
const check = (ep: Endpoint, r: Recipe, res: Answer): void => {
  const what = `${ep.name} answered HTTP ${res.status} ${res.text.slice(0, 300)} to ${describe(r)}`;
  let body: { message?: { ack?: { status?: string } }; error?: { code?: string; message?: string } } | undefined;
  try {
    body = JSON.parse(res.text) as typeof body;
  } catch {
    assert.fail(`not JSON: ${what}`);
  }
  const code = /^(FLX_[A-Z_]+): /.exec(body?.error?.message ?? '')?.[1];
  // Load shedding is the one 5xx allowed: it promises nothing and says when to come back.
  if (res.status >= 500) assert.ok(res.status === 503 && code === 'FLX_BUSY', `a 5xx: ${what}`);
  if (res.status >= 400) {
    assert.ok(code, `a refusal without a FlexLon code: ${what}`);
    assert.equal(body?.message?.ack?.status, 'NACK', `a refusal that is not a NACK: ${what}`);
    if (code === 'FLX_BUSY' || code === 'FLX_RATE_LIMITED')
      assert.match(String(res.headers['retry-after']), /^\d+$/, `no Retry-After: ${what}`);
  } else if (ep.beckn) assert.equal(body?.message?.ack?.status, 'ACK', `a 2xx that is not an ACK: ${what}`);
};

const snapshot = async () => ({
  flexOrders: (await m.stores.flex.listOrders()).length,
  gridOrders: (await m.stores.grid.listOrders()).length,
  commitments: (await m.stores.flex.listCommitments()).length,
  subscriptions: await a.subscriptions(),
});

test(
  `every endpoint of every role, ${CASES} generated cases each: no 5xx, coded refusals, /health within 1 s, no state change`,
  { timeout: Math.max(120_000, CASES * 400) },
  async () => {
    const before = await snapshot();
    const probe = probeHealth(a.health);
    const tally = new Map<string, Record<string, number>>();
    const started = Date.now();
    const runs = a.endpoints
      .filter((ep) => !ONLY || ep.name.includes(ONLY))
      .map(async (ep) => {
        const paths = pathsOf(ep.base(Date.now()));
        const counts: Record<string, number> = {};
        tally.set(ep.name, counts);
        await fc.assert(
          fc.asyncProperty(recipes(paths), async (r) => {
            const defect = KNOWN_DEFECTS ? undefined : ep.knownDefect?.(r);
            if (defect !== undefined) {
              counts['left out (known defect)'] = (counts['left out (known defect)'] ?? 0) + 1;
              fc.pre(false);
            }
            const now = Date.now();
            if (LOG) appendFileSync(LOG, `${ep.name} ${describe(r)}\n`);
            const { body, headers } = materialise(r, ep.base(now), ep.signer, now);
            const res = await post(ep.url, body, headers);
            check(ep, r, res);
            const key = `${res.status}${res.status >= 400 ? ` ${/^(FLX_[A-Z_]+)/.exec((JSON.parse(res.text) as { error: { message: string } }).error.message)?.[1]}` : ''}`;
            counts[key] = (counts[key] ?? 0) + 1;
          }),
          { numRuns: CASES, endOnFailure: true, ...(SEED === undefined ? {} : { seed: SEED }) },
        );
      });
    const settled = await Promise.allSettled(runs);
    const health = await probe.stop();
    const seconds = (Date.now() - started) / 1000;
    console.log(
      JSON.stringify({
        casesPerEndpoint: CASES,
        endpoints: a.endpoints.length,
        requests: CASES * a.endpoints.length,
        seconds,
        healthProbes: health.probes,
        slowestHealthMs: Object.fromEntries(Object.entries(health.slowestMs).map(([k, v]) => [k, Math.round(v)])),
        answers: Object.fromEntries(tally),
      }),
    );
    const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    assert.deepEqual(
      // fast-check keeps the failing assertion as the cause; its message names the endpoint and the answer.
      failed.map((f) => {
        const e = f.reason as Error;
        return `${String((e.cause as Error | undefined)?.message ?? '').slice(0, 1500)}\n${e.message.split('\n').slice(0, 3).join('\n')}`;
      }),
      [],
      'every endpoint passes every case',
    );
    assert.deepEqual(await snapshot(), before, 'no order, commitment or subscription from the attack');
    assert.deepEqual(health.failures, [], '/health answered 200 ok every time');
    for (const [role, ms] of Object.entries(health.slowestMs))
      assert.ok(ms < HEALTH_LIMIT_MS, `${role} /health took ${Math.round(ms)} ms at worst (limit ${HEALTH_LIMIT_MS})`);
  },
);
