// The agent's part of a site move (docs/architecture.md, "Site moves"): export a waiting job's
// submission at the source, import it at the target held by FlexLon, and withdraw (cancel) the copy
// that must not run. The orchestrator orders the steps so that a job is never lost and never runs
// twice: the source keeps its job until the target holds the copy. Each step answers with an
// Actuation, as every other lever does, so a refusal goes back to the orchestrator as a value.
import type { Actuation, ComputeJob, PortableJob } from '../../domain/compute.ts';
import type { Scheduler } from '../../ports.ts';
import type { WithdrawInstruction } from '../link-protocol.ts';

export interface MoveSteps {
  readonly results: Actuation[];
  readonly exported: PortableJob[];
}

/** Exports each job that is still waiting here; the job stays where it is. */
export const exportJobs = async (scheduler: Scheduler, ids: readonly string[]): Promise<MoveSteps> => {
  const results: Actuation[] = [];
  const exported: PortableJob[] = [];
  for (const id of ids) {
    const p = await scheduler.exportJob(id);
    if (p) {
      exported.push(p);
      results.push({ ok: true, jobId: id });
    } else
      results.push({
        ok: false,
        jobId: id,
        reason: `no waiting job ${id} at site ${scheduler.site}`,
        code: 'not-found',
      });
  }
  return { results, exported };
};

/**
 * Imports each job (the adapter submits it held by FlexLon). A job of another adapter family is
 * refused here as well as by the adapter: a Slurm batch script cannot run on Kubernetes.
 */
export const importJobs = async (scheduler: Scheduler, jobs: readonly PortableJob[]): Promise<Actuation[]> => {
  const out: Actuation[] = [];
  for (const p of jobs) {
    if (!scheduler.capabilities.move || p.kind !== scheduler.capabilities.kind) {
      out.push({
        ok: false,
        jobId: p.id,
        reason: `site ${scheduler.site} (${scheduler.capabilities.kind}${scheduler.capabilities.move ? '' : ', no moves'}) cannot take a ${p.kind} job`,
        code: 'unsupported',
      });
      continue;
    }
    out.push(await scheduler.importJob(p));
  }
  return out;
};

/**
 * Cancels moved jobs that are still waiting. One that has started (or an operator holds) is refused,
 * not cancelled: the orchestrator then withdraws the other copy instead.
 */
/** An operator's hold outranks the plan: the refusal FlexLon gives instead of acting on such a job. */
export const operatorHold = (job: ComputeJob | undefined, jobId: string, verb: string): Actuation | undefined =>
  job?.state === 'held' && job.heldBy === 'other'
    ? {
        ok: false,
        jobId,
        reason: `job ${jobId} is held by an operator; FlexLon will not ${verb} it`,
        code: 'held-by-other',
      }
    : undefined;

export const withdrawJobs = async (
  scheduler: Scheduler,
  byId: ReadonlyMap<string, ComputeJob>,
  withdraw: readonly WithdrawInstruction[],
): Promise<Actuation[]> => {
  const out: Actuation[] = [];
  for (const w of withdraw) {
    out.push(operatorHold(byId.get(w.jobId), w.jobId, 'cancel') ?? (await scheduler.cancel(w.jobId)));
  }
  return out;
};
