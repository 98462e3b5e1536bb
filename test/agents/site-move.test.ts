// The site move's steps (src/agents/flex/site-move.ts) against real Compute-Flex agents over
// simulated clusters, each dispatch body checked by the link protocol both ways: a move to a site
// whose cluster refuses the import leaves the job waiting at its source, held by FlexLon, and audits
// the refusal; a move to a site with room lands the job there, released, and withdraws it at the
// source. The plan side: the moves a plan makes are kept only when they pay for themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputeAgent } from '../../src/agents/compute/agent.ts';
import { carryOutMoves } from '../../src/agents/flex/site-move.ts';
import { parseDispatchMessage, parseDispatchResults, parseReport, versioned } from '../../src/agents/link-protocol.ts';
import { SimCluster } from '../../src/adapters/scheduler-sim/cluster.ts';
import { FileKeyStore } from '../../src/adapters/keystore-file/keystore.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { staticKeyResolver } from '../../src/beckn/key-resolver.ts';
import { moveTargets, type ComputeJob } from '../../src/domain/compute.ts';
import { epochMs } from '../../src/domain/time.ts';
import { kw, kwh } from '../../src/domain/units.ts';
import { createLogger } from '../../src/log.ts';
import { buildProblem, dispatchFor, movesFor } from '../../src/optimise/problem.ts';
import type { AgentLink, Store } from '../../src/ports.ts';
import { flatSignals } from '../helpers/flex-site.ts';

const T0 = epochMs(Date.parse('2023-06-01T00:00:00Z'));

const job = (id: string, gpus: number): ComputeJob => ({
  id,
  name: id,
  site: 'lon',
  slo: 'deferrable',
  gpus,
  powerKw: kw(gpus * 0.4),
  energyKwh: kwh(gpus * 0.4),
  remainingKwh: kwh(gpus * 0.4),
  submittedAt: T0,
  releaseAt: T0,
  deadlineAt: epochMs(T0 + 6 * 3_600_000),
  preemptible: false,
  allowedSites: ['lon', 'man', 'edi'],
  work: gpus,
  workUnit: 'gpu-hours',
  state: 'queued',
});

/** A held-on-arrival simulated cluster of `nodes` 8-GPU training nodes. */
const cluster = (site: string, nodes: number): SimCluster =>
  new SimCluster(
    { site, region: 'GB', gridImportLimitKw: 500, trainingNodes: nodes, inferenceNodes: 0, admission: 'held' },
    T0,
  );

