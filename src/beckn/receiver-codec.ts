// One Beckn version at the wire (issue 18) around the receiver's one pipeline (receiver.ts): the
// codec says which routes a version has, how verified bytes become the internal (core 1.1.1 form)
// message the handlers read, and how a version's ACKs and NACKs are written. Core 1.1.1 is the
// default codec, here; Beckn 2.0's is src/beckn/v2/receiver.ts.
import type { FastifyReply } from 'fastify';
import type { FlexError } from '../errors.ts';
import type { Signer, StoreTx } from '../ports.ts';
import { ACK, toNack } from './ack.ts';
import { ACK_SIGNATURE_HEADER, signAck } from './ack-signature.ts';
import { REQUEST_ACTIONS, callbackOf, type Action, type BecknMessage } from './context.ts';
import type { Inbound, WireOrigin } from './inbound.ts';
import type { ResolvedKey } from './key-resolver.ts';
import { parseBody } from './raw-body.ts';
import type { BecknValidator } from './validator.ts';

/** A refusal as a codec answers it: HTTP status, body, and the coded error. */
export type Refusal = { readonly http: number; body: unknown; error: FlexError };
/** What the receiver knows of a message before it is admitted: its message_id, once the body parsed. */
export type Seen = { messageId?: string };

/**
 * A version's routes (prefix, internal action → wire name), how verified bytes become the internal
 * message (setting `seen.messageId` once the body parses; throw to NACK), its NACKs and answers
 * (messageId is '' before the body parsed), and what it records with a first claim: `record` in the
 * TxWork's transaction, `accepted` for a continuation before its ACK. `version` goes in the audit rows.
 */
export interface ReceiverCodec {
  readonly prefix: string;
  readonly actions: Readonly<Partial<Record<Action, string>>>;
  readonly version?: string;
  decode(action: Action, raw: Buffer, from: ResolvedKey, seen: Seen): Promise<{ msg: BecknMessage; wire?: WireOrigin }>;
  toNack(e: unknown): Refusal;
  answer(reply: FastifyReply, raw: Buffer, messageId: string, http: number, nack?: Refusal): Promise<void>;
  record?(tx: StoreTx, i: Inbound): Promise<void>;
  accepted?(i: Inbound): Promise<void>;
}

/** The actions a role receives (core 1.1.1 `paths` tags): a BPP the requests, a BAP the callbacks, a BG search and on_search. */
export const actionsFor = (role: 'BAP' | 'BPP' | 'BG'): Action[] =>
  role === 'BPP' ? [...REQUEST_ACTIONS] : role === 'BAP' ? REQUEST_ACTIONS.map(callbackOf) : ['search', 'on_search'];

// ed25519 is deterministic and an ACK body is the same for every ACK, so within one second (the
// resolution of `created`) every ACK carries the same signature: sign it once per second, not per request.
const ackSignatures = new WeakMap<Signer, { text: string; second: number; header: string }>();
const signedAck = (signer: Signer, text: string, nowMs: number): string => {
  const second = Math.floor(nowMs / 1000);
  const hit = ackSignatures.get(signer);
  if (hit && hit.second === second && hit.text === text) return hit.header;
  const header = signAck(text, signer, nowMs);
  if (text === ACK_TEXT) ackSignatures.set(signer, { text, second, header });
  return header;
};
const ACK_TEXT = JSON.stringify(ACK);

/** What the core codec needs of the receiver's options. */
export interface CoreCodecOptions {
  readonly role: 'BAP' | 'BPP' | 'BG';
  /** Signs every ACK/NACK (`Signature` response header, see ack-signature.ts); unsigned when absent. */
  readonly ackSigner?: Signer;
  readonly now: () => number;
}

/** Core 1.1.1, the default codec: routes at the root, the message as sent, the ACK signed in a header. */
export const coreCodec = (o: CoreCodecOptions, v: BecknValidator): ReceiverCodec => ({
  prefix: '',
  actions: Object.fromEntries(actionsFor(o.role).map((a) => [a, a])),
  decode: async (action, raw) => {
    const msg = parseBody(raw);
    v.assert(action, msg);
    return { msg };
  },
  toNack,
  answer: async (reply, _raw, _id, http, nack) => {
    const text = nack ? JSON.stringify(nack.body) : ACK_TEXT;
    if (o.ackSigner) reply.header(ACK_SIGNATURE_HEADER, signedAck(o.ackSigner, text, o.now()));
    await reply.code(http).type('application/json').send(text);
  },
});
