// A plan's dispatch to the sites (docs/architecture.md, "One dispatch message"). Both routes a
// dispatch travels, the reply to an agent's report and the push to every agent
// (FlexOrchestrator.dispatchAll), take a site's levers from one function, siteDispatch: start times
// off the plan, and for the current slot each cappable running job's power and the battery's
// setpoint; nothing when there is no feasible plan (the waiting jobs stay held). A push is stored
// as the site answered it: the dispatch record and its audit row, in one transaction.
import type { FlexibilityReport } from '../../domain/compute.ts';
import type { EpochMs } from '../../domain/time.ts';
import { batteryFor, dispatchFor, powerCapsFor, type DispatchInstruction } from '../../optimise/dispatch.ts';
import type { AgentLink, Store } from '../../ports.ts';
import type { DispatchMessage } from '../link-protocol.ts';
import type { FlexSite } from './context.ts';
import type { PlanResult } from './plan-record.ts';

/** One site's part of a plan: start times, and for the current slot GPU powers and the battery setpoint. */
export type SiteDispatch = Pick<DispatchMessage, 'powerCaps' | 'battery'> & {
  readonly dispatch: DispatchInstruction[];
};

/** A site's dispatch from a plan, as of market time `now`: none with no feasible plan. */
export const siteDispatch = (report: FlexibilityReport, result: PlanResult, now: EpochMs): SiteDispatch => {
  if (result.schedule.status === 'infeasible') return { dispatch: [] };
  const powerCaps = powerCapsFor(report, result.schedule, result.grid, now);
  const battery = batteryFor(report.site, result.schedule, result.grid, now);
  return {
    dispatch: dispatchFor(report, result.schedule, result.grid, now),
    ...(powerCaps.length > 0 ? { powerCaps } : {}),
    ...(battery ? { battery } : {}),
  };
};

/** What a push needs: the link to the agents, the store, who pushes, and wall time for the stamps. */
export interface PushParts {
  readonly link: AgentLink;
  readonly store: Pick<Store, 'transaction'>;
  readonly actor: string;
  readonly wallNow: () => number;
}

/** A push of one site's levers from a stored plan, and why it was made. */
export interface Push {
  readonly site: FlexSite;
  readonly levers: SiteDispatch;
  readonly planId: string;
  readonly reason: string;
  readonly orderId?: string | undefined;
}

/** Sends a site its levers, then stores what it answered: the dispatch record and its audit row. */
export const pushDispatch = async (d: PushParts, p: Push): Promise<void> => {
  const { site, levers, planId, reason, orderId } = p;
  const { dispatch } = levers;
  const { results } = await d.link.dispatch(site.agentUrl, { ...levers, reason, planId });
  const at = d.wallNow();
  await d.store.transaction(async (tx) => {
    const record = {
      id: `${planId}|${site.id}`,
      site: site.id,
      at,
      planId,
      ...(orderId ? { orderId } : {}),
      dispatch,
      results,
    };
    await tx.saveDispatch(record);
    await tx.appendAudit({
      kind: 'dispatch',
      at,
      actor: d.actor,
      ...(orderId ? { orderId } : {}),
      payload: { site: site.id, planId, reason, ...levers, results },
    });
  });
};