test('a refused import leaves the job at its source; an accepted one moves it, and both are audited', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-site-move-'));
  const stores: Store[] = [];
  try {
    const signer = await new FileKeyStore(join(dir, 'keys'), true).signer('dc.test.local');
    // man has 16 GPUs: it cannot take a 32-GPU job, and its cluster refuses the import; edi can.
    const clusters = { lon: cluster('lon', 8), man: cluster('man', 2), edi: cluster('edi', 8) };
    clusters.lon.submit([job('big', 32)]);
    const agents = new Map<string, ComputeAgent>();
    for (const [site, c] of Object.entries(clusters)) {
      const store = await openSqliteStore(join(dir, `${site}.db`));
      stores.push(store);
      agents.set(
        `http://${site}.agent`,
        new ComputeAgent({
          id: `agent-${site}`,
          site: { id: site, region: 'GB', pue: 1.3, itPowerLimitKw: 200, gridImportLimitKw: 500 },
          scheduler: c,
          meter: c,
          baseLoad: (g) => new Array<number>(g.slots).fill(0),
          signer,
          orchestratorUrl: 'http://provider',
          orchestratorId: signer.subscriberId,
          resolver: staticKeyResolver([]),
          store,
          market: { now: () => T0, waitUntil: async () => {} },
          wallNow: () => T0,
          slotMinutes: 30,
          horizonSlots: 8,
          log: createLogger('silent'),
          link: { report: async () => ({ dispatch: [] }) },
        }),
      );
    }
    // The link as the wire has it: each body versioned and checked by the receiving side's parser.
    const link: AgentLink = {
      dispatch: async (url, message) => {
        const agent = agents.get(url);
        if (!agent) throw new Error(`no agent at ${url}`);
        const answer = await agent.onDispatch(parseDispatchMessage(versioned(message)), 'pushed');
        return parseDispatchResults(versioned(answer));
      },
      baseline: async () => ({ importKw: [] }),
      meter: async () => ({ importKw: [] }),
    };
    const provider = await openSqliteStore(join(dir, 'provider.db'));
    stores.push(provider);
    const deps = {
      link,
      agentUrl: (site: string) => `http://${site}.agent`,
      store: provider,
      actor: 'dc.test.local',
      wallNow: () => T0,
      log: createLogger('silent'),
    };
    // The agents report what their schedulers can do, and the planner takes the job as movable.
    const reports = await Promise.all(
      ['lon', 'man', 'edi'].map(async (s) => parseReport(versioned(await agents.get(`http://${s}.agent`)!.report(T0)))),
    );
    assert.deepEqual(reports[0]?.scheduler, { kind: 'sim', move: true });
    const big = reports[0]!.jobs.find((j) => j.id === 'big')!;
    assert.equal(big.state, 'held');
    assert.deepEqual(moveTargets(big, reports), ['man', 'edi']);
    assert.deepEqual(moveTargets(big, [reports[0]!, { ...reports[1]!, scheduler: { kind: 'slurm', move: true } }]), []);
    assert.deepEqual(
      moveTargets({ ...big, heldBy: 'other' }, reports),
      [],
      'a job an operator holds stays where it is',
    );
    const grid = { start: T0, slotMinutes: 30, slots: 8 };
    const signals = new Map([['GB', await flatSignals.forecast('GB', grid, T0)]]);
    const problem = buildProblem({ grid, now: T0, reports, signals, commitments: [] });
    assert.deepEqual(problem.jobs.find((j) => j.id === 'big')?.sites, ['lon', 'man', 'edi'], 'home first');
    const pinned = buildProblem({ grid, now: T0, reports, signals, commitments: [], pinned: new Set(['big']) });
    assert.deepEqual(
      pinned.jobs.find((j) => j.id === 'big')?.sites,
      ['lon'],
      'a job whose move was refused stays home',
    );
    // A plan that runs it at edi from now: a move due now, and no start time for it at lon.
    const atEdiNow = {
      version: 2 as const,
      status: 'feasible' as const,
      costGbp: 0,
      carbonKg: 0,
      lowerBoundGbp: 0,
      jobs: [{ id: 'big', site: 'edi', powerKw: [12.8, 0, 0, 0, 0, 0, 0, 0] }],
      batteries: [],
    };
    assert.deepEqual(movesFor(reports, atEdiNow, grid, T0), [{ jobId: 'big', from: 'lon', to: 'edi', beginAt: T0 }]);
    assert.deepEqual(dispatchFor(reports[0]!, atEdiNow, grid, T0), []);

    const refused = await carryOutMoves(deps, [{ jobId: 'big', from: 'lon', to: 'man', beginAt: T0 }], {
      planId: 'plan-1',
      why: 'test',
    });
    assert.equal(refused[0]?.moved, false);
    assert.match(refused[0]?.refusal ?? '', /^import: .*needs 32 GPUs; the cluster has 16/);
    const atLon = (await clusters.lon.listJobs()).find((j) => j.id === 'big');
    assert.deepEqual([atLon?.state, atLon?.heldBy], ['held', 'flexlon'], 'kept at its source, still held by FlexLon');
    assert.equal((await clusters.man.listJobs()).length, 0, 'nothing left at the refusing site');

    const moved = await carryOutMoves(deps, [{ jobId: 'big', from: 'lon', to: 'edi', beginAt: T0 }], {
      planId: 'plan-2',
      why: 'test',
    });
    assert.equal(moved[0]?.moved, true, JSON.stringify(moved));
    assert.equal((await clusters.lon.listJobs()).find((j) => j.id === 'big')?.state, 'cancelled');
    const atEdi = (await clusters.edi.listJobs()).find((j) => j.id === 'big');
    assert.deepEqual([atEdi?.site, atEdi?.state, atEdi?.beginAt], ['edi', 'queued', T0], 'released at edi');

    const audited = (await provider.auditTrail())
      .map((r) => r.payload as { event?: string; jobId: string; to: string; outcome: string; refusal?: string })
      .filter((p) => p.event === 'site-move');
    assert.deepEqual(
      audited.map((p) => [p.jobId, p.to, p.outcome]),
      [
        ['big', 'man', 'kept at source'],
        ['big', 'edi', 'moved'],
      ],
    );
    assert.match(audited[0]?.refusal ?? '', /needs 32 GPUs/);
  } finally {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
