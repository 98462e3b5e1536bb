// Beckn 2.0 for FlexLon's grid buyer (BAP), issue 18: its callbacks' 2.0 endpoint
// (POST <url>/v2/on_{discover,select,init,confirm,status,track,cancel,update,rate,support},
// src/beckn/v2/receiver.ts) running the grid buyer's own callback handlers. Its requests go through the same VersionedClient as the
// BPP's callbacks (bpp-v2.ts versionedClient): 2.0 to a BPP whose registry record says so.
import type { FastifyInstance } from 'fastify';
import type { GridOrchestrator } from '../agents/grid/orchestrator.ts';
import type { KeyResolver } from '../beckn/key-resolver.ts';
import { registerV2Receiver } from '../beckn/v2/receiver.ts';
import type { SignatureCheck } from '../beckn/verify-pool.ts';
import { asFlexError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Signer, Store } from '../ports.ts';

export interface V2BapMountParts {
  readonly bap: GridOrchestrator;
  readonly resolver: KeyResolver;
  readonly signer: Signer;
  readonly store: Store;
  readonly now: () => number;
  readonly log: Logger;
  readonly signatureCheck?: SignatureCheck;
}

/** Mounts the grid buyer's 2.0 callback endpoint on its app. */
export const mountBecknV2Bap = (app: FastifyInstance, p: V2BapMountParts): void => {
  registerV2Receiver(app, {
    subscriberId: p.signer.subscriberId,
    role: 'BAP',
    resolver: p.resolver,
    store: p.store,
    now: p.now,
    handlers: p.bap.handlers(),
    signer: p.signer,
    onBackgroundError: (e, i) =>
      p.log.error(
        { action: i.action, transaction_id: i.msg.context.transaction_id, error: asFlexError(e).message },
        '2.0 callback failed',
      ),
    onOutcome: (action, outcome, error) => {
      if (outcome.startsWith('NACK:'))
        p.log.info({ action, outcome, error: asFlexError(error).message }, '2.0 callback refused (NACK)');
    },
    ...(p.signatureCheck ? { signatureCheck: p.signatureCheck } : {}),
  });
};
