// The site move's steps (src/agents/flex/site-move.ts) against real Compute-Flex agents over
// simulated clusters, each dispatch body checked by the link protocol both ways: a move to a site
// whose cluster refuses the import leaves the job waiting at its source, held by FlexLon, and audits
// the refusal; a move to a site with room lands the job there, released, and withdraws it at the
// source. The plan side: the moves a plan makes are kept only when they pay for themselves. The link
// protocol's move fields: optional, so older bodies parse; checked field by field when present.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputeAgent } from '../../src/agents/compute/agent.ts';
import type { PlanResult } from '../../src/agents/flex/plan-record.ts';
import { carryOutMoves, SiteMoves } from '../../src/agents/flex/site-move.ts';
import { parseDispatchMessage, parseDispatchResults, parseReport, versioned } from '../../src/agents/link-protocol.ts';
import { SimCluster } from '../../src/adapters/scheduler-sim/cluster.ts';
import { FileKeyStore } from '../../src/adapters/keystore-file/keystore.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { staticKeyResolver } from '../../src/beckn/key-resolver.ts';
import { createHighsSolver } from '../../src/adapters/solver-highs/solver.ts';
import { solveFleet } from '../../src/agents/flex/fleet-plan.ts';
import {
  DEFAULT_MOVE_COST,
  moveTargets,
  type ComputeJob,
  type FlexibilityReport,
  type MoveCost,
} from '../../src/domain/compute.ts';
import type { SignalSeries } from '../../src/domain/signals.ts';
import { FlexError } from '../../src/errors.ts';
import { checkSchedule } from '../../src/optimise/check.ts';
import { costSplit } from '../../src/optimise/offers.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbpPerMwh, gPerKwh, kw, kwh } from '../../src/domain/units.ts';
import { createLogger } from '../../src/log.ts';
import { dispatchFor } from '../../src/optimise/dispatch.ts';
import { movesFor } from '../../src/optimise/moves.ts';
import { buildProblem } from '../../src/optimise/problem.ts';
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

