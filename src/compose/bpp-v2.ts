// Beckn 2.0 beside 1.1.1 for the Flexibility Orchestrator (BPP), issue 18: the client that sends
// each counterparty's version (src/beckn/v2/client.ts) and the 2.0 endpoint (POST <url>/v2/{action},
// src/beckn/v2/receiver.ts) running the very handlers the 1.1.1 receiver runs.
import type { FastifyInstance } from 'fastify';
import { makeKit } from '../agents/flex/kit.ts';
import { flexHandlers } from '../agents/flex/lifecycle.ts';
import type { Bpp } from '../agents/flex/bpp.ts';
import type { FlexOrchestrator } from '../agents/flex/orchestrator.ts';
import type { InboundJournal } from '../beckn/journal.ts';
import type { KeyResolver } from '../beckn/key-resolver.ts';
import { VersionedClient } from '../beckn/v2/client.ts';
import { V2_PATH, registerV2Receiver } from '../beckn/v2/receiver.ts';
import { counterpartyVersions } from '../beckn/v2/versions.ts';
import type { SignatureCheck } from '../beckn/verify-pool.ts';
import { asFlexError } from '../errors.ts';
import type { Registry, Signer, Store } from '../ports.ts';
import { DEFAULT_MAX_OWED } from '../store/outbox-worker.ts';

export interface VersionedClientParts {
  readonly signer: Signer;
  readonly store: Store;
  readonly now: () => number;
  readonly resolver: KeyResolver;
  readonly registry: Registry;
  /** The participant's registered URL; its 2.0 endpoint is this + /v2. */
  readonly publicUrl: string;
  readonly name: string;
  /** The group-commit journal, when the role has one: beckn.out rows (1.1.1 and 2.0) go through it. */
  readonly journal?: InboundJournal;
}

/** The BPP's client: 1.1.1 by default, 2.0 where the counterparty or the transaction is 2.0. */
export const versionedClient = (p: VersionedClientParts): VersionedClient =>
  new VersionedClient({
    signer: p.signer,
    store: p.store,
    now: p.now,
    ackResolver: p.resolver,
    resolver: p.resolver,
    versions: counterpartyVersions(p.registry, p.store),
    v2Uri: `${p.publicUrl.replace(/\/+$/, '')}${V2_PATH}`,
    providerName: p.name,
    ...(p.journal ? { journal: p.journal } : {}),
  });

export interface V2MountParts {
  readonly orchestrator: FlexOrchestrator;
  readonly node: Bpp;
  readonly resolver: KeyResolver;
  readonly signer: Signer;
  readonly signatureCheck?: SignatureCheck;
}

/** Mounts POST /v2/{discover,select,init,confirm,status,track,cancel,update,rate,support} on the BPP's app. */
export const mountBecknV2 = (app: FastifyInstance, p: V2MountParts): void => {
  const c = p.orchestrator.context;
  const kit = makeKit(c, () => {
    void p.node.outbox.nudge();
  });
  registerV2Receiver(app, {
    subscriberId: c.provider.id,
    role: 'BPP',
    resolver: p.resolver,
    store: c.store,
    now: c.provider.wallNow,
    handlers: flexHandlers(kit),
    signer: p.signer,
    findOrder: (txn) => c.store.findOrderByTransaction(txn),
    onBackgroundError: (e, i) =>
      c.log.error(
        { action: i.action, transaction_id: i.msg.context.transaction_id, error: asFlexError(e).message },
        'work after a 2.0 ACK failed',
      ),
    onOutcome: (action, outcome, error) => {
      p.node.metrics.message('in', `v2:${action}`, outcome);
      if (outcome.startsWith('NACK:'))
        c.log.info({ action, outcome, error: asFlexError(error).message }, '2.0 request refused (NACK)');
    },
    admission: () =>
      p.node.outbox.owed > DEFAULT_MAX_OWED
        ? `${p.node.outbox.owed} callbacks are still owed (at most ${DEFAULT_MAX_OWED}); retry in a few seconds`
        : undefined,
    ...(p.signatureCheck ? { signatureCheck: p.signatureCheck } : {}),
  });
};
