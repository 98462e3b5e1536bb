// The receiver's dedupe step (replay protection): a message is keyed by its signer, message_id and
// action. The exact same signed request again (a retry) is a duplicate: it gets the same ACK and
// causes nothing; a different message under a used message_id is refused (FLX_REQ_DUPLICATE). The
// claim itself is made with the message's audit row (the InboundJournal, or the TxWork's
// transaction), so a copy that raced past this step meets the same rule there.
import { FlexError } from '../errors.ts';
import type { Inbound } from './inbound.ts';
import type { InboundJournal } from './journal.ts';

/** The outcome a duplicate is audited with. */
export const DUPLICATE = 'ACK (duplicate: no effect)';

export const claimKey = (i: Inbound): string => `${i.sender.subscriberId}|${i.msg.context.message_id}|${i.action}`;
export const outcomeOf = (i: Inbound): string => `ACK ${i.digest}`;

/** The exact same signed request (or a retry of it) gets the same ACK; a different message under a used message_id is refused. */
export const sameMessage = (i: Inbound, previous: string): true => {
  if (previous === outcomeOf(i) || previous === 'ACK') return true;
  throw new FlexError(
    'FLX_REQ_DUPLICATE',
    `message_id ${i.msg.context.message_id} was already used by ${i.sender.subscriberId} for a different ${i.action}`,
    { path: 'context.message_id' },
  );
};

export const isDuplicate = async (journal: InboundJournal, inbound: Inbound): Promise<boolean> => {
  const previous = await journal.seen(claimKey(inbound));
  return previous !== undefined && sameMessage(inbound, previous);
};
