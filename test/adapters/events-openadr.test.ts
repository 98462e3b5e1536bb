// The Grid Orchestrator's OpenADR-style intake over real HTTP on loopback: programs and events are
// validated, stored with assigned ids, audited, and an event's window becomes the BAP's need.
import { WPD_PERFORMANCE } from '../../src/domain/products.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { registerGridEventRoutes } from '../../src/adapters/events-openadr/routes.ts';
import { GridEventStore } from '../../src/adapters/events-openadr/store.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { GridOrchestrator } from '../../src/agents/grid/orchestrator.ts';
import { DEFAULT_NEED_POLICY } from '../../src/agents/grid/need-detection.ts';
import { verifyChain } from '../../src/audit/chain.ts';
import { useRawJsonBody } from '../../src/beckn/raw-body.ts';
import { CsvSignalSource } from '../../src/adapters/signals-csv/source.ts';
import { SHIPPED_GRID, PROJECT_ROOT } from '../../src/config.ts';
import { epochMs } from '../../src/domain/time.ts';

const TOKEN = 'test-token-0123456789';

const setup = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-oadr-'));
  const store = await openSqliteStore(join(dir, 'grid.db'));
  const events = new GridEventStore(store, 'grid.test');
  const app = Fastify({ logger: false });
  useRawJsonBody(app);
  registerGridEventRoutes(app, { events, token: TOKEN });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const call = async (method: string, path: string, body?: unknown, token = TOKEN) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      body: (await res.json()) as Record<string, unknown>,
    };
  };
  return {
    dir,
    store,
    events,
    call,
    done: async () => {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

const program = { programName: 'lon-cmz', programType: 'DSO_OPERATIONAL_UTILISATION', country: 'GB' };
const event = (programID: string) => ({
  programID,
  eventName: 'evening constraint',
  targets: [{ type: 'RESOURCE_NAME', values: ['lon'] }],
  intervalPeriod: { start: '2023-01-24T17:30:00Z', duration: 'PT30M' },
  intervals: [
    {
      id: 0,
      payloads: [
        { type: 'IMPORT_CAPACITY_LIMIT', values: [250] },
        { type: 'DISPATCH_SETPOINT', values: [120] },
        { type: 'PRICE', values: [500] },
      ],
    },
  ],
});

test('programs and events are posted, validated, stored with ids, listed and audited', async () => {
  const s = await setup();
  try {
    const p = await s.call('POST', '/openadr/programs', program);
    assert.equal(p.status, 201);
    assert.match(String(p.body.id), /^[0-9a-f-]{36}$/);
    assert.equal(p.body.objectType, 'PROGRAM');
    const e = await s.call('POST', '/openadr/events', event(String(p.body.id)));
    assert.equal(e.status, 201, JSON.stringify(e.body));
    const one = await s.call('GET', `/openadr/events/${String(e.body.id)}`);
    assert.equal(one.body.eventName, 'evening constraint');
    assert.equal(((await s.call('GET', '/openadr/events')).body as unknown as unknown[]).length, 1);
    const trail = await s.store.auditTrail();
    assert.deepEqual(
      trail.map((r) => [r.kind, (r.payload as { objectType: string }).objectType]),
      [
        ['signal', 'PROGRAM'],
        ['signal', 'EVENT'],
      ],
    );
    assert.ok(verifyChain(trail).ok);
  } finally {
    await s.done();
  }
});

test('bad requests get problem JSON naming the field; nothing is stored', async () => {
  const s = await setup();
  try {
    const p = await s.call('POST', '/openadr/programs', program);
    const id = String(p.body.id);
    const cases: [unknown, number, string, RegExp][] = [
      [
        { ...event(id), intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [9] }] }] },
        400,
        'FLX_EVENT_INVALID',
        /intervals\[0\]\.payloads\[0\]\.values: SIMPLE is a level 0, 1, 2 or 3/,
      ],
      [
        { ...event(id), intervalPeriod: { start: 'tomorrow' } },
        400,
        'FLX_EVENT_INVALID',
        /event field intervalPeriod\.start: must match format "date-time"/,
      ],
      [{ programID: id }, 400, 'FLX_EVENT_INVALID', /must have required property 'intervals'/],
      [event('no-such-program'), 404, 'FLX_EVENT_NOT_FOUND', /programID "no-such-program" is not a program here/],
      [
        '{"programID": "x",\n "intervals": [}',
        400,
        'FLX_EVENT_INVALID',
        /request body: line 2, column 16: not valid JSON/,
      ],
    ];
    for (const [body, status, title, detail] of cases) {
      const r = await s.call('POST', '/openadr/events', body);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.type, 'application/problem+json; charset=utf-8');
      assert.equal(r.body.title, title);
      assert.match(String(r.body.detail), detail);
    }
    const unauth = await s.call('POST', '/openadr/events', event(id), 'wrong-token-0123456789');
    assert.equal(unauth.status, 401);
    assert.equal(unauth.body.title, 'FLX_EVENT_UNAUTHORIZED');
    assert.equal((await s.call('GET', '/openadr/events', undefined, '')).status, 401);
    assert.equal((await s.events.events()).length, 0);
    assert.equal(
      (await s.call('POST', '/openadr/programs', program)).body.title,
      'FLX_EVENT_INVALID',
      'programName is unique',
    );
  } finally {
    await s.done();
  }
});

