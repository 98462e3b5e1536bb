// Outbound Beckn messages: context already built by the caller, body serialised once and signed,
// every message written to the audit log with its exact bytes and signature, the synchronous
// ACK/NACK read back. A NACK or transport failure is an error the caller decides about.
import { FlexError } from '../errors.ts';
import type { Signer, Store } from '../ports.ts';
import type { AckBody } from './ack.ts';
import { durationSeconds, type BecknMessage } from './context.ts';
import { postSigned } from './http.ts';

export interface BecknClientOptions {
  readonly signer: Signer;
  readonly store: Store;
  /** Wall clock (signatures and context timestamps are real time, also in a replay). */
  readonly now: () => number;
  readonly timeoutMs?: number;
}

export class BecknClient {
  constructor(private readonly o: BecknClientOptions) {}

  /** Sends `msg` to `baseUri` + '/' + action and returns the peer's ACK. Throws FLX_PEER_NACK / FLX_PEER_UNREACHABLE. */
  async send(baseUri: string, msg: BecknMessage): Promise<AckBody> {
    const url = `${baseUri.replace(/\/+$/, '')}/${msg.context.action}`;
    const body = JSON.stringify(msg);
    const ttl = durationSeconds(msg.context.ttl ?? 'PT30S') ?? 30;
    const audit = (payload: Record<string, unknown>) => this.o.store.appendAudit({
      kind: 'beckn.out', at: this.o.now(), actor: this.o.signer.subscriberId,
      transactionId: msg.context.transaction_id, messageId: msg.context.message_id,
      payload: { action: msg.context.action, url, body, ...payload },
    });
    let result;
    try {
      result = await postSigned(url, body, { signer: this.o.signer, nowMs: this.o.now(), lifetimeSeconds: ttl, timeoutMs: this.o.timeoutMs ?? 10_000 });
    } catch (e) {
      await audit({ outcome: 'unreachable', reason: (e as Error).message });
      throw e;
    }
    let ack: AckBody | undefined;
    try { ack = JSON.parse(result.text) as AckBody; } catch { ack = undefined; }
    const status = ack?.message?.ack?.status;
    await audit({ authorization: result.authorization, httpStatus: result.status, response: result.text.slice(0, 4096), outcome: status ?? 'unreadable' });
    if (result.status >= 300 || status !== 'ACK') {
      const why = ack?.error ? `${ack.error.code} ${ack.error.message}` : `HTTP ${result.status} ${result.text.slice(0, 200)}`;
      throw new FlexError('FLX_PEER_NACK', `${msg.context.action} to ${url} was refused: ${why}`);
    }
    return ack as AckBody;
  }
}
