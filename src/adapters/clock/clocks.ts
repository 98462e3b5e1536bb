// Clock adapters. Live mode uses the wall clock; a replay maps wall time onto a historical day at a
// fixed speed-up, so the same agents run a day in seconds. Only market time is replayed: Beckn
// signatures and message timestamps always use the wall clock (a signature must be valid now).
import { epochMs, type EpochMs } from '../../domain/time.ts';
import type { Clock } from '../../ports.ts';

const abortError = (): Error => Object.assign(new Error('the wait was aborted'), { name: 'AbortError' });

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, Math.max(0, ms));
    const onAbort = () => { clearTimeout(timer); reject(abortError()); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class SystemClock implements Clock {
  now(): EpochMs {
    return epochMs(Date.now());
  }

  async waitUntil(t: EpochMs, signal?: AbortSignal): Promise<void> {
    while (Date.now() < t) await sleep(Math.min(t - Date.now(), 2 ** 31 - 1), signal);
  }
}

/** Market time starting at `simStart` when constructed, running `speed` times faster than the wall clock. */
export class ReplayClock implements Clock {
  private readonly wallStart = Date.now();

  constructor(private readonly simStart: EpochMs, readonly speed: number) {
    if (!(speed > 0)) throw new Error('replay speed must be positive');
  }

  now(): EpochMs {
    return epochMs(this.simStart + (Date.now() - this.wallStart) * this.speed);
  }

  async waitUntil(t: EpochMs, signal?: AbortSignal): Promise<void> {
    while (this.now() < t) await sleep((t - this.now()) / this.speed, signal);
  }
}
