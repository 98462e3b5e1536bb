// The provider↔agent link protocol (flexlon-link/1): every body is checked on arrival, both ways.
// A bad body is refused with FLX_LINK_INVALID naming the field, another version with FLX_LINK_VERSION;
// the orchestrator takes its link and its ids from its deps (defaults: signed HTTP, random UUIDs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { ComputeAgent } from '../../src/agents/compute/agent.ts';
import { FlexOrchestrator } from '../../src/agents/flex/orchestrator.ts';
import { DEFAULT_PRICING } from '../../src/agents/flex/pricing.ts';
import { callSigned, httpAgentLink, httpProviderLink } from '../../src/agents/link.ts';
import {
  LINK_PROTOCOL,
  parseDispatchMessage,
  parseDispatchResults,
  parseReport,
  parseSlotRead,
  parseSlotReadings,
} from '../../src/agents/link-protocol.ts';
import { FileKeyStore } from '../../src/adapters/keystore-file/keystore.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { BecknClient } from '../../src/beckn/client.ts';
import { staticKeyResolver } from '../../src/beckn/key-resolver.ts';
import { useRawJsonBody } from '../../src/beckn/raw-body.ts';
import type { FlexibilityReport } from '../../src/domain/compute.ts';
import type { Schedule } from '../../src/domain/planning.ts';
import { seededIds } from '../../src/domain/ids.ts';
import { epochMs } from '../../src/domain/time.ts';
import { kw, kwh } from '../../src/domain/units.ts';
import { FlexError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import type { AgentLink, Meter, Scheduler } from '../../src/ports.ts';
import { flatSignals } from '../helpers/flex-site.ts';

const T0 = epochMs(Date.parse('2023-06-01T00:00:00Z'));
const NO_PLAN: Schedule = {
  version: 1,
  status: 'infeasible',
  reason: 'test',
  costGbp: 0,
  carbonKg: 0,
  lowerBoundGbp: 0,
  jobs: [],
  batteries: [],
};

const report = (): FlexibilityReport => ({
  site: 'lon',
  region: 'GB',
  at: T0,
  itPowerLimitKw: kw(100),
  pue: 1,
  gridImportLimitKw: kw(100),
  baseLoadFrom: T0,
  slotMinutes: 30,
  baseLoadKw: new Array<number>(8).fill(10).map(kw),
  jobs: [
    {
      id: 'a',
      name: 'a',
      site: 'lon',
      slo: 'deferrable',
      gpus: 8,
      powerKw: kw(60),
      energyKwh: kwh(30),
      remainingKwh: kwh(30),
      submittedAt: T0,
      releaseAt: T0,
      deadlineAt: epochMs(T0 + 4 * 1_800_000),
      preemptible: false,
      allowedSites: ['lon'],
      work: 1,
      workUnit: 'gpu-hours',
      state: 'queued',
    },
  ],
});

/** Asserts `fn` throws the coded error at `path`. */
const refuses = (fn: () => unknown, code: string, path: string): void =>
  assert.throws(fn, (e) => e instanceof FlexError && e.code === code && e.path === path);

test('bodies the provider receives: a report, dispatch results and readings are checked field by field', () => {
  const good = report();
  assert.deepEqual(parseReport({ protocol: LINK_PROTOCOL, ...good }), good, 'the protocol field is read and dropped');
  assert.deepEqual(parseReport(good), good, 'a body without it is flexlon-link/1');
  refuses(() => parseReport({ ...good, site: undefined }), 'FLX_LINK_INVALID', 'site');
  refuses(
    () => parseReport({ ...good, jobs: [{ ...good.jobs[0], state: 'lost' }] }),
    'FLX_LINK_INVALID',
    'jobs[0].state',
  );
  refuses(() => parseReport({ ...good, baseLoadKw: [1, null] }), 'FLX_LINK_INVALID', 'baseLoadKw[1]');
  refuses(() => parseReport({ ...good, protocol: 'flexlon-link/2' }), 'FLX_LINK_VERSION', 'protocol');
  refuses(() => parseReport([good]), 'FLX_LINK_INVALID', '$');
  assert.deepEqual(parseDispatchResults({ results: [{ ok: true, jobId: 'a' }] }), {
    results: [{ ok: true, jobId: 'a' }],
  });
  refuses(() => parseDispatchResults({ results: [{ jobId: 'a' }] }), 'FLX_LINK_INVALID', 'results[0].ok');
  assert.deepEqual(parseSlotReadings({ importKw: [1, null] }), { importKw: [1, null] });
  refuses(() => parseSlotReadings({ importKw: [1, 2, 'x'] }), 'FLX_LINK_INVALID', 'importKw[2]');
});

test('bodies the agent receives: a dispatch (pushed or in a reply) and a meter or baseline read', () => {
  const dispatch = [{ jobId: 'a', beginAt: T0 }];
  assert.deepEqual(parseDispatchMessage({ protocol: LINK_PROTOCOL, dispatch, reason: 'x' }), { dispatch, reason: 'x' });
  refuses(() => parseDispatchMessage({ dispatch: 'all' }), 'FLX_LINK_INVALID', 'dispatch');
  refuses(
    () => parseDispatchMessage({ dispatch: [...dispatch, { jobId: 'b' }] }),
    'FLX_LINK_INVALID',
    'dispatch[1].beginAt',
  );
  refuses(() => parseDispatchMessage({ dispatch, planId: 7 }), 'FLX_LINK_INVALID', 'planId');
  assert.deepEqual(parseSlotRead({ fromMs: T0, slots: 2 }), { fromMs: T0, slots: 2 });
  refuses(() => parseSlotRead({ fromMs: T0, slots: 0 }), 'FLX_LINK_INVALID', 'slots');
  refuses(() => parseSlotRead({ slots: 2 }), 'FLX_LINK_INVALID', 'fromMs');
  refuses(() => parseSlotRead({ fromMs: T0, slots: 2, slotMinutes: -30 }), 'FLX_LINK_INVALID', 'slotMinutes');
  assert.deepEqual(parseSlotRead({ fromMs: T0, slots: 2, kind: 'counterfactual' }), {
    fromMs: T0,
    slots: 2,
    kind: 'counterfactual',
  });
  refuses(() => parseSlotRead({ fromMs: T0, slots: 2, kind: 'fifo' }), 'FLX_LINK_INVALID', 'kind');
});

test('the orchestrator checks a report before keeping it, answers with one dispatch message, and takes link and ids from its deps', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-link-'));
  const store = await openSqliteStore(join(dir, 'flex.db'));
  try {
    const signer = await new FileKeyStore(join(dir, 'keys'), true).signer('dc.test.local');
    const asked: string[] = [];
    const link: AgentLink = {
      dispatch: async (url) => (asked.push(`dispatch ${url}`), { results: [] }),
      baseline: async (url) => (asked.push(`baseline ${url}`), { importKw: [5, null] }),
      meter: async (url) => (asked.push(`meter ${url}`), { importKw: [4, 3] }),
    };
    const fo = new FlexOrchestrator({
      id: 'dc.test.local',
      uri: 'http://127.0.0.1:1',
      name: 'test',
      store,
      signer,
      market: { now: () => T0, waitUntil: async () => {} },
      wallNow: () => Date.now(),
      client: new BecknClient({ signer, store, now: () => Date.now() }),
      signals: flatSignals,
      solver: { name: 'none', plan: async () => NO_PLAN },
      sites: [{ id: 'lon', region: 'GB', agentUrl: 'http://agent.test' }],
      horizonSlots: 8,
      slotMinutes: 30,
      pricing: DEFAULT_PRICING,
      quoteTtlSeconds: 300,
      log: createLogger('silent'),
      ids: seededIds(7),
      link,
    });
    await assert.rejects(
      fo.onAgentReport({ ...report(), jobs: [{ id: 'a' }] }),
      (e) => e instanceof FlexError && e.code === 'FLX_LINK_INVALID' && e.path === 'jobs[0].site',
    );
    assert.equal(await store.getDocument('agent-report', 'lon'), undefined, 'a refused report is not kept');
    const answer = await fo.onAgentReport({ protocol: LINK_PROTOCOL, ...report() });
    assert.deepEqual(answer.dispatch, [], 'no plan (a hard constraint cannot hold): the waiting job stays held');
    assert.equal(answer.reason, 'rolling plan');
    assert.equal(answer.planId, seededIds(7).next('plan'), 'the plan id comes from the injected source');
    assert.deepEqual(await store.getDocument('agent-report', 'lon'), report(), 'kept without the protocol field');
    assert.deepEqual(await fo.meter('lon', T0, 2), [4, 3]);
    assert.ok(Number.isNaN((await fo.baseline('lon', T0, 2))[1]), 'null reads back as NaN');
    assert.deepEqual(asked, ['meter http://agent.test', 'baseline http://agent.test']);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('over HTTP: each side refuses a bad answer, and the agent a bad request, with the coded error naming the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-link-http-'));
  const peer = Fastify();
  const agentApp = Fastify();
  const agentStore = await openSqliteStore(join(dir, 'agent.db'));
  try {
    const signer = await new FileKeyStore(join(dir, 'keys'), true).signer('dc.test.local');
    // A peer that answers off-protocol: readings that are not numbers, a dispatch without job ids.
    peer.post('/agent/meter', async () => ({ importKw: [1, 'x'] }));
    peer.post('/agent/dispatch', async () => ({ results: 'done' }));
    peer.post('/internal/agent/report', async () => ({ dispatch: [{ beginAt: T0 }] }));
    const peerUrl = await peer.listen({ host: '127.0.0.1', port: 0 });
    const provider = httpAgentLink(signer, Date.now);
    await assert.rejects(
      provider.meter(peerUrl, { fromMs: T0, slots: 2 }),
      (e) => e instanceof FlexError && e.code === 'FLX_LINK_INVALID' && e.path === 'importKw[1]',
    );
    await assert.rejects(
      provider.dispatch(peerUrl, { dispatch: [] }),
      (e) => e instanceof FlexError && e.code === 'FLX_LINK_INVALID' && e.path === 'results',
    );
    await assert.rejects(
      httpProviderLink(peerUrl, signer, Date.now).report(report()),
      (e) => e instanceof FlexError && e.code === 'FLX_LINK_INVALID' && e.path === 'dispatch[0].jobId',
    );
    // The agent's own routes: a signed but malformed dispatch is refused before the scheduler is touched.
    useRawJsonBody(agentApp);
    const agent = new ComputeAgent({
      id: 'agent.test',
      site: { id: 'lon', region: 'GB', pue: 1, itPowerLimitKw: 100, gridImportLimitKw: 100 },
      scheduler: {} as Scheduler,
      meter: {} as Meter,
      baseLoad: () => [],
      signer,
      orchestratorUrl: peerUrl,
      orchestratorId: signer.subscriberId,
      resolver: staticKeyResolver([
        {
          subscriberId: signer.subscriberId,
          uniqueKeyId: signer.uniqueKeyId,
          publicKeyBase64: signer.publicKeyBase64,
          url: peerUrl,
        },
      ]),
      store: agentStore,
      market: { now: () => T0, waitUntil: async () => {} },
      wallNow: Date.now,
      slotMinutes: 30,
      horizonSlots: 8,
      log: createLogger('silent'),
    });
    agent.register(agentApp);
    const agentUrl = await agentApp.listen({ host: '127.0.0.1', port: 0 });
    await assert.rejects(
      callSigned(`${agentUrl}/agent/dispatch`, { dispatch: [{ jobId: 'a' }] }, signer, Date.now),
      /HTTP 400 .*FLX_LINK_INVALID.*dispatch\[0\]\.beginAt/,
    );
    await assert.rejects(
      callSigned(`${agentUrl}/agent/meter`, { protocol: 'flexlon-link/9', fromMs: T0, slots: 1 }, signer, Date.now),
      /HTTP 400 .*FLX_LINK_VERSION/,
    );
    const rejected = (await agentStore.auditTrail()).filter((r) => r.kind === 'beckn.rejected');
    assert.deepEqual(
      rejected.map((r) => (r.payload as { code: string }).code),
      ['FLX_LINK_INVALID', 'FLX_LINK_VERSION'],
    );
  } finally {
    await peer.close();
    await agentApp.close();
    await agentStore.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
