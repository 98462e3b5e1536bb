// Requests waiting for their callbacks, keyed by message_id (a callback reuses its request's
// message_id). A search may collect several callbacks (one per BPP); the others expect one.
import { FlexError } from '../../errors.ts';
import type { BecknMessage, CallbackAction } from '../../beckn/context.ts';

interface Waiter {
  readonly action: CallbackAction;
  readonly responses: BecknMessage[];
  readonly resolve: (r: BecknMessage[]) => void;
  readonly expected: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class PendingCallbacks {
  private readonly waiting = new Map<string, Waiter>();

  /** Waits for `expected` callbacks or `timeoutMs`, whichever comes first; resolves with what arrived. */
  expect(messageId: string, action: CallbackAction, expected: number, timeoutMs: number): Promise<BecknMessage[]> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.finish(messageId), timeoutMs);
      this.waiting.set(messageId, { action, responses: [], resolve, expected, timer });
    });
  }

  /** Whether a request with this message_id is waiting for its callback. */
  isWaiting(messageId: string): boolean {
    return this.waiting.has(messageId);
  }

  /** Throws (→ NACK) for a callback nobody is waiting for: unknown, late, or the wrong action. */
  check(msg: BecknMessage): void {
    const w = this.waiting.get(msg.context.message_id);
    if (!w)
      throw new FlexError(
        'FLX_REQ_EXPIRED',
        `no request ${msg.context.message_id} is waiting for a callback (unknown or too late)`,
        { path: 'context.message_id' },
      );
    if (w.action !== msg.context.action)
      throw new FlexError(
        'FLX_REQ_CONTEXT',
        `request ${msg.context.message_id} expects ${w.action}, not ${msg.context.action}`,
        { path: 'context.action' },
      );
  }

  deliver(msg: BecknMessage): void {
    const w = this.waiting.get(msg.context.message_id);
    if (!w) return;
    w.responses.push(msg);
    if (w.responses.length >= w.expected) this.finish(msg.context.message_id);
  }

  /** Stops waiting for `messageId` (its request was never accepted). */
  cancel(messageId: string): void {
    this.finish(messageId);
  }

  cancelAll(): void {
    for (const id of [...this.waiting.keys()]) this.finish(id);
  }

  private finish(messageId: string): void {
    const w = this.waiting.get(messageId);
    if (!w) return;
    clearTimeout(w.timer);
    this.waiting.delete(messageId);
    w.resolve(w.responses);
  }
}