test('a file with one bad event stores nothing; the example file loads', async () => {
  const s = await setup();
  try {
    const file = join(s.dir, 'mixed.json');
    writeFileSync(
      file,
      JSON.stringify({ programs: [program], events: [event('lon-cmz'), { ...event('lon-cmz'), intervals: [] }] }),
    );
    await assert.rejects(
      s.events.loadFile(file),
      /events\[1\]: event field intervals: must NOT have fewer than 1 items/,
    );
    assert.equal((await s.events.programs()).length, 0);
    const loaded = await s.events.loadFile(join(PROJECT_ROOT, 'docs', 'examples', 'openadr-dso-events.json'));
    assert.equal(loaded.events[0]?.programID, loaded.programs[0]?.id, 'programID by name resolved to the stored id');
  } finally {
    await s.done();
  }
});

test('the Grid Orchestrator takes its need from a grid event before looking for a price/carbon peak', async () => {
  const s = await setup();
  try {
    const p = await s.call('POST', '/openadr/programs', program);
    await s.call('POST', '/openadr/events', event(String(p.body.id)));
    const now = epochMs(Date.parse('2023-01-24T00:00:00Z'));
    const base = {
      id: 'grid.test',
      region: 'GB',
      signals: new CsvSignalSource(SHIPPED_GRID),
      policy: DEFAULT_NEED_POLICY,
      market: { now: () => now, waitUntil: async () => {} },
      store: s.store,
      wallNow: () => 0,
    };
    const day = { start: now, slotMinutes: 30, slots: 48 };
    const withEvents = await new GridOrchestrator({ ...base, events: s.events } as never).detectNeed(day);
    assert.deepEqual(withEvents, {
      kind: 'import-limit',
      windowStart: Date.parse('2023-01-24T17:30:00Z'),
      windowEnd: Date.parse('2023-01-24T18:00:00Z'),
      wantedKw: 120,
      maxPriceGbpPerMwh: 500,
      importLimitKw: 250,
      // The DSO program's terms travel with the need (issue 16): measured against the limit, WPD rule.
      product: {
        code: 'DSO_OPERATIONAL_UTILISATION',
        name: 'Operational Utilisation',
        measurement: 'import-limit',
        importLimitKw: 250,
        baseline: 'bl01',
        utilisationGbpPerMwh: 500,
        performance: WPD_PERFORMANCE,
      },
    });
    const audit = (await s.store.auditTrail()).filter((r) => r.kind === 'need').at(-1)?.payload as {
      event: { eventId: string; importLimitKw: number; product: string };
    };
    assert.equal(audit.event.importLimitKw, 250);
    assert.equal(audit.event.product, 'DSO_OPERATIONAL_UTILISATION');
    const without = await new GridOrchestrator(base as never).detectNeed(day);
    assert.equal(without?.kind, 'price-peak');
    // An event whose window is already too close is not taken.
    const late = await new GridOrchestrator({
      ...base,
      events: s.events,
      market: { now: () => epochMs(Date.parse('2023-01-24T17:00:00Z')), waitUntil: async () => {} },
    } as never).detectNeed(day);
    assert.equal(late?.kind, 'price-peak');
  } finally {
    await s.done();
  }
});
