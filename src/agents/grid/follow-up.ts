// After a part's window (issue 16): status → on_status for the final settlement per period, support
// → on_support for the provider's signed statement, and the buyer's check of that statement against
// the terms bought and its own meter view (statement-check.ts), audited as agreed or disputed.
import type { SettlementSummary } from '../../settlement/delivered.ts';
import type { SiteSettlement } from '../../settlement/codec.ts';
import type { MeterView } from './meter-view.ts';
import type { GridOrchestrator } from './orchestrator.ts';
import { askSupport, statementOf } from './post-order.ts';
import { checkStatement, type StatementCheck } from './statement-check.ts';
import type { Procurement } from './split.ts';

export interface FollowUp {
  readonly state: string | undefined;
  readonly settlement: SettlementSummary | undefined;
  readonly sites: SiteSettlement[];
  readonly statement: SettlementSummary | undefined;
  /** Absent when the provider sent no statement yet. */
  readonly check?: StatementCheck;
}

/** `meterView`: the buyer's own meter data (default: the one the buyer was composed with, if any). */
export const followUp = async (
  bap: GridOrchestrator,
  p: Procurement,
  meterView: MeterView | undefined = bap.deps.meterView,
): Promise<FollowUp> => {
  const s = await bap.status(p);
  const statement = statementOf(await askSupport(bap, p));
  if (!statement) return { ...s, statement };
  const own = await meterView?.readingsFor(p);
  const check = checkStatement(p, statement, s.settlement, own);
  await bap.recordCheck(p, check, statement.performance);
  return { ...s, statement, check };
};
