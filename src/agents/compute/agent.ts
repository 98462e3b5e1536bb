// A Compute-Flex agent: sits beside one site's scheduler, reports the queue and the site's
// inflexible load to the Flexibility Orchestrator every slot, and carries out the dispatch it gets
// back (job start times). It also answers the orchestrator's meter reads. All links are signed.
import type { FastifyInstance } from 'fastify';
import type { Actuation, FlexibilityReport } from '../../domain/compute.ts';
import { MINUTE_MS, epochMs, slotAt, slotStart, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import { kw } from '../../domain/units.ts';
import { FlexError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { KeyResolver } from '../../beckn/key-resolver.ts';
import type { Clock, Meter, Scheduler, Signer, Store } from '../../ports.ts';
import { callSigned, signedRoute } from '../link.ts';
import type { DispatchInstruction } from '../flex/problem.ts';

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
}

export class ComputeAgent {
  constructor(readonly deps: ComputeAgentDeps) {}

  private horizon(now: EpochMs): SlotGrid {
    const slot = this.deps.slotMinutes * MINUTE_MS;
    return { start: epochMs(Math.floor(now / slot) * slot), slotMinutes: this.deps.slotMinutes, slots: this.deps.horizonSlots };
  }

  async report(now: EpochMs): Promise<FlexibilityReport> {
    const grid = this.horizon(now);
    const jobs = (await this.deps.scheduler.listJobs()).filter((j) => j.state === 'queued' || j.state === 'held' || j.state === 'running');
    const s = this.deps.site;
    return {
      site: s.id, region: s.region, at: now, itPowerLimitKw: kw(s.itPowerLimitKw), pue: s.pue, gridImportLimitKw: kw(s.gridImportLimitKw),
      baseLoadFrom: slotStart(grid, slotAt(grid, now)), slotMinutes: grid.slotMinutes, baseLoadKw: this.deps.baseLoad(grid), jobs,
    };
  }

  /**
   * Applies start times. A job waiting for admission (held on arrival) gets its start time and is
   * released; a job that can no longer be deferred is reported, not silently skipped.
   */
  async apply(dispatch: readonly DispatchInstruction[], reason: string): Promise<Actuation[]> {
    const held = new Set((await this.deps.scheduler.listJobs()).filter((j) => j.state === 'held').map((j) => j.id));
    const results: Actuation[] = [];
    for (const d of dispatch) {
      const r = await this.deps.scheduler.deferUntil(d.jobId, d.beginAt);
      results.push(r.ok && held.has(d.jobId) ? await this.deps.scheduler.release(d.jobId) : r);
    }
    const refused = results.filter((r) => !r.ok);
    if (refused.length > 0) this.deps.log.warn({ refused }, 'some jobs could not be deferred');
    await this.deps.store.appendAudit({ kind: 'dispatch', at: this.deps.wallNow(), actor: this.deps.id, payload: { reason, dispatch, results } });
    return results;
  }

  /** One slot's work: advance (simulation), report, apply the plan that comes back. */
  async tick(t: EpochMs = this.deps.market.now()): Promise<void> {
    this.deps.advance?.(t);
    const report = await this.report(t);
    const answer = await callSigned<{ dispatch: DispatchInstruction[] }>(`${this.deps.orchestratorUrl}/internal/agent/report`, report, this.deps.signer, this.deps.wallNow);
    await this.apply(answer.dispatch, 'rolling plan');
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
    const link = { resolver: this.deps.resolver, now: this.deps.wallNow, store: this.deps.store, actor: this.deps.id };
    const fromOrchestrator = (sender: { subscriberId: string }) => {
      if (sender.subscriberId !== this.deps.orchestratorId) throw new FlexError('FLX_SIG_WRONG_SUBSCRIBER', `only ${this.deps.orchestratorId} may instruct this agent`);
    };
    signedRoute(app, '/agent/dispatch', link, async (body, sender) => {
      fromOrchestrator(sender);
      const b = body as { dispatch?: DispatchInstruction[]; reason?: string };
      if (!Array.isArray(b.dispatch)) throw new FlexError('FLX_REQ_SCHEMA', 'dispatch must be a list of {jobId, beginAt}', { path: 'dispatch' });
      return { results: await this.apply(b.dispatch, b.reason ?? 'orchestrator dispatch') };
    });
    const gridOf = (body: unknown): SlotGrid => {
      const b = body as { fromMs?: number; slots?: number; slotMinutes?: number };
      if (typeof b.fromMs !== 'number' || typeof b.slots !== 'number' || !Number.isInteger(b.slots) || b.slots < 1 || b.slots > 10_000) throw new FlexError('FLX_REQ_SCHEMA', 'a read needs fromMs and 1–10000 slots', { path: 'slots' });
      return { start: epochMs(b.fromMs), slotMinutes: b.slotMinutes ?? this.deps.slotMinutes, slots: b.slots };
    };
    signedRoute(app, '/agent/baseline', link, async (body, sender) => {
      fromOrchestrator(sender);
      if (!this.deps.baseline) throw new FlexError('FLX_ACTION_NOT_APPLICABLE', `site ${this.deps.site.id} has no baseline source configured`);
      const importKw = await this.deps.baseline(gridOf(body));
      return { importKw: importKw.map((x) => (Number.isFinite(x) ? x : null)) };
    });
    signedRoute(app, '/agent/meter', link, async (body, sender) => {
      fromOrchestrator(sender);
      const grid = gridOf(body);
      const importKw = await this.deps.meter.importKw(grid);
      await this.deps.store.appendAudit({ kind: 'meter', at: this.deps.wallNow(), actor: this.deps.id, payload: { from: grid.start, slotMinutes: grid.slotMinutes, importKw: importKw.map((x) => (Number.isFinite(x) ? x : null)) } });
      return { importKw: importKw.map((x) => (Number.isFinite(x) ? x : null)) };
    });
  }
}
