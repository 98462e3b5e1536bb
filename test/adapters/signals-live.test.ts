// The live NESO and Elexon clients over real HTTP on loopback: request chunking, the disk cache,
// retries, 429 with Retry-After, errors that fail at once, offline behaviour, and forecasts fetched
// ahead of time recorded as vintages stamped with the fetch time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElexonClient } from '../../src/adapters/signals-api/elexon-client.ts';
import { CachedFetcher, retryAfterMs, type FetcherOptions } from '../../src/adapters/signals-api/fetcher.ts';
import { SavedResponseSignalSource } from '../../src/adapters/signals-api/saved.ts';
import { NesoCarbonClient } from '../../src/adapters/signals-api/neso-client.ts';
import { SignalHistory } from '../../src/domain/signal-history.ts';
import { epochMs } from '../../src/domain/time.ts';
import { FlexError } from '../../src/errors.ts';
import { startGridApi, type GridApi } from '../helpers/grid-api.ts';

const D = (s: string) => Date.parse(s);

const setup = async (options: FetcherOptions = {}) => {
  const api = await startGridApi();
  const cacheDir = mkdtempSync(join(tmpdir(), 'flexlon-live-'));
  const waits: number[] = [];
  const fetcher = new CachedFetcher({
    cacheDir,
    backoffMs: 5,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
  return {
    api,
    cacheDir,
    waits,
    fetcher,
    neso: new NesoCarbonClient({ fetcher, baseUrl: api.url }),
    elexon: new ElexonClient({ fetcher, baseUrl: api.url }),
    done: async () => {
      await api.close();
      rmSync(cacheDir, { recursive: true, force: true });
    },
  };
};

const paths = (api: GridApi) => api.requests.map((r) => r.split('?')[0]);

test('NESO requests span at most 14 days and Elexon MID at most 7; the periods read are exactly those asked for', async () => {
  const s = await setup();
  try {
    const h = new SignalHistory();
    await s.neso.load(h, 18, D('2023-03-01T00:00Z'), D('2023-03-21T00:00Z'));
    await s.elexon.loadMid(h, D('2023-03-01T00:00Z'), D('2023-03-21T00:00Z'));
    assert.deepEqual(paths(s.api), [
      '/intensity/2023-03-01T00:00Z/2023-03-15T00:00Z',
      '/intensity/2023-03-15T00:00Z/2023-03-21T00:00Z',
      '/datasets/MID',
      '/datasets/MID',
      '/datasets/MID',
    ]);
    assert.equal(h.periodStarts(18).length, 20 * 48);
    assert.equal(h.periodStarts(18)[0], D('2023-03-01T00:00Z'));
    assert.equal(
      h.faults.filter((f) => f.kind === 'duplicate').length,
      0,
      'the period the API adds before `from` is not read twice',
    );
    assert.equal(h.span(18, 'price')?.to, D('2023-03-20T23:30Z'));
  } finally {
    await s.done();
  }
});

test("responses are cached on disk in the API's own shape; a second load makes no request; the cache reads offline", async () => {
  const s = await setup();
  try {
    await s.neso.load(new SignalHistory(), 18, D('2023-01-24T00:00Z'), D('2023-01-25T00:00Z'));
    const before = s.api.requests.length;
    const h = new SignalHistory();
    await s.neso.load(h, 18, D('2023-01-24T00:00Z'), D('2023-01-25T00:00Z'));
    assert.equal(s.api.requests.length, before, 'served from the cache');
    assert.equal(h.periodStarts(18).length, 48);
    const files = readdirSync(s.cacheDir);
    assert.ok(
      files.some((f) => f.endsWith('.meta.json')) &&
        files.some((f) => f.endsWith('.json') && !f.endsWith('.meta.json')),
    );
    const offline = new SavedResponseSignalSource([s.cacheDir]);
    const o = await offline.outturn('GB', { start: epochMs(D('2023-01-24T00:00Z')), slotMinutes: 30, slots: 48 });
    assert.equal(o.points.length, 48);
  } finally {
    await s.done();
  }
});

test('429 Too Many Requests: waits for Retry-After, then succeeds; a wait beyond the cap fails with the wait in the message', async () => {
  const s = await setup();
  try {
    s.api.inject.push({ status: 429, headers: { 'retry-after': '3' } }, { status: 503, body: 'busy' });
    const h = new SignalHistory();
    await s.neso.load(h, 18, D('2023-01-24T00:00Z'), D('2023-01-24T12:00Z'));
    assert.deepEqual(s.waits, [3000, 10], 'Retry-After seconds, then exponential back-off for the 503');
    assert.equal(h.periodStarts(18).length, 24);
    s.api.inject.push({ status: 429, headers: { 'retry-after': '3600' } });
    await assert.rejects(
      s.neso.load(new SignalHistory(), 18, D('2023-02-24T00:00Z'), D('2023-02-24T12:00Z')),
      (e: unknown) => e instanceof FlexError && e.code === 'FLX_UPSTREAM_RATE_LIMITED' && /wait 3600 s/.test(e.message),
    );
  } finally {
    await s.done();
  }
  assert.equal(retryAfterMs('Wed, 21 Oct 2015 07:28:10 GMT', D('2015-10-21T07:28:00Z')), 10_000);
  assert.equal(retryAfterMs('soon', 0), undefined);
});

test('a 400 (Elexon problem JSON) fails at once with the status and the body; retries stop after the limit', async () => {
  const s = await setup({ retries: 2 });
  try {
    s.api.inject.push({
      status: 400,
      body: JSON.stringify({ title: 'One or more validation errors occurred.', status: 400 }),
    });
    await assert.rejects(
      s.elexon.loadMid(new SignalHistory(), D('2023-01-24T00:00Z'), D('2023-01-25T00:00Z')),
      (e: unknown) =>
        e instanceof FlexError && e.code === 'FLX_UPSTREAM_ERROR' && /HTTP 400: .*validation errors/.test(e.message),
    );
    assert.equal(s.waits.length, 0);
    s.api.inject.push({ status: 500 }, { status: 500 }, { status: 500 });
    await assert.rejects(
      s.neso.load(new SignalHistory(), 18, D('2023-01-24T00:00Z'), D('2023-01-24T01:00Z')),
      (e: unknown) => e instanceof FlexError && e.code === 'FLX_UPSTREAM_ERROR' && /HTTP 500/.test(e.message),
    );
    assert.equal(s.waits.length, 2);
  } finally {
    await s.done();
  }
});

test('offline: a clear error naming the host; an older cached copy is used instead, marked stale', async () => {
  const s = await setup({ retries: 1 });
  const h = new SignalHistory();
  const first = await s.neso.load(h, 18, D('2023-01-24T00:00Z'), D('2023-01-24T02:00Z'));
  assert.equal(first[0]?.stale, false);
  await s.api.close();
  // An hour later the cached copy is due for a refresh (the periods are recent), but the API is gone.
  const gone = new NesoCarbonClient({
    fetcher: new CachedFetcher({
      cacheDir: s.cacheDir,
      retries: 1,
      backoffMs: 1,
      sleep: async () => {},
      now: () => Date.now() + 3_600_000,
    }),
    baseUrl: s.api.url,
    now: () => D('2023-01-24T03:00Z'),
  });
  try {
    const again = await gone.load(new SignalHistory(), 18, D('2023-01-24T00:00Z'), D('2023-01-24T02:00Z'));
    assert.equal(again[0]?.stale, true, 'the cached copy, marked stale');
    await assert.rejects(
      gone.load(new SignalHistory(), 18, D('2023-05-24T00:00Z'), D('2023-05-24T02:00Z')),
      (e: unknown) =>
        e instanceof FlexError &&
        e.code === 'FLX_UPSTREAM_UNREACHABLE' &&
        e.message.includes(new URL(s.api.url).host) &&
        /ECONNREFUSED/.test(e.message),
    );
  } finally {
    rmSync(s.cacheDir, { recursive: true, force: true });
  }
});

test('a forecast fetched before its period is recorded as a vintage issued at the fetch time', async () => {
  const s = await setup({ now: () => D('2023-01-24T06:00Z') });
  try {
    const h = new SignalHistory();
    const got = await s.neso.load(h, 18, D('2023-01-24T00:00Z'), D('2023-01-25T00:00Z'));
    assert.equal(got[0]?.fetchedAt, D('2023-01-24T06:00Z'));
    assert.deepEqual(
      h.vintagesOf(18, D('2023-01-24T17:00Z'), 'carbon').map((v) => v.issuedAt),
      [D('2023-01-24T06:00Z')],
    );
    assert.equal(h.get(18, D('2023-01-24T17:00Z'))?.carbonForecast, undefined, 'not a stored (final) forecast');
    assert.ok(
      h.get(18, D('2023-01-24T05:00Z'))?.carbonForecast !== undefined,
      'periods already started: the stored value',
    );
    assert.ok(!existsSync(join(s.cacheDir, 'nothing')));
  } finally {
    await s.done();
  }
});
