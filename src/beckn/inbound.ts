// A Beckn message as the receiver admitted it (receiver.ts): signature verified, decoded to the
// internal (core 1.1.1 form) message and its context checked. What every handler reads, what the
// dedupe step keys on (dedupe.ts) and what its audit row records (inbound-audit.ts). A message that
// came in another version (Beckn 2.0, src/beckn/v2/receiver.ts) keeps its wire form beside it.
import type { Action, BecknMessage } from './context.ts';
import type { ResolvedKey } from './key-resolver.ts';

export interface Inbound {
  readonly action: Action;
  readonly msg: BecknMessage;
  readonly sender: ResolvedKey;
  /** The gateway that forwarded the message (search through a BG), when there was one. */
  readonly gateway?: ResolvedKey;
  /** The exact bytes received and their Authorization header (a gateway forwards both unchanged). */
  readonly raw: Buffer;
  readonly authorization: string;
  /** base64 BLAKE2b-512 of `raw`, as verified. */
  readonly digest: string;
  /** A message that came in another version than 1.1.1 (`msg` is its internal form): as sent. */
  readonly wire?: WireOrigin;
}

/** peerUri: where the sender takes answers (its bapUri / bppUri as spelled); context, message: as sent. */
export type WireOrigin = {
  readonly version: string;
  action: string;
  peerUri: string;
  context: object;
  message: unknown;
};