test('a refused import leaves the job at its source; an accepted one moves it; a job that started meanwhile runs once; all audited', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-site-move-'));
  const stores: Store[] = [];
  try {
    const signer = await new FileKeyStore(join(dir, 'keys'), true).signer('dc.test.local');
    // man has 16 GPUs: it cannot take a 32-GPU job, and its cluster refuses the import; edi can.
    const clusters = { lon: cluster('lon', 8), man: cluster('man', 2), edi: cluster('edi', 8) };
    clusters.lon.submit([job('big', 32), job('racy', 8)]);
    /** Runs before an import reaches its target: the source's scheduler moving on meanwhile. */
    let beforeImport: (() => Promise<void>) | undefined = undefined;
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
        if (message.importJobs?.length) await beforeImport?.();
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
    assert.deepEqual(dispatchFor(reports[0]!, atEdiNow, grid, T0), [], 'held at lon until the move');
    const { heldBy: _heldBy, ...released } = big;
    const queuedBig = { ...reports[0]!, jobs: [{ ...released, state: 'queued' as const }] };
    const later = { ...atEdiNow, jobs: [{ id: 'big', site: 'edi', powerKw: [0, 0, 12.8, 0, 0, 0, 0, 0] }] };
    assert.deepEqual(
      dispatchFor(queuedBig, later, grid, T0),
      [{ jobId: 'big', beginAt: epochMs(T0 + 2 * 1_800_000) }],
      'a queued job moved later is deferred at lon to its start at edi',
    );
    // The orchestrator's side: SiteMoves carries out a plan's due moves and keeps its view of the queues.
    const siteMoves = new SiteMoves({ ...deps, cost: DEFAULT_MOVE_COST });
    const view = new Map(reports.map((r) => [r.site, r]));
    const planTo = (to: string): PlanResult => ({
      grid,
      problem,
      schedule: { ...atEdiNow, jobs: [{ id: 'big', site: to, powerKw: [12.8, 0, 0, 0, 0, 0, 0, 0] }] },
      orders: [],
      solveMs: 0,
      signalsIssuedAt: {},
      moves: { moves: [{ jobId: 'big', from: 'lon', to }], moveGbp: 4.2, withoutMovesGbp: 10, kept: true },
    });

    await siteMoves.dispatch(planTo('man'), 'plan-1', view, T0);
    assert.ok(siteMoves.pinned.has('big'), 'a job whose move was refused is planned at home from then on');
    assert.ok(
      view.get('lon')?.jobs.some((j) => j.id === 'big'),
      'still at lon in the view',
    );
    const atLon = (await clusters.lon.listJobs()).find((j) => j.id === 'big');
    assert.deepEqual([atLon?.state, atLon?.heldBy], ['held', 'flexlon'], 'kept at its source, still held by FlexLon');
    assert.equal((await clusters.man.listJobs()).length, 0, 'nothing left at the refusing site');

    await siteMoves.dispatch(planTo('edi'), 'plan-2', view, T0);
    assert.ok(!view.get('lon')?.jobs.some((j) => j.id === 'big'), 'gone from lon in the view');
    assert.deepEqual(
      view.get('edi')?.jobs.map((j) => [j.id, j.site, j.state]),
      [['big', 'edi', 'queued']],
    );
    assert.equal((await clusters.lon.listJobs()).find((j) => j.id === 'big')?.state, 'cancelled');
    const atEdi = (await clusters.edi.listJobs()).find((j) => j.id === 'big');
    assert.deepEqual([atEdi?.site, atEdi?.state, atEdi?.beginAt], ['edi', 'queued', T0], 'released at edi');

    // The job starts at its source after the export and before the withdraw: the copy imported at edi
    // is withdrawn, so it runs once, at lon.
    beforeImport = async () => {
      await clusters.lon.release('racy');
      clusters.lon.advanceTo(epochMs(T0 + 60_000));
    };
    const raced = await carryOutMoves(deps, [{ jobId: 'racy', from: 'lon', to: 'edi', beginAt: T0 }], {
      planId: 'plan-3',
      why: 'test',
    });
    assert.equal(raced[0]?.moved, false);
    assert.match(raced[0]?.refusal ?? '', /^withdraw at lon: .*running/);
    assert.equal((await clusters.lon.listJobs()).find((j) => j.id === 'racy')?.state, 'running');
    assert.equal((await clusters.edi.listJobs()).find((j) => j.id === 'racy')?.state, 'cancelled');

    const audited = (await provider.auditTrail())
      .map((r) => r.payload as { event?: string; jobId: string; to: string; outcome: string; refusal?: string })
      .filter((p) => p.event === 'site-move');
    assert.deepEqual(
      audited.map((p) => [p.jobId, p.to, p.outcome]),
      [
        ['big', 'man', 'kept at source'],
        ['big', 'edi', 'moved'],
        ['racy', 'edi', 'kept at source'],
      ],
    );
    assert.match(audited[0]?.refusal ?? '', /^import: .*needs 32 GPUs; the cluster has 16/);
  } finally {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a plan moves a job only when that saves more than the move costs', async () => {
  const solver = createHighsSolver({ timeLimitSeconds: 20 });
  try {
    const grid = { start: T0, slotMinutes: 30, slots: 8 };
    // Region a's power is dear (£200/MWh), b's cheap (£50/MWh); the job, 8 GPUs for an hour at 3 kW,
    // saves 3 kWh × 1.3 × £150/MWh ≈ £0.59 by running at b.
    const series = (region: string, price: number): SignalSeries => ({
      region,
      issuedAt: T0,
      slotMinutes: 30,
      points: Array.from({ length: 8 }, (_, t) => ({
        start: epochMs(T0 + t * 1_800_000),
        price: gbpPerMwh(price),
        carbonForecast: gPerKwh(150),
      })),
    });
    const signals = new Map([
      ['a', series('a', 200)],
      ['b', series('b', 50)],
    ]);
    const small: ComputeJob = {
      ...job('small', 8),
      site: 'a',
      powerKw: kw(3),
      energyKwh: kwh(3),
      remainingKwh: kwh(3),
      allowedSites: ['a', 'b'],
    };
    const site = (id: string, jobs: ComputeJob[]): FlexibilityReport => ({
      site: id,
      region: id,
      at: T0,
      itPowerLimitKw: kw(50),
      pue: 1.3,
      gridImportLimitKw: kw(100),
      baseLoadFrom: T0,
      slotMinutes: 30,
      baseLoadKw: new Array<number>(8).fill(2),
      jobs,
      scheduler: { kind: 'sim', move: true },
    });
    const solve = (moveCost: MoveCost) =>
      solveFleet({
        solver,
        log: createLogger('silent'),
        input: { grid, now: T0, reports: [site('a', [small]), site('b', [])], signals },
        firm: [],
        held: [],
        capIsTarget: false,
        moveCost,
      });
    // At the default (£1 + £0.10 × 8 GPUs = £1.80) the saving does not pay: the job stays at a. The
    // problem carries the move cost, so the planner itself keeps it home (no move to weigh after).
    const stays = await solve(DEFAULT_MOVE_COST);
    assert.equal(stays.schedule.jobs.find((j) => j.id === 'small')?.site, 'a');
    assert.equal(stays.problem.jobs.find((j) => j.id === 'small')?.moveCostGbp, 1.8);
    assert.equal(stays.moves, undefined, JSON.stringify(stays.moves));
    assert.ok(checkSchedule(stays.problem, stays.schedule).ok);
    // At 10p a move it does.
    const moves = await solve({ gbpPerMove: 0.1, gbpPerGpu: 0 });
    assert.equal(moves.schedule.jobs.find((j) => j.id === 'small')?.site, 'b');
    assert.deepEqual(moves.moves?.moves, [{ jobId: 'small', from: 'a', to: 'b' }]);
    // The plan's cost includes the move's £0.10 (the check charges it): still below the plan at home.
    assert.ok(Math.abs((moves.schedule.moveCostGbp ?? 0) - 0.1) < 1e-9, JSON.stringify(moves.schedule));
    assert.ok(moves.moves?.kept && (moves.moves.withoutMovesGbp ?? 0) - moves.schedule.costGbp > 0.3);
    assert.ok(checkSchedule(moves.problem, moves.schedule).ok);
    // Offer pricing solves the same problem with the move's cost in it, stated as its own part.
    const pricing = new SiteMoves({
      cost: { gbpPerMove: 0.1, gbpPerGpu: 0 },
      link: {
        dispatch: async () => ({ results: [] }),
        baseline: async () => ({ importKw: [] }),
        meter: async () => ({ importKw: [] }),
      },
      agentUrl: (id) => id,
      store: undefined as unknown as Store,
      actor: 'test',
      wallNow: () => T0,
      log: createLogger('silent'),
    });
    const priced = await pricing.solve(solver, moves.problem, [site('a', [small]), site('b', [])]);
    assert.equal(priced.jobs.find((j) => j.id === 'small')?.site, 'b');
    assert.ok(Math.abs(priced.costGbp - moves.schedule.costGbp) < 1e-6, `${priced.costGbp}`);
    assert.ok(Math.abs(costSplit(priced).movesGbp - 0.1) < 1e-6, JSON.stringify(costSplit(priced)));
    assert.ok(Math.abs(costSplit(priced).latenessGbp - costSplit(moves.schedule).latenessGbp) < 1e-6);
  } finally {
    solver.close();
  }
});

