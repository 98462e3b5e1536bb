// Runs drainOutbox for one agent: at start-up (after releasing the leases a killed predecessor left),
// whenever a commit has enqueued something (nudge), and on a timer for retries that fall due. One
// drain at a time; a nudge during a drain makes it run once more. Storage-agnostic.
import type { Store } from '../ports.ts';
import { DEFAULT_BATCH, drainOutbox, type DrainResult, type OutboxSend, type RetryPolicy } from './outbox.ts';

export interface OutboxWorkerOptions {
  readonly store: Store;
  readonly send: OutboxSend;
  /** Wall-clock time (epoch ms). */
  readonly now: () => number;
  /** How often to look for retries that fell due (default 1 s). */
  readonly everyMs?: number;
  readonly leaseMs?: number;
  readonly batch?: number;
  readonly policy?: RetryPolicy;
  readonly onDrained?: (r: DrainResult) => void;
  readonly onError?: (e: unknown) => void;
}

/** The backlog above which a participant stops ACKing new requests (admission control, issue 14). */
export const DEFAULT_MAX_OWED = 500;

export class OutboxWorker {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Messages owed and not yet sent, as counted after the last drain (a moment old; cheap to read). */
  private owedAfterDrain = 0;

  constructor(private readonly o: OutboxWorkerOptions) {}

  /** How many messages the outbox still owes, as of the last drain. */
  get owed(): number {
    return this.owedAfterDrain;
  }

  /** Makes what a dead predecessor had leased due again, sends everything due, and starts the timer. */
  async start(): Promise<void> {
    await this.o.store.releaseOutboxLeases();
    this.timer = setInterval(() => this.nudge(), this.o.everyMs ?? 1000);
    this.timer.unref();
    await this.nudge();
  }

  /** Drains soon; resolves when the drain this nudge asked for is over (never rejects). */
  nudge(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        const r = await drainOutbox(this.o.store, this.o.send, {
          now: this.o.now,
          ...(this.o.leaseMs ? { leaseMs: this.o.leaseMs } : {}),
          ...(this.o.batch ? { batch: this.o.batch } : {}),
          ...(this.o.policy ? { policy: this.o.policy } : {}),
        });
        this.o.onDrained?.(r);
        // Counted only after a drain that handled something, or while something was owed: an idle
        // drain (every second) reads nothing. Under load that is one read of the backlog per batch,
        // which admission control keeps near DEFAULT_MAX_OWED.
        const handled = r.sent.length + r.retrying.length + r.dead.length;
        if (handled > 0 || this.owedAfterDrain > 0)
          this.owedAfterDrain = (await this.o.store.listOutbox({ status: 'pending' })).length;
        // A full batch (DEFAULT_BATCH, 256, unless configured) may have left more due messages behind.
        if (handled >= (this.o.batch ?? DEFAULT_BATCH)) this.again = true;
      } catch (e) {
        this.o.onError?.(e);
      }
    } while (this.again && !this.stopped);
  }

  /** Stops the timer and waits for a drain in progress (its messages are marked before it ends). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
