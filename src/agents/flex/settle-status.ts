// Settling an order and owing its on_status: the one path both the status handler (lifecycle.ts,
// a buyer asked) and the progress pass (progress.ts, market time moved the order on; core 1.1.1 lets
// a BPP send on_status unasked) take. Two steps, because meters are read over HTTP and a transaction
// must hold no network call: `readMeters` before the transaction, `settleAndOweStatus` inside it,
// writing the order change, the meter readings, the audit rows and the on_status owed together.
//
// What differs between the two is the mode, stated once here:
//   asked   — a live or delivered order is settled on the readings so far (on_status shows delivery
//             as it happens), and those readings are audited (`meter` row) before the order change;
//   unasked — only completion settles (the readings are read just for it), and the order change is
//             audited first, marked unsolicited.
// In both, the `settlement` audit row is written only when the order is completed, and a completion
// reports what was delivered (metrics, counted by the caller once the transaction has committed).
import type { Commitment } from '../../domain/commitments.ts';
import type { Order } from '../../domain/order.ts';
import type { StoreTx } from '../../ports.ts';
import { settleOrder, type OrderSettlement } from '../../settlement/order.ts';
import { owe, type Requester } from './callbacks.ts';
import { readingsToSave, type Kit } from './kit.ts';

export type StatusMode = 'asked' | 'unasked';

const MODES = {
  asked: { settles: ['confirmed', 'active', 'completed'], meterAudit: true, orderFirst: false, mark: {} },
  unasked: { settles: ['completed'], meterAudit: false, orderFirst: true, mark: { unsolicited: true } },
} as const satisfies Record<
  StatusMode,
  {
    settles: readonly Order['state'][];
    meterAudit: boolean;
    orderFirst: boolean;
    mark: Record<string, unknown>;
  }
>;

type Metered = ReadonlyMap<string, readonly number[]>;

/**
 * The meter readings settling needs, read before the transaction: always when asked; unasked only
 * when the order is about to complete (`next` is the order as market time moves it).
 */
export const readMeters = async (
  k: Kit,
  mode: StatusMode,
  next: Order,
  commitments: readonly Commitment[],
): Promise<Metered | undefined> => (mode === 'asked' || next.state === 'completed' ? k.meters(commitments) : undefined);

export interface StatusStep {
  readonly mode: StatusMode;
  /** The order as read in this transaction, and as market time has moved it (the same object if unmoved). */
  readonly current: Order;
  readonly order: Order;
  readonly commitments: readonly Commitment[];
  readonly metered: Metered | undefined;
  /** Who the on_status goes to: the requester (asked), or the order's buyer under a new message_id (unasked). */
  readonly to: Requester;
}

export interface StatusOutcome {
  readonly settlement: OrderSettlement | undefined;
  /** The settlement of an order this transaction completed: what was delivered, once committed. */
  readonly completed: OrderSettlement | undefined;
}

/** Settles the order (as its mode says), stores the change and the readings, audits them and owes on_status, in `tx`. */
export const settleAndOweStatus = async (k: Kit, tx: StoreTx, s: StatusStep): Promise<StatusOutcome> => {
  const mode = MODES[s.mode];
  const { order, current, commitments, metered } = s;
  const settles = (mode.settles as readonly string[]).includes(order.state);
  const settlement = settles && metered ? settleOrder(order, commitments, metered, k.planning.baselineCode) : undefined;
  const moved = order !== current;
  const writeOrder = async (): Promise<void> => {
    if (!moved) return;
    await tx.saveOrder(order);
    await k.audit(tx, order, { from: current.state, ...mode.mark });
  };
  if (mode.orderFirst) await writeOrder();
  if (settlement && metered) {
    await tx.saveMeterReadings(readingsToSave(commitments, metered, k.provider.wallNow()));
    const about = { actor: k.provider.id, transactionId: order.transactionId, orderId: order.id };
    if (mode.meterAudit)
      await tx.appendAudit({
        kind: 'meter',
        at: k.provider.wallNow(),
        ...about,
        payload: {
          readings: settlement.total.periods.map(({ start, baselineKw, meteredKw }) => ({
            start,
            baselineKw,
            meteredKw,
          })),
          sites: Object.fromEntries(
            [...metered].map(([site, v]) => [site, v.map((x) => (Number.isFinite(x) ? x : null))]),
          ),
        },
      });
    if (order.state === 'completed')
      await tx.appendAudit({
        kind: 'settlement',
        at: k.provider.wallNow(),
        ...about,
        payload: { ...settlement.total, sites: settlement.sites },
      });
  }
  if (!mode.orderFirst) await writeOrder();
  await owe(
    tx,
    k.provider,
    s.to,
    'on_status',
    // The newest signed head of the provider's log rides along, for the buyer to keep (issue 17).
    { order: k.wire(order, await k.offerOf(tx, order.offerId), true, settlement, await tx.latestHead()) },
    order.id,
  );
  return { settlement, completed: moved && order.state === 'completed' ? settlement : undefined };
};
