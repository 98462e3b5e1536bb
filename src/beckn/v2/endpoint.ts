// A native Beckn 2.0 endpoint for participants with no 1.1.1 form (DEG compute-energy: the grid
// agent and the compute agent's callbacks): the one receiver pipeline (src/beckn/receiver.ts) with
// the native 2.0 codec (receiver.ts here, nativeV2Codec): raw body → signature (BECKN-006 = 2.0) →
// parse → 2.0 LTS context → FlexLon's 2.0 envelope → who sent it (bapId for requests, bppId for
// callbacks, the signer; its URI the registered URL or that + /v2) and for whom → ttl → dedupe
// (same messageId and bytes: the same ACK, nothing else; other bytes: refused) → claim + `beckn.in`
// audit row → counter-signed Ack → the handler's work after it. The handler reads the 2.0 message as
// sent. Refusals are counter-signed NACKs with the 2.0 codes (ack.ts).
import type { FastifyInstance } from 'fastify';
import { FlexError } from '../../errors.ts';
import type { Signer, Store } from '../../ports.ts';
import type { Action } from '../context.ts';
import type { KeyResolver, ResolvedKey } from '../key-resolver.ts';
import { registerReceiver, type BecknHandler } from '../receiver.ts';
import { internalOf, nativeV2Codec } from './receiver.ts';

export type V2Obj = Record<string, unknown>;
export interface V2Inbound {
  readonly context: V2Obj & { action: string; transactionId: string; messageId: string };
  readonly message: V2Obj;
  readonly sender: ResolvedKey;
}
/** Validates (throw a FlexError to NACK) and returns the work to do after the ACK. */
export type V2Handler = (m: V2Inbound) => Promise<() => Promise<void>>;

export interface V2EndpointOptions {
  readonly subscriberId: string;
  readonly resolver: KeyResolver;
  readonly store: Store;
  readonly signer: Signer;
  readonly now: () => number;
  /** By 2.0 action name; a request action is a BPP's, an on_* one a BAP's. */
  readonly handlers: Record<string, V2Handler>;
  readonly onBackgroundError: (e: unknown) => void;
}

export const registerV2Endpoint = (app: FastifyInstance, o: V2EndpointOptions): void => {
  const handlers: Partial<Record<Action, BecknHandler>> = {};
  for (const [wire, handler] of Object.entries(o.handlers)) {
    const internal = internalOf(wire);
    if (!internal) throw new FlexError('FLX_INTERNAL', `${wire} is no Beckn 2.0 action FlexLon routes`);
    handlers[internal] = async (i) =>
      handler({ context: i.wire?.context, message: i.wire?.message ?? {}, sender: i.sender } as V2Inbound);
  }
  registerReceiver(app, {
    subscriberId: o.subscriberId,
    // The role names the receiver in refusals; requests and callbacks are told apart per action.
    role: Object.keys(o.handlers).every((a) => a.startsWith('on_')) ? 'BAP' : 'BPP',
    resolver: o.resolver,
    store: o.store,
    now: o.now,
    handlers,
    codec: nativeV2Codec(o.signer, o.now, Object.keys(o.handlers)),
    // As before this endpoint joined the pipeline: no per-subscriber rate limit.
    rateLimit: false,
    onBackgroundError: (e) => o.onBackgroundError(e),
  });
};
