// View 4 of the dashboard, schedule (issue 19): each site's jobs over the plan's horizon as the
// latest plan places them. What the BPP keeps of a plan's placement:
//  - the plan's audit row: per site the dispatch it answered with (the orchestrator's slot plan
//    carries every site's, `dispatch: {site: levers}`; a plan for one site's report carries that
//    site's, `site` + levers; dispatchAll writes one `dispatch` row per site naming the plan).
//    A dispatch gives each waiting deferrable job the start of the first slot the plan runs it in
//    (optimise/dispatch.ts dispatchFor) and each running job's GPU power for the current slot
//    (powerCapsFor); a job the plan does not start within its horizon gets no start;
//  - the plan record: grid import per site and slot, the commitment ceilings, the signals.
// A waiting job is not preemptible, so once started it runs in one contiguous run at full power
// (docs/planning-problem.md, "Non-preemptible jobs"): start + remaining energy ÷ power is its bar.
// Running and inflexible jobs are pinned (from now, from release). The plan record keeps the planned
// power of each job it caps (jobPowerKw): every slot it caps is drawn, and such a job's bar ends where
// the plan finishes it (a capped job runs longer than its energy at full power).
import { cappedSlots, type PlanRecord, type PlannedJobPower } from '../agents/flex/plan-record.ts';
import type { ComputeJob, FlexibilityReport } from '../domain/compute.ts';
import type { DispatchInstruction, PowerCapInstruction } from '../optimise/dispatch.ts';
import { timeLabel, wallLabel, type DashboardSource } from './api.ts';
import type { AuditSnapshot, PlanRows } from './audit-index.ts';

const HOUR_MS = 3_600_000;

interface SiteLevers {
  readonly dispatch?: readonly DispatchInstruction[];
  readonly powerCaps?: readonly PowerCapInstruction[];
}

/** One site's dispatch in a plan's rows, if the plan dispatched that site. */
const leversOf = (rows: PlanRows, site: string): SiteLevers | undefined => {
  const p = rows.payload;
  if (p.dispatch && typeof p.dispatch === 'object' && !Array.isArray(p.dispatch))
    return (p.dispatch as Record<string, SiteLevers | undefined>)[site];
  if (p.site === site) return p as SiteLevers;
  return rows.dispatches.find((d) => d.site === site) as SiteLevers | undefined;
};

/** The newest kept plan that dispatched `site`, the latest plan first. */
const placementFor = (snap: AuditSnapshot, latest: string, site: string) => {
  const ids = [latest, ...[...snap.plans.keys()].reverse().filter((id) => id !== latest)];
  for (const id of ids) {
    const rows = snap.plans.get(id);
    const levers = rows && leversOf(rows, site);
    if (rows && levers)
      return { planId: id, levers, late: (rows.payload.late ?? []) as { id: string; lateSlots: number }[] };
  }
  return undefined;
};

const hoursLeft = (j: ComputeJob): number => (j.powerKw > 0 ? j.remainingKwh / j.powerKw : 0);

/** A job's bar: where the plan runs it, and how it got there. */
const barOf = (j: ComputeJob, now: number, levers: SiteLevers | undefined) => {
  const run = hoursLeft(j) * HOUR_MS;
  if (j.state === 'running') return { placement: 'running' as const, start: j.startedAt ?? now, end: now + run };
  if (j.state === 'held' && j.heldBy === 'other')
    return { placement: 'held-by-operator' as const, start: null, end: null };
  if (j.slo === 'inflexible') {
    const start = Math.max(now, j.releaseAt);
    return { placement: 'pinned' as const, start, end: start + run };
  }
  const d = levers?.dispatch?.find((x) => x.jobId === j.id);
  if (!d) return { placement: 'beyond-horizon' as const, start: null, end: null };
  return { placement: 'planned' as const, start: d.beginAt, end: d.beginAt + run };
};

/** The slots a job's planned power caps, contiguous slots at one power as one span (epoch ms, kW). */
const capSpans = (plan: PlanRecord, p: PlannedJobPower) => {
  const slotMs = plan.slotMinutes * 60_000;
  const out: { start: number; end: number; kw: number }[] = [];
  for (const t of cappedSlots(p)) {
    const kw = p.powerKw[t - p.fromSlot] as number;
    const start = plan.horizonStart + t * slotMs;
    const prev = out[out.length - 1];
    if (prev && prev.end === start && prev.kw === kw) prev.end = start + slotMs;
    else out.push({ start, end: start + slotMs, kw });
  }
  return out;
};

export const schedule = async (s: DashboardSource, snap: AuditSnapshot) => {
  const now = s.now();
  const plan = await s.store.latestPlan<PlanRecord>();
  const slotMs = (plan?.slotMinutes ?? 30) * 60_000;
  const sites = [];
  for (const site of s.flex?.context.sites ?? []) {
    const r = await s.store.getDocument<FlexibilityReport>('agent-report', site.id);
    const placed = plan ? placementFor(snap, plan.id, site.id) : undefined;
    const late = new Map((placed?.late ?? []).map((l) => [l.id, l.lateSlots]));
    const powered = new Map((plan?.jobPowerKw ?? []).filter((p) => p.site === site.id).map((p) => [p.id, p]));
    const jobs = (r?.jobs ?? [])
      .filter((j) => j.state === 'running' || j.state === 'queued' || j.state === 'held')
      .map((j) => {
        const cap = placed?.levers.powerCaps?.find((c) => c.jobId === j.id);
        const bar = barOf(j, now, placed?.levers);
        const p = plan && powered.get(j.id);
        const planCaps = p ? capSpans(plan, p) : [];
        // Where the plan caps a job, it finishes it where its planned power ends, not at full power.
        const end = p && bar.start !== null ? plan.horizonStart + (p.fromSlot + p.powerKw.length) * slotMs : bar.end;
        return {
          id: j.id,
          name: j.name,
          state: j.state,
          gpus: j.gpus,
          slo: j.slo,
          ...bar,
          end,
          releaseAt: j.releaseAt,
          deadlineAt: j.deadlineAt,
          /** The plan's IT power for the job in the current slot when below full power (a GPU cap), kW. */
          planCapKw: cap?.powerKw ?? null,
          /** Every span of slots the latest plan caps the job in (below full power, not its last slot), kW. */
          planCaps,
          fullPowerKw: j.powerKw,
          /** The cap the job's scheduler has in force (W per GPU). */
          powerCapW: j.powerCapW ?? null,
          lateSlots: late.get(j.id) ?? null,
        };
      });
    sites.push({
      site: site.id,
      reportedAt: r ? timeLabel(r.at) : null,
      placedBy: placed?.planId ?? null,
      jobs,
      plannedKw: plan?.siteImportKw[site.id] ?? [],
      commitments: (plan?.commitments ?? [])
        .filter((c) => c.site === site.id)
        .map((c) => ({
          start: plan!.horizonStart + c.fromSlot * slotMs,
          end: plan!.horizonStart + c.toSlot * slotMs,
          maxImportKw: c.maxImportKw,
        })),
    });
  }
  const first = s.flex?.context.sites[0]?.id;
  return {
    now: timeLabel(now),
    plan: plan ? { id: plan.id, status: plan.status, made: wallLabel(s, plan.createdAt) } : null,
    sites,
    times: plan ? Array.from({ length: plan.slots }, (_, i) => timeLabel(plan.horizonStart + i * slotMs)) : [],
    priceGbpPerMwh: (first && plan?.signals[first]?.priceGbpPerMwh) || [],
    carbonGPerKwh: (first && plan?.signals[first]?.carbonGPerKwh) || [],
  };
};
