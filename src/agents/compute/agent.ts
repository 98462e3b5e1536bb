// A Compute-Flex agent: sits beside one site's scheduler, reports the queue and the site's
// inflexible load to the Flexibility Orchestrator every slot, and carries out the dispatch it gets
// back (job start times). It also answers the orchestrator's meter reads. All links are signed, and
// every body is checked against the link protocol (flexlon-link/1, ../link-protocol.ts) on arrival.
import type { FastifyInstance } from 'fastify';
import type { Actuation, ComputeJob, FlexibilityReport } from '../../domain/compute.ts';
import { summariseFlexibility } from '../../domain/flexibility.ts';
import { MINUTE_MS, epochMs, slotAt, slotStart, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import { kw } from '../../domain/units.ts';
import { FlexError, asFlexError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { KeyResolver } from '../../beckn/key-resolver.ts';
import type { Clock, Meter, ProviderLink, Scheduler, Signer, SiteBattery, Store } from '../../ports.ts';
import { httpProviderLink, signedRoute } from '../link.ts';
import {
  LINK_PATHS,
  parseDispatchMessage,
  parseSlotRead,
  type DispatchInstruction,
  type DispatchMessage,
  type DispatchResults,
  type SlotReadings,
} from '../link-protocol.ts';
import { applyBattery, applyPowerCaps } from './levers.ts';
import { exportJobs, importJobs, operatorHold, withdrawJobs, type MoveSteps } from './moves.ts';

export interface SiteDescription {
  readonly id: string;
  readonly region: string;
  readonly pue: number;
  readonly itPowerLimitKw: number;
  readonly gridImportLimitKw: number;
}

export interface ComputeAgentDeps {
  readonly id: string;
  readonly site: SiteDescription;
  readonly scheduler: Scheduler;
  readonly meter: Meter;
  /** Inflexible IT load per slot of a grid (idle nodes, inference serving). */
  readonly baseLoad: (grid: SlotGrid) => number[];
  /**
   * The settlement baseline per slot of a grid. A simulated site answers with its counterfactual
   * twin (the same queue with no FlexLon decisions); a real site would answer from meter history.
   */
  readonly baseline?: (grid: SlotGrid) => Promise<number[]>;
  /**
   * The same queue on the site's own scheduler without FlexLon, where the site can tell (a simulated
   * site's FIFO twin), for the FIFO carbon cap; the settlement baseline stands in where absent.
   */
  readonly counterfactual?: (grid: SlotGrid) => Promise<number[]>;
  /** Moves a simulated cluster's time forward; real schedulers run on their own. */
  readonly advance?: (t: EpochMs) => void;
  readonly signer: Signer;
  readonly orchestratorUrl: string;
  readonly orchestratorId: string;
  readonly resolver: KeyResolver;
  readonly store: Store;
  readonly market: Clock;
  readonly wallNow: () => number;
  readonly slotMinutes: number;
  readonly horizonSlots: number;
  readonly log: Logger;
  /**
   * Hold every deferrable job the moment it is first seen waiting, so the planner decides when it
   * starts. For schedulers where jobs do not arrive held (no job_submit.lua, no suspended Jobs);
   * a job can still start before the next poll, so poll often (see `watch`).
   */
  readonly holdNewJobs?: boolean;
  /** The link to the orchestrator; signed HTTP to orchestratorUrl when absent. */
  readonly link?: ProviderLink;
  /** The site's battery behind the meter, reported and dispatched each slot. */
  readonly battery?: SiteBattery;
}

/** How a dispatch arrived: pushed by the orchestrator, or in the reply to this agent's report. */
export type DispatchRoute = 'pushed' | 'reply';
/** What the agent audits a dispatch under when the message names no reason. */
const DEFAULT_REASON: Record<DispatchRoute, string> = { pushed: 'orchestrator dispatch', reply: 'rolling plan' };

const isWaiting = (j: ComputeJob): boolean => j.state === 'queued' || j.state === 'held';

export class ComputeAgent {
  /** The queue as last read; reported (marked stale) while the scheduler cannot be read. */
  private lastJobs: ComputeJob[] = [];
  private lastReadAt: EpochMs | undefined;
  private readonly seen = new Set<string>();
  /** Refusals not yet reported to the orchestrator. */
  private refused: Actuation[] = [];
  private lastFinishedCheck: EpochMs | undefined;
  private readonly link: ProviderLink;

  constructor(readonly deps: ComputeAgentDeps) {
    this.link = deps.link ?? httpProviderLink(deps.orchestratorUrl, deps.signer, deps.wallNow);
  }

  /**
   * Reads the queue. If the scheduler cannot be read (controller down, timeout), keeps and returns
   * the last known queue with the time it was read, so the agent keeps reporting and the planner
   * keeps its commitments; a fault that is not the scheduler's is thrown.
   */
  async readQueue(): Promise<{ jobs: ComputeJob[]; staleSince?: EpochMs }> {
    try {
      const jobs = await this.deps.scheduler.listJobs();
      this.lastJobs = jobs;
      this.lastReadAt = epochMs(this.deps.wallNow());
      return { jobs: await this.holdNew(jobs) };
    } catch (e) {
      const err = asFlexError(e);
      if (err.code !== 'FLX_SCHEDULER_UNAVAILABLE' && err.code !== 'FLX_SCHEDULER_COMMAND') throw e;
      this.deps.log.warn(
        { code: err.code, error: err.message, lastReadAt: this.lastReadAt },
        'scheduler unreadable: reporting the last known queue',
      );
      return { jobs: this.lastJobs, staleSince: this.lastReadAt ?? epochMs(0) };
    }
  }

  /** Admission by the agent (holdNewJobs): holds deferrable jobs seen waiting for the first time. */
  private async holdNew(jobs: ComputeJob[]): Promise<ComputeJob[]> {
    const fresh = jobs.filter((j) => !this.seen.has(j.id));
    for (const j of jobs) this.seen.add(j.id);
    if (!this.deps.holdNewJobs) return jobs;
    const toHold = fresh.filter((j) => j.state === 'queued' && j.slo === 'deferrable' && j.beginAt === undefined);
    if (toHold.length === 0) return jobs;
    const held = new Set<string>();
    for (const j of toHold) {
      const r = await this.deps.scheduler.hold(j.id);
      if (r.ok) held.add(j.id);
      else this.refused.push(r);
    }
    return jobs.map((j) => (held.has(j.id) ? { ...j, state: 'held' as const, heldBy: 'flexlon' as const } : j));
  }

  /**
   * Between slots (live mode): starts jobs whose deferral ran out on schedulers without begin
   * times, holds new jobs (holdNewJobs), and writes finished jobs to the audit trail.
   */
  async poll(now: EpochMs = this.deps.market.now()): Promise<void> {
    await this.deps.scheduler.reconcile?.(now);
    await this.readQueue();
    try {
      const since = this.lastFinishedCheck ?? now;
      const finished = await this.deps.scheduler.finishedSince(since);
      this.lastFinishedCheck = now;
      const fresh = finished.filter((j) => (j.finishedAt ?? 0) >= since);
      if (fresh.length > 0) {
        await this.deps.store.appendAudit({
          kind: 'agent',
          at: this.deps.wallNow(),
          actor: this.deps.id,
          payload: {
            event: 'jobs.finished',
            jobs: fresh.map((j) => ({
              id: j.id,
              nativeId: j.nativeId,
              state: j.state,
              startedAt: j.startedAt,
              finishedAt: j.finishedAt,
              work: j.work,
              workUnit: j.workUnit,
            })),
          },
        });
      }
    } catch (e) {
      this.deps.log.warn({ error: asFlexError(e).message }, 'could not read finished jobs');
    }
  }

  /** Polls every `everyMs` of wall time until aborted; failures are logged, never fatal. */
  async watch(everyMs: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.poll();
      } catch (e) {
        this.deps.log.error({ error: asFlexError(e).message }, 'poll failed');
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, everyMs);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
    }
  }

  private horizon(now: EpochMs): SlotGrid {
    const slot = this.deps.slotMinutes * MINUTE_MS;
    return {
      start: epochMs(Math.floor(now / slot) * slot),
      slotMinutes: this.deps.slotMinutes,
      slots: this.deps.horizonSlots,
    };
  }

  async report(now: EpochMs): Promise<FlexibilityReport> {
    const grid = this.horizon(now);
    const read = await this.readQueue();
    const jobs = read.jobs.filter((j) => isWaiting(j) || j.state === 'running');
    const s = this.deps.site;
    const baseLoadFrom = slotStart(grid, slotAt(grid, now));
    const baseLoadKw = this.deps.baseLoad(grid);
    const refused = this.refused;
    this.refused = [];
    return {
      site: s.id,
      region: s.region,
      at: now,
      itPowerLimitKw: kw(s.itPowerLimitKw),
      pue: s.pue,
      gridImportLimitKw: kw(s.gridImportLimitKw),
      baseLoadFrom,
      slotMinutes: grid.slotMinutes,
      baseLoadKw,
      jobs,
      flexibility: summariseFlexibility(jobs, baseLoadKw, baseLoadFrom, grid.slotMinutes, now),
      ...(refused.length > 0 ? { refused } : {}),
      ...(read.staleSince === undefined ? {} : { staleSince: read.staleSince }),
      ...(this.deps.battery
        ? { battery: { ...this.deps.battery.spec, socKwh: await this.deps.battery.stateOfChargeKwh() } }
        : {}),
      scheduler: { kind: this.deps.scheduler.capabilities.kind, move: this.deps.scheduler.capabilities.move },
    };
  }

  /**
   * Applies start times. A job waiting for admission (held on arrival) gets its start time and is
   * released; a job that can no longer be deferred is reported, not silently skipped.
   */
  async apply(
    dispatch: readonly DispatchInstruction[],
    reason: string,
    levers: Pick<DispatchMessage, 'powerCaps' | 'battery'> = {},
    moves?: MoveSteps,
  ): Promise<Actuation[]> {
    const started = performance.now();
    const { jobs } = await this.readQueue();
    const byId = new Map(jobs.map((j) => [j.id, j]));
    const results: Actuation[] = [];
    for (const d of dispatch) {
      const job = byId.get(d.jobId);
      // An operator's hold outranks the plan: say so instead of releasing it.
      const held = operatorHold(job, d.jobId, 'release');
      if (held) {
        results.push(held);
        continue;
      }
      const r = await this.deps.scheduler.deferUntil(d.jobId, d.beginAt);
      results.push(r.ok && job?.state === 'held' ? await this.deps.scheduler.release(d.jobId) : r);
    }
    results.push(...(await applyPowerCaps(this.deps.scheduler, byId, levers.powerCaps ?? [])));
    results.push(...(await applyBattery(this.deps.site.id, this.deps.battery, levers.battery)));
    const applyMs = Math.round((performance.now() - started) * 10) / 10;
    const refused = results.filter((r) => !r.ok);
    if (refused.length > 0) this.deps.log.warn({ refused }, 'some jobs could not be deferred');
    this.refused.push(...refused);
    await this.deps.store.appendAudit({
      kind: 'dispatch',
      at: this.deps.wallNow(),
      actor: this.deps.id,
      payload: {
        reason,
        dispatch,
        ...(levers.powerCaps?.length ? { powerCaps: levers.powerCaps } : {}),
        ...(levers.battery ? { battery: levers.battery } : {}),
        ...(moves && moves.results.length > 0
          ? { moves: { exported: moves.exported.map((p) => p.id), results: moves.results } }
          : {}),
        results,
        applyMs,
      },
    });
    return results;
  }

  /**
   * Every dispatch, whichever way it came, is carried out here. A pushed one that was partly refused
   * makes the agent report at once (the orchestrator re-plans with the jobs as they are); a reply's
   * refusals go with the next report, which is already due.
   */
  async onDispatch(message: DispatchMessage, route: DispatchRoute): Promise<DispatchResults> {
    const moves = await this.moveSteps(message);
    const results = await this.apply(message.dispatch, message.reason ?? DEFAULT_REASON[route], message, moves);
    if (route === 'pushed' && results.some((r) => !r.ok)) this.replanSoon();
    // The move steps' results come first; a refused step is the orchestrator's to act on (it keeps
    // the job at its source), not a reason to re-plan from here.
    return {
      results: [...moves.results, ...results],
      ...(moves.exported.length > 0 ? { exported: moves.exported } : {}),
    };
  }

  /** A site move's steps a dispatch carries (link-protocol.ts), before its start times: an import may be released by them. */
  private async moveSteps(m: DispatchMessage): Promise<MoveSteps> {
    const { scheduler } = this.deps;
    const out: MoveSteps = { results: [], exported: [] };
    if (m.exportJobs?.length) {
      const e = await exportJobs(scheduler, m.exportJobs);
      out.results.push(...e.results);
      out.exported.push(...e.exported);
    }
    if (m.importJobs?.length) out.results.push(...(await importJobs(scheduler, m.importJobs)));
    if (m.withdraw?.length) {
      const { jobs } = await this.readQueue();
      out.results.push(...(await withdrawJobs(scheduler, new Map(jobs.map((j) => [j.id, j])), m.withdraw)));
    }
    return out;
  }

  /** After a pushed dispatch was partly refused: report at once so the orchestrator re-plans with the jobs as they are. */
  private replanSoon(): void {
    setImmediate(() => {
      this.tick(this.deps.market.now(), false).catch((e: unknown) =>
        this.deps.log.error({ error: asFlexError(e).message }, 're-plan after a refusal failed'),
      );
    });
  }

  /** One slot's work: advance (simulation), report, apply the plan that comes back. */
  async tick(t: EpochMs = this.deps.market.now(), advance = true): Promise<void> {
    if (advance) this.deps.advance?.(t);
    const report = await this.report(t);
    await this.onDispatch(await this.link.report(report), 'reply');
  }

  /** Ticks at every slot boundary until `until` (market time) or until aborted. */
  async run(until: EpochMs, signal?: AbortSignal, onSlot?: (t: EpochMs) => Promise<void> | void): Promise<void> {
    const slot = this.deps.slotMinutes * MINUTE_MS;
    for (let t = epochMs(Math.ceil(this.deps.market.now() / slot) * slot); t <= until; t = epochMs(t + slot)) {
      await this.deps.market.waitUntil(t, signal);
      await this.tick(t);
      await onSlot?.(t);
    }
  }

  register(app: FastifyInstance): void {
    const link = {
      resolver: this.deps.resolver,
      now: this.deps.wallNow,
      store: this.deps.store,
      actor: this.deps.id,
      log: this.deps.log,
    };
    const fromOrchestrator = (sender: { subscriberId: string }) => {
      if (sender.subscriberId !== this.deps.orchestratorId)
        throw new FlexError('FLX_SIG_WRONG_SUBSCRIBER', `only ${this.deps.orchestratorId} may instruct this agent`);
    };
    signedRoute(app, LINK_PATHS.dispatch, link, async (body, sender): Promise<DispatchResults> => {
      fromOrchestrator(sender);
      return this.onDispatch(parseDispatchMessage(body), 'pushed');
    });
    const gridOf = (body: unknown): SlotGrid => {
      const read = parseSlotRead(body);
      const grid = {
        start: epochMs(read.fromMs),
        slotMinutes: read.slotMinutes ?? this.deps.slotMinutes,
        slots: read.slots,
      };
      // Reads are of windows the provider can have sold (within twice the planning horizon ahead)
      // or settled (at most a BL01 look-back and a year of history behind): a read far beyond
      // would make the simulated twin run ahead for ever (a blocked event loop, then a crash).
      const now = this.deps.market.now();
      const ahead = 2 * this.deps.horizonSlots * this.deps.slotMinutes * MINUTE_MS;
      const end = grid.start + grid.slots * grid.slotMinutes * MINUTE_MS;
      if (!(end <= now + ahead) || !(grid.start >= now - 400 * 86_400_000))
        throw new FlexError(
          'FLX_LINK_INVALID',
          `the read ${new Date(grid.start).toISOString()}–${Number.isFinite(end) ? new Date(end).toISOString() : 'never'} is outside what this agent answers for (market time ${new Date(now).toISOString()}: at most ${ahead / 3_600_000} h ahead, 400 days behind)`,
          { path: 'fromMs' },
        );
      return grid;
    };
    signedRoute(app, LINK_PATHS.baseline, link, async (body, sender): Promise<SlotReadings> => {
      fromOrchestrator(sender);
      if (!this.deps.baseline)
        throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `site ${this.deps.site.id} has no baseline source configured`);
      const grid = gridOf(body);
      // The FIFO carbon cap asks for the counterfactual; a site without one answers with its baseline.
      const counterfactual = parseSlotRead(body).kind === 'counterfactual' ? this.deps.counterfactual : undefined;
      const importKw = await (counterfactual ?? this.deps.baseline)(grid);
      return { importKw: importKw.map((x) => (Number.isFinite(x) ? x : null)) };
    });
    signedRoute(app, LINK_PATHS.meter, link, async (body, sender): Promise<SlotReadings> => {
      fromOrchestrator(sender);
      const grid = gridOf(body);
      const importKw = await this.deps.meter.importKw(grid);
      await this.deps.store.appendAudit({
        kind: 'meter',
        at: this.deps.wallNow(),
        actor: this.deps.id,
        payload: {
          from: grid.start,
          slotMinutes: grid.slotMinutes,
          importKw: importKw.map((x) => (Number.isFinite(x) ? x : null)),
        },
      });
      return { importKw: importKw.map((x) => (Number.isFinite(x) ? x : null)) };
    });
  }
}