test('flexlon-link/1 with the move fields: old bodies still parse, new ones are checked field by field', () => {
  const old = {
    site: 'lon',
    region: 'GB',
    at: T0,
    itPowerLimitKw: 10,
    pue: 1.2,
    gridImportLimitKw: 20,
    baseLoadFrom: T0,
    slotMinutes: 30,
    baseLoadKw: [1],
    jobs: [],
  };
  assert.equal(parseReport(old).scheduler, undefined, 'a report without `scheduler` (an older agent) parses');
  assert.throws(
    () => parseReport({ ...old, scheduler: { kind: 'pbs', move: true } }),
    (e) => e instanceof FlexError && e.code === 'FLX_LINK_INVALID' && e.path === 'scheduler.kind',
  );
  assert.deepEqual(parseDispatchMessage({ protocol: 'flexlon-link/1', dispatch: [] }), { dispatch: [] });
  const portable = { id: 'j', kind: 'sim', job: { ...job('j', 8) }, spec: null };
  assert.equal(parseDispatchMessage({ dispatch: [], importJobs: [portable] }).importJobs?.length, 1);
  assert.throws(
    () => parseDispatchMessage({ dispatch: [], importJobs: [{ ...portable, job: { ...portable.job, id: 'k' } }] }),
    (e) => e instanceof FlexError && e.code === 'FLX_LINK_INVALID' && e.path === 'importJobs[0].job.id',
  );
  assert.throws(
    () => parseDispatchMessage({ dispatch: [], withdraw: [{ jobId: 'j' }] }),
    (e) => e instanceof FlexError && e.path === 'withdraw[0].why',
  );
  assert.throws(
    () => parseDispatchResults({ results: [], exported: [{ ...portable, kind: 'docker' }] }),
    (e) => e instanceof FlexError && e.path === 'exported[0].kind',
  );
});
