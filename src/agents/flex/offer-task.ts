// The durable task behind on_search (callbacks.ts): price the offers after the ACK, then — in one
// transaction — store them with their terms, hold them, and owe on_search. Run again after a crash,
// it finds on_search already owed and does nothing; killed before that commit, it starts over (and
// nothing of the first attempt was stored). A search past its ttl gets no answer (core 1.1.1
// Context.ttl: the callback would be refused).
import type { FlexNeed } from '../../domain/offers.ts';
import { deadlineOf } from '../../beckn/client.ts';
import { offersToCatalog, intentToNeed } from '../../beckn/flex-codec.ts';
import type { Intent } from '../../beckn/wire.ts';
import { callbackId, owe, type OwedTask } from './callbacks.ts';
import type { Kit } from './kit.ts';
import { commitmentsOf, makeOffers } from './offers.ts';

/** The document an operator's pause of a site is kept in (id: the site), written by the dashboard. */
export const SITE_PAUSE_DOC = 'operator-pause';

export const runOffersTask = async (k: Kit, task: OwedTask<{ intent?: Intent }>): Promise<unknown> => {
  const r = task.requester;
  const id = callbackId('on_search', r);
  if (k.provider.wallNow() > deadlineOf(r.context, k.provider.wallNow()))
    return { dropped: `the search's ttl ended before its offers were priced` };
  if (await k.store.getOutbox(id)) return { already: id };
  const need: FlexNeed = intentToNeed(task.payload.intent);
  // A site an operator paused (the dashboard's action, docs/dashboard.md) is offered in nothing,
  // alone or as part of a portfolio.
  const paused = new Set<string>();
  for (const { id } of k.sites)
    if ((await k.store.getDocument<{ paused?: boolean }>(SITE_PAUSE_DOC, id))?.paused === true) paused.add(id);
  const drafts = (await makeOffers(k, need)).filter(
    ({ offer, terms }) => !paused.has(offer.site) && !terms.sites.some((x) => paused.has(x.site)),
  );
  const owed = await k.store.transaction(async (tx) => {
    if (await tx.getOutbox(id)) return false;
    for (const { offer, terms } of drafts) {
      await tx.putDocument('offer', offer.id, offer);
      await tx.putDocument('offer-terms', offer.id, terms);
      await tx.appendAudit({
        kind: 'offer',
        at: k.provider.wallNow(),
        actor: k.provider.id,
        transactionId: r.context.transaction_id,
        messageId: r.context.message_id,
        payload: { offer, terms },
      });
    }
    await k.planning.holdOffers(
      tx,
      drafts.map(({ offer, terms }) => ({
        offerId: offer.id,
        // The buyer's search: its transaction id, under its own subscriber id (another buyer's may clash).
        search: `${r.context.bap_id}|${r.context.transaction_id}`,
        until: offer.validUntil,
        commitments: commitmentsOf(terms, offer.id, offer.reductionKw),
      })),
    );
    await owe(tx, k.provider, r, 'on_search', {
      catalog: offersToCatalog(
        k.provider.id,
        k.provider.name,
        drafts.map((x) => x.offer),
      ),
    });
    return true;
  });
  if (!owed) return { already: id };
  k.sent();
  // Offers are held: dispatch now, so no job starts on the old plan and runs into an offered window
  // before the buyer can confirm. A failure here is not the search's: the next report re-plans.
  if (drafts.length > 0) {
    await k.planning
      .dispatchAll('offers held until confirmed or expired')
      .catch((e: unknown) => k.log.warn({ error: (e as Error).message }, 'dispatch after holding offers failed'));
  }
  return { offers: drafts.map((x) => x.offer.id) };
};
