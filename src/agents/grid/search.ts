// The buyer's search across the network: search → on_search from every BPP of the domain, through
// the gateway when one is subscribed (it fans the search out and each BPP answers the buyer
// directly), with BPPs registered as Beckn 2.0 asked directly beside it, all within the one
// collection window. The orchestrator (orchestrator.ts) sends each request and waits for its
// callbacks; this decides whom to ask and reads the offers out of the catalogs.
import type { FlexNeed, FlexOffer } from '../../domain/offers.ts';
import type { Logger } from '../../log.ts';
import { FLEXLON_DOMAIN, type BecknMessage, type RequestAction } from '../../beckn/context.ts';
import { catalogToOffers, needToIntent } from '../../beckn/flex-codec.ts';
import { versionOfRecord } from '../../beckn/v2/versions.ts';
import type { Catalog } from '../../beckn/wire.ts';
import type { Registry, Subscription } from '../../ports.ts';

/** The subscribed BPPs, the offers each with its BPP, and how many on_search answers came; or why none. */
export type SearchOutcome =
  { bpps: Subscription[]; offers: { offer: FlexOffer; bppId: string }[]; answers: number } | { none: string };

/** Sends a request and waits for `expected` callbacks (the orchestrator's `request`). */
export type SendAndWait = (
  action: RequestAction,
  target: { id?: string; uri: string; peer?: string },
  transactionId: string,
  message: unknown,
  expected?: number,
) => Promise<BecknMessage[]>;

export const searchNetwork = async (
  d: { readonly registry: Registry; readonly log: Logger },
  request: SendAndWait,
  need: FlexNeed,
  transactionId: string,
): Promise<SearchOutcome> => {
  const bpps = (await d.registry.lookup({ type: 'BPP', domain: FLEXLON_DOMAIN })).filter(
    (s) => s.status === 'SUBSCRIBED',
  );
  if (bpps.length === 0) return { none: `no BPP of domain ${FLEXLON_DOMAIN} is subscribed in the registry` };
  const gateway = (await d.registry.lookup({ type: 'BG', domain: FLEXLON_DOMAIN })).find(
    (s) => s.status === 'SUBSCRIBED',
  );
  const answers: BecknMessage[] = [];
  const intent = { intent: needToIntent(need) };
  const ask = (to: Subscription) =>
    request('search', { uri: to.subscriber_url, peer: to.subscriber_id }, transactionId, intent, 1);
  if (gateway) {
    // The gateway forwards 1.1.1 searches only (src/beckn/gateway.ts searchTargets); a BPP
    // registered as Beckn 2.0 is asked directly, as 2.0 has no gateway (14_Signing). Both at once,
    // within the same collectMs; one leg failing leaves the others' offers.
    const direct = [
      ...new Map(bpps.filter((s) => versionOfRecord(s) === '2.0').map((s) => [s.subscriber_id, s])).values(),
    ];
    const viaGateway = bpps.filter((s) => versionOfRecord(s) !== '2.0');
    const legs = [
      ...(viaGateway.length > 0
        ? [
            request(
              'search',
              { uri: gateway.subscriber_url, peer: gateway.subscriber_id },
              transactionId,
              intent,
              viaGateway.length,
            ),
          ]
        : []),
      ...direct.map(ask),
    ];
    const settled = await Promise.allSettled(legs);
    const failed = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failed.length === settled.length) throw failed[0];
    for (const f of failed)
      d.log.warn({ transaction_id: transactionId, error: (f as Error).message }, 'one search leg failed');
    for (const r of settled) if (r.status === 'fulfilled') answers.push(...r.value);
  } else for (const bpp of bpps) answers.push(...(await ask(bpp)));
  const offers = answers.flatMap((a) =>
    catalogToOffers((a.message as { catalog?: Catalog } | undefined)?.catalog).map((o) => ({
      offer: o.offer,
      bppId: a.context.bpp_id ?? '',
    })),
  );
  return { bpps, offers, answers: answers.length };
};
