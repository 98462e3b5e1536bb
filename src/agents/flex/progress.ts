// Orders move with market time without being asked: when a confirmed order's window opens it becomes
// active, and when it ends, completed and settled. Each change is one store transaction (the order,
// its audit row, the meter readings and settlement at completion, and an unsolicited on_status owed
// to the buyer in the outbox), so a crash either leaves the order as it was — the next pass moves it
// — or moves it with the callback owed. Core 1.1.1 lets a BPP send on_status unsolicited, with the
// order's transaction_id and a message_id of its own; the buyer need not poll to learn of delivery.
import type { Commitment } from '../../domain/commitments.ts';
import { advance, type Order } from '../../domain/order.ts';
import { epochMs } from '../../domain/time.ts';
import { buildContext } from '../../beckn/context.ts';
import type { Requester } from './callbacks.ts';
import type { Kit } from './kit.ts';
import { readMeters, settleAndOweStatus } from './settle-status.ts';

/** Who an unsolicited callback goes to: the order's buyer, in the order's transaction, under a new message_id. */
const buyerOf = (k: Kit, order: Order): Requester => ({
  context: buildContext({
    action: 'status',
    bapId: order.bapId,
    bapUri: order.bapUri,
    bppId: k.provider.id,
    bppUri: k.provider.uri,
    transactionId: order.transactionId,
    messageId: k.ids.next(''),
    now: k.provider.wallNow(),
  }),
  subscriberId: order.bapId,
  url: order.bapUri,
});

/**
 * How long after a window ends an order waits for its sites' meters to cover every period before it
 * completes on what was metered (market time). Agents report each half hour; a site a slot behind
 * must not turn into a DELIVERED with 0.0 kWh (issue 16: `demo --sites 2` pushed one).
 */
export const METER_GRACE_MS = 60 * 60_000;

/** True when every commitment's window has a finite reading for each of its periods. */
export const metersCover = (
  commitments: readonly Commitment[],
  metered: ReadonlyMap<string, readonly number[]>,
): boolean =>
  commitments.every((c) => {
    const n = c.baselineKw?.length ?? c.maxImportKw.length;
    const got = metered.get(c.site) ?? [];
    for (let i = 0; i < n; i++) if (!Number.isFinite(got[i])) return false;
    return true;
  });

/** Moves every live order that market time has moved on; returns the ids moved. */
export const progressOrders = async (k: Kit): Promise<string[]> => {
  const marketNow = k.market.now();
  const stamp = () => epochMs(k.provider.wallNow());
  // Only live orders can move: found through their commitments (a filtered query), not by reading
  // every order ever stored, since this runs every second and after every agent report.
  const live = await k.store.listCommitments<Commitment>({ orderStates: ['confirmed', 'active'] });
  const moved: string[] = [];
  for (const id of new Set(live.map((c) => c.orderId))) {
    const before = await k.store.getOrder(id);
    if (!before || advance(before, marketNow, stamp()).state === before.state) continue;
    const commitments = live.filter((c) => c.orderId === id);
    // Meters are read outside the transaction (an HTTP call per site); completion settles on them.
    const next = advance(before, marketNow, stamp());
    const metered = await readMeters(k, 'unasked', next, commitments);
    // Completion settles on the meters: wait (a later pass) until they cover the window, up to the grace.
    if (
      next.state === 'completed' &&
      metered &&
      !metersCover(commitments, metered) &&
      marketNow < before.windowEnd + METER_GRACE_MS
    )
      continue;
    if (next.state === 'completed' && metered && !metersCover(commitments, metered))
      k.log.warn(
        { orderId: id, transaction_id: before.transactionId },
        'meters still do not cover the window an hour after it ended: settling on the periods metered',
      );
    const done = await k.store.transaction(async (tx) => {
      const current = await tx.getOrder(id);
      if (!current) return undefined;
      const order = advance(current, marketNow, stamp());
      if (order.state === current.state) return undefined; // moved meanwhile (a status request)
      const to = buyerOf(k, order);
      const { completed } = await settleAndOweStatus(k, tx, {
        mode: 'unasked',
        current,
        order,
        commitments,
        metered,
        to,
      });
      return { order, completed };
    });
    if (!done) continue;
    moved.push(id);
    // Counted once committed: a rolled-back transaction delivered nothing.
    for (const s of done.completed?.sites ?? []) k.metrics?.delivered(s.site, s.summary.deliveredKwh);
    k.log.info(
      { orderId: id, transaction_id: done.order.transactionId },
      `order ${done.order.state}: unsolicited on_status owed`,
    );
  }
  if (moved.length > 0) k.sent();
  return moved;
};
