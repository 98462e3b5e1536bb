// Clock adapters. Live mode uses the wall clock; a replay maps wall time onto a historical day at a
// fixed speed-up, so the same agents run a day in seconds. Only market time is replayed: Beckn
// signatures and message timestamps always use the wall clock (a signature must be valid now).
import { epochMs, type EpochMs } from '../../domain/time.ts';
import type { Clock } from '../../ports.ts';

const abortError = (): Error => Object.assign(new Error('the wait was aborted'), { name: 'AbortError' });

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
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

/**
 * Market time from `simStart`, running `speed` times faster than the wall clock once started.
 * Until start() it stands still at simStart, so set-up work does not use up market time. Given
 * `wallStart`, it is started then (market = simStart + (wall − wallStart) × speed): separate
 * processes — and a process restarted after a crash — share one replayed market time.
 */
export class ReplayClock implements Clock {
  private wallStart: number | undefined;

  constructor(
    private readonly simStart: EpochMs,
    readonly speed: number,
    wallStart?: number,
  ) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new Error('replay speed must be a positive number');
    this.wallStart = wallStart;
  }

  start(): void {
    this.wallStart ??= Date.now();
  }

  get started(): boolean {
    return this.wallStart !== undefined;
  }

  now(): EpochMs {
    return epochMs(this.simStart + (this.wallStart === undefined ? 0 : (Date.now() - this.wallStart) * this.speed));
  }

  async waitUntil(t: EpochMs, signal?: AbortSignal): Promise<void> {
    while (this.now() < t) await sleep(this.wallStart === undefined ? 50 : (t - this.now()) / this.speed, signal);
  }
}
